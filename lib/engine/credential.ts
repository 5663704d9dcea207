/**
 * One credential's life, whatever it is (an app's access_token, a JS-SDK ticket, a suite, provider or authorised
 * corp's token): the in-process copy, single flight, the shared entry, lock coordination, the refresh point and
 * timer, the fetch budget and cool-downs, stale-while-error, the memory of rejected values, the fleet's
 * invalidation feed, and a clean shutdown. Written once; `app/` and `suite/` give it a spec.
 */
import { Logger } from '@nestjs/common';
import { inspect } from 'node:util';
import { backoffMs, describeError, sleep, untilAborted } from '../common/bounded.js';
import { WeComCooldownError } from '../common/errors/wecom-cooldown.error.js';
import { WeComShutdownError } from '../common/errors/wecom-shutdown.error.js';
import type { TokenEntry } from '../common/interfaces/token-entry.interface.js';
import { publishFetch, publishRefreshFailed } from '../observability/diagnostics.js';
import { fingerprint, maskToken } from '../common/redaction.js';
import { FETCH_BUDGET_WINDOW_MS, MAX_TIMER_MS, REJECTED_TOKENS_REMEMBERED } from '../common/wecom-token.constants.js';
import { cooldownMessage, credentialFetchedMessage, credentialRateLimitedMessage, refreshFailedKeepingCredentialMessage } from '../common/wecom-token.messages.js';
import { compactSpec, type CredentialSpec, type FailureClass } from './credential-spec.js';
import { FetchCoordinator } from './fetch-coordinator.js';
import { FetchGate } from './fetch-gate.js';
import { RefreshSchedule } from './refresh-schedule.js';
import { AtomicTokenInvalidation, TokenInvalidationFeed, TokenStore } from './token-store.js';

/** A credential held in process, with the moment it is due for refresh. */
interface Held extends TokenEntry {
  refreshAt: number;
}

/** After a transient refresh failure, the next background attempt waits this long (the held value stays in service). */
const BACKGROUND_RETRY_MS = 1_000;

/**
 * The refresh point of an entry: `refreshAheadMs` before expiry, never earlier than half the lifetime. A fetch that
 * returned the value already held without a later expiry (WeCom's "same token within validity") is not refreshed
 * again before it expires, so it cannot start a refetch loop.
 */
export function refreshPoint(entry: TokenEntry, refreshAheadMs: number, replaced?: TokenEntry): number {
  if (replaced && entry.token === replaced.token && entry.expiresAt <= replaced.expiresAt + 1_000) return entry.expiresAt;
  const lifetime = Math.max(0, entry.expiresAt - entry.fetchedAt);
  return Math.max(entry.fetchedAt + lifetime / 2, entry.expiresAt - refreshAheadMs);
}

function keepAlive(): void {
  // Never does anything: the timer exists only to keep the event loop alive.
}

/** The schedule of every credential without a scheduler: it never sets a timer. */
const NO_SCHEDULE = new RefreshSchedule('', undefined, new Logger('WeComCredential'));

/** One Logger per context, shared by every credential of it (a tenant map holds thousands of credentials). */
const loggers = new Map<string, Logger>();
function loggerFor(context: string): Logger {
  let logger = loggers.get(context);
  if (!logger) loggers.set(context, (logger = new Logger(context)));
  return logger;
}

/** One credential, kept alive by the engine. */
export class Credential {
  private readonly logger: Logger;
  private readonly store: TokenStore;
  private readonly coordinator: FetchCoordinator;
  private readonly schedule: RefreshSchedule;
  private readonly gate: FetchGate;
  private held?: Held;
  private inflight?: Promise<Held>;
  private backgroundRetryAt = 0;
  /** Whether a value was ever held here (only such a credential follows the fleet's announcements). */
  private used = false;
  /** The read of an entry another instance announced, while one is under way. */
  private adopting?: Promise<void>;
  /**
   * The recently rejected values (never served again), each with its compare-and-delete in the shared store, which
   * every caller that saw the rejection shares. Oldest first, at most REJECTED_TOKENS_REMEMBERED.
   */
  private rejected?: Map<string, Promise<void>>;
  /**
   * Aborted on shutdown: every request to WeCom in flight ends, and nothing is written afterwards. Built on first
   * use (a load), so that an idle credential of a tenant map holds no controller and signal of its own.
   */
  private closingController?: AbortController;
  /** Set by close(): why nothing is fetched any more. */
  private closedReason?: Error;
  private readonly stopFeed?: () => void;
  /** Keeps the process alive while a caller awaits this credential (the engine's own timers never do). */
  /** Awaited calls holding the process now, and the ref'd timer that holds it (ProcessHold, inline). */
  private holding = 0;
  private holdTimer?: NodeJS.Timeout;
  private readonly spec: CredentialSpec;

