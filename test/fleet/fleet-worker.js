/*
 * One instance of a fleet, in its own Node process: loads the BUILT package from dist/ the way an application does,
 * boots a NestJS application context with the documented Redis recipe (CacheModule + createKeyv, RedisTokenLock),
 * and answers commands from the test over IPC. Configuration comes as JSON in argv[2].
 */
'use strict';
require('reflect-metadata');
const { join } = require('node:path');
const { NestFactory } = require('@nestjs/core');
const { CacheModule } = require('@nestjs/cache-manager');
const { createKeyv } = require('@keyv/redis');
const dist = join(__dirname, '..', '..', 'dist');
const { AccessTokenService, JsapiTicketService, RedisTokenLock, SuiteService, WeComAppRegistry, WeComClient, WeComSuiteModule, WeComTokenModule } = require(dist);

const config = JSON.parse(process.argv[2]);

/** Every log line of the instance, so that the test can scan them for secrets and whole tokens. */
class CapturingLogger {
  constructor() {
    this.lines = [];
  }
  keep(level, message, rest) {
    const text = [message, ...rest].map((part) => (typeof part === 'string' ? part : require('node:util').inspect(part, { depth: 5 }))).join(' ');
    this.lines.push(`${level} ${text}`);
  }
  log(message, ...rest) {
    this.keep('log', message, rest);
  }
  error(message, ...rest) {
    this.keep('error', message, rest);
  }
  warn(message, ...rest) {
    this.keep('warn', message, rest);
  }
  debug(message, ...rest) {
    this.keep('debug', message, rest);
  }
  verbose(message, ...rest) {
    this.keep('verbose', message, rest);
  }
  fatal(message, ...rest) {
    this.keep('fatal', message, rest);
  }
}

const logger = new CapturingLogger();
let app;
let tokens;
let client;
let lock;
let keyv;
let loop;
let tickets;
let suite;
let codes;
let registry;
let loaderCalls = 0;

/**
 * A Keyv store on an ioredis client (the recipe of docs/redis-topologies.md): plain GET / SET PX / DEL under the
 * key as given, so that the entry sits under exactly the documented key.
 */
function ioredisStore(redis) {
  return {
    async get(key) {
      return (await redis.get(key)) ?? undefined;
    },
    async set(key, value, ttl) {
      if (typeof ttl === 'number' && ttl > 0) await redis.set(key, value, 'PX', ttl);
      else await redis.set(key, value);
      return true;
    },
    async delete(key) {
      return (await redis.del(key)) > 0;
    },
    async clear() {
      throw new Error('clear() is not supported on the shared store');
    },
  };
}

/** Keyv on a node-redis Cluster client or Sentinel options, as docs/redis-topologies.md has it: no prefix, no namespace. */
function noPrefix(redis) {
  const { default: KeyvRedis, Keyv } = require('@keyv/redis');
  const k = new Keyv(new KeyvRedis(redis), { useKeyPrefix: false, throwOnErrors: true });
  k.namespace = undefined;
  return k;
}

/**
 * The shared cache and the lock on the topology of config.topology (default: the README's standalone recipe), with
 * node-redis (default) or ioredis (config.library). Returns what the worker must close after app.close().
 */
