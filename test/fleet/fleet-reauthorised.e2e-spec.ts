/**
 * Issue 18.3: a corp that cancels and then installs the suite again is served again by EVERY instance of a fleet,
 * not only by the one that handled the new create_auth. Three real Node processes (test/fleet/fleet-worker.js on the
 * built package) share a Redis-backed cache and RedisTokenLock; the callbacks go to different processes, as a load
 * balancer would send them. The cancellation each process remembers is cleared through the shared cache and the
 * lock's invalidation feed.
 *
 * Under CI=true an unreachable Redis fails the suite; elsewhere the suite is skipped with one line saying why.
 */
import { randomBytes } from 'node:crypto';
import { WeComSimulator } from '../../lib/testing';
import { connectRedis, FleetWorker, REDIS_URL, redisUnavailableReason, report, scanKeys, startFleet, TestRedis, waitFor } from './fleet-harness';

const onCi = process.env.CI === 'true';
const redisProblem = redisUnavailableReason();
if (redisProblem && !onCi) process.stdout.write(`[fleet] skipped: ${redisProblem}. Start Redis or set REDIS_URL to run these tests (under CI=true they fail instead).\n`);
const describeIfRedis = redisProblem && !onCi ? describe.skip : describe;
jest.setTimeout(90_000);

const BOOT_TIMEOUT_MS = 30_000;
const CORP_TOKEN_PATH = '/cgi-bin/service/get_corp_token';

interface CorpTokensResult {
  corps: Record<string, { tokens: string[]; errors: Array<{ name?: string; reason?: string; message?: string }>; failed: number }>;
}

describeIfRedis('a corp that installs the suite again is served by the whole fleet (issue 18.3)', () => {
  let redis: TestRedis;
  let sim: WeComSimulator | undefined;
  let workers: FleetWorker[] = [];
  let suiteId: string | undefined;

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
    if (suiteId) {
      const keys = await scanKeys(redis, `wecom:v1:suite:${suiteId}:*`);
      await redis.del([...keys, `test:permanent-codes:${suiteId}`]);
      suiteId = undefined;
    }
  });

  async function deliver(worker: FleetWorker, event: Parameters<WeComSimulator['suiteCallback']>[0], options?: Parameters<WeComSimulator['suiteCallback']>[1]) {
    const cb = sim!.suiteCallback(event, options);
    expect(await worker.request<string>('suiteCallback', { query: cb.query, body: cb.body })).toBe('success');
    return cb;
  }

  /** What `worker` answers for `corpId` now: the distinct tokens and the refusal reasons. */
  async function ask(worker: FleetWorker, corpId: string): Promise<{ tokens: string[]; reasons: string[] }> {
    const result = await worker.request<CorpTokensResult>('corpTokens', { corpIds: [corpId], perCorp: 2 });
    const corp = result.corps[corpId];
    return { tokens: corp.tokens, reasons: corp.errors.map((e) => e.reason ?? e.name ?? '?') };
  }

  it('cancel_auth on B, create_auth again on A: A, B and C all serve the corp again, at once', async () => {
    const settings = {
      suiteId: `wwfleetreauth${randomBytes(4).toString('hex')}`,
      suiteSecret: `fleet-suite-secret-${randomBytes(12).toString('hex')}`,
      callbackToken: `fleetcb${randomBytes(6).toString('hex')}`,
      encodingAESKey: randomBytes(32)
        .toString('base64')
        .replace(/[^A-Za-z0-9]/g, 'A')
        .slice(0, 43),
    };
    suiteId = settings.suiteId;
    sim = await WeComSimulator.start({ suites: [settings] });
    workers = await startFleet(3, { mode: 'suite', suite: settings, corpId: settings.suiteId, secret: 'unused', baseUrl: sim.baseUrl, redisUrl: REDIS_URL }, BOOT_TIMEOUT_MS);
    const [a, b, c] = workers as [FleetWorker, FleetWorker, FleetWorker];

    await deliver(a, 'suite_ticket');
    const { corpId } = await deliver(a, 'create_auth');
    const corp = corpId!;
    for (const worker of workers) expect((await ask(worker, corp)).tokens).toHaveLength(1);

    // The corp uninstalls: the callback reaches B. Every process refuses it (B from memory, A and C by the mark).
    await deliver(b, 'cancel_auth', { corpId: corp });
    for (const worker of workers) expect(await ask(worker, corp)).toEqual({ tokens: [], reasons: ['cancelled', 'cancelled'] });

    // It installs the suite again: this create_auth reaches A.
    await deliver(a, 'create_auth', { corpId: corp });
    const callsBefore = sim.calls(CORP_TOKEN_PATH);
    const answers = new Map<FleetWorker, { tokens: string[]; reasons: string[] }>();
    // Pub/sub delivery is asynchronous: a short bounded wait, far below the 10 s re-check of a remembered cancellation.
    const allServe = await waitFor(
      async () => {
        for (const worker of workers) answers.set(worker, await ask(worker, corp));
        return [...answers.values()].every((answer) => answer.tokens.length === 1 && answer.reasons.length === 0);
      },
      3_000,
      50,
    );
    report(
      `re-installed corp, cancel_auth on B and create_auth on A: ${[...answers.values()].filter((x) => x.tokens.length === 1).length}/3 processes serve it ` +
        `(B: ${JSON.stringify(answers.get(b))}), ${sim.calls(CORP_TOKEN_PATH) - callsBefore} get_corp_token`,
    );
    expect(answers.get(b)).toEqual({ tokens: [expect.any(String)], reasons: [] });
    expect(answers.get(c)).toEqual({ tokens: [expect.any(String)], reasons: [] });
    expect(allServe).toBe(true);
    // One token for the fleet: the first asker fetched it, the others took it from the shared cache.
    const tokens = new Set([...answers.values()].flatMap((x) => x.tokens));
    expect(tokens.size).toBe(1);
    expect(sim.calls(CORP_TOKEN_PATH) - callsBefore).toBe(1);
    expect(await redis.get(`wecom:v1:suite:${settings.suiteId}:corp:${corp}:cancelled`)).toBeNull();
  });
});
