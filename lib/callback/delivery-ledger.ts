/**
 * Which callback deliveries were acted on: WeCom retries a delivery it got no 'success' for, and anyone holding a
 * captured one can replay it within the timestamp window, so a handler claims a delivery before acting on it.
 *
 * A delivery's identity is the sha256 of its decrypted content (`deliveryIdOf`), never FromUserName+CreateTime
 * (attacker-shaped, and not unique). A small store beside the lock, not a second engine.
 *
 * - `claim(id)`: 'run' (act on it, then `complete` or `release`), 'done' (acted on already: answer 'success'
 *   without acting), 'running' (in hand elsewhere: refuse, WeCom retries).
 * - `complete(id)`: acted on; remembered for {@link DELIVERY_DONE_TTL_MS} (if that cannot be written, the claim
 *   is kept until it lapses, so a copy is refused rather than acted on twice).
 * - `release(id)`: the handler failed; forgotten, so WeCom's retry runs it again.
 */
import type { Cache } from 'cache-manager';
import { bounded } from '../common/bounded.js';
import type { TokenLock } from '../common/interfaces/token-lock.interface.js';
import { CACHE_KEY_PREFIX } from '../common/wecom-token.constants.js';

/** What a claim found. */
export type DeliveryClaim = 'run' | 'done' | 'running';

/** The ledger of deliveries of one callback URL (or several: ids are content hashes). */
export interface DeliveryLedger {
  claim(id: string): Promise<DeliveryClaim>;
  complete(id: string): Promise<void>;
  release(id: string): Promise<void>;
}

/**
 * How long a completed delivery is remembered: 30 minutes. WeCom retries within seconds to minutes, and a query
 * timestamp older than 5 minutes is refused before the ledger is asked, so this is 6× the window.
 */
export const DELIVERY_DONE_TTL_MS = 30 * 60_000;

/** How long a claim holds without `complete`/`release` (a process that died mid-handler): 2 minutes. */
export const DELIVERY_CLAIM_TTL_MS = 2 * 60_000;

/** Deliveries one in-process ledger remembers at most (the oldest is forgotten first). */
export const DELIVERY_LEDGER_CAP = 10_000;

/** The cache key of a delivery: the prefix and the hash, nothing sent by the caller in clear. */
export function deliveryKey(id: string): string {
  return `${CACHE_KEY_PREFIX}:delivery:${id}`;
}

/** Only sha256 hex ids: an id is never attacker text, whatever a caller passes. */
function checkedId(id: string): string {
  if (typeof id !== 'string' || !/^[0-9a-f]{64}$/.test(id)) throw new TypeError('a delivery id is the sha256 hex of the decrypted callback (deliveryIdOf)');
  return id;
}

/** One process: a bounded map, entries expire; the claim is a 'running' entry of its own. */
export class InProcessDeliveryLedger implements DeliveryLedger {
  private readonly entries = new Map<string, { state: 'running' | 'done'; until: number }>();

  constructor(
    private readonly cap = DELIVERY_LEDGER_CAP,
    private readonly clock: () => number = Date.now,
  ) {}

  async claim(id: string): Promise<DeliveryClaim> {
    checkedId(id);
    const now = this.clock();
    const entry = this.entries.get(id);
    if (entry && entry.until > now) return entry.state;
    this.set(id, 'running', now + DELIVERY_CLAIM_TTL_MS);
    return 'run';
  }

  async complete(id: string): Promise<void> {
    this.set(checkedId(id), 'done', this.clock() + DELIVERY_DONE_TTL_MS);
  }

  async release(id: string): Promise<void> {
    const entry = this.entries.get(checkedId(id));
    if (entry?.state === 'running') this.entries.delete(id);
  }

  /** @internal How many deliveries are remembered (for tests of bounded memory). */
  get size(): number {
    return this.entries.size;
  }

  private set(id: string, state: 'running' | 'done', until: number): void {
    this.entries.delete(id);
    while (this.entries.size >= this.cap) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    this.entries.set(id, { state, until });
  }
}

/**
 * A fleet: 'done' lives in the shared cache (`wecom:v1:delivery:<sha256>`, value 'done', TTL
 * {@link DELIVERY_DONE_TTL_MS}); the claim is the shared TokenLock on `wecom:v1:delivery:<sha256>:claim`.
 * Every cache and lock call is bounded by `timeoutMs`; a store that does not answer makes the claim fail (the
 * callback is refused and WeCom retries), never act twice.
 */
export class SharedDeliveryLedger implements DeliveryLedger {
  private readonly held = new Map<string, () => Promise<void>>();

  constructor(
    private readonly cache: Cache,
    private readonly lock: TokenLock,
    private readonly timeoutMs: number,
  ) {}

  async claim(id: string): Promise<DeliveryClaim> {
    const key = deliveryKey(checkedId(id));
    if (await this.isDone(key)) return 'done';
    const release = await bounded(this.lock.acquire(`${key}:claim`, DELIVERY_CLAIM_TTL_MS), this.timeoutMs, 'delivery claim');
    if (!release) return 'running';
    // Another holder may have completed and released between the read above and the lock.
    try {
      if (await this.isDone(key)) {
        await release();
        return 'done';
      }
    } catch (error) {
      await release().catch(() => undefined);
      throw error;
    }
    this.held.set(id, release);
    return 'run';
  }

  /**
   * Marks the delivery done, then gives the claim back. When the mark cannot be written (the store failed or did
   * not answer within `timeoutMs`), the claim is kept until it lapses ({@link DELIVERY_CLAIM_TTL_MS}): copies that
   * arrive meanwhile are refused as 'running' (WeCom retries) instead of finding neither a mark nor a claim and
   * acting again. A late write that lands makes them 'done'.
   */
  async complete(id: string): Promise<void> {
    const key = deliveryKey(checkedId(id));
    try {
      await bounded(this.cache.set(key, 'done', DELIVERY_DONE_TTL_MS), this.timeoutMs, 'delivery complete');
    } catch (error) {
      this.held.delete(id);
      throw error;
    }
    await this.release(id);
  }

  async release(id: string): Promise<void> {
    const release = this.held.get(checkedId(id));
    this.held.delete(id);
    if (release) await bounded(release(), this.timeoutMs, 'delivery release').catch(() => undefined);
  }

  private async isDone(key: string): Promise<boolean> {
    return (await bounded(this.cache.get<string>(key), this.timeoutMs, 'delivery read')) === 'done';
  }
}
