import { createCache } from 'cache-manager';
import { InProcessTokenLock } from '../engine/in-process-token-lock';
import { MAX_LOCAL_NONCES, UsedStates } from './used-states';

describe('UsedStates', () => {
  it('claims a nonce once; forgets it after its lifetime', async () => {
    const used = new UsedStates({ keyPrefix: 'wecom:v1:t1', timeoutMs: 100, owner: 'test' });
    const t0 = Date.now();
    expect(await used.claim('n1', 1_000, t0)).toBe(true);
    expect(await used.claim('n1', 1_000, t0 + 10)).toBe(false);
    expect(await used.claim('n1', 1_000, t0 + 2_000)).toBe(true);
  });

  it("two instances that share a cache (and a lock) see each other's claims", async () => {
    const cache = createCache();
    const lock = new InProcessTokenLock();
    const a = new UsedStates({ keyPrefix: 'wecom:v1:t2', cache, timeoutMs: 100, owner: 'a' });
    const b = new UsedStates({ keyPrefix: 'wecom:v1:t2', cache, timeoutMs: 100, owner: 'b' });
    expect(await a.claim('n2', 60_000)).toBe(true);
    expect(await b.claim('n2', 60_000)).toBe(false);
    const c = new UsedStates({ keyPrefix: 'wecom:v1:t3', lock, timeoutMs: 100, owner: 'c' });
    const d = new UsedStates({ keyPrefix: 'wecom:v1:t3', lock, timeoutMs: 100, owner: 'd' });
    const [x, y] = await Promise.all([c.claim('n3', 60_000), d.claim('n3', 60_000)]);
    expect([x, y].sort()).toEqual([false, true]);
  });

  it('a store that hangs is bounded and skipped; the local memory still refuses a replay', async () => {
    const hanging = { get: () => new Promise(() => undefined), set: () => new Promise(() => undefined), del: async () => true } as never;
    const used = new UsedStates({ keyPrefix: 'wecom:v1:t4', cache: hanging, timeoutMs: 20, owner: 'h' });
    expect(await used.claim('n4', 60_000)).toBe(true);
    expect(await used.claim('n4', 60_000)).toBe(false);
  });

  it('holds at most MAX_LOCAL_NONCES, whatever the flood', async () => {
    const used = new UsedStates({ keyPrefix: 'wecom:v1:t5', timeoutMs: 20, owner: 'f' });
    const now = Date.now();
    for (let i = 0; i < MAX_LOCAL_NONCES + 500; i++) await used.claim(`n${i}`, 600_000, now);
    expect(used.size).toBeLessThanOrEqual(MAX_LOCAL_NONCES);
  });
});
