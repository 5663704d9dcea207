/**
 * The public face of one WeCom app's access_token.
 */
import { Logger, OnApplicationShutdown, OnModuleDestroy } from '@nestjs/common';
import type { Cache } from 'cache-manager';
import { WeComApiError } from '../errors/wecom-api.error.js';
import { FetchCoordinator } from '../engine/fetch-coordinator.js';
import { InProcessTokenLock } from '../engine/in-process-token-lock.js';
import type { TokenEntry } from '../interfaces/token-entry.interface.js';
import { describeError } from '../bounded.js';
import { fingerprint, maskToken } from '../redaction.js';
import { RefreshSchedule, TimeoutRegistry } from '../engine/refresh-schedule.js';
import { TokenFetcher } from './token-fetcher.js';
import { AtomicTokenInvalidation, TokenInvalidationFeed, TokenStore } from '../engine/token-store.js';
import type { WeComTokenConfig } from './wecom-token.config.js';
import { RATE_LIMITED_ERRCODE, REJECTED_TOKENS_REMEMBERED } from '../wecom-token.constants.js';
import { CREDENTIAL_ERRCODES, rateLimitedMessage, refreshFailedKeepingMessage, tokenFetchedMessage } from '../wecom-token.messages.js';

/** A token held in process, with the moment it is due for refresh. */
interface HeldToken extends TokenEntry {
  refreshAt: number;
}

/** After a transient refresh failure, the next background attempt waits this long (the held token stays in service). */
const BACKGROUND_RETRY_MS = 1_000;

/**
 * The refresh point of an entry: `refreshAheadMs` before expiry, never earlier than half the lifetime. A fetch that
 * returned the token already held without a later expiry (WeCom's "same token within validity") is not refreshed
 * again before it expires, so it cannot start a refetch loop.
 */
export function refreshPoint(entry: TokenEntry, refreshAheadMs: number, replaced?: TokenEntry): number {
  if (replaced && entry.token === replaced.token && entry.expiresAt <= replaced.expiresAt + 1_000) return entry.expiresAt;
  const lifetime = Math.max(0, entry.expiresAt - entry.fetchedAt);
  return Math.max(entry.fetchedAt + lifetime / 2, entry.expiresAt - refreshAheadMs);
}

/**
 * One app's access_token: cached, shared, refreshed ahead of expiry, replaced once when WeCom rejects it.
 * Injected as `AccessTokenService` for the default app, `@InjectAccessTokenService(name)` for a named one.
 */
export class AccessTokenService implements OnModuleDestroy, OnApplicationShutdown {
  private readonly logger = new Logger(AccessTokenService.name);
  private readonly store: TokenStore;
  private readonly coordinator: FetchCoordinator;
  private readonly schedule: RefreshSchedule;
  private held?: HeldToken;
  private inflight?: Promise<HeldToken>;
  /** A credential or rate-limit failure, answered without calling WeCom until `until`. */
  private failure?: { error: Error; until: number };
  private backgroundRetryAt = 0;
  /**
   * The recently rejected tokens (never served again), each with its compare-and-delete in the shared store, which
   * every caller that saw the rejection shares. Oldest first, at most REJECTED_TOKENS_REMEMBERED.
   */
  private readonly rejected = new Map<string, Promise<void>>();
  private destroyed = false;
  private readonly stopFeed?: () => void;

  /** @internal Built by `WeComTokenModule`; not meant to be constructed by applications. */
  constructor(
    private readonly config: WeComTokenConfig,
    cache: Cache,
    scheduler?: TimeoutRegistry,
  ) {
    const atomic = isAtomicInvalidation(config.lock) ? config.lock : undefined;
    this.store = new TokenStore(config, cache, this.logger, atomic);
    this.coordinator = new FetchCoordinator(config, config.lock ?? new InProcessTokenLock(), this.store, new TokenFetcher(config), this.logger);
    if (isInvalidationFeed(config.lock)) this.stopFeed = config.lock.onTokenInvalidated(config.cacheKey, (fp) => this.onFleetInvalidation(fp));
    this.schedule = new RefreshSchedule(`WeComTokenRefresh(${config.app})`, config.backgroundRefresh ? scheduler : undefined, this.logger);
  }

