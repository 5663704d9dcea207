/**
 * One app's 接收消息 URL: `handle(query, body)` checks and decrypts what WeCom sent, runs the `@OnWeComCallback`
 * handlers once per delivery across a fleet, and answers 'success' or an encrypted passive reply.
 */
import { BeforeApplicationShutdown, Logger, OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, ModulesContainer } from '@nestjs/core';
import type { Cache } from 'cache-manager';
import { bounded, describeError, sleep } from '../common/bounded.js';
import { WeComConfigError } from '../common/errors/wecom-config.error.js';
import { WeComShutdownError } from '../common/errors/wecom-shutdown.error.js';
import type { TokenLock } from '../common/interfaces/token-lock.interface.js';
import { invalidOptionMessage } from '../common/wecom-token.messages.js';
import { parseCallbackFields } from '../crypto/callback-message.js';
import type { CallbackQuery } from '../crypto/callback-message.js';
import { WeComCallbackError } from '../crypto/wecom-callback.error.js';
import { WeComCrypto } from '../crypto/wecom-crypto.js';
import type { WeComCallbackFilter, WeComCallbackMessage, WeComCallbackReply } from './callback.interfaces.js';
import { sealReply, textReplyXml } from './callback-reply.js';
import { InProcessDeliveryLedger, SharedDeliveryLedger } from './delivery-ledger.js';
import type { DeliveryLedger } from './delivery-ledger.js';
import { openCallback, openUrlCheck } from './inbound.js';

/** What a run of the handlers answered. */
interface DeliveryOutcome {
  reply?: string;
}
import { WECOM_CALLBACK_HANDLER } from './on-wecom-callback.decorator.js';

/** Default of `callback.ackTimeoutMs`: WeCom gives up on an answer after 5 s. */
export const DEFAULT_ACK_TIMEOUT_MS = 4_000;
/** How long `app.close()` waits for handlers still running. */
export const SHUTDOWN_WAIT_MS = 10_000;
/** How often a repeat polls for the outcome of a run held by another instance. */
const POLL_MS = 100;

/** What the service is built from (by the app's providers). */
export interface WeComCallbackSettings {
  app: string;
  corpId: string;
  callback?: { token: string; encodingAESKey: string; ackTimeoutMs?: number };
  cache?: Cache;
  lock?: TokenLock;
  cacheTimeoutMs: number;
  /** A suite's 数据回调 dispatcher: handlers are found although the service has no `callback` of its own. */
  dataCallbacksOnly?: boolean;
}

interface Handler {
  readonly filter: WeComCallbackFilter;
  readonly run: (message: WeComCallbackMessage) => unknown;
  readonly where: string;
}

/** A suite's 数据回调 or an app's own URL: the crypto that opens it and the corp its messages come from. */
export interface CallbackSource {
  readonly crypto: WeComCrypto;
  readonly corpIdOf: (fields: Record<string, unknown>) => string;
}