  constructor(given: CredentialSpec, loggerContext = 'WeComCredential') {
    const spec = (this.spec = compactSpec(given));
    this.logger = loggerFor(loggerContext);
    const atomic = isAtomicInvalidation(spec.lock) ? spec.lock : undefined;
    this.store = new TokenStore(spec, spec.cache, this.logger, atomic);
    const feed = isInvalidationFeed(spec.lock) ? spec.lock : undefined;
    const announce = feed?.announceEntry ? () => feed.announceEntry!(spec.cacheKey) : undefined;
    this.coordinator = new FetchCoordinator(spec, spec.lock, this.store, this, this.logger, announce);
    if (feed) {
      this.stopFeed = feed.onTokenInvalidated(
        spec.cacheKey,
        (fp) => this.onFleetInvalidation(fp),
        () => this.onFleetEntryWritten(),
      );
    }
    // Without a scheduler no timer is ever set: every such credential shares one schedule that does nothing.
    this.schedule = spec.scheduler ? new RefreshSchedule(spec.timerName, spec.scheduler, this.logger) : NO_SCHEDULE;
    this.gate = new FetchGate(spec.ref, spec.kind, spec.errorCooldownMs, spec.rateLimitCooldownMs, spec.failureCooldownMs);
  }

  /** @internal The coordinator's fetch (under the lock, or alone when the lock fails). */
  fetchForCoordinator(): Promise<TokenEntry> {
    return this.fetchWithRetries();
  }

  /**
   * Keeps the process alive while a caller awaits this credential (the engine's own timers never do): as
   * ProcessHold, with its two fields here rather than an object of its own in every credential.
   */
  private hold<T>(promise: Promise<T>): Promise<T> {
    if (this.holding++ === 0) this.holdTimer = setInterval(keepAlive, MAX_TIMER_MS);
    return promise.finally(() => {
      if (--this.holding === 0) {
        clearInterval(this.holdTimer);
        this.holdTimer = undefined;
      }
    });
  }

  /** What this credential is. */
  get kind(): CredentialSpec['kind'] {
    return this.spec.kind;
  }

  /** Whether background refresh timers are set. */
  get backgroundRefreshActive(): boolean {
    return this.schedule.enabled;
  }

  /** Whether the application has shut this credential down. */
  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  /** The shutdown signal (aborted by close()), built on first use. */
  private get closing(): AbortSignal {
    let controller = this.closingController;
    if (!controller) {
      controller = this.closingController = new AbortController();
      if (this.closedReason) controller.abort(this.closedReason);
    }
    return controller.signal;
  }

  /**
   * A valid value. Costs no I/O while the held value is before its refresh point; inside the refresh window it
   * returns the held value and refreshes off the caller's path; with no valid value, concurrent callers share one
   * fetch.
   */
  get(): Promise<string> {
    const held = this.held;
    if (held !== undefined && Date.now() < held.refreshAt) return Promise.resolve(held.token);
    return this.hold(this.getSlow());
  }

  /** The held value while it is before its refresh point (what get() would answer without I/O), else undefined. */
  current(now = Date.now()): string | undefined {
    const held = this.held;
    return held !== undefined && now < held.refreshAt && this.closedReason === undefined ? held.token : undefined;
  }

  /** When a tenant map last moved this credential in its order of use (see SuiteCredentials.corp). */
  usedAt = 0;

  /** Whether a value is held (peek() without its copy). */
  get holds(): boolean {
    return this.held !== undefined;
  }

  /** The held entry, without I/O; undefined when none is held. */
  peek(): Readonly<TokenEntry> | undefined {
    const held = this.held;
    return held && { token: held.token, expiresAt: held.expiresAt, fetchedAt: held.fetchedAt };
  }