  /** The registered app name. */
  get appName(): string {
    return this.config.app;
  }

  /** The corp's ID. */
  get corpId(): string {
    return this.config.corpId;
  }

  /** The app's agentid, where one was configured. */
  get agentId(): string | undefined {
    return this.config.agentId;
  }

  /** WeCom's API root for this app. */
  get baseUrl(): string {
    return this.config.baseUrl;
  }

  /** @internal The bounded retry of transient failures configured for this app. */
  get retryPolicy(): Readonly<WeComTokenConfig['retry']> {
    return this.config.retry;
  }

  /** Whether background refresh timers are set (backgroundRefresh on and ScheduleModule present). */
  get backgroundRefreshActive(): boolean {
    return this.schedule.enabled;
  }

  /**
   * A valid token. Costs no I/O while the held token is before its refresh point; inside the refresh window it
   * returns the held token and refreshes off the caller's path; with no valid token, all concurrent callers share
   * one fetch.
   */
  getToken(): Promise<string> {
    const held = this.held;
    if (held !== undefined && Date.now() < held.refreshAt) return Promise.resolve(held.token);
    return this.getTokenSlow();
  }

  /** The held entry (token, expiry, fetch time), without I/O; undefined when none is held. */
  peek(): Readonly<TokenEntry> | undefined {
    const held = this.held;
    return held && { token: held.token, expiresAt: held.expiresAt, fetchedAt: held.fetchedAt };
  }

  /** Fetch a new token now. Concurrent callers (and a refresh already under way) share one fetch. */
  async refresh(): Promise<string> {
    return (await this.load(true)).token;
  }

  /**
   * Forget the token. With `rejectedToken`, only while it is still the one held and cached (compare-and-delete):
   * a newer token, fetched by another caller or instance after the rejection, stays.
   */
  async invalidate(rejectedToken?: string): Promise<void> {
    if (rejectedToken === undefined) {
      this.dropHeld();
      await this.store.delete();
      return;
    }
    // A wave of rejections of one token costs one compare-and-delete in the shared store, not one per call: the
    // first invalidation deletes, the others find the token already known as rejected (and never served again).
    const pending = this.rejected.get(rejectedToken);
    if (pending) return pending;
    if (this.held?.token === rejectedToken) this.dropHeld();
    const deletion = this.store.deleteIf(rejectedToken);
    this.rejected.set(rejectedToken, deletion);
    if (this.rejected.size > REJECTED_TOKENS_REMEMBERED) this.rejected.delete(this.rejected.keys().next().value as string);
    return deletion;
  }

  /** @internal Stops the refresh timer, and closes a lock that can be closed (RedisTokenLock's own client). */
  async onModuleDestroy(): Promise<void> {
    this.destroyed = true;
    this.schedule.stop();
    this.stopFeed?.();
    const lock = this.config.lock as { close?: () => Promise<void> } | undefined;
    if (typeof lock?.close === 'function') await lock.close().catch(() => undefined);
  }

  /** @internal */
  onApplicationShutdown(): Promise<void> {
    return this.onModuleDestroy();
  }

  /**
   * Another instance invalidated a token (after WeCom rejected it): stop serving it from the in-process copy. The
   * shared entry no longer holds it (compare-and-delete ran before the message), so the next caller loads the
   * replacement from the shared cache, or waits for the one fetch of the fleet.
   */
  private onFleetInvalidation(tokenFingerprint: string): void {
    const held = this.held;
    if (held && fingerprint(held.token) === tokenFingerprint) this.dropHeld();
  }

