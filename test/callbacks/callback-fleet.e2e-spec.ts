/**
 * Exactly once across a fleet: two Node processes (the built package, a Redis-backed cache and RedisTokenLock)
 * receive the same app's callbacks; a delivery WeCom repeats three times, spread over both, runs once.
 * Under CI=true an unreachable Redis is a failure; elsewhere the suite is skipped with one line saying why.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { WeComSimulator } from '../../lib/testing';
import type { AppCallbackSender } from '../../lib/testing';
import { connectRedis, REDIS_URL, redisUnavailableReason, TestRedis } from '../fleet/fleet-harness';

const ROOT = join(__dirname, '..', '..');
const onCi = process.env.CI === 'true';
const redisProblem = redisUnavailableReason();
if (redisProblem && !onCi) process.stdout.write(`[callback-fleet] skipped: ${redisProblem}. Start Redis or set REDIS_URL to run these tests (under CI=true they fail instead).\n`);
const describeIfRedis = redisProblem && !onCi ? describe.skip : describe;

interface Worker {
  child: ChildProcess;
  call(message: Record<string, unknown>): Promise<string>;
}

async function startWorker(config: Record<string, unknown>): Promise<Worker> {
  if (!existsSync(join(ROOT, 'dist', 'index.js'))) throw new Error('dist/ is missing: run `npm run build` before this test (npm test does)');
  const child = fork(join(__dirname, 'callback-worker.js'), [JSON.stringify(config)], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv: [] });
  let next = 1;
  const pending = new Map<number, { resolve: (v: string) => void; reject: (e: Error) => void }>();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('callback worker did not boot within 15 s')), 15_000);
    child.on('message', (message: { ready?: boolean; error?: string; id?: number; ok?: boolean; result?: string }) => {
      if (message.ready !== undefined) {
        clearTimeout(timer);
        if (message.ready) resolve();
        else reject(new Error(`callback worker failed to boot: ${message.error}`));
        return;
      }
      const waiter = message.id === undefined ? undefined : pending.get(message.id);
      if (!waiter) return;
      pending.delete(message.id!);
      if (message.ok) waiter.resolve(message.result ?? '');
      else waiter.reject(new Error(message.error));
    });
  });
  return {
    child,
    call: (message) =>
      new Promise<string>((resolve, reject) => {
        const id = next++;
        pending.set(id, { resolve, reject });
        child.send({ ...message, id });
      }),
  };
}

describeIfRedis('callbacks of an app across a fleet of processes (Redis)', () => {
  let redis: TestRedis;
  let sim: WeComSimulator;
  let sender: AppCallbackSender;
  let workers: Worker[] = [];
  const runsKey = `test:appcb:runs:${process.pid}:${Date.now()}`;

  beforeAll(async () => {
    if (redisProblem) throw new Error(`CI=true and ${redisProblem}: the callback fleet tests need a reachable Redis (REDIS_URL)`);
    redis = await connectRedis();
    // A corp of this run only: ledger keys of other runs never collide.
    sim = await WeComSimulator.start({ corpId: `wwappcb${process.pid}${Date.now() % 100000}` });
    sender = sim.appCallbacks();
    const config = {
      corpId: sim.corpId,
      secret: sim.app().secret,
      baseUrl: sim.baseUrl,
      redisUrl: REDIS_URL,
      runsKey,
      handlerMs: 300,
      callback: { token: sender.settings.token, encodingAESKey: sender.settings.encodingAESKey },
    };
    workers = await Promise.all([startWorker(config), startWorker(config)]);
  }, 40_000);

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.call({ close: true }).catch(() => undefined)));
    if (redis?.isOpen) {
      await redis.del(runsKey);
      redis.destroy();
    }
    await sim?.close();
  });

  it('a delivery repeated three times over two processes runs once; two distinct events of one second run twice', async () => {
    const [a, b] = workers as [Worker, Worker];
    const envelope = sender.envelope(sender.xml({ type: 'text', content: 'fleet' }));
    const answers = await Promise.all([a, b, a].map((w) => w.call({ query: envelope.query, body: envelope.body })));
    expect(answers).toEqual(['success', 'success', 'success']);
    // a late repeat, once it is done, on either process
    await expect(b.call({ query: envelope.query, body: envelope.body })).resolves.toBe('success');
    expect(await redis.lRange(runsKey, 0, -1)).toHaveLength(1);

    const createTime = Math.floor(Date.now() / 1000);
    const first = sender.envelope(sender.xml({ type: 'change_contact', changeType: 'create_user', userId: 'u1', createTime }));
    const second = sender.envelope(sender.xml({ type: 'change_contact', changeType: 'create_user', userId: 'u2', createTime }));
    await Promise.all([a.call(first), b.call(second)]);
    const runs = await redis.lRange(runsKey, 0, -1);
    expect(runs).toHaveLength(3);
    expect(runs.filter((line) => line.endsWith('event change_contact create_user'))).toHaveLength(2);
  }, 30_000);
});