  /** The failure callers get at once while a cool-down lasts, if one does. */
  lastFailure(): Error | undefined {
    return this.gate.blocked();
  }

  /** Fetch a new value now. Concurrent callers (and a refresh already under way) share one fetch. */
  async refresh(): Promise<string> {
    return (await this.hold(this.load(true))).token;
  }

  /**
   * Forget the value. With `rejected`, only while it is still the one held and cached (compare-and-delete): a
   * newer value, fetched by another caller or instance after the rejection, stays. A rejection wave grants one
   * fetch outside the budget (unless `grant` is false); a loop of rejections does not get more.
   */
  invalidate(rejected?: string, options: { grant?: boolean } = {}): Promise<void> {
    return this.hold(this.forget(rejected, options));
  }

  /** Whether a load or an adoption is under way (a tenant map must not close such a credential to free memory). */
  get busy(): boolean {
    return this.inflight !== undefined || this.adopting !== undefined || this.holding > 0;
  }

  private async forget(rejected: string | undefined, options: { grant?: boolean }): Promise<void> {
    if (rejected === undefined) {
      this.dropHeld();
      await this.store.delete();
      return;
    }
    // A wave of rejections of one value costs one compare-and-delete in the shared store, not one per call.
    const pending = this.rejected?.get(rejected);
    if (pending) return pending;
    const held = this.held;
    if (held?.token === rejected) {
      this.dropHeld();
      // WeCom said so (40014 …): one fetch outside the budget, for a value that lived. A value rejected at once
      // after its fetch is a failure of its own (a gateway that mangles tokens, WeCom refusing every new one): its
      // refetch spends the budget, so "fetch, rejected, fetch" ends there. A caller's report (a page's "invalid
      // signature") passes grant: false, so a reporting loop spends the budget too.
      if (options.grant !== false) {
        if (isFresh(held)) this.gate.rejectedFresh();
        else this.gate.grantWave();
      }
    }
    const deletion = this.store.deleteIf(rejected);
    const remembered = (this.rejected ??= new Map());
    remembered.set(rejected, deletion);
    if (remembered.size > REJECTED_TOKENS_REMEMBERED) remembered.delete(remembered.keys().next().value as string);
    return deletion;
  }

  /** Stop timers and the fleet feed, abort requests in flight; nothing is fetched or written afterwards. */
  close(): void {
    if (this.closed) return;
    this.closedReason = new WeComShutdownError(this.spec.ref, this.spec.kind);
    this.closingController?.abort(this.closedReason);
    this.schedule.stop();
    this.stopFeed?.();
  }

  /** @internal */
  [inspect.custom](): string {
    return `Credential { kind: '${this.spec.kind}', corpId: '${this.spec.ref.corpId}', app: '${this.spec.ref.app}', held: ${this.held ? maskToken(this.held.token) : '(none)'} }`;
  }

  /** @internal */
  toJSON(): Record<string, unknown> {
    return {
      kind: this.spec.kind,
      corpId: this.spec.ref.corpId,
      app: this.spec.ref.app,
      held: this.held ? maskToken(this.held.token) : null,
      expiresAt: this.held?.expiresAt ?? null,
    };
  }

  /** Another instance invalidated a value: stop serving it from the in-process copy. */
  private onFleetInvalidation(valueFingerprint: string): void {
    const held = this.held;
    if (held && fingerprint(held.token) === valueFingerprint) this.dropHeld();
  }

  /**
   * Another instance wrote a new entry. A load under way here (waiting on that holder) reads it at once; with none,
   * an instance that has held a value takes the new one now, so that its calls still in flight with the old value
   * replay on the new one without a read of the shared cache of their own. A credential never used here stays idle.
   */
  private onFleetEntryWritten(): void {
    this.coordinator.entryWritten();
    if (this.inflight || this.closed || !this.used || this.adopting) return;
    const before = this.held;
    this.adopting = this.store
      .read()
      .then((shared) => {
        // Only while nothing else changed the held value meanwhile (a load of ours adopts for itself).
        if (!shared || this.closed || this.inflight || this.held !== before) return;
        if (this.isServable(shared) && isNewer(shared, before) && (!before || shared.expiresAt >= before.expiresAt)) this.adopt(shared, false, before);
      })
      .catch(() => undefined)
      .finally(() => {
        this.adopting = undefined;
      });
  }

