/**
 * What the fleet knows about corps that cancelled their authorisation (cancel_auth). The shared cache holds the
 * truth (a mark per corp, cleared when the corp authorises again); each process keeps a small, bounded memory of the
 * marks it saw, so that a cancelled corp is refused without I/O. That memory never outlives the fleet's: a corp that
 * authorises again on another instance is announced on the lock's invalidation feed (where it has one), which clears
 * the memory at once everywhere, and without a feed (or when an announcement is lost while Redis is away) a
 * remembered cancellation is checked against the shared mark again after {@link CANCELLED_RECHECK_MS}.
 */
import type { Cache } from 'cache-manager';
import { bounded } from '../common/bounded.js';
import type { TokenLock } from '../common/interfaces/token-lock.interface.js';
import type { TokenInvalidationFeed } from '../engine/token-store.js';

/** How long a cancellation is remembered in the shared cache (a corp that authorises again clears it). */
const CANCELLED_TTL_MS = 30 * 24 * 3600 * 1000;

/** A cancellation remembered in process is checked against the shared cache again after this long. */
export const CANCELLED_RECHECK_MS = 10_000;

/** Cancelled corps remembered in process at most (the oldest is forgotten first; the shared mark still holds). */
export const CANCELLED_REMEMBERED = 1_000;

interface Remembered {
  checkedAt: number;
  stopListening?: () => void;
}

/** The cancelled corps of one suite, coherent across the fleet. */
export class CancelledCorps {
  private readonly remembered = new Map<string, Remembered>();
  private readonly feed?: TokenInvalidationFeed;

  constructor(
    private readonly cache: Cache,
    private readonly keyOf: (authCorpId: string) => string,
    lock: TokenLock,
    private readonly cacheTimeoutMs: number,
  ) {
    const candidate = lock as Partial<TokenInvalidationFeed> | undefined;
    if (typeof candidate?.onTokenInvalidated === 'function') this.feed = lock as unknown as TokenInvalidationFeed;
  }

  /** How many cancellations this process remembers. */
  get size(): number {
    return this.remembered.size;
  }

  /** Whether this process remembers `authCorpId` as cancelled (no I/O; it may be stale, see {@link confirm}). */
  has(authCorpId: string): boolean {
    return this.remembered.has(authCorpId);
  }

  /** Whether the remembered cancellation was checked recently enough to refuse without I/O. */
  fresh(authCorpId: string, now?: number): boolean {
    const entry = this.remembered.get(authCorpId);
    // The clock only for a remembered corp: this is on every getCorpToken's path.
    return entry !== undefined && (now ?? Date.now()) - entry.checkedAt < CANCELLED_RECHECK_MS;
  }

  /**
   * Whether `authCorpId` is still cancelled, by the shared mark. A corp whose mark is gone (it authorised again on
   * another instance) is forgotten here; a cache that cannot answer keeps the refusal (never serve a corp the fleet
   * may have seen cancel).
   */
  async confirm(authCorpId: string): Promise<boolean> {
    if (!this.remembered.has(authCorpId)) return false;
    if (this.fresh(authCorpId)) return true;
    const mark = await this.readMark(authCorpId);
    if (mark === false) {
      this.forget(authCorpId);
      return false;
    }
    const entry = this.remembered.get(authCorpId);
    if (entry) entry.checkedAt = Date.now();
    return true;
  }

  /** Whether the fleet knows `authCorpId` as cancelled: remembered here, or marked in the shared cache. */
  async inFleet(authCorpId: string): Promise<boolean> {
    if (this.fresh(authCorpId)) return true;
    const mark = await this.readMark(authCorpId);
    if (mark === false) {
      this.forget(authCorpId);
      return false;
    }
    // A cache that cannot answer: a corp remembered as cancelled stays refused, any other is served.
    if (mark === undefined) return this.remembered.has(authCorpId);
    this.remember(authCorpId);
    return true;
  }

  /** A corp cancelled here: remember it, and mark it in the shared cache for the fleet. */
  async cancelled(authCorpId: string): Promise<void> {
    this.remember(authCorpId);
    await bounded(this.cache.set(this.keyOf(authCorpId), 1, CANCELLED_TTL_MS), this.cacheTimeoutMs, 'cache set').catch(() => undefined);
  }

  /** A corp authorised (again) here: forget its cancellation here, in the shared cache, and in every other instance. */
  async authorised(authCorpId: string): Promise<void> {
    this.forget(authCorpId);
    const key = this.keyOf(authCorpId);
    await bounded(this.cache.del(key), this.cacheTimeoutMs, 'cache del').catch(() => undefined);
    const feed = this.feed;
    if (feed?.announceEntry)
      await bounded(
        Promise.resolve().then(() => feed.announceEntry?.(key)),
        this.cacheTimeoutMs,
        'announce',
      ).catch(() => undefined);
  }

  /** Stop listening to the feed; the memory is dropped. */
  close(): void {
    for (const entry of this.remembered.values()) entry.stopListening?.();
    this.remembered.clear();
  }

  private remember(authCorpId: string): void {
    const known = this.remembered.get(authCorpId);
    if (known) {
      known.checkedAt = Date.now();
      return;
    }
    const entry: Remembered = { checkedAt: Date.now() };
    // Another instance that handles the corp's create_auth announces it under the mark's key: forget it at once.
    entry.stopListening = this.feed?.onTokenInvalidated(
      this.keyOf(authCorpId),
      () => undefined,
      () => this.forget(authCorpId),
    );
    this.remembered.set(authCorpId, entry);
    if (this.remembered.size > CANCELLED_REMEMBERED) this.forget(this.remembered.keys().next().value as string);
  }

  private forget(authCorpId: string): void {
    const entry = this.remembered.get(authCorpId);
    if (!entry) return;
    this.remembered.delete(authCorpId);
    entry.stopListening?.();
  }

  /** true: marked; false: not marked; undefined: the cache did not answer. */
  private async readMark(authCorpId: string): Promise<boolean | undefined> {
    try {
      const mark = await bounded(this.cache.get(this.keyOf(authCorpId)), this.cacheTimeoutMs, 'cache get');
      return mark !== undefined && mark !== null;
    } catch {
      return undefined;
    }
  }
}
