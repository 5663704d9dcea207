/**
 * Helpers of the fleet tests: whether Redis is there (decided before any describe runs), instances of the fleet in
 * their own Node processes (test/fleet/fleet-worker.js, which loads the built package from dist/), a private
 * redis-server that a test may stop and start, and clean-up of a test's key space.
 */
import { ChildProcess, fork, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createClient } from '@redis/client';

export const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const ROOT = join(__dirname, '..', '..');
const WORKER = join(__dirname, 'fleet-worker.js');

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Whether `promise` settles within `ms`; the timer is cleared either way, so nothing is left pending. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true as const), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Why Redis at `url` cannot be used, or undefined when it answers PING. Synchronous: runs before `describe`. */
export function redisUnavailableReason(url: string = REDIS_URL): string | undefined {
  const probe = `
    const { createClient } = require('@redis/client');
    const client = createClient({ url: process.env.PROBE_URL, socket: { connectTimeout: 1500, reconnectStrategy: false } });
    client.on('error', () => {});
    client.connect().then((c) => c.ping()).then(() => process.exit(0), (e) => { process.stderr.write(String(e && e.message)); process.exit(1); });
  `;
  const result = spawnSync(process.execPath, ['-e', probe], { cwd: ROOT, env: { ...process.env, PROBE_URL: url }, timeout: 5000, encoding: 'utf8' });
  if (result.status === 0) return undefined;
  const where = url.replace(/\/\/[^@/]*@/, '//');
  return `Redis at ${where} did not answer PING (${(result.stderr || result.error?.message || 'timeout').trim()})`;
}

/** Why no private redis-server can be started, or undefined. */
export function redisServerUnavailableReason(): string | undefined {
  const result = spawnSync('redis-server', ['--version'], { timeout: 5000, encoding: 'utf8' });
  return result.status === 0 ? undefined : 'no redis-server binary on PATH';
}

/** A corpId and secret of one test's own key space. */
export function newApp(label: string): { corpId: string; secret: string; fingerprint: string; key: string } {
  const corpId = `wwfleet${label}${randomBytes(4).toString('hex')}`;
  const secret = `fleet-secret-${randomBytes(12).toString('hex')}`;
  const fingerprint = createHash('sha256').update(secret).digest('hex').slice(0, 16);
  return { corpId, secret, fingerprint, key: `wecom:v1:${corpId}:${fingerprint}:access_token` };
}

/** What a worker is booted with (see fleet-worker.js). */
export interface WorkerConfig {
  corpId: string;
  secret: string;
  baseUrl: string;
  redisUrl: string;
  timeoutMs?: number;
  cacheTimeoutMs?: number;
  schedule?: boolean;
  /** The app's agentid (JS-SDK agent ticket). */
  agentId?: number;
  /** `'suite'`: boot WeComSuiteModule with `suite` (permanent codes in a Redis hash) instead of WeComTokenModule. */
  mode?: 'app' | 'suite' | 'registry';
  /** `'registry'`: the apps the worker's loader knows, by key. */
  registry?: Record<string, { corpId: string; secret: string }>;
  /** Where the shared cache and the lock live (default: standalone at `redisUrl`), built as docs/redis-topologies.md shows. */
  topology?: { kind: 'cluster'; rootNodes: string[] } | { kind: 'sentinel'; sentinels: Array<{ host: string; port: number }>; name: string };
  /** The client library of the cache and the lock: node-redis (default, the lock's own client) or an ioredis client given to both. */
  library?: 'node-redis' | 'ioredis';
  /** With node-redis on Cluster or Sentinel: `'client'` builds the lock on the cache's connected client instead of its own. */
  lockOn?: 'own' | 'client';
  suite?: { suiteId: string; suiteSecret: string; callbackToken: string; encodingAESKey: string };
}

interface Reply {
  id?: number;
  ok?: boolean;
  result?: unknown;
  error?: string;
  ready?: boolean;
  pid?: number;
}

/** One instance of the fleet in its own process. */
export class FleetWorker {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private stderr = '';
  readonly exited: Promise<number | null>;
  private hasExited = false;