async function onTopology() {
  const topology = config.topology ?? { kind: 'standalone' };
  if (config.library === 'ioredis') {
    const { Redis, Cluster } = require('ioredis');
    const { Keyv } = require('keyv');
    const redis =
      topology.kind === 'cluster'
        ? new Cluster(topology.rootNodes.map((url) => ({ host: new URL(url).hostname, port: Number(new URL(url).port) })))
        : topology.kind === 'sentinel'
          ? new Redis({ sentinels: topology.sentinels, name: topology.name })
          : new Redis(config.redisUrl);
    redis.on('error', () => undefined);
    return {
      lock: new RedisTokenLock({ client: redis }),
      keyv: new Keyv({ store: ioredisStore(redis), namespace: undefined, useKeyPrefix: false, throwOnErrors: true }),
      cacheReady: () => redis.status === 'ready',
      close: () => redis.quit().catch(() => redis.disconnect()),
    };
  }
  if (topology.kind === 'cluster') {
    const { createCluster } = require('@redis/client');
    const cluster = createCluster({ rootNodes: topology.rootNodes.map((url) => ({ url })), defaults: { disableOfflineQueue: true } });
    cluster.on('error', () => undefined);
    const k = noPrefix(cluster);
    // config.lockOn === 'client': the lock on the application's connected cluster client instead of its own.
    if (config.lockOn === 'client') await cluster.connect();
    const clusterLock = config.lockOn === 'client' ? new RedisTokenLock({ client: cluster }) : new RedisTokenLock({ rootNodes: topology.rootNodes.map((url) => ({ url })) });
    return { lock: clusterLock, keyv: k, cacheReady: () => cluster.isOpen, close: async () => {} };
  }
  if (topology.kind === 'sentinel') {
    // KeyvRedis builds the sentinel client from the options (its types take no sentinel client).
    const k = noPrefix({ name: topology.name, sentinelRootNodes: topology.sentinels });
    const sentinel = k.store.client;
    sentinel.on('error', () => undefined);
    const url = `redis+sentinel://${topology.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}/${topology.name}`;
    // config.lockOn === 'client': the lock on the application's connected sentinel client (it has no duplicate()).
    if (config.lockOn === 'client') await sentinel.connect();
    const sentinelLock = config.lockOn === 'client' ? new RedisTokenLock({ client: sentinel }) : new RedisTokenLock({ url });
    return { lock: sentinelLock, keyv: k, cacheReady: () => sentinel.isReady, close: async () => {} };
  }
  const k = createKeyv({ url: config.redisUrl, disableOfflineQueue: true }, { throwOnErrors: true });
  return { lock: new RedisTokenLock({ url: config.redisUrl }), keyv: k, cacheReady: () => Boolean(k.store && k.store.client && k.store.client.isReady), close: async () => {} };
}

let shared;

async function boot() {
  class FleetWorkerModule {}
  shared = await onTopology();
  lock = shared.lock;
  const imports = [
    // The recipe of the README: a global CacheModule whose store is Keyv on Redis, without a namespace, so the
    // entry sits under exactly the documented key; no offline queue, errors surfaced, so an outage fails fast.
    CacheModule.registerAsync({
      isGlobal: true,
      useFactory: () => {
        keyv = shared.keyv;
        return { stores: [keyv] };
      },
    }),
    WeComTokenModule.forRoot({
      corpId: config.corpId,
      secret: config.secret,
      baseUrl: config.baseUrl,
      lock,
      timeoutMs: config.timeoutMs ?? 5000,
      cacheTimeoutMs: config.cacheTimeoutMs ?? 1000,
      retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 20 },
      ...(config.agentId !== undefined ? { agentId: config.agentId } : {}),
    }),
  ];
  if (config.schedule) imports.push(require('@nestjs/schedule').ScheduleModule.forRoot());
  app = await NestFactory.createApplicationContext({ module: FleetWorkerModule, imports }, { logger, abortOnError: false });
  tokens = app.get(AccessTokenService);
  client = app.get(WeComClient);
  tickets = app.get(JsapiTicketService);
}

/**
 * The permanent codes of a suite as an application would keep them for a fleet: one Redis hash
 * `test:permanent-codes:{suiteId}` (corpId → permanent code), shared by every instance.
 */
class RedisPermanentCodes {
  constructor(url, suiteId) {
    const { createClient } = require('@redis/client');
    this.key = `test:permanent-codes:${suiteId}`;
    this.client = createClient({ url, socket: { connectTimeout: 2000, reconnectStrategy: false } });
    this.client.on('error', () => undefined);
  }
  connect() {
    return this.client.connect();
  }
  async get(authCorpId) {
    return (await this.client.hGet(this.key, authCorpId)) ?? undefined;
  }
  async set(authCorpId, permanentCode) {
    await this.client.hSet(this.key, authCorpId, permanentCode);
  }
  async delete(authCorpId) {
    await this.client.hDel(this.key, authCorpId);
  }
  close() {
    if (this.client.isOpen) this.client.destroy();
  }
}

