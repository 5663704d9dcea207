import type { TokenLock } from '../common/interfaces/token-lock.interface.js';

/**
 * The default lock: coordinates fetches within this process only. Each instance has its own state, so two apps or
 * two application contexts in one process never share a lock by accident.
 */
export class InProcessTokenLock implements TokenLock {
  private readonly leases = new Map<string, { owner: symbol; until: number }>();

  /** Take the lock for at most `ttlMs`, or resolve null at once when a live lease is held. */
  async acquire(key: string, ttlMs: number): Promise<(() => Promise<void>) | null> {
    const now = Date.now();
    const lease = this.leases.get(key);
    if (lease && lease.until > now) return null;
    const owner = Symbol(key);
    this.leases.set(key, { owner, until: now + ttlMs });
    return async () => {
      if (this.leases.get(key)?.owner === owner) this.leases.delete(key);
    };
  }
}