  private constructor(readonly child: ChildProcess) {
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
    child.stdout?.resume();
    child.on('message', (message: Reply) => {
      if (message.id === undefined) return;
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if (message.ok) waiter.resolve(message.result);
      else waiter.reject(new Error(`worker ${child.pid}: ${message.error}`));
    });
    this.exited = new Promise((resolve) => {
      child.on('exit', (code) => {
        this.hasExited = true;
        for (const waiter of this.pending.values()) waiter.reject(new Error(`worker ${child.pid} exited (code ${code}) ${this.stderr}`));
        this.pending.clear();
        resolve(code);
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return !this.hasExited;
  }

  /** Start a worker and wait (bounded) until its application context is up. */
  static async start(config: WorkerConfig, bootTimeoutMs = 15_000): Promise<FleetWorker> {
    if (!existsSync(join(ROOT, 'dist', 'index.js'))) throw new Error('dist/ is missing: run `npm run build` before the fleet tests (npm test does)');
    const child = fork(WORKER, [JSON.stringify(config)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], execArgv: [] });
    const worker = new FleetWorker(child);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker did not boot within ${bootTimeoutMs} ms: ${worker.stderr}`)), bootTimeoutMs);
      child.on('message', (message: Reply) => {
        if (message.ready === undefined) return;
        clearTimeout(timer);
        if (message.ready) resolve();
        else reject(new Error(`worker failed to boot: ${message.error}`));
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`worker exited during boot (code ${code}): ${worker.stderr}`));
      });
    }).catch(async (error: unknown) => {
      worker.kill();
      throw error;
    });
    return worker;
  }

  /** Send a command and wait (bounded) for its answer. */
  request<T>(cmd: string, args?: Record<string, unknown>, timeoutMs = 20_000): Promise<T> {
    if (this.hasExited) return Promise.reject(new Error(`worker ${this.pid} has exited`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`worker ${this.pid} did not answer '${cmd}' within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as T);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.child.send({ id, cmd, args });
    });
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (!this.hasExited) this.child.kill(signal);
  }

  /**
   * Close the application context, then let the process end on its own: true when it did within `exitTimeoutMs`
   * (nothing of the module kept it alive), false when it had to be killed. `handles` lists what was still open.
   */
  async close(exitTimeoutMs = 3_000): Promise<{ exitedByItself: boolean; handles: string[] }> {
    if (this.hasExited) return { exitedByItself: true, handles: [] };
    let handles: string[] = [];
    try {
      handles = await this.request<string[]>('close', {}, 10_000);
      this.child.disconnect();
    } catch {
      this.kill();
      await this.exited;
      return { exitedByItself: false, handles };
    }
    const exitedByItself = await settlesWithin(this.exited, exitTimeoutMs);
    if (!exitedByItself) {
      this.kill();
      await this.exited;
    }
    return { exitedByItself, handles };
  }
}

/** Start `n` workers with one configuration, in parallel. */
export async function startFleet(n: number, config: WorkerConfig, bootTimeoutMs?: number): Promise<FleetWorker[]> {
  const started = await Promise.allSettled(Array.from({ length: n }, () => FleetWorker.start(config, bootTimeoutMs)));
  const workers = started.filter((s): s is PromiseFulfilledResult<FleetWorker> => s.status === 'fulfilled').map((s) => s.value);
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    for (const worker of workers) worker.kill();
    throw failed.reason;
  }
  return workers;
}

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** A private redis-server (no persistence) that a test may stop and start; never the machine's main Redis. */
export class OwnRedis {
  private child?: ChildProcess;

  /** `bin`: the server binary (redis-server, or a valkey-server: see test/support/valkey.js). */
  private constructor(
    readonly port: number,
    private readonly bin: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(bin = 'redis-server'): Promise<OwnRedis> {
    const redis = new OwnRedis(await freePort(), bin);
    await redis.start();
    return redis;
  }

  /** Start (again) on the same port and wait, bounded, until it answers. */
  async start(): Promise<void> {
    const child = spawn(this.bin, ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    this.child = child;
    const deadline = Date.now() + 5_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${this.bin} on port ${this.port} exited with code ${child.exitCode}`);
      if (await pingOnce(this.url)) return;
      if (Date.now() > deadline) throw new Error(`${this.bin} on port ${this.port} did not answer within 5 s`);
      await sleep(50);
    }
  }

  /** Kill it (SIGKILL: an outage, not a clean shutdown) and wait until it is gone. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await settlesWithin(gone, 5_000);
  }
}

async function pingOnce(url: string): Promise<boolean> {
  const client = createClient({ url, socket: { connectTimeout: 500, reconnectStrategy: false } });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
    return true;
  } catch {
    return false;
  } finally {
    if (client.isOpen) client.destroy();
  }
}

/** A client of the test itself, for looking at and cleaning up a test's keys. */
function testClient(url: string) {
  return createClient({ url, socket: { connectTimeout: 2_000, reconnectStrategy: false } });
}
export type TestRedis = ReturnType<typeof testClient>;

export async function connectRedis(url: string = REDIS_URL): Promise<TestRedis> {
  const client = testClient(url);
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** Every key matching `pattern` (SCAN, bounded). */
export async function scanKeys(redis: TestRedis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  for (let round = 0; round < 10_000; round++) {
    const reply = await redis.scan(cursor, { MATCH: pattern, COUNT: 1000 });
    keys.push(...reply.keys);
    cursor = String(reply.cursor);
    if (cursor === '0') break;
  }
  return keys;
}

/** Remove every key of one corp. */
export async function deleteCorpKeys(redis: TestRedis, corpId: string): Promise<void> {
  const keys = await scanKeys(redis, `wecom:v1:${corpId}:*`);
  if (keys.length > 0) await redis.del(keys);
}

/** Wait until `check` is true, polling every `everyMs`, for at most `timeoutMs`; false when it never was. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 25): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(everyMs);
  }
}

/** One line in the test output with the counts a multi-process test measured. */
export function report(line: string): void {
  process.stdout.write(`[fleet] ${line}\n`);
}

export { sleep };