  private dropHeld(): void {
    this.held = undefined;
    this.schedule.cancel();
  }

  private async getSlow(): Promise<string> {
    const held = this.held;
    if (held !== undefined && Date.now() < held.expiresAt) {
      this.refreshInBackground();
      return held.token;
    }
    // A load that started before a rejection may still bring back the rejected value: load again, bounded.
    for (let attempt = 0; ; attempt++) {
      const entry = await this.load(false);
      if (!this.rejected?.has(entry.token) || attempt >= 2) return entry.token;
    }
  }

  private refreshInBackground(): void {
    const now = Date.now();
    if (this.inflight || this.closed || now < this.backgroundRetryAt || this.gate.blocked(now)) return;
    this.load(false).catch((error: unknown) => {
      const held = this.held;
      if (!held || this.closed || Date.now() >= held.expiresAt) return;
      const validForMs = held.expiresAt - Date.now();
      const description = describeError(error);
      this.logger.warn(refreshFailedKeepingCredentialMessage(this.spec.ref, this.spec.kind, description, maskToken(held.token), validForMs));
      const errcode = this.spec.errcodeOf(error);
      publishRefreshFailed({
        kind: this.spec.kind,
        corpId: this.spec.ref.corpId,
        app: this.spec.ref.app,
        error: description,
        ...(errcode !== undefined ? { errcode } : {}),
        validForMs,
      });
    });
  }

  /** Single flight: every caller while a load is under way shares it. */
  private load(force: boolean): Promise<Held> {
    if (this.inflight) return this.inflight;
    const limit = this.spec.loadLimit;
    const pending = (limit ? limit.run(this.closing, () => this.doLoad(force)) : this.doLoad(force)).finally(() => {
      if (this.inflight !== pending) return;
      this.inflight = undefined;
      // Every wait of the load has settled and let go of the signal: an idle credential keeps no controller.
      if (!this.closed) this.closingController = undefined;
    });
    this.inflight = pending;
    return pending;
  }

  private async doLoad(force: boolean): Promise<Held> {
    if (this.closed) throw this.closedReason as Error;
    const previous = this.held;
    const seen = this.coordinator.writesSeen;

    if (!force) {
      const shared = await this.store.read();
      if (shared && this.isServable(shared) && isNewer(shared, previous)) {
        const adopted = this.adopt(shared, false, previous);
        // Due already (another instance is late to refresh it): serve it now, refresh once this load has settled.
        if (Date.now() >= adopted.refreshAt) setImmediate(() => this.refreshInBackground());
        return adopted;
      }
    }
    // During a cool-down, callers get its cause at once (a value another instance shared was adopted above).
    const cause = this.gate.blocked();
    if (cause) throw cause;
    const { entry, fetched } = await this.coordinator.obtain((found) => this.isServable(found) && isNewer(found, previous), seen);
    if (this.closed) throw this.closedReason as Error;
    this.backgroundRetryAt = 0;
    // WeCom handed this value out again just now: it is good, and a later rejection of it is a new one.
    if (fetched) this.rejected?.delete(entry.token);
    return this.adopt(entry, fetched, previous);
  }

  /** One fetch: bounded retries of transient failures, every attempt admitted by the budget, the outcome reported. */
  private async fetchWithRetries(): Promise<TokenEntry> {
    const { attempts, baseDelayMs, maxDelayMs } = this.spec.retry;
    for (let attempt = 0; ; attempt++) {
      try {
        this.gate.admit(attempt > 0);
      } catch (error) {
        if (this.gate.tripped)
          this.logger.error(error instanceof WeComCooldownError ? error.message : cooldownMessage(this.spec.ref, this.spec.kind, this.gate.cooldownRemainingMs()));
        throw error;
      }
      let failure: FailureClass;
      try {
        const entry = await this.fetchOnce();
        this.gate.succeeded();
        return entry;
      } catch (error) {
        if (this.closed) throw this.closedReason as Error;
        failure = this.spec.classify(error);
        if (failure === 'unsent') {
          this.gate.refund();
          throw error;
        }
        if (failure === 'transient' && attempt + 1 < attempts) {
          // Ends at once on shutdown, so that a caller awaiting this fetch settles with close().
          await sleep(backoffMs(attempt, baseDelayMs, maxDelayMs), this.closing);
          continue;
        }
        const pause = this.gate.failed(error as Error, failure);
        if (failure === 'rate-limited') this.logger.error(credentialRateLimitedMessage(this.spec.ref, this.spec.kind, pause));
        else if (failure === 'credential') this.logger.error(describeError(error));
        else this.backgroundRetryAt = Date.now() + BACKGROUND_RETRY_MS;
        throw error;
      }
    }
  }

