/**
 * Registry apps across a fleet: four Node processes (test/fleet/fleet-worker.js in registry mode, built from dist/),
 * each loading the same tenants through its own loader, share one token per app through Redis.
 *
 * Under CI=true an unreachable Redis fails the suite; elsewhere the suite is skipped with one line saying why.
 */
import { randomBytes } from 'node:crypto';
import { WeComSimulator } from '../../lib/testing';
import { connectRedis, deleteCorpKeys, FleetWorker, REDIS_URL, redisUnavailableReason, startFleet, TestRedis } from './fleet-harness';

const onCi = process.env.CI === 'true';
const redisProblem = redisUnavailableReason();
if (redisProblem && !onCi) process.stdout.write(`[fleet] skipped: ${redisProblem}. Start Redis or set REDIS_URL to run these tests (under CI=true they fail instead).\n`);
const describeIfRedis = redisProblem && !onCi ? describe.skip : describe;

describeIfRedis('registry apps in a fleet of processes on Redis', () => {
  let redis: TestRedis;
  let sim: WeComSimulator | undefined;
  let workers: FleetWorker[] = [];
  const corpId = `wwfleetreg${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    if (redisProblem) throw new Error(`CI=true and ${redisProblem}: the fleet tests need a reachable Redis (REDIS_URL)`);
    redis = await connectRedis();
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.close()));
    await sim?.close();
    if (redis) {
      await deleteCorpKeys(redis, corpId);
      redis.destroy();
    }
  });

  it('4 processes, 2 registry apps, 50 concurrent first asks each per process: 1 gettoken per app', async () => {
    const secretA = `fleet-reg-a-${randomBytes(12).toString('hex')}`;
    const secretB = `fleet-reg-b-${randomBytes(12).toString('hex')}`;
    sim = await WeComSimulator.start({
      corpId,
      apps: [
        { name: 'a', secret: secretA },
        { name: 'b', secret: secretB },
      ],
    });
    sim.setGettokenDelay(50);
    workers = await startFleet(4, {
      mode: 'registry',
      corpId,
      secret: secretA,
      baseUrl: sim.baseUrl,
      redisUrl: REDIS_URL,
      registry: { 'tenant-a': { corpId, secret: secretA }, 'tenant-b': { corpId, secret: secretB } },
    });
    const results = await Promise.all(
      workers.map((w) => w.request<{ keys: Record<string, string[]>; loaderCalls: number }>('registryTokens', { keys: ['tenant-a', 'tenant-b'], n: 50 })),
    );
    for (const result of results) {
      expect(result.keys['tenant-a']).toEqual([sim.currentToken('a')]);
      expect(result.keys['tenant-b']).toEqual([sim.currentToken('b')]);
      // One loader call per key and process, whatever the number of callers.
      expect(result.loaderCalls).toBe(2);
    }
    expect(sim.gettokenCalls('a')).toBe(1);
    expect(sim.gettokenCalls('b')).toBe(1);
  });
});
