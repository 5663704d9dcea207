import type { TokenLock } from '../common/interfaces/token-lock.interface.js';

/** Leases held before the first sweep of expired ones; the next sweep comes at twice the leases left. */
const FIRST_SWEEP_AT = 1_024;

/**
 * The default lock: coordinates fetches within this process only. Each instance has its own state, so two apps or
 * two application contexts in one process never share a lock by accident. A lease that is never released (its
 * holder gave up, or its release failed) is forgotten once expired, so keys asked once each, attacker-chosen ids
 * among them, cannot make it grow without bound.
 */
export class InProcessTokenLock implements TokenLock {
  private readonly leases = new Map<string, { owner: symbol; until: number }>();
  private sweepAt = FIRST_SWEEP_AT;

  /** Leases held now (expired ones included until the next sweep). */
  get size(): number {
    return this.leases.size;
  }

  /** Take the lock for at most `ttlMs`, or resolve null at once when a live lease is held. */
  async acquire(key: string, ttlMs: number): Promise<(() => Promise<void>) | null> {
    const now = Date.now();
    const lease = this.leases.get(key);
    if (lease && lease.until > now) return null;
    const owner = Symbol();
    this.leases.set(key, { owner, until: now + ttlMs });
    if (this.leases.size >= this.sweepAt) this.sweep(now);
    return async () => {
      if (this.leases.get(key)?.owner === owner) this.leases.delete(key);
    };
  }

  /** Forget the expired leases; amortised O(1) per acquire (the next sweep waits for as many new leases). */
  private sweep(now: number): void {
    for (const [key, lease] of this.leases) if (lease.until <= now) this.leases.delete(key);
    this.sweepAt = Math.max(FIRST_SWEEP_AT, 2 * this.leases.size);
  }
}
