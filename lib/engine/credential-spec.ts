/**
 * What the engine needs to keep one credential alive: where it is shared, who may fetch it, how long things may
 * take, and one function that asks WeCom for it. The engine knows nothing of WeCom's paths; `app/` and `suite/`
 * build one spec per credential.
 */
import type { Cache } from 'cache-manager';
import type { TokenEntry } from '../common/interfaces/token-entry.interface.js';
import type { TokenLock } from '../common/interfaces/token-lock.interface.js';
import type { CredentialKind } from '../observability/diagnostics.js';
import type { AppRef } from '../common/wecom-token.messages.js';
import type { TimeoutRegistry } from './refresh-schedule.js';

export type { FailureClass } from '../common/interfaces/failure-class.interface.js';
import type { FailureClass } from '../common/interfaces/failure-class.interface.js';

/** One credential's settings and its fetch. */
export interface CredentialSpec {
  /** What is fetched (`access_token`, `jsapi_ticket`, …): names it in logs, channels and metrics. */
  readonly kind: CredentialKind;
  /** The corp and the registered app name (never a secret). */
  readonly ref: AppRef;
  /** Shared cache key; it holds no secret. */
  readonly cacheKey: string;
  /** Name of the value's field in the shared entry: `{ token, expiresAt, fetchedAt }` or `{ ticket, … }`. */
  readonly valueField: 'token' | 'ticket';
  readonly cache: Cache;
  /** Who may fetch; the engine bounds every call of it. */
  readonly lock: TokenLock;
  /** The application's SchedulerRegistry, when background refresh is on and the app has ScheduleModule. */
  readonly scheduler?: TimeoutRegistry;
  readonly refreshAheadMs: number;
  /** Bound on one whole request to WeCom (headers and body). */
  readonly timeoutMs: number;
  /** Bound on every cache and lock operation. */
  readonly cacheTimeoutMs: number;
  /** Cool-down after a credential error. */
  readonly errorCooldownMs: number;
  /** Cool-down after WeCom's frequency limit (45009). */
  readonly rateLimitCooldownMs: number;
  /** First cool-down after a fetch failed otherwise (HTML, 5xx, dropped, invalid answer); it doubles up to 30 s. */
  readonly failureCooldownMs: number;
  /** Name of the refresh timer in the application's SchedulerRegistry. */
  readonly timerName: string;
  /** Bounded retry of transient failures within one fetch. */
  readonly retry: { readonly attempts: number; readonly baseDelayMs: number; readonly maxDelayMs: number };
  /**
   * One request to WeCom. `signal` aborts it at its deadline or when the application shuts down; it resolves the
   * credential as `token` with its expiry, or rejects with a typed error of the module.
   */
  readonly fetchOnce: (signal: AbortSignal) => Promise<TokenEntry>;
  /**
   * Bounds how many loads of credentials sharing it run at once (an authorised corp's: thousands of them). The
   * whole load runs inside a slot: shared-cache read, lease, request and write, so neither WeCom nor Redis sees
   * more than the bound. A load waiting for a slot is not yet on its deadline.
   */
  readonly loadLimit?: { run<T>(signal: AbortSignal, task: () => Promise<T>): Promise<T> };
  /** How a failure of `fetchOnce` is treated. */
  readonly classify: (error: unknown) => FailureClass;
  /** WeCom's errcode carried by an error, if any (for channels and metrics). */
  readonly errcodeOf: (error: unknown) => number | undefined;
}

/**
 * The spec as one object of a fixed shape. Callers build theirs with spreads and optional parts, which V8 may keep
 * as a dictionary (hundreds of bytes); a tenant map holds thousands of credentials, each with its spec. The timer's
 * name is kept only where there is a scheduler to register it with.
 */
export function compactSpec(spec: CredentialSpec): CredentialSpec {
  return {
    kind: spec.kind,
    ref: spec.ref,
    cacheKey: spec.cacheKey,
    valueField: spec.valueField,
    cache: spec.cache,
    lock: spec.lock,
    scheduler: spec.scheduler,
    refreshAheadMs: spec.refreshAheadMs,
    timeoutMs: spec.timeoutMs,
    cacheTimeoutMs: spec.cacheTimeoutMs,
    errorCooldownMs: spec.errorCooldownMs,
    rateLimitCooldownMs: spec.rateLimitCooldownMs,
    failureCooldownMs: spec.failureCooldownMs,
    timerName: spec.scheduler ? spec.timerName : '',
    retry: spec.retry,
    fetchOnce: spec.fetchOnce,
    loadLimit: spec.loadLimit,
    classify: spec.classify,
    errcodeOf: spec.errcodeOf,
  };
}
