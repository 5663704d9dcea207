/**
 * Real Redis topologies started by a test, in a tmp dir, on fixed local ports: a 3-master Cluster (17000-17002, bus
 * +10000) and a master / replica / sentinel set (17100 / 17101 / 17102, master name `mymaster`). `stop()` kills
 * every process and removes the dir.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@redis/client';
import { sleep } from './fleet-harness';

export const CLUSTER_PORTS = [17000, 17001, 17002];
export const SENTINEL_SET = { master: 17100, replica: 17101, sentinel: 17102, name: 'mymaster' };

/** Why the topologies cannot be started here (no binary, a port taken), or undefined. Synchronous: runs before `describe`. */
export function topologiesUnavailableReason(): string | undefined {
  const version = spawnSync('redis-server', ['--version'], { timeout: 5000, encoding: 'utf8' });
  if (version.status !== 0) return 'no redis-server binary on PATH';
  const cli = spawnSync('redis-cli', ['--version'], { timeout: 5000, encoding: 'utf8' });
  if (cli.status !== 0) return 'no redis-cli binary on PATH (it creates the Cluster)';
  for (const port of [...CLUSTER_PORTS, ...CLUSTER_PORTS.map((p) => p + 10_000), SENTINEL_SET.master, SENTINEL_SET.replica, SENTINEL_SET.sentinel]) {
    const probe = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'PING'], { timeout: 3000, encoding: 'utf8' });
    if (probe.stdout.includes('PONG') || (probe.status === 0 && !/refused/i.test(probe.stdout + probe.stderr))) return `port ${port} is already in use`;
  }
  return undefined;
}

async function command(port: number, args: string[]): Promise<unknown> {
  const client = createClient({ socket: { host: '127.0.0.1', port, connectTimeout: 1000, reconnectStrategy: false } });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await client.sendCommand(args);
  } finally {
    if (client.isOpen) client.destroy();
  }
}

/** Wait, bounded, until `check` holds. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** One command on a node of the set, for the test itself. */
export function redisCommand(port: number, args: string[]): Promise<unknown> {
  return command(port, args);
}

export class RedisTopologies {
  private readonly processes: ChildProcess[] = [];
  readonly dir = mkdtempSync(join(tmpdir(), 'wecom-redis-topologies-'));

  private server(args: string[]): ChildProcess {
    const child = spawn('redis-server', args, { cwd: this.dir, stdio: 'ignore' });
    this.processes.push(child);
    return child;
  }

  private static base(port: number): string[] {
    return ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  }

  /** Start the Cluster and wait until every node says cluster_state:ok. */
  async startCluster(): Promise<void> {
    for (const port of CLUSTER_PORTS) {
      this.server([...RedisTopologies.base(port), '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '2000', '--dir', this.dir]);
    }
    for (const port of CLUSTER_PORTS) await until(`cluster node ${port} did not answer PING`, async () => (await command(port, ['PING'])) === 'PONG');
    const create = spawnSync('redis-cli', ['--cluster', 'create', ...CLUSTER_PORTS.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], {
      timeout: 30_000,
      encoding: 'utf8',
    });
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout.slice(-500)} ${create.stderr.slice(-500)}`);
    for (const port of CLUSTER_PORTS)
      await until(`cluster node ${port} did not reach cluster_state:ok`, async () => String(await command(port, ['CLUSTER', 'INFO'])).includes('cluster_state:ok'));
  }

  /** Start master, replica and sentinel, and wait until the sentinel knows the replica and the link is up. */
  async startSentinel(): Promise<void> {
    const { master, replica, sentinel, name } = SENTINEL_SET;
    this.server(RedisTopologies.base(master));
    this.server([...RedisTopologies.base(replica), '--replicaof', '127.0.0.1', String(master)]);
    const conf = join(this.dir, 'sentinel.conf');
    writeFileSync(
      conf,
      [
        `port ${sentinel}`,
        'bind 127.0.0.1',
        `dir ${this.dir}`,
        `sentinel monitor ${name} 127.0.0.1 ${master} 1`,
        `sentinel down-after-milliseconds ${name} 1000`,
        `sentinel failover-timeout ${name} 5000`,
        '',
      ].join('\n'),
    );
    this.server([conf, '--sentinel']);
    await until('the replica did not sync with the master', async () => String(await command(replica, ['INFO', 'replication'])).includes('master_link_status:up'));
    await until('the sentinel did not discover the replica', async () => {
      const replicas = (await command(sentinel, ['SENTINEL', 'REPLICAS', name])) as unknown[];
      return Array.isArray(replicas) && replicas.length === 1;
    });
  }

  /** The port of the current master, as the sentinel says. */
  async masterPort(): Promise<number> {
    const reply = (await command(SENTINEL_SET.sentinel, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_SET.name])) as string[];
    return Number(reply[1]);
  }

  /** `SENTINEL FAILOVER` (`during` runs as soon as it is asked for) and wait until the other node is master and the old one its replica. */
  async failover(during?: () => void): Promise<{ from: number; to: number }> {
    const from = await this.masterPort();
    await command(SENTINEL_SET.sentinel, ['SENTINEL', 'FAILOVER', SENTINEL_SET.name]);
    during?.();
    await until('the failover did not complete', async () => (await this.masterPort()) !== from);
    const to = await this.masterPort();
    await until('the old master did not become a replica', async () => {
      const role = (await command(from, ['ROLE'])) as unknown[];
      return String(role[0]) === 'slave';
    });
    return { from, to };
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.processes.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }),
      ),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }
}