/** A suite instance (config.mode === 'suite'): WeComSuiteModule on a Redis-backed cache, RedisTokenLock, codes in Redis. */
async function bootSuite() {
  class FleetSuiteWorkerModule {}
  const { createCache } = require('cache-manager');
  const s = config.suite;
  codes = new RedisPermanentCodes(config.redisUrl, s.suiteId);
  await codes.connect();
  lock = new RedisTokenLock({ url: config.redisUrl });
  keyv = createKeyv({ url: config.redisUrl, disableOfflineQueue: true }, { throwOnErrors: true });
  const cache = createCache({ stores: [keyv] });
  const imports = [
    WeComSuiteModule.forRoot({
      suiteId: s.suiteId,
      suiteSecret: s.suiteSecret,
      callbackToken: s.callbackToken,
      encodingAESKey: s.encodingAESKey,
      permanentCodes: codes,
      cache,
      lock,
      baseUrl: config.baseUrl,
      timeoutMs: config.timeoutMs ?? 5000,
    }),
  ];
  app = await NestFactory.createApplicationContext({ module: FleetSuiteWorkerModule, imports }, { logger, abortOnError: false });
  suite = app.get(SuiteService);
}

/** A registry instance (config.mode === 'registry'): forRegistry on the README's Redis recipe, apps from a loader. */
async function bootRegistry() {
  class FleetRegistryWorkerModule {}
  lock = new RedisTokenLock({ url: config.redisUrl });
  const imports = [
    CacheModule.registerAsync({
      isGlobal: true,
      useFactory: () => {
        keyv = createKeyv({ url: config.redisUrl, disableOfflineQueue: true }, { throwOnErrors: true });
        return { stores: [keyv] };
      },
    }),
    WeComTokenModule.forRegistry({
      baseUrl: config.baseUrl,
      lock,
      timeoutMs: config.timeoutMs ?? 5000,
      retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 20 },
      // The application's database: the apps of the test's configuration, by key.
      loader: async (key) => {
        loaderCalls += 1;
        return config.registry[key];
      },
    }),
  ];
  app = await NestFactory.createApplicationContext({ module: FleetRegistryWorkerModule, imports }, { logger, abortOnError: false });
  registry = app.get(WeComAppRegistry);
}

/** An error as the test needs to see it across the process boundary. */
function errorInfo(error) {
  return { name: error && error.name, message: error && error.message, reason: error && error.reason, errcode: error && error.errcode };
}

