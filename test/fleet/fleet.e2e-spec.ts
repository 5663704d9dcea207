/**
 * One token for the whole fleet: several real Node processes, each a NestJS application context built from dist/
 * with the README's Redis recipe (CacheModule + createKeyv, RedisTokenLock), against one WeCom simulator in this
 * process and a real Redis. Each test has its own corpId and secret, so its own keys, and removes them afterwards.
 *
 * Under CI=true an unreachable Redis fails the suite; elsewhere the suite is skipped with one line saying why.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { createKeyv } from '@keyv/redis';
import { createCache } from 'cache-manager';
import { createClient } from '@redis/client';
import { AccessTokenService, RedisTokenLock, WeComTokenModule } from '../../lib';
import { bootContext } from '../support/app';
import { WeComSimulator, WeComSimulatorOptions } from '../../lib/testing';
import { expectNoneOf } from '../support/capture';
import {
  connectRedis,
  deleteCorpKeys,
  FleetWorker,
  freePort,
  newApp,
  OwnRedis,
  REDIS_URL,
  redisServerUnavailableReason,
  redisUnavailableReason,
  report,
  scanKeys,
  sleep,
  startFleet,
  TestRedis,
  waitFor,
  WorkerConfig,
} from './fleet-harness';

const onCi = process.env.CI === 'true';
const redisProblem = redisUnavailableReason();
const serverProblem = redisServerUnavailableReason();
if (redisProblem && !onCi) process.stdout.write(`[fleet] skipped: ${redisProblem}. Start Redis or set REDIS_URL to run these tests (under CI=true they fail instead).\n`);
const describeIfRedis = redisProblem && !onCi ? describe.skip : describe;
const itIfRedisServer = serverProblem && !onCi ? it.skip : it;

const USER_GET = { path: '/cgi-bin/user/get', params: { userid: 'zhangsan' } };

interface TokensResult {
  tokens: string[];
  ms: number;
}
interface CallsResult {
  ok: number;
  failed: number;
  failures: string[];
  ms: number;
}
interface LoopStats {
  rounds: number;
  ok: number;
  failed: number;
  failures: string[];
  maxMs: number;
}
interface Entry {
  token: string;
  expiresAt: number;
  fetchedAt: number;
}

describeIfRedis('a fleet of processes sharing one token through Redis', () => {
  let redis: TestRedis;
  let sim: WeComSimulator | undefined;
  let workers: FleetWorker[] = [];
  let own: OwnRedis | undefined;
  let corpIds: string[] = [];

  beforeAll(async () => {
    if (redisProblem) throw new Error(`CI=true and ${redisProblem}: the fleet tests need a reachable Redis (REDIS_URL)`);
    redis = await connectRedis();
  });

  afterAll(async () => {
    if (redis?.isOpen) redis.destroy();
  });

  afterEach(async () => {
    await Promise.all(workers.map((worker) => worker.close()));
    workers = [];
    await sim?.close();
    sim = undefined;
    await own?.stop();
    own = undefined;
    for (const corpId of corpIds) await deleteCorpKeys(redis, corpId);
    corpIds = [];
  });

  /** A simulator and `n` workers for one test, in a key space of its own. */
  async function setUp(label: string, n: number, options: { sim?: WeComSimulatorOptions; worker?: Partial<WorkerConfig> } = {}) {
    const app = newApp(label);
    corpIds.push(app.corpId);
    sim = await WeComSimulator.start({ corpId: app.corpId, apps: [{ name: 'default', secret: app.secret, agentId: 1000002 }], ...options.sim });
    workers = await startFleet(n, { corpId: app.corpId, secret: app.secret, baseUrl: sim.baseUrl, redisUrl: REDIS_URL, ...options.worker });
    return { app, sim, workers };
  }

  /** No log line of any worker holds the secret or a whole token. */
  async function expectNoLeaks(secret: string): Promise<void> {
    const alive = workers.filter((worker) => worker.alive);
    const logs = (await Promise.all(alive.map((worker) => worker.request<string[]>('logs')))).flat();
    expectNoneOf(logs.join('\n'), [secret, ...(sim?.issuedTokens() ?? [])]);
  }

  it('4 processes × 250 concurrent callers on a cold cache cause exactly one gettoken, and get one token', async () => {
    const { app, sim, workers } = await setUp('cold', 4);
    sim.setGettokenDelay(50);
    const results = await Promise.all(workers.map((worker) => worker.request<TokensResult>('tokens', { n: 250 })));
    const distinct = new Set(results.flatMap((result) => result.tokens));
    report(`cold cache, 4 processes x 250 callers: ${sim.gettokenCalls()} gettoken call(s), ${distinct.size} distinct token(s)`);
    expect(sim.gettokenCalls()).toBe(1);
    expect([...distinct]).toEqual([sim.currentToken()]);
    await expectNoLeaks(app.secret);
  });

  it('a revocation wave across 4 processes (50 calls each) causes exactly one refetch, and every call succeeds', async () => {
    const { app, sim, workers } = await setUp('revoke', 4);
    await Promise.all(workers.map((worker) => worker.request<TokensResult>('tokens', { n: 1 })));
    expect(sim.gettokenCalls()).toBe(1);
    const revoked = sim.revokeTokens();
    expect(revoked).toHaveLength(1);

    const results = await Promise.all(workers.map((worker) => worker.request<CallsResult>('calls', { n: 50, ...USER_GET })));
    const refetches = sim.gettokenCalls() - 1;
    const failed = results.reduce((sum, result) => sum + result.failed, 0);
    report(`revocation wave, 4 processes x 50 calls: ${refetches} refetch(es), ${200 - failed}/200 calls succeeded, ${sim.calls('/cgi-bin/user/get')} user/get requests`);
    expect(results.flatMap((result) => result.failures)).toEqual([]);
    expect(refetches).toBe(1);
    const held = await Promise.all(workers.map((worker) => worker.request<Entry>('peek')));
    expect(new Set(held.map((entry) => entry.token))).toEqual(new Set([sim.currentToken()]));
    expect(revoked).not.toContain(sim.currentToken());
    await expectNoLeaks(app.secret);
  });

  it('a rejection seen by one process drops the token from every in-process copy of the fleet, and the others take the new one as it is announced, without a call of theirs', async () => {
    const { app, sim, workers } = await setUp('feed', 3);
    await Promise.all(workers.map((worker) => worker.request<TokensResult>('tokens', { n: 1 })));
    const [revoked] = sim.revokeTokens();
    const first = await workers[0].request<CallsResult>('calls', { n: 1, ...USER_GET });
    expect(first.failed).toBe(0);
    const renewed = sim.currentToken();
    expect(renewed).not.toBe(revoked);
    // The others hear of it through Redis: their copies are dropped, not served until WeCom rejects them too, and
    // the holder's announcement of the new entry has them hold it before any call of theirs needs it.
    const deadline = Date.now() + 3_000;
    let held: Array<Entry | null>;
    do {
      held = await Promise.all(workers.slice(1).map((worker) => worker.request<Entry | null>('peek')));
      if (held.every((entry) => entry?.token === renewed)) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    } while (Date.now() < deadline);
    expect(held.map((entry) => entry?.token === renewed)).toEqual([true, true]);
    expect(sim.gettokenCalls()).toBe(2);
    expect(sim.calls('/cgi-bin/user/get')).toBe(2);
    const rest = await Promise.all(workers.slice(1).map((worker) => worker.request<CallsResult>('calls', { n: 20, ...USER_GET })));
    const rejected = sim.requests.filter((r) => r.errcode === 40014).length;
    report(`invalidation feed, 3 processes: ${rejected} call(s) rejected with 40014 in all, ${sim.gettokenCalls() - 1} refetch(es)`);
    expect(rest.flatMap((result) => result.failures)).toEqual([]);
    expect(rejected).toBe(1);
    expect(sim.gettokenCalls()).toBe(2);
    await expectNoLeaks(app.secret);
  });

  it('a lock holder killed (SIGKILL) in the middle of a slow gettoken: its lease runs out, one survivor takes over, all get its token', async () => {
    const timeoutMs = 1_500;
    const leaseMs = timeoutMs + 2_000; // FetchCoordinator.leaseMs: one HTTP timeout and some slack
    const gettokenDelayMs = 1_000;
    const { app, sim, workers } = await setUp('killed', 4, { worker: { timeoutMs } });
    sim.setGettokenDelay(gettokenDelayMs);
    const [holder, ...others] = workers as [FleetWorker, ...FleetWorker[]];
    const lockKey = `${app.key}:lock`;

    void holder.request('tokens', { n: 1 }).catch(() => undefined);
    expect(await waitFor(async () => (await redis.get(lockKey)) !== null, 5_000)).toBe(true);
    expect(await redis.get(lockKey)).toContain(`:${holder.pid}:`);
    // The lease is bounded: whoever holds it, it is gone within one lease.
    const ttl = await redis.pTTL(lockKey);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(leaseMs);
    expect(await waitFor(() => sim.gettokenCalls() === 1, 2_000)).toBe(true); // its gettoken is under way

    const started = Date.now();
    const pending = others.map((worker) => worker.request<TokensResult>('tokens', { n: 20 }));
    holder.kill('SIGKILL');
    await holder.exited;
    const results = await Promise.all(pending);
    const elapsed = Date.now() - started;
    const distinct = new Set(results.flatMap((result) => result.tokens));
    report(
      `holder killed mid-gettoken: 3 survivors served after ${elapsed} ms (lease ${leaseMs} ms + gettoken ${gettokenDelayMs} ms); ` +
        `${sim.gettokenCalls()} gettoken call(s) in all, 1 of them by the killed holder`,
    );
    // One gettoken by the dead holder, one by the survivor that took the expired lease over; the rest waited for it.
    expect(sim.gettokenCalls()).toBe(2);
    expect([...distinct]).toEqual([sim.currentToken()]);
    await expectNoLeaks(app.secret);
  });

  itIfRedisServer('Redis stopped in the middle of a run and started again: tokens are served throughout, and the shared store is used again', async () => {
    if (serverProblem) throw new Error(`CI=true and ${serverProblem}: this test starts its own redis-server`);
    own = await OwnRedis.start();
    const { app, sim, workers } = await setUp('outage', 3, { worker: { redisUrl: own.url, cacheTimeoutMs: 300 } });
    await Promise.all(workers.map((worker) => worker.request<TokensResult>('tokens', { n: 1 })));
    expect(sim.gettokenCalls()).toBe(1);

    await Promise.all(workers.map((worker) => worker.request('loopStart', { intervalMs: 20, concurrency: 5, ...USER_GET })));
    await sleep(300);
    await own.stop();
    await sleep(300);
    // While Redis is away the token is revoked: each process replaces it on its own, in-process single flight.
    const beforeOutageWave = sim.gettokenCalls();
    sim.revokeTokens();
    await sleep(800);
    const outageRefetches = sim.gettokenCalls() - beforeOutageWave;

    await own.start();
    const back = await waitFor(
      async () => {
        const states = await Promise.all(workers.map((worker) => worker.request<{ lock: boolean; cache: boolean }>('redisReady')));
        return states.every((state) => state.lock && state.cache);
      },
      10_000,
      100,
    );
    expect(back).toBe(true);
    await sleep(200);
    const stats = await Promise.all(workers.map((worker) => worker.request<LoopStats>('loopStop')));

    // Back to the shared store: a new revocation wave costs the fleet one gettoken again, and Redis holds the token.
    const beforeWave = sim.gettokenCalls();
    sim.revokeTokens();
    const wave = await Promise.all(workers.map((worker) => worker.request<CallsResult>('calls', { n: 20, ...USER_GET })));
    const afterRecovery = sim.gettokenCalls() - beforeWave;
    const ownClient = await connectRedis(own.url);
    const stored = await ownClient.get(app.key);
    ownClient.destroy();

    const logs = await Promise.all(workers.map((worker) => worker.request<string[]>('logs')));
    const served = stats.reduce((sum, s) => sum + s.ok, 0);
    const failed = stats.reduce((sum, s) => sum + s.failed, 0);
    const warnings = logs.map((lines) => lines.filter((line) => /unavailable/.test(line)).length);
    report(
      `Redis outage, 3 processes: ${served} calls served, ${failed} failed, slowest round ${Math.max(...stats.map((s) => s.maxMs))} ms; ` +
        `revocation during the outage: ${outageRefetches} gettoken(s) (one per process at most); after Redis returned: ${afterRecovery} gettoken(s); ` +
        `'unavailable' warnings per process: ${warnings.join(', ')}`,
    );
    expect(stats.flatMap((s) => s.failures)).toEqual([]);
    expect(stats.every((s) => s.rounds > 10)).toBe(true);
    expect(outageRefetches).toBeGreaterThanOrEqual(1);
    expect(outageRefetches).toBeLessThanOrEqual(3);
    expect(wave.flatMap((result) => result.failures)).toEqual([]);
    expect(afterRecovery).toBe(1);
    expect(stored && (JSON.parse(stored) as { value: Entry }).value.token).toBe(sim.currentToken());
    // Warned once per part (cache, lock), not per call.
    for (const count of warnings) expect(count).toBeGreaterThanOrEqual(1);
    for (const count of warnings) expect(count).toBeLessThanOrEqual(2);
    expect(logs.every((lines) => lines.some((line) => /answers again/.test(line)))).toBe(true);
    await expectNoLeaks(app.secret);
  });

  it('background refresh: with no callers the token is renewed ahead of expiry, by one process of the fleet only', async () => {
    const { app, sim, workers } = await setUp('background', 4, { sim: { tokenLifetimeSeconds: 4, repeatedGettoken: 'new-token' }, worker: { schedule: true } });
    const warm = await Promise.all(workers.map((worker) => worker.request<TokensResult>('tokens', { n: 1 })));
    const first = warm[0].tokens[0];
    expect(new Set(warm.flatMap((result) => result.tokens))).toEqual(new Set([first]));
    const firstEntry = await workers[0].request<Entry>('peek');
    expect(sim.gettokenCalls()).toBe(1);

    // No calls from here on. The refresh point is half the 4 s lifetime (less a small random lead).
    expect(await waitFor(() => sim.gettokenCalls() >= 2, 3_500)).toBe(true);
    await sleep(400); // the other processes' timers fire within the lead; they must find the token in Redis
    const held = await Promise.all(workers.map((worker) => worker.request<Entry>('peek')));
    const checkedAt = Date.now();
    report(`background refresh, 4 processes, no callers: ${sim.gettokenCalls() - 1} renewal gettoken(s), renewed ${firstEntry.expiresAt - checkedAt} ms or more before expiry`);
    expect(checkedAt).toBeLessThan(firstEntry.expiresAt);
    expect(sim.gettokenCalls()).toBe(2);
    expect(new Set(held.map((entry) => entry.token))).toEqual(new Set([sim.currentToken()]));
    expect(sim.currentToken()).not.toBe(first);
    await expectNoLeaks(app.secret);

    // app.close() removes the timers and closes the Redis clients: each process then ends on its own.
    const closed = await Promise.all(workers.map((worker) => worker.close()));
    expect(closed.map((c) => c.exitedByItself)).toEqual([true, true, true, true]);
  });

  it('background refresh when WeCom answers with the same token: one gettoken per refresh point for the whole fleet', async () => {
    const { app, sim, workers } = await setUp('sametoken', 4, { sim: { tokenLifetimeSeconds: 4, repeatedGettoken: 'same-token' }, worker: { schedule: true } });
    await Promise.all(workers.map((worker) => worker.request<TokensResult>('tokens', { n: 1 })));
    const firstEntry = await workers[0].request<Entry>('peek');
    // The refresh at half-life returns the same token with a shorter expires_in. The instances that pick it up from
    // Redis must treat it as the fetching instance does (no second refresh before expiry), not as a fresh token.
    await sleep(Math.max(0, firstEntry.fetchedAt + 3_600 - Date.now()));
    const calls = sim.gettokenCalls();
    report(`background refresh, same-token answers, 4 processes: ${calls - 1} gettoken(s) by 3.6 s of a 4 s lifetime`);
    expect(calls).toBe(2);
    await expectNoLeaks(app.secret);
  });

  it('the key layout in Redis is the documented one, and no key or value holds the secret', async () => {
    const { app, sim, workers } = await setUp('layout', 2);
    await Promise.all(workers.map((worker) => worker.request<TokensResult>('tokens', { n: 5 })));
    const keys = await scanKeys(redis, `wecom:v1:${app.corpId}:*`);
    expect(keys).toEqual([`wecom:v1:${app.corpId}:${app.fingerprint}:access_token`]);
    const raw = (await redis.get(app.key))!;
    // cache-manager 7 + Keyv: the documented entry, inside Keyv's {"value":…,"expires":…} wrapper.
    const stored = JSON.parse(raw) as { value: Entry; expires: number };
    expect(stored.value).toEqual({ token: sim.currentToken(), expiresAt: expect.any(Number), fetchedAt: expect.any(Number) });
    expect(stored.value.expiresAt - stored.value.fetchedAt).toBe(7_200_000);
    expect(await redis.pTTL(app.key)).toBeGreaterThan(0);
    for (const key of keys) expect(key).not.toContain(app.secret);
    expect(raw).not.toContain(app.secret);
    expect(await scanKeys(redis, `*${app.secret}*`)).toEqual([]);
    await expectNoLeaks(app.secret);
  });

  describe('RedisTokenLock on its own', () => {
    const locks: RedisTokenLock[] = [];
    const keys: string[] = [];
    afterEach(async () => {
      await Promise.all(locks.splice(0).map((lock) => lock.close()));
      if (keys.length) await redis.del(keys.splice(0));
    });
    function lockOn(url = REDIS_URL, commandTimeoutMs?: number): RedisTokenLock {
      const lock = new RedisTokenLock({ url, commandTimeoutMs });
      locks.push(lock);
      return lock;
    }
    function key(label: string): string {
      const k = `${newApp(label).key}:lock`;
      keys.push(k);
      return k;
    }

    it('takes a lease with NX and a lifetime, and only its owner releases it', async () => {
      const a = lockOn();
      const b = lockOn();
      const k = key('lease');
      const releaseA = await a.acquire(k, 5_000);
      expect(releaseA).toEqual(expect.any(Function));
      expect(await b.acquire(k, 5_000)).toBeNull();
      expect(await a.acquire(k, 5_000)).toBeNull(); // not re-entrant: one fetch at a time
      const ttl = await redis.pTTL(k);
      expect(ttl).toBeGreaterThan(4_000);
      await releaseA!();
      expect(await redis.exists(k)).toBe(0);

      const short = await a.acquire(k, 150);
      await sleep(250); // the lease ran out; another owner takes it
      const releaseB = await b.acquire(k, 5_000);
      expect(releaseB).toEqual(expect.any(Function));
      await short!(); // a late release by the old owner must not free the new owner's lease
      expect(await redis.exists(k)).toBe(1);
      await releaseB!();
      expect(await redis.exists(k)).toBe(0);
    });

    it('compare-and-delete removes the shared entry only while it holds the rejected token (Keyv wrapper and bare JSON)', async () => {
      const lock = lockOn();
      const { key: entryKey } = newApp('cad');
      keys.push(entryKey);
      const keyv = createKeyv({ url: REDIS_URL, disableOfflineQueue: true }, { throwOnErrors: true });
      const cache = createCache({ stores: [keyv] });
      try {
        const entry = { token: 'token-A-0123456789abcdef', expiresAt: Date.now() + 60_000, fetchedAt: Date.now() };
        await cache.set(entryKey, entry, 60_000);
        await lock.compareAndDeleteToken(entryKey, 'token-B-0123456789abcdef');
        expect(await cache.get(entryKey)).toEqual(entry);
        await lock.compareAndDeleteToken(entryKey, entry.token);
        expect(await redis.exists(entryKey)).toBe(0);

        // Keyv escapes a string that starts with ':'.
        await cache.set(entryKey, { ...entry, token: ':colon-token-0123456789' }, 60_000);
        await lock.compareAndDeleteToken(entryKey, ':colon-token-0123456789');
        expect(await redis.exists(entryKey)).toBe(0);
      } finally {
        await cache.disconnect();
      }

      // A bare entry, as a service in another language may write it.
      await redis.set(entryKey, JSON.stringify({ token: 'bare-token-0123456789', expiresAt: Date.now() + 60_000, fetchedAt: Date.now() }));
      await lock.compareAndDeleteToken(entryKey, 'other-token-0123456789');
      expect(await redis.exists(entryKey)).toBe(1);
      await lock.compareAndDeleteToken(entryKey, 'bare-token-0123456789');
      expect(await redis.exists(entryKey)).toBe(0);

      // Not JSON, or no entry at all: left alone, no error.
      await redis.set(entryKey, 'not json');
      await lock.compareAndDeleteToken(entryKey, 'not json');
      expect(await redis.get(entryKey)).toBe('not json');
      await redis.del(entryKey);
      await expect(lock.compareAndDeleteToken(entryKey, 'missing')).resolves.toBeUndefined();
    });

    it('works on a connected client of the application, and leaves it open on close()', async () => {
      const client = createClient({ url: REDIS_URL });
      client.on('error', () => undefined);
      await client.connect();
      try {
        const lock = new RedisTokenLock({ client });
        const k = key('client');
        const release = await lock.acquire(k, 5_000);
        expect(release).toEqual(expect.any(Function));
        expect(await lock.acquire(k, 5_000)).toBeNull();
        await release!();
        await lock.close();
        expect(client.isReady).toBe(true);
        await expect(lock.acquire(k, 5_000)).rejects.toThrow(/closed/);
      } finally {
        client.destroy();
      }
    });

    it('with Redis unreachable it fails within its bound, then at once, and never names the password', async () => {
      const port = await freePort();
      const lock = lockOn(`redis://:pa55-w0rd-never-logged@127.0.0.1:${port}`, 300);
      let started = Date.now();
      const first = await lock.acquire('wecom:v1:unreachable:lock', 1_000).catch((error: unknown) => error);
      expect(first).toBeInstanceOf(Error);
      expect(Date.now() - started).toBeLessThan(1_000);
      started = Date.now();
      const second = await lock.compareAndDeleteToken('wecom:v1:unreachable', 'some-token-0123456789').catch((error: unknown) => error);
      expect(second).toBeInstanceOf(Error);
      expect(Date.now() - started).toBeLessThan(100);
      for (const error of [first, second] as Error[]) {
        expect(error.message).toMatch(/Redis at redis:\/\/127\.0\.0\.1:\d+ /);
        expectNoneOf(`${error.message}\n${error.stack}`, ['pa55-w0rd-never-logged', 'some-token-0123456789']);
      }
      expect(lock.isReady).toBe(false);
    });

    it('a lease without expiry left by someone else is repaired to one lease and taken over after it, not waited on forever', async () => {
      const lock = lockOn();
      const k = key('stale');
      await redis.set(k, 'written-by-an-old-version'); // no expiry
      expect(await lock.acquire(k, 200)).toBeNull();
      const ttl = await redis.pTTL(k);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(200);
      await sleep(250);
      const release = await lock.acquire(k, 5_000);
      expect(release).toEqual(expect.any(Function));
      await release!();
      // A lease longer than the lease asked for is cut to it, too.
      await redis.set(k, 'someone-else', { PX: 3_600_000 });
      expect(await lock.acquire(k, 300)).toBeNull();
      expect(await redis.pTTL(k)).toBeLessThanOrEqual(300);
    });

    it('an app whose lock key has no expiry gets its token after one lease, with one gettoken', async () => {
      const sim = await WeComSimulator.start();
      const k = `wecom:v1:${sim.corpId}:${createHash('sha256').update(sim.secretOf()).digest('hex').slice(0, 16)}:access_token:lock`;
      keys.push(k, k.replace(/:lock$/, ''));
      await redis.set(k, 'left-behind');
      const booted = await bootContext([WeComTokenModule.forRoot({ corpId: sim.corpId, secret: sim.secretOf(), baseUrl: sim.baseUrl, timeoutMs: 300, lock: lockOn() })]);
      try {
        expect(await booted.app.get(AccessTokenService).getToken()).toBe(sim.currentToken());
        expect(sim.gettokenCalls()).toBe(1);
      } finally {
        await booted.app.close();
        await sim.close();
      }
    });

    it('100 locks closed while their first connection is still being made leave no connection behind, and the process exits by itself', async () => {
      const before = (await redis.sendCommand<string>(['CLIENT', 'LIST'])).trim().split('\n').length;
      const script = `
        const { RedisTokenLock } = require(${JSON.stringify(join(__dirname, '../../dist/index.js'))});
        (async () => {
          for (let i = 0; i < 100; i++) {
            const lock = new RedisTokenLock({ url: process.env.LOCK_URL });
            lock.onTokenInvalidated('wecom:v1:leak:access_token', () => {});
            const pending = lock.acquire('wecom:v1:leak:lock', 1000).catch(() => null);
            await lock.close();
            await pending;
          }
          process.stdout.write('closed');
        })();
      `;
      const child = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, LOCK_URL: REDIS_URL }, timeout: 20_000, encoding: 'utf8' });
      expect(child.stdout).toBe('closed');
      expect(child.signal).toBeNull(); // not killed by the timeout: it exited by itself
      expect(child.status).toBe(0);
      await sleep(200);
      const after = (await redis.sendCommand<string>(['CLIENT', 'LIST'])).trim().split('\n').length;
      expect(after).toBeLessThanOrEqual(before + 1);
    });

    it('util.inspect and JSON of a lock built from a URL with a password show the target, never the password', () => {
      const lock = lockOn('redis://app:pa55-w0rd-in-url@127.0.0.1:6379/2');
      const printed = inspect(lock, { depth: Infinity, showHidden: true }) + JSON.stringify(lock);
      expect(printed).toContain('redis://127.0.0.1:6379/2');
      expectNoneOf(printed, ['pa55-w0rd-in-url']);
    });

    it('rejects options that cannot work, naming the option', () => {
      expect(() => new RedisTokenLock({ url: '' })).toThrow(/'url'/);
      expect(() => new RedisTokenLock({ client: {} as never })).toThrow(/'client'/);
      expect(() => new RedisTokenLock({ url: REDIS_URL, commandTimeoutMs: 0 })).toThrow(/'commandTimeoutMs'/);
    });
  });
});
