/**
 * Who may fetch a token. `acquire` either takes the lock and resolves its release function, or resolves `null`
 * at once when another holder has it: callers never queue on a lock, so a dead holder cannot hang them.
 */
export interface TokenLock {
  /** Take the lock for at most `ttlMs`, or resolve null at once when another holder has it. */
  acquire(key: string, ttlMs: number): Promise<(() => Promise<void>) | null>;
}
