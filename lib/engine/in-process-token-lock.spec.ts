import { InProcessTokenLock } from './in-process-token-lock.js';

describe('InProcessTokenLock', () => {
  it('one holder at a time; others get null at once; a lease expires; release frees it', async () => {
    const lock = new InProcessTokenLock();
    const release = await lock.acquire('k', 10_000);
    expect(release).toEqual(expect.any(Function));
    expect(await lock.acquire('k', 10_000)).toBeNull();
    expect(await lock.acquire('other', 10_000)).not.toBeNull();
    await release!();
    const again = await lock.acquire('k', 1);
    expect(again).not.toBeNull();
    await new Promise((r) => setTimeout(r, 5));
    expect(await lock.acquire('k', 1000)).not.toBeNull();
    // a stale release (lease taken over) does not free the new holder's lease
    await again!();
    expect(await lock.acquire('k', 1000)).toBeNull();
  });

  it('two instances share nothing', async () => {
    expect(await new InProcessTokenLock().acquire('k', 1000)).not.toBeNull();
    expect(await new InProcessTokenLock().acquire('k', 1000)).not.toBeNull();
  });
});

describe('InProcessTokenLock memory', () => {
  it('leases never released are forgotten once expired: 10,000 distinct keys leave at most the sweep bound', async () => {
    const lock = new InProcessTokenLock();
    for (let i = 0; i < 10_000; i++) await lock.acquire(`never-released-${i}`, 1);
    await new Promise((r) => setTimeout(r, 5));
    for (let i = 0; i < 2_000; i++) await lock.acquire(`later-${i}`, 1);
    expect(lock.size).toBeLessThanOrEqual(2_048);
    // A live lease survives a sweep.
    const live = new InProcessTokenLock();
    await live.acquire('held', 60_000);
    for (let i = 0; i < 3_000; i++) await live.acquire(`k${i}`, 0);
    expect(await live.acquire('held', 60_000)).toBeNull();
  });
});
