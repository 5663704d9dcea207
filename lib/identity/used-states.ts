/**
 * Single use of a state across a fleet. A returning state's nonce is claimed once; a second return of the same
 * callback URL (a reload, the back button, a replay on another instance) finds it claimed and exchanges nothing.
 *
 * Three memories, each asked in turn, any "already used" winning:
 * - this process: a bounded map of nonces, each kept for the state's lifetime (oldest leave first past the bound);
 * - the app's lock, when the application configured one (`RedisTokenLock`): a lease per nonce, which is an atomic
 *   SET NX PX in Redis, so two instances that get the same callback at the same moment cannot both win. (The default
 *   in-process lock is not used: it never forgets a key, and this process's map already covers it.)
 * - the app's cache (a Redis-backed cache-manager for a fleet): a marker per nonce with its own expiry, for fleets
 *   that share a cache but no lock (a later replay on another instance is seen; two at the same instant may not be).
 * A store that fails or hangs is bounded by `cacheTimeoutMs` and skipped: the local memory still holds.
 */
import { Logger } from '@nestjs/common';
import type { Cache } from 'cache-manager';
import { bounded, describeError } from '../common/bounded.js';
import type { TokenLock } from '../common/interfaces/token-lock.interface.js';

/** Nonces this process remembers at most (a flood of logins cannot grow memory past this). */
export const MAX_LOCAL_NONCES = 100_000;

/** Where the nonces of one app or suite are remembered. */
export interface UsedStatesOptions {
  /** `wecom:v1:{corpId}:{hash16(secret)}` or the suite's prefix; `:oauth_state:{nonce}` is appended. */
  readonly keyPrefix: string;
  readonly cache?: Cache;
  readonly lock?: TokenLock;
  readonly timeoutMs: number;
  /** Logger context, for the warning when a shared store fails. */
  readonly owner: string;
}

/** The memory of claimed state nonces. */
export class UsedStates {
  private readonly local = new Map<string, number>();
  private readonly logger = new Logger(UsedStates.name);
  private warned = false;

  constructor(private readonly options: UsedStatesOptions) {}

  /** True the first time a nonce is claimed within `ttlMs`, false ever after (until it is forgotten at `ttlMs`). */
  async claim(nonce: string, ttlMs: number, now = Date.now()): Promise<boolean> {
    this.sweep(now);
    const held = this.local.get(nonce);
    if (held !== undefined && held > now) return false;
    this.local.set(nonce, now + ttlMs);
    const key = `${this.options.keyPrefix}:oauth_state:${nonce}`;
    const { lock, cache, timeoutMs } = this.options;
    if (lock) {
      try {
        const lease = await bounded(lock.acquire(key, ttlMs), timeoutMs, 'state lock');
        if (lease === null) return false;
      } catch (error) {
        this.warnOnce(error);
      }
    }
    if (cache) {
      try {
        const seen = await bounded(cache.get<{ expiresAt?: unknown }>(key), timeoutMs, 'state cache read');
        if (seen && typeof seen === 'object' && typeof seen.expiresAt === 'number' && seen.expiresAt > now) return false;
        await bounded(cache.set(key, { usedAt: now, expiresAt: now + ttlMs }, ttlMs), timeoutMs, 'state cache write');
      } catch (error) {
        this.warnOnce(error);
      }
    }
    return true;
  }

  /** How many nonces this process holds (for the bound's test). */
  get size(): number {
    return this.local.size;
  }

  private sweep(now: number): void {
    // Insertion order is claim order, and every entry lives equally long: expired ones are at the front.
    for (const [nonce, until] of this.local) {
      if (until > now && this.local.size < MAX_LOCAL_NONCES) break;
      this.local.delete(nonce);
    }
  }

  private warnOnce(error: unknown): void {
    if (this.warned) return;
    this.warned = true;
    this.logger.warn(
      `${this.options.owner}: the shared memory of used login states failed (${describeError(error)}); this instance still refuses a state it saw, another instance may not`,
    );
  }
}
