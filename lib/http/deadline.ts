/**
 * A bound on one whole exchange with WeCom, headers and body: axios' `timeout` stops at the headers, so a server that
 * trickles its body would otherwise hold a call forever. It is an `AbortSignal` that fires after `timeoutMs` or when
 * the caller's own signal fires, whichever comes first.
 *
 * Built by hand rather than with `AbortSignal.timeout` and `AbortSignal.any`: on Node 20 those cost 40 and 100 µs
 * per request on the hot path and keep every signal alive until its timer fires; this one is a controller and one
 * timer, cleared as soon as the exchange is over.
 */
import { WeComApiError } from '../common/errors/wecom-api.error.js';
import { WeComTransportError } from '../common/errors/wecom-transport.error.js';
import { toTransportError } from '../common/wecom-body.js';
import type { AppRef } from '../common/wecom-token.messages.js';

/** The config key a deadline travels under through axios (a string key: `mergeConfig` keeps it on a replay). */
export const DEADLINE = 'wecomDeadline';

/** One exchange's deadline. */
export class Deadline {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private readonly onCallerAbort: (() => void) | undefined;
  private expiredAfter: number | undefined;

  /** @param caller the signal the caller passed, if any: it still cancels the exchange. */
  constructor(private readonly caller?: AbortSignal) {
    if (!caller) return;
    if (caller.aborted) {
      this.controller.abort(caller.reason);
      return;
    }
    this.onCallerAbort = () => this.controller.abort(caller.reason);
    caller.addEventListener('abort', this.onCallerAbort, { once: true });
  }

  /** The signal to hand to axios. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The caller's own signal, which a replay must keep. */
  get callerSignal(): AbortSignal | undefined {
    return this.caller;
  }

  /** Whether this deadline (rather than the caller) ended the exchange, and after how many ms. */
  get expired(): number | undefined {
    return this.expiredAfter;
  }

  /** Start the clock: the exchange must be over within `ms`. */
  start(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.expiredAfter = ms;
      this.controller.abort(new DeadlineExpired(ms));
    }, ms);
    // A deadline never keeps the process alive on its own.
    this.timer.unref();
  }

  /** The exchange is over: stop the clock and let go of the caller's signal (a replay gets a new deadline). */
  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.onCallerAbort) this.caller?.removeEventListener('abort', this.onCallerAbort);
  }
}

/** The abort reason of an expired deadline. */
export class DeadlineExpired extends Error {
  constructor(readonly ms: number) {
    super(`no complete answer within ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

/** The deadline a request config carries, if any. */
export function deadlineOf(config: unknown): Deadline | undefined {
  const value = (config as Record<string, unknown> | undefined)?.[DEADLINE];
  return value instanceof Deadline ? value : undefined;
}

/**
 * The module's error for a failed exchange: a timeout when its deadline ended it (at whatever stage), otherwise what
 * `toTransportError` makes of it.
 */
export function transportErrorOf(ref: AppRef, method: string, path: string, error: unknown, deadline: Deadline | undefined, timeoutMs: number): Error {
  if (deadline?.expired !== undefined && !(error instanceof WeComApiError) && !(error instanceof WeComTransportError)) {
    return new WeComTransportError(ref, { failure: 'timeout', method, path, code: 'ETIMEDOUT', problem: `no complete answer within ${deadline.expired} ms` });
  }
  return toTransportError(ref, method, path, error, timeoutMs);
}