  /** Stop serving the held token, and drop its refresh timer with it. */
  private dropHeld(): void {
    this.held = undefined;
    this.schedule.cancel();
  }

  private async getTokenSlow(): Promise<string> {
    const held = this.held;
    if (held !== undefined && Date.now() < held.expiresAt) {
      this.refreshInBackground();
      return held.token;
    }
    // A load that started before a rejection may still bring back the rejected token: load again, bounded.
    for (let attempt = 0; ; attempt++) {
      const entry = await this.load(false);
      if (!this.rejected.has(entry.token) || attempt >= 2) return entry.token;
    }
  }

  private refreshInBackground(): void {
    const now = Date.now();
    if (this.inflight || this.destroyed || now < this.backgroundRetryAt || (this.failure && now < this.failure.until)) return;
    this.load(false).catch((error: unknown) => {
      const held = this.held;
      if (held && Date.now() < held.expiresAt) {
        this.logger.warn(refreshFailedKeepingMessage(this.config, describeError(error), maskToken(held.token), held.expiresAt - Date.now()));
      }
    });
  }

  /** Single flight: every caller while a load is under way shares it. */
  private load(force: boolean): Promise<HeldToken> {
    if (this.inflight) return this.inflight;
    const pending = this.doLoad(force).finally(() => {
      if (this.inflight === pending) this.inflight = undefined;
    });
    this.inflight = pending;
    return pending;
  }

  private async doLoad(force: boolean): Promise<HeldToken> {
    const failure = this.failure;
    if (failure && Date.now() < failure.until) throw failure.error;
    const previous = this.held;

    if (!force) {
      const shared = await this.store.read();
      if (shared && this.isServable(shared) && isNewer(shared, previous)) {
        // `previous` too: a same-token answer fetched by another instance is not refreshed again before it expires.
        const adopted = this.adopt(shared, false, previous);
        // Due already (another instance is late to refresh it): serve it now, refresh once this load has settled.
        if (Date.now() >= adopted.refreshAt) setImmediate(() => this.refreshInBackground());
        return adopted;
      }
    }
    try {
      const { entry, fetched } = await this.coordinator.obtain((found) => this.isServable(found) && isNewer(found, previous));
      this.failure = undefined;
      this.backgroundRetryAt = 0;
      if (fetched) {
        // WeCom handed this token out again just now: it is good, and a later rejection of it is a new one.
        this.rejected.delete(entry.token);
      }
      return this.adopt(entry, fetched, previous);
    } catch (error) {
      this.noteFailure(error as Error);
      throw error;
    }
  }

  private isServable(entry: TokenEntry): boolean {
    return Date.now() < entry.expiresAt && !this.rejected.has(entry.token);
  }

  private adopt(entry: TokenEntry, fetched: boolean, replaced?: TokenEntry): HeldToken {
    const held: HeldToken = { token: entry.token, expiresAt: entry.expiresAt, fetchedAt: entry.fetchedAt, refreshAt: refreshPoint(entry, this.config.refreshAheadMs, replaced) };
    this.held = held;
    if (fetched) this.logger.debug(tokenFetchedMessage(this.config, maskToken(held.token), held.expiresAt));
    if (!this.destroyed) this.schedule.schedule(held.refreshAt, () => this.refreshInBackground());
    return held;
  }

  private noteFailure(error: Error): void {
    const now = Date.now();
    if (error instanceof WeComApiError && error.errcode === RATE_LIMITED_ERRCODE) {
      this.failure = { error, until: now + this.config.rateLimitCooldownMs };
      this.logger.error(rateLimitedMessage(this.config, this.config.rateLimitCooldownMs));
    } else if (error instanceof WeComApiError && CREDENTIAL_ERRCODES.has(error.errcode)) {
      this.failure = { error, until: now + this.config.errorCooldownMs };
      this.logger.error(error.message);
    } else {
      this.backgroundRetryAt = now + BACKGROUND_RETRY_MS;
    }
  }
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
