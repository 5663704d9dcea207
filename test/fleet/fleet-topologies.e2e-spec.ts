/**
 * The fleet on the Redis that production runs (issue 19): a 3-master Cluster and a master / replica / sentinel set,
 * started by this test on local ports, with node-redis and with ioredis. Each row: 4 processes → 1 gettoken cold and
 * 1 per revocation, the entry under exactly the documented key, the feed carrying a rejection to the other
 * processes, a start-up line naming the feed, and each process ending on its own after app.close() (no socket of
 * the lock, its feed or the cache left open). Then a `{ url }` of a Cluster node or of a replica is reported once, naming the fix, and a
 * Sentinel failover under load costs 0 failed calls.
 *
 * Valkey 8 (the fork many clouds now run) takes the README recipe, `{ url }`, with node-redis and with ioredis: the
 * server is found or installed from Debian's package by test/support/valkey.js.
 *
 * Under CI=true servers that cannot be started fail the suite; elsewhere it is skipped with one line saying why.
 */
import { createCluster, createClient } from '@redis/client';
import { Logger } from '@nestjs/common';
import { RedisTokenLock } from '../../lib';
import { WeComSimulator } from '../../lib/testing';
import { CapturingLogger, expectNoneOf } from '../support/capture';
import { FleetWorker, newApp, OwnRedis, report, startFleet, waitFor, WorkerConfig } from './fleet-harness';
import { CLUSTER_PORTS, RedisTopologies, redisCommand, SENTINEL_SET, topologiesUnavailableReason } from './redis-topologies';

const onCi = process.env.CI === 'true';
const problem = topologiesUnavailableReason();
if (problem && !onCi)
  process.stdout.write(
    `[fleet] topologies skipped: ${problem}. Free the ports 17000-17002, 27000-27002, 17100-17102 and install redis-server to run them (under CI=true they fail instead).\n`,
  );
const describeIfServers = problem && !onCi ? describe.skip : describe;
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS helper that also runs as a script
const { findValkeySync } = require('../support/valkey.js') as { findValkeySync: () => { bin?: string; version?: string; source?: string; problem?: string } };
const valkeyFound = problem ? { problem } : findValkeySync();
if (valkeyFound.problem && !problem && !onCi) process.stdout.write(`[fleet] Valkey rows skipped: ${valkeyFound.problem} (under CI=true they fail instead).\n`);
const withValkey = !valkeyFound.problem || onCi;

const USER_GET = { path: '/cgi-bin/user/get', params: { userid: 'zhangsan' } };
const ROOT_NODES = CLUSTER_PORTS.map((port) => `redis://127.0.0.1:${port}`);
const SENTINELS = [{ host: '127.0.0.1', port: SENTINEL_SET.sentinel }];

interface CallsResult {
  ok: number;
  failed: number;
  failures: string[];
}
interface LoopStats {
  rounds: number;
  ok: number;
  failed: number;
  failures: string[];
}

