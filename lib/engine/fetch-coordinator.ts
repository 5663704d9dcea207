/**
 * Who fetches: the holder of the lock fetches and writes the shared cache; the others never queue on the lock,
 * they poll the shared cache for the holder's token and try the lock again each round. A dead holder's lease runs
 * out after one lease, one of the waiting instances takes it over and fetches, and the others pick its token up:
 * a dead holder delays the fleet by one lease and costs it one more gettoken, not one per instance. Only when two
 * leases pass without a token (the lock or its holders keep failing) does each instance fetch for itself.
 */
import type { Logger } from '@nestjs/common';
import { bounded, describeError } from '../common/bounded.js';
import type { TokenEntry } from '../common/interfaces/token-entry.interface.js';
import type { TokenLock } from '../common/interfaces/token-lock.interface.js';
import type { TokenStore } from './token-store.js';
import type { CredentialSpec } from './credential-spec.js';
import { lockUnavailableMessage, malformedLockMessage } from '../common/wecom-token.messages.js';
import { quoteUntrusted } from '../common/redaction.js';

/** Decides whether an entry found in the shared cache saves a fetch. */
export type EntryFilter = (entry: TokenEntry) => boolean;

/** What the coordinator needs of a credential's spec. */
export type CoordinatorSettings = Pick<CredentialSpec, 'ref' | 'cacheKey' | 'timeoutMs' | 'cacheTimeoutMs' | 'retry'>;

/** The credential a coordinator fetches for (an object, not closures: a tenant map holds thousands of them). */
export interface CoordinatorHost {
  /** Once true, the store is no longer written (the application shuts down). */
  readonly closed: boolean;
  /** One fetch from WeCom, with its retries. */
  fetchForCoordinator(): Promise<TokenEntry>;
}

/** Coordinates the fetches of one credential through its lock and shared cache. */
export class FetchCoordinator {
  private lockHealthy = true;

  constructor(
    private readonly config: CoordinatorSettings,
    private readonly lock: TokenLock,
    private readonly store: TokenStore,
    private readonly host: CoordinatorHost,
    private readonly logger: Logger,
    /** Tells waiting instances that the entry was written (the lock's feed, where it has one). */
    private readonly announce?: () => Promise<void>,
  ) {}

  /** How long one fetch may hold the lock: one HTTP timeout and some slack for the cache write. */
  get leaseMs(): number {
    return this.config.timeoutMs + 2_000;
  }

  /** Wakes the instances waiting on another holder: set by a lock that hears of new entries (Redis pub/sub). */
  private wake?: () => void;

  /**
   * Announcements of new entries heard so far. A waiter compares it with the count it saw before its last read, so
   * an announcement that arrives while it reads or takes the lock (not asleep) is not lost.
   */
  private writes = 0;

  /** The count of announcements heard, to pass to {@link obtain} when a read of the shared entry precedes it. */
  get writesSeen(): number {
    return this.writes;
  }

  /** Called when another instance wrote a new entry under this key: waiters read it now instead of polling on. */
  entryWritten(): void {
    this.writes++;
    this.wake?.();
  }

  /**
   * A fresh entry: fetched by us under the lock, or written by the lock's holder while we waited. `good` tells
   * whether an entry found in the shared cache will do (valid, not rejected, newer than what we hold).
   */
  async obtain(good: EntryFilter, seen = this.writes): Promise<{ entry: TokenEntry; fetched: boolean }> {
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
      await this.pauseOrWake(Math.min(pause, Math.max(1, deadline - Date.now())), seen);
      pause = Math.min(pause * 2, 250);
      seen = this.writes;
      const found = await this.store.read();
      if (found && good(found)) return { entry: found, fetched: false };
    }
  }

  /** Sleep `ms`, or less when the holder's new entry is announced meanwhile. */
  private pauseOrWake(ms: number, seen: number): Promise<void> {
    if (this.writes !== seen) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        if (this.wake === done) this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref?.();
      // One waiter at most per credential and process: callers share one load (single flight).
      this.wake = done;
    });
  }

  private async fetchAndShare(): Promise<TokenEntry> {
    const entry = await this.host.fetchForCoordinator();
    if (!this.host.closed) {
      await this.store.write(entry);
      const announce = this.announce;
      if (announce) await bounded(Promise.resolve().then(announce), this.config.cacheTimeoutMs, 'announce').catch(() => undefined);
    }
    return entry;
  }

  /** The lock's release, null when another holder has it, or a no-op release when the lock itself fails. */
  private async tryAcquire(key: string): Promise<(() => Promise<void>) | null> {
    try {
      const release: unknown = await bounded(
        Promise.resolve().then(() => this.lock.acquire(key, this.leaseMs)),
        this.config.cacheTimeoutMs,
        'lock acquire',
      );
      if (release !== null && typeof release !== 'function') {
        this.logger.error(malformedLockMessage(this.config.ref, release === undefined ? 'undefined' : typeof release));
        return async () => undefined;
      }
      if (!this.lockHealthy) {
        this.lockHealthy = true;
        this.logger.log(`token lock answers again for corp ${quoteUntrusted(this.config.ref.corpId)}, app '${quoteUntrusted(this.config.ref.app)}'`);
      }
      if (release === null) return null;
      // A release that never settles must not hang the caller that already has its token.
      const settle = release as () => Promise<void>;
      return () => bounded(Promise.resolve().then(settle), this.config.cacheTimeoutMs, 'lock release').catch(() => undefined);
    } catch (error) {
      if (this.lockHealthy) {
        this.lockHealthy = false;
        this.logger.warn(lockUnavailableMessage(this.config.ref, describeError(error)));
      }
      // In-process single flight still holds: this process fetches once.
      return async () => undefined;
    }
  }
}
