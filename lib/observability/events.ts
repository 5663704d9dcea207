/**
 * The diagnostics channels, re-emitted on the application's `EventEmitter2` where it has `@nestjs/event-emitter`
 * (`EventEmitterModule.forRoot()`), so that `@OnEvent('wecom.credential.rejected')` works. The module never
 * registers an emitter itself: without one the bridge does nothing.
 *
 * | event | payload (as on the channel) |
 * |---|---|
 * | `wecom.credential.fetch` | {@link CredentialFetchEvent}: after every credential request to WeCom |
 * | `wecom.credential.rejected` | {@link CredentialRejectedEvent}: WeCom rejected a credential that was sent |
 * | `wecom.credential.refresh-failed` | {@link CredentialRefreshFailedEvent}: a refresh failed, a valid one is served |
 *
 * The channels are process-wide: an emitter receives the events of every app of the process.
 */
import diagnostics from 'node:diagnostics_channel';
import { Logger, OnApplicationBootstrap, OnApplicationShutdown, Provider } from '@nestjs/common';
import { describeError } from '../common/bounded.js';
import { FETCH_CHANNEL, REFRESH_FAILED_CHANNEL, REJECTED_CHANNEL } from './diagnostics.js';
import type { CredentialFetchEvent, CredentialRefreshFailedEvent, CredentialRejectedEvent } from './diagnostics.js';
import { loadIfInstalled as loadOptionalPeer } from '../common/optional-peer-if-installed.js';

/** Event names on the application's `EventEmitter2`. */
export const WECOM_FETCH_EVENT = 'wecom.credential.fetch';
export const WECOM_REJECTED_EVENT = 'wecom.credential.rejected';
export const WECOM_REFRESH_FAILED_EVENT = 'wecom.credential.refresh-failed';

/** Payload of each event, by name, for typed listeners. */
export interface WeComEventPayloads {
  [WECOM_FETCH_EVENT]: CredentialFetchEvent;
  [WECOM_REJECTED_EVENT]: CredentialRejectedEvent;
  [WECOM_REFRESH_FAILED_EVENT]: CredentialRefreshFailedEvent;
}

/** The part of `EventEmitter2` that is used; declared here so the declarations need no optional peer. */
export interface WeComEventEmitter {
  emit(event: string, ...values: unknown[]): boolean;
}

/** Which event each channel becomes. */
const ROUTES: ReadonlyArray<readonly [channel: string, event: string]> = [
  [FETCH_CHANNEL, WECOM_FETCH_EVENT],
  [REJECTED_CHANNEL, WECOM_REJECTED_EVENT],
  [REFRESH_FAILED_CHANNEL, WECOM_REFRESH_FAILED_EVENT],
];

interface Bridge {
  refs: number;
  stop: () => void;
}

/**
 * One subscription per emitter, shared by the bridges of every app module of an application (each module has its
 * own provider instance): an event is emitted once per emitter, however many apps are registered.
 */
const bridges = new Map<WeComEventEmitter, Bridge>();

/**
 * Subscribes the channels to the application's `EventEmitter2` on bootstrap and unsubscribes on shutdown. Built by
 * {@link createWeComEventsBridgeProvider}, which injects the emitter optionally.
 */
export class WeComEventsBridge implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(WeComEventsBridge.name);
  private stop?: () => void;

  /** @internal `emitter`: the application's `EventEmitter2`, when it has one. */
  constructor(private readonly emitter?: WeComEventEmitter | null) {}

  /** Whether there is an emitter to bridge to. */
  get active(): boolean {
    return this.emitter != null;
  }

  /** @internal */
  onApplicationBootstrap(): void {
    if (this.stop || !this.emitter) return;
    this.stop = share(this.emitter, this.logger);
  }

  /** @internal */
  onApplicationShutdown(): void {
    this.stop?.();
    this.stop = undefined;
  }
}

/** Start (or join) the bridge of `emitter`; returns this start's stop (idempotent). */
function share(emitter: WeComEventEmitter, logger: Logger): () => void {
  let bridge = bridges.get(emitter);
  if (!bridge) {
    bridge = { refs: 0, stop: subscribe(emitter, logger) };
    bridges.set(emitter, bridge);
  }
  bridge.refs += 1;
  const taken = bridge;
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    taken.refs -= 1;
    if (taken.refs === 0 && bridges.get(emitter) === taken) {
      bridges.delete(emitter);
      taken.stop();
    }
  };
}

function subscribe(emitter: WeComEventEmitter, logger: Logger): () => void {
  const handlers = ROUTES.map(([channel, event]) => {
    const handler = (message: unknown): void => {
      try {
        // A copy per emit: a listener that changes its payload cannot change what the other subscribers see.
        emitter.emit(event, { ...(message as object) });
      } catch (error) {
        // diagnostics_channel would rethrow a listener's error as an uncaught exception, on the path of a token fetch.
        logger.warn(`a listener of '${event}' threw: ${describeError(error)}`);
      }
    };
    diagnostics.subscribe(channel, handler);
    return [channel, handler] as const;
  });
  return () => {
    for (const [channel, handler] of handlers) diagnostics.unsubscribe(channel, handler);
  };
}

/** `EventEmitter2` of `@nestjs/event-emitter` when that optional peer is installed. */
function eventEmitterClass(): (abstract new (...args: never[]) => WeComEventEmitter) | undefined {
  return loadOptionalPeer<{ EventEmitter2?: abstract new (...args: never[]) => WeComEventEmitter }>('@nestjs/event-emitter')?.EventEmitter2;
}

/**
 * The provider of {@link WeComEventsBridge}: the application's `EventEmitter2` is injected optionally (found when
 * the application imports `EventEmitterModule.forRoot()`, a global module), and nothing else is registered.
 */
export function createWeComEventsBridgeProvider(): Provider {
  const emitterClass = eventEmitterClass();
  return {
    provide: WeComEventsBridge,
    useFactory: (emitter?: WeComEventEmitter | null) => new WeComEventsBridge(emitter),
    inject: emitterClass ? [{ token: emitterClass, optional: true }] : [],
  };
}
