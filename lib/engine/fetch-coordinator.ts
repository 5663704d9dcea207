/**
 * Who fetches: the holder of the lock fetches and writes the shared cache; the others never queue on the lock,
 * they poll the shared cache for the holder's token and try the lock again each round. A dead holder's lease runs
 * out after one lease, one of the waiting instances takes it over and fetches, and the others pick its token up:
 * a dead holder delays the fleet by one lease and costs it one more gettoken, not one per instance. Only when two
 * leases pass without a token (the lock or its holders keep failing) does each instance fetch for itself.
 */
import type { Logger } from '@nestjs/common';
import { bounded, describeError, sleep } from '../bounded.js';
import type { TokenEntry } from '../interfaces/token-entry.interface.js';
import type { TokenLock } from '../interfaces/token-lock.interface.js';
import type { TokenFetcher } from '../app/token-fetcher.js';
import type { TokenStore } from './token-store.js';
import type { WeComTokenConfig } from '../app/wecom-token.config.js';
import { lockUnavailableMessage } from '../wecom-token.messages.js';

/** Decides whether an entry found in the shared cache saves a fetch. */
export type EntryFilter = (entry: TokenEntry) => boolean;

/** Coordinates the fetches of one app through its lock and shared cache. */
export class FetchCoordinator {
  private lockHealthy = true;

  constructor(
    private readonly config: WeComTokenConfig,
    private readonly lock: TokenLock,
    private readonly store: TokenStore,
    private readonly fetcher: TokenFetcher,
    private readonly logger: Logger,
  ) {}

  /** How long one fetch may hold the lock: one HTTP timeout and some slack for the cache write. */
  get leaseMs(): number {
    return this.config.timeoutMs + 2_000;
  }

  /**
   * A fresh entry: fetched by us under the lock, or written by the lock's holder while we waited. `good` tells
   * whether an entry found in the shared cache will do (valid, not rejected, newer than what we hold).
   */
  async obtain(good: EntryFilter): Promise<{ entry: TokenEntry; fetched: boolean }> {
    const lockKey = `${this.config.cacheKey}:lock`;
    const deadline = Date.now() + 2 * this.leaseMs;
    let pause = 20;
    for (;;) {
      const release = await this.tryAcquire(lockKey);
      if (release) {
        try {
          // Read again under the lock, even on the first round: another instance may have fetched, written and
          // released between our last read and this acquire (or the previous holder finished just in time).
          const found = await this.store.read();
          if (found && good(found)) return { entry: found, fetched: false };
          return { entry: await this.fetchAndShare(), fetched: true };
        } finally {
          await release().catch(() => undefined);
        }
      }
      if (Date.now() >= deadline) return { entry: await this.fetchAndShare(), fetched: true };
      await sleep(Math.min(pause, Math.max(1, deadline - Date.now())));
      pause = Math.min(pause * 2, 250);
      const found = await this.store.read();
      if (found && good(found)) return { entry: found, fetched: false };
    }
  }

  private async fetchAndShare(): Promise<TokenEntry> {
    const entry = await this.fetcher.fetch();
    await this.store.write(entry);
    return entry;
  }

  /** The lock's release, null when another holder has it, or a no-op release when the lock itself fails. */
  private async tryAcquire(key: string): Promise<(() => Promise<void>) | null> {
    try {
      const release = await bounded(this.lock.acquire(key, this.leaseMs), this.config.cacheTimeoutMs, 'lock acquire');
      if (!this.lockHealthy) {
        this.lockHealthy = true;
        this.logger.log(`token lock answers again for corp ${this.config.corpId}, app '${this.config.app}'`);
      }
      return release;
    } catch (error) {
      if (this.lockHealthy) {
        this.lockHealthy = false;
        this.logger.warn(lockUnavailableMessage(this.config, describeError(error)));
      }
      // In-process single flight still holds: this process fetches once.
      return async () => undefined;
    }
  }
}