/** The app's callback URL. Built for every app; `handle` refuses when the app has no `callback` option. */
export class WeComCallbackService implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger(WeComCallbackService.name);
  readonly app: string;
  readonly corpId: string;
  private readonly crypto: WeComCrypto | undefined;
  private readonly ackTimeoutMs: number;
  private readonly ledger: DeliveryLedger;
  private handlers: Handler[] = [];
  private readonly running = new Map<string, Promise<DeliveryOutcome>>();
  private readonly background = new Set<Promise<unknown>>();
  private closing = false;
  private readonly discovers: boolean;
  private readonly dataCallbacksOnly: boolean;

  /** @throws WeComConfigError naming the `callback` option and the app that is wrong (never its value). */
  constructor(
    settings: WeComCallbackSettings,
    private readonly modules?: ModulesContainer,
  ) {
    this.app = settings.app;
    this.corpId = settings.corpId;
    const options = settings.callback;
    if (options !== undefined && (typeof options !== 'object' || options === null)) {
      throw new WeComConfigError(invalidOptionMessage(this.app, 'callback', 'must be an object { token, encodingAESKey }'));
    }
    this.crypto = options ? cryptoOf(this.app, options, settings.corpId) : undefined;
    this.dataCallbacksOnly = settings.dataCallbacksOnly === true;
    this.discovers = this.crypto !== undefined || this.dataCallbacksOnly;
    const ack = options?.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS;
    if (typeof ack !== 'number' || !Number.isFinite(ack) || ack <= 0) {
      throw new WeComConfigError(invalidOptionMessage(this.app, 'callback.ackTimeoutMs', 'must be a positive number of milliseconds'));
    }
    this.ackTimeoutMs = ack;
    // Across a fleet with a shared cache and a shared lock; in this process otherwise.
    this.ledger = settings.cache && settings.lock ? new SharedDeliveryLedger(settings.cache, settings.lock, settings.cacheTimeoutMs) : new InProcessDeliveryLedger();
  }

  /**
   * Whether a handler's filter is for this receiver: `app` names an app's own URL, `suite` a suite's 数据回调 (so an
   * app and a suite that share a name, both 'default', keep their handlers apart); neither takes both.
   */
  private takes(filter: WeComCallbackFilter): boolean {
    if (this.dataCallbacksOnly) return filter.app === undefined && (filter.suite === undefined || filter.suite === this.app);
    return filter.suite === undefined && (filter.app === undefined || filter.app === this.app);
  }

  /** Finds the `@OnWeComCallback` handlers of every provider. */
  onModuleInit(): void {
    if (!this.discovers || !this.modules) return;
    const scanner = new MetadataScanner();
    const found: Handler[] = [];
    for (const wrapper of new DiscoveryService(this.modules).getProviders()) {
      const instance: unknown = wrapper.instance;
      if (!instance || typeof instance !== 'object' || !wrapper.isDependencyTreeStatic()) continue;
      const prototype = Object.getPrototypeOf(instance) as object | null;
      if (!prototype) continue;
      for (const method of scanner.getAllMethodNames(prototype)) {
        const fn = (instance as Record<string, unknown>)[method];
        if (typeof fn !== 'function') continue;
        const filter = Reflect.getMetadata(WECOM_CALLBACK_HANDLER, fn) as WeComCallbackFilter | undefined;
        if (!filter || !this.takes(filter)) continue;
        if (found.some((h) => h.run === fn)) continue;
        found.push({ filter, run: (message) => (fn as (m: WeComCallbackMessage) => unknown).call(instance, message), where: `${instance.constructor.name}.${method}` });
      }
    }
    this.handlers = found;
  }

  /**
   * The app's callback. With `echostr` (the URL check, GET): verifies and returns the decrypted echostr. Otherwise
   * (POST): verifies, decrypts (receiveId = corpId), runs the matching handlers once per delivery and returns
   * 'success' or the encrypted passive reply. Answer its result with 200, and a rejection with 500 (or 400 for a
   * WeComCallbackError): WeCom then retries, and a handler that threw runs again.
   *
   * @throws WeComCallbackError for a refused input (nothing dispatched, nothing stored); a handler's error.
   */
  async handle(query: CallbackQuery, body?: string | Buffer): Promise<string> {
    const crypto = this.requireCrypto();
    const q = query ?? ({} as CallbackQuery);
    if (q.echostr !== undefined) return openUrlCheck({ crypto, query: q });
    return this.receive({ crypto, corpIdOf: () => this.corpId }, q, body);
  }

  /** @internal For a suite's 数据回调: the same checks, dedup and handlers, from another source (see SuiteService). */
  async receive(source: CallbackSource, query: CallbackQuery, body: string | Buffer | undefined): Promise<string> {
    if (this.closing) throw new WeComShutdownError({ app: this.app, corpId: this.corpId }, 'callback');
    const opened = openCallback({ crypto: source.crypto, query, body, parse: parseCallbackFields });
    const message = this.messageOf(opened.message, source.corpIdOf(opened.message));
    const outcome = await this.once(opened.deliveryId, message);
    return outcome.reply === undefined ? 'success' : sealReply(source.crypto, textReplyXml(message.fromUserName, message.toUserName, outcome.reply));
  }

  /** Waits (bounded) for the handlers still running; callbacks arriving from now on are refused. */
  async beforeApplicationShutdown(): Promise<void> {
    this.closing = true;
    const pending = [...this.background, ...this.running.values()];
    if (pending.length === 0) return;
    await bounded(Promise.allSettled(pending), SHUTDOWN_WAIT_MS, `app '${this.app}': callback handlers`).catch(() => {
      this.logger.warn(`app '${this.app}': ${pending.length} callback handler(s) still running after ${SHUTDOWN_WAIT_MS} ms at shutdown`);
    });
  }

  /** Run the delivery's handlers unless it ran (or runs) already; answer within ackTimeoutMs. */
  private async once(id: string, message: WeComCallbackMessage): Promise<DeliveryOutcome> {
    const local = this.running.get(id);
    if (local) return this.answerWithin(local);
    const claim = await this.ledger.claim(id);
    if (claim === 'done') return {};
    if (claim === 'running') return this.awaitElsewhere(id, message);
    const run = this.dispatch(message).then(
      async (outcome) => {
        await this.ledger
          .complete(id)
          .catch((error: unknown) =>
            this.logger.warn(
              `app '${this.app}': a callback ran but could not be recorded (${describeError(error)}); copies are refused until its claim lapses (2 minutes), a retry after that would run again`,
            ),
          );
        return outcome;
      },
      async (error: unknown) => {
        // Forgotten, so that WeCom's retry runs it again.
        await this.ledger.release(id).catch(() => undefined);
        throw error;
      },
    );
    const tracked = run.finally(() => this.running.delete(id));
    this.running.set(id, tracked);
    tracked.catch(() => undefined);
    return this.answerWithin(tracked);
  }

  /** The run's outcome, or 'success' (no reply) when it takes longer than ackTimeoutMs: it then finishes in the background. */
  private async answerWithin(run: Promise<DeliveryOutcome>): Promise<DeliveryOutcome> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), this.ackTimeoutMs);
    });
    try {
      const first = await Promise.race([run, late]);
      if (first !== 'late') return first;
    } finally {
      clearTimeout(timer);
    }
    const background = run
      .catch((error: unknown) => this.logger.error(`app '${this.app}': a callback handler failed after the delivery was acknowledged: ${describeError(error)}`))
      .finally(() => this.background.delete(background));
    this.background.add(background);
    return {};
  }

  /** Another instance holds the run: its outcome once recorded, or a refusal (WeCom retries) if not within ackTimeoutMs. */
  private async awaitElsewhere(id: string, message: WeComCallbackMessage): Promise<DeliveryOutcome> {
    const deadline = Date.now() + this.ackTimeoutMs;
    while (Date.now() < deadline) {
      await sleep(POLL_MS);
      const local = this.running.get(id);
      if (local) return this.answerWithin(local);
      const claim = await this.ledger.claim(id);
      if (claim === 'done') return {};
      if (claim === 'run') {
        // The other holder failed and released it: run it here.
        await this.ledger.release(id);
        return this.once(id, message);
      }
    }
    throw new WeComCallbackError('duplicate', `app '${this.app}': this delivery is being handled by another instance; answer non-200 so that WeCom retries`);
  }

  /** Every matching handler in turn; the first reply given is the answer. A throw fails the delivery (WeCom retries it). */
  private async dispatch(message: WeComCallbackMessage): Promise<DeliveryOutcome> {
    let reply: string | undefined;
    for (const handler of this.handlers) {
      if (!matches(handler.filter, message)) continue;
      const result = (await handler.run(message)) as Partial<WeComCallbackReply> | undefined | null;
      if (reply === undefined && result && typeof result === 'object' && typeof result.reply === 'string') reply = result.reply;
    }
    return reply === undefined ? {} : { reply };
  }

  private messageOf(fields: Record<string, unknown>, corpId: string): WeComCallbackMessage {
    const text = (name: string): string | undefined => (typeof fields[name] === 'string' ? fields[name] : undefined);
    const need = (name: string): string => {
      const value = text(name);
      if (value === undefined || value === '') throw new WeComCallbackError('format', `the decrypted callback has no ${name}`);
      return value;
    };
    const createTime = need('CreateTime');
    if (!/^\d{1,12}$/.test(createTime)) throw new WeComCallbackError('format', 'the decrypted callback has a CreateTime that is not a number of seconds');
    const optional = (key: string, value: string | undefined): Record<string, string> => (value === undefined || value === '' ? {} : { [key]: value });
    return Object.freeze({
      app: this.app,
      ...(this.dataCallbacksOnly ? { suite: this.app } : {}),
      corpId,
      ...optional('agentId', text('AgentID')),
      fromUserName: need('FromUserName'),
      toUserName: need('ToUserName'),
      createTime: Number(createTime),
      msgType: need('MsgType'),
      ...optional('event', text('Event')),
      ...optional('changeType', text('ChangeType')),
      ...optional('msgId', text('MsgId')),
      fields: Object.freeze({ ...fields }),
    });
  }

  private requireCrypto(): WeComCrypto {
    if (!this.crypto) throw new WeComConfigError(invalidOptionMessage(this.app, 'callback', 'is missing: give { token, encodingAESKey } to receive callbacks'));
    return this.crypto;
  }
}

function matches(filter: WeComCallbackFilter, message: WeComCallbackMessage): boolean {
  return (
    (filter.msgType === undefined || filter.msgType === message.msgType) &&
    (filter.event === undefined || filter.event === message.event) &&
    (filter.changeType === undefined || filter.changeType === message.changeType)
  );
}

/** The app's WeComCrypto; its errors renamed to the app's option (`callback.encodingAESKey` of app 'x'). */
function cryptoOf(app: string, options: { token: string; encodingAESKey: string }, corpId: string): WeComCrypto {
  try {
    return new WeComCrypto({ token: options.token, encodingAESKey: options.encodingAESKey, receiveId: corpId });
  } catch (error) {
    const match = error instanceof WeComConfigError ? /^WeComCrypto: option '(\w+)' ([\s\S]*)$/.exec(error.message) : null;
    if (!match) throw error;
    throw new WeComConfigError(invalidOptionMessage(app, `callback.${match[1]}`, match[2] ?? 'is invalid'));
  }
}