  /** One request, within its deadline and the application's life, reported on the fetch channel. */
  private async fetchOnce(): Promise<TokenEntry> {
    const started = performance.now();
    // A controller and a timer rather than AbortSignal.any/timeout: on Node 20 a timeout signal inside any() can be
    // collected before it fires (nodejs/node#57736), and then the deadline never comes.
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new DOMException(`no complete answer within ${this.spec.timeoutMs} ms`, 'TimeoutError')), this.spec.timeoutMs);
    timer.unref?.();
    const onClose = (): void => deadline.abort(this.closedReason);
    if (this.closed) onClose();
    else this.closing.addEventListener('abort', onClose, { once: true });
    const signal = deadline.signal;
    const { kind, ref } = this.spec;
    try {
      // A fetch that ignores its signal still lets its callers go at shutdown.
      const entry = await untilAborted(this.spec.fetchOnce(signal), this.closing);
      publishFetch({ kind, corpId: ref.corpId, app: ref.app, outcome: 'ok', durationMs: performance.now() - started, expiresAt: entry.expiresAt });
      return entry;
    } catch (error) {
      if (this.spec.classify(error) === 'unsent') throw error;
      const errcode = this.spec.errcodeOf(error);
      publishFetch({ kind, corpId: ref.corpId, app: ref.app, outcome: 'error', durationMs: performance.now() - started, ...(errcode !== undefined ? { errcode } : {}) });
      throw error;
    } finally {
      clearTimeout(timer);
      this.closing.removeEventListener('abort', onClose);
    }
  }

  private isServable(entry: TokenEntry): boolean {
    return Date.now() < entry.expiresAt && !this.rejected?.has(entry.token);
  }

  private adopt(entry: TokenEntry, fetched: boolean, replaced?: TokenEntry): Held {
    const held: Held = { token: entry.token, expiresAt: entry.expiresAt, fetchedAt: entry.fetchedAt, refreshAt: refreshPoint(entry, this.spec.refreshAheadMs, replaced) };
    this.held = held;
    this.used = true;
    // One fetch per lifetime, at its refresh point, is outside the budget (usable from a little before it: the
    // refresh timer starts up to 5% of the wait early, to spread a fleet).
    const now = Date.now();
    this.gate.grantLifetime(now + Math.max(0, held.refreshAt - now) * 0.95);
    if (fetched) this.logger.debug(credentialFetchedMessage(this.spec.ref, this.spec.kind, maskToken(held.token), held.expiresAt));
    if (!this.closed) this.schedule.schedule(held.refreshAt, () => this.refreshInBackground());
    return held;
  }
}

/**
 * Whether a rejected value was fetched only just now: inside the budget's window and the first half of its lifetime.
 * Its rejection gets no allowance, so that allowances for rejection waves come at most once per window.
 */
function isFresh(entry: TokenEntry, now = Date.now()): boolean {
  const age = now - entry.fetchedAt;
  return age < Math.min(FETCH_BUDGET_WINDOW_MS, (entry.expiresAt - entry.fetchedAt) / 2);
}

function isNewer(found: TokenEntry, previous: TokenEntry | undefined): boolean {
  return !previous || found.token !== previous.token || found.expiresAt > previous.expiresAt;
}

function isInvalidationFeed(lock: unknown): lock is TokenInvalidationFeed {
  return typeof (lock as Partial<TokenInvalidationFeed> | undefined)?.onTokenInvalidated === 'function';
}

function isAtomicInvalidation(lock: unknown): lock is AtomicTokenInvalidation {
  return typeof (lock as Partial<AtomicTokenInvalidation> | undefined)?.compareAndDeleteToken === 'function';
}