function describe(error) {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

async function calls(n, path, params) {
  const started = Date.now();
  const results = await Promise.allSettled(Array.from({ length: n }, () => client.get(path, params)));
  const failures = results.filter((r) => r.status === 'rejected').map((r) => describe(r.reason));
  return { ok: n - failures.length, failed: failures.length, failures: failures.slice(0, 5), ms: Date.now() - started };
}

const commands = {
  async tokens({ n }) {
    const started = Date.now();
    const got = await Promise.all(Array.from({ length: n }, () => tokens.getToken()));
    return { tokens: [...new Set(got)], ms: Date.now() - started };
  },
  async calls({ n, path, params }) {
    return calls(n, path, params);
  },
  async peek() {
    return tokens.peek() ?? null;
  },
  async loopStart({ intervalMs, concurrency, path, params }) {
    const stats = { rounds: 0, ok: 0, failed: 0, failures: [], maxMs: 0 };
    let stopped = false;
    const run = async () => {
      while (!stopped) {
        const result = await calls(concurrency, path, params);
        stats.rounds += 1;
        stats.ok += result.ok;
        stats.failed += result.failed;
        stats.maxMs = Math.max(stats.maxMs, result.ms);
        for (const failure of result.failures) if (stats.failures.length < 5) stats.failures.push(failure);
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
      }
    };
    loop = { stats, done: run(), stop: () => (stopped = true) };
    return { started: true };
  },
  async loopStop() {
    if (!loop) return null;
    loop.stop();
    await loop.done;
    const { stats } = loop;
    loop = undefined;
    return stats;
  },
  async redisReady() {
    return { lock: lock.isReady, cache: Boolean(shared ? shared.cacheReady() : keyv && keyv.store && keyv.store.client && keyv.store.client.isReady) };
  },
  async tickets({ n, kind }) {
    const started = Date.now();
    const get = () => (kind === 'agent' ? tickets.getAgentTicket() : tickets.getCorpTicket());
    const got = await Promise.all(Array.from({ length: n }, get));
    return { tickets: [...new Set(got)], ms: Date.now() - started };
  },
  async invalidateTicket({ kind, ticket }) {
    await tickets.invalidate(kind, ticket);
    return null;
  },
  async peekTicket({ kind }) {
    return tickets.peek(kind) ?? null;
  },
  async suiteCallback({ query, body }) {
    return suite.handleCallback(query, body);
  },
  async suiteTokens({ n }) {
    const started = Date.now();
    const results = await Promise.allSettled(Array.from({ length: n }, () => suite.getSuiteToken()));
    const errors = results.filter((r) => r.status === 'rejected').map((r) => errorInfo(r.reason));
    const got = results.filter((r) => r.status === 'fulfilled').map((r) => r.value);
    return { tokens: [...new Set(got)], errors: errors.slice(0, 5), failed: errors.length, ms: Date.now() - started };
  },
  /** `perCorp` concurrent getCorpToken callers for every corp of `corpIds`, all at once: corpId → distinct tokens, errors. */
  async corpTokens({ corpIds, perCorp }) {
    const started = Date.now();
    const byCorp = await Promise.all(
      corpIds.map(async (corpId) => {
        const results = await Promise.allSettled(Array.from({ length: perCorp ?? 1 }, () => suite.getCorpToken(corpId)));
        const tokens = [...new Set(results.filter((r) => r.status === 'fulfilled').map((r) => r.value))];
        const errors = results.filter((r) => r.status === 'rejected').map((r) => errorInfo(r.reason));
        return [corpId, { tokens, errors: errors.slice(0, 2), failed: errors.length }];
      }),
    );
    return { corps: Object.fromEntries(byCorp), ms: Date.now() - started };
  },
  /** `n` concurrent first asks for each of `keys` through the registry: key → distinct tokens; the loader's calls. */
  async registryTokens({ keys, n }) {
    const byKey = await Promise.all(
      keys.map(async (key) => [key, [...new Set(await Promise.all(Array.from({ length: n }, async () => (await registry.tokens(key)).getToken())))]]),
    );
    return { keys: Object.fromEntries(byKey), loaderCalls };
  },
  async logs() {
    return logger.lines;
  },
  async close() {
    if (loop) await commands.loopStop();
    await app.close();
    if (suite) {
      // The suite's cache was handed over by this worker, not by CacheModule: its connection is the worker's to close.
      await keyv.disconnect().catch(() => undefined);
      codes.close();
    }
    // A client the worker handed to the cache and the lock is the worker's to close (the lock closed its feed).
    if (shared) await shared.close();
    // What is still open once the application is closed (the IPC channel aside): should be nothing of ours.
    await new Promise((resolve) => setImmediate(resolve));
    return process.getActiveResourcesInfo();
  },
};

process.on('message', async (message) => {
  const { id, cmd, args } = message;
  try {
    const result = await commands[cmd](args ?? {});
    process.send({ id, ok: true, result });
  } catch (error) {
    process.send({ id, ok: false, error: describe(error) });
  }
});

(config.mode === 'suite' ? bootSuite() : config.mode === 'registry' ? bootRegistry() : boot()).then(
  () => process.send({ ready: true, pid: process.pid }),
  (error) => {
    process.send({ ready: false, error: describe(error) });
    process.exitCode = 1;
    process.disconnect();
  },
);