describeIfServers('the fleet on Redis Cluster, Sentinel and ioredis', () => {
  const servers = new RedisTopologies();
  let standalone: OwnRedis | undefined;
  let valkey: OwnRedis | undefined;
  let sim: WeComSimulator | undefined;
  let workers: FleetWorker[] = [];

  beforeAll(async () => {
    if (problem) throw new Error(`CI=true and ${problem}: the topology tests start their own servers`);
    await servers.startCluster();
    await servers.startSentinel();
    standalone = await OwnRedis.start();
    if (withValkey) {
      if (!valkeyFound.bin) throw new Error(`CI=true and no Valkey server: ${valkeyFound.problem}`);
      valkey = await OwnRedis.start(valkeyFound.bin);
      report(`Valkey ${valkeyFound.version} from ${valkeyFound.source}`);
    }
  }, 60_000);

  afterAll(async () => {
    await standalone?.stop();
    await valkey?.stop();
    await servers.stop();
  });

  afterEach(async () => {
    await Promise.all(workers.map((worker) => worker.close()));
    workers = [];
    await sim?.close();
    sim = undefined;
  });

  async function setUp(label: string, worker: Partial<WorkerConfig>, redisUrl = standalone!.url) {
    const app = newApp(label);
    sim = await WeComSimulator.start({ corpId: app.corpId, apps: [{ name: 'default', secret: app.secret, agentId: 1000002 }] });
    workers = await startFleet(4, { corpId: app.corpId, secret: app.secret, baseUrl: sim.baseUrl, redisUrl, ...worker });
    return { app, sim, workers };
  }

  /** The raw entry under `key`, read the way a service in another language would. */
  async function rawEntry(kind: Kind, key: string): Promise<string | null> {
    if (kind === 'cluster') {
      const cluster = createCluster({ rootNodes: ROOT_NODES.map((url) => ({ url })) });
      cluster.on('error', () => undefined);
      await cluster.connect();
      try {
        return await cluster.get(key);
      } finally {
        await cluster.close();
      }
    }
    const url = kind === 'sentinel' ? `redis://127.0.0.1:${await servers.masterPort()}` : kind === 'valkey' ? valkey!.url : standalone!.url;
    const client = createClient({ url });
    client.on('error', () => undefined);
    await client.connect();
    try {
      return await client.get(key);
    } finally {
      client.destroy();
    }
  }

  type Kind = 'cluster' | 'sentinel' | 'standalone' | 'valkey';
  const rows: Array<{ name: string; kind: Kind; worker: Partial<WorkerConfig> }> = [
    { name: 'Cluster, node-redis ({ rootNodes } and createCluster)', kind: 'cluster', worker: { topology: { kind: 'cluster', rootNodes: ROOT_NODES } } },
    { name: 'Cluster, node-redis ({ client: createCluster() })', kind: 'cluster', worker: { topology: { kind: 'cluster', rootNodes: ROOT_NODES }, lockOn: 'client' } },
    { name: 'Cluster, ioredis Cluster', kind: 'cluster', worker: { topology: { kind: 'cluster', rootNodes: ROOT_NODES }, library: 'ioredis' } },
    {
      name: 'Sentinel, node-redis (redis+sentinel:// and createSentinel)',
      kind: 'sentinel',
      worker: { topology: { kind: 'sentinel', sentinels: SENTINELS, name: SENTINEL_SET.name } },
    },
    {
      name: 'Sentinel, node-redis ({ client: createSentinel() }: no duplicate(), the feed on its pub/sub connection)',
      kind: 'sentinel',
      worker: { topology: { kind: 'sentinel', sentinels: SENTINELS, name: SENTINEL_SET.name }, lockOn: 'client' },
    },
    { name: 'Sentinel, ioredis', kind: 'sentinel', worker: { topology: { kind: 'sentinel', sentinels: SENTINELS, name: SENTINEL_SET.name }, library: 'ioredis' } },
    { name: 'standalone, ioredis', kind: 'standalone', worker: { library: 'ioredis' } },
    ...(withValkey
      ? [
          { name: 'Valkey 8, node-redis ({ url }: the README recipe)', kind: 'valkey' as const, worker: {} },
          { name: 'Valkey 8, ioredis', kind: 'valkey' as const, worker: { library: 'ioredis' as const } },
        ]
      : []),
  ];

  it.each(rows)(
    '$name: 4 processes → 1 gettoken cold and 1 per revocation, the documented key, the feed heard and named, every process ends on its own',
    async ({ name, kind, worker }) => {
      const { app, sim } = await setUp(kind, worker, kind === 'valkey' ? valkey!.url : undefined);
      const cold = await Promise.all(workers.map((w) => w.request<{ tokens: string[] }>('tokens', { n: 50 })));
      expect(sim.gettokenCalls()).toBe(1);
      expect(new Set(cold.flatMap((r) => r.tokens))).toEqual(new Set([sim.currentToken()]));

      // The entry sits under exactly the documented key (no keyv:: prefix), in Keyv's JSON.
      const raw = await rawEntry(kind, app.key);
      expect(raw).not.toBeNull();
      expect((JSON.parse(raw!) as { value: { token: string } }).value.token).toBe(sim.currentToken());

      sim.revokeTokens();
      const wave = await Promise.all(workers.map((w) => w.request<CallsResult>('calls', { n: 20, ...USER_GET })));
      const failed = wave.reduce((sum, r) => sum + r.failed, 0);
      report(`${name}: cold 1 gettoken; revocation wave ${sim.gettokenCalls() - 1} refetch(es), ${failed} failed call(s)`);
      expect(wave.flatMap((r) => r.failures)).toEqual([]);
      expect(sim.gettokenCalls()).toBe(2);

      // The feed carries the news: one process meets the rejection, the others drop their copy and hold the new
      // token as it is announced, without a call of theirs (1 more gettoken, 1 more rejected call in all).
      const rejectedBefore = sim.requests.filter((r) => r.errcode === 40014).length;
      sim.revokeTokens();
      expect((await workers[0].request<CallsResult>('calls', { n: 1, ...USER_GET })).failed).toBe(0);
      const renewed = sim.currentToken();
      const heard = await waitFor(
        async () => (await Promise.all(workers.slice(1).map((w) => w.request<{ token: string } | null>('peek')))).every((entry) => entry?.token === renewed),
        5_000,
        20,
      );
      expect(heard).toBe(true);
      expect(sim.gettokenCalls()).toBe(3);
      expect(sim.requests.filter((r) => r.errcode === 40014).length - rejectedBefore).toBe(1);

      const logs = (await Promise.all(workers.map((w) => w.request<string[]>('logs')))).map((lines) => lines.join('\n'));
      // Valkey speaks the Redis protocol and is a standalone server to the lock.
      for (const lines of logs) expect(lines).toContain(`invalidation feed: pub/sub on ${kind === 'valkey' ? 'standalone' : kind} Redis`);
      expectNoneOf(logs.join('\n'), [app.secret, ...sim.issuedTokens()]);

      const closed = await Promise.all(workers.map((w) => w.close()));
      workers = [];
      expect(closed.map((c) => c.exitedByItself)).toEqual([true, true, true, true]);
    },
    60_000,
  );

  it.each([
    { what: 'a node of the Cluster', port: CLUSTER_PORTS[0], fix: 'rootNodes' },
    { what: 'a replica of the Sentinel set', port: 0, fix: 'sentinelRootNodes' },
  ])('a { url } of $what is reported once, at start, naming $fix, and every lock call fails with it', async ({ port, fix }) => {
    const target = port || ((await servers.masterPort()) === SENTINEL_SET.master ? SENTINEL_SET.replica : SENTINEL_SET.master);
    const logger = new CapturingLogger();
    Logger.overrideLogger(logger);
    const lock = new RedisTokenLock({ url: `redis://127.0.0.1:${target}` });
    try {
      const stop = lock.onTokenInvalidated('wecom:v1:wwtopology:0000000000000000:access_token', () => undefined);
      const errors: string[] = [];
      for (let i = 0; i < 5; i++) {
        await lock.acquire(`wecom:v1:wwtopology${i}:0000000000000000:access_token:lock`, 1000).then(
          () => errors.push('granted'),
          (error: unknown) => errors.push(error instanceof Error ? error.message : String(error)),
        );
      }
      stop();
      expect(errors).toHaveLength(5);
      for (const message of errors) expect(message).toContain(fix);
      expect(lock.isReady).toBe(false);
      const loud = logger.lines.filter((line) => line.startsWith('error') && line.includes(fix));
      expect(loud).toHaveLength(1);
    } finally {
      await lock.close();
      Logger.overrideLogger(new Logger());
    }
  });

  it('a Sentinel failover under load: 0 failed calls, a revocation during it still served, every process ends on its own', async () => {
    const { sim } = await setUp('failover', { topology: { kind: 'sentinel', sentinels: SENTINELS, name: SENTINEL_SET.name } });
    await Promise.all(workers.map((w) => w.request('tokens', { n: 5 })));
    await Promise.all(workers.map((w) => w.request('loopStart', { intervalMs: 20, concurrency: 5, ...USER_GET })));
    // Beside the fleet, a lock given the master's { url }: it works until the failover turns that node into a replica.
    const logger = new CapturingLogger();
    Logger.overrideLogger(logger);
    const direct = new RedisTokenLock({ url: `redis://127.0.0.1:${await servers.masterPort()}` });
    const leaseKey = 'wecom:v1:wwfailoverdirect:0000000000000000:access_token:lock';
    const outcome = () =>
      direct.acquire(leaseKey, 200).then(
        async (release) => {
          await release?.();
          return 'granted';
        },
        (error: unknown) => String(error),
      );
    expect(await outcome()).toBe('granted');
    // A revocation while the failover is under way: the fleet replaces the token through Redis or, while Redis
    // is between masters, within each process; no caller sees an error.
    const { from, to } = await servers.failover(() => sim.revokeTokens());
    // And one on the new master, with the load still on.
    const before = sim.gettokenCalls();
    sim.revokeTokens();
    expect(await waitFor(() => sim.gettokenCalls() > before, 10_000)).toBe(true);
    // The { url } lock saw the node turn into a replica when it reconnected: one error naming the fix, and calls fail with it.
    try {
      expect(await waitFor(async () => (await outcome()).includes('sentinelRootNodes'), 10_000, 100)).toBe(true);
      expect(logger.lines.filter((line) => line.startsWith('error') && line.includes('sentinelRootNodes'))).toHaveLength(1);
    } finally {
      await direct.close();
      Logger.overrideLogger(new Logger());
    }
    const stats = await Promise.all(workers.map((w) => w.request<LoopStats>('loopStop')));
    const failed = stats.reduce((sum, s) => sum + s.failed, 0);
    const ok = stats.reduce((sum, s) => sum + s.ok, 0);
    report(`Sentinel failover ${from} → ${to} under load: ${ok} calls served, ${failed} failed, ${sim.gettokenCalls()} gettoken(s) in all`);
    expect(stats.flatMap((s) => s.failures)).toEqual([]);
    expect(ok).toBeGreaterThan(0);
    expect(String(((await redisCommand(to, ['ROLE'])) as unknown[])[0])).toBe('master');

    const closed = await Promise.all(workers.map((w) => w.close()));
    workers = [];
    expect(closed.map((c) => c.exitedByItself)).toEqual([true, true, true, true]);
  }, 90_000);
});
