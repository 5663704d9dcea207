'use strict';
/**
 * One process of the tenants part (forked by bench/tenants.js with --expose-gc): the BUILT package, WeComSuiteModule
 * for the simulator's suite (and WeComTokenModule for one app, the getToken() reference), the permanent codes of
 * every authorised corp in memory. With `redisUrl` in BENCH_TENANTS it is one instance of a fleet: the suite's cache
 * on Redis (Keyv) and RedisTokenLock. Configuration in BENCH_TENANTS (JSON): { baseUrl, corpId, secret, suite,
 * redisUrl? }.
 */
const http = require('node:http');
const axios = require('axios');
const { createFloor } = require('./baselines');
const { bootContext, nowMs, serveWorker, lib } = require('./support');
const { registryHandlers } = require('./tenants-registry');

/** The application's permanent-code table, in memory. */
class MemoryCodes {
  constructor() {
    this.codes = new Map();
  }
  async get(corpId) {
    return this.codes.get(corpId);
  }
  async set(corpId, code) {
    this.codes.set(corpId, code);
  }
  async delete(corpId) {
    this.codes.delete(corpId);
  }
}

/** Counts the warnings and errors the library logs (by their first words), so that the parent can report them. */
class CountingLogger {
  constructor() {
    this.counts = {};
  }
  count(level, message) {
    const text = typeof message === 'string' ? message : String(message);
    const key = `${level}: ${text.replace(/ww\w+|\d+(\.\d+)?/g, '#').slice(0, 90)}`;
    this.counts[key] = (this.counts[key] || 0) + 1;
  }
  take() {
    const counts = this.counts;
    this.counts = {};
    return counts;
  }
  log() {}
  debug() {}
  verbose() {}
  warn(message) {
    this.count('warn', message);
  }
  error(message) {
    this.count('error', message);
  }
  fatal(message) {
    this.count('fatal', message);
  }
}

const gc = () => {
  if (typeof global.gc !== 'function') throw new Error('tenants-worker needs --expose-gc');
  for (let i = 0; i < 3; i++) global.gc();
};
const heapUsed = () => {
  gc();
  return process.memoryUsage().heapUsed;
};

/** TCP sockets open in this process now (client sockets to the simulator and Redis). */
const openSockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;

/** Runs `fn` while sampling the open sockets every 2 ms; resolves `{ value, peakSockets }`. */
async function withSocketPeak(fn) {
  let peak = openSockets();
  const timer = setInterval(() => {
    const n = openSockets();
    if (n > peak) peak = n;
  }, 2);
  try {
    const value = await fn();
    return { value, peakSockets: Math.max(peak, openSockets()) };
  } finally {
    clearInterval(timer);
  }
}

async function main() {
  const config = JSON.parse(process.env.BENCH_TENANTS);
  const { SuiteService, WeComSuiteModule, WeComTokenModule, AccessTokenService, RedisTokenLock } = lib();
  const codes = new MemoryCodes();
  const shared = {};
  if (config.redisUrl) {
    const { createKeyv } = require('@keyv/redis');
    const { createCache } = require('cache-manager');
    shared.keyv = createKeyv({ url: config.redisUrl, disableOfflineQueue: true }, { throwOnErrors: true });
    shared.cache = createCache({ stores: [shared.keyv] });
    shared.lock = new RedisTokenLock({ url: config.redisUrl });
  }
  const s = config.suite;
  const logger = new CountingLogger();
  const app = await bootContext(
    [
      WeComSuiteModule.forRoot({
        suiteId: s.suiteId,
        suiteSecret: s.suiteSecret,
        callbackToken: s.callbackToken,
        encodingAESKey: s.encodingAESKey,
        permanentCodes: codes,
        baseUrl: config.baseUrl,
        timeoutMs: config.timeoutMs || 10_000,
        ...(shared.cache ? { cache: shared.cache, lock: shared.lock } : {}),
      }),
      WeComTokenModule.forRoot({ corpId: config.corpId, secret: config.secret, baseUrl: config.baseUrl }),
    ],
    logger,
  );
  if (shared.keyv) {
    // Connect both Redis clients before anything is measured.
    await shared.keyv.get('wecom:bench:warm-up');
    const release = await shared.lock.acquire(`wecom:bench:warm-up:${process.pid}`, 1_000);
    if (release) await release();
  }
  const suite = app.get(SuiteService);
  const tokens = app.get(AccessTokenService);
  let corpIds = [];
  let heapBase = 0;
  const { close: closeRegistry, ...registry } = registryHandlers({ config, heapUsed, suite });

  serveWorker(
    {
      /** Store the permanent codes (the application's table), then take the heap baseline. */
      codes({ corps }) {
        for (const { corpId, permanentCode } of corps) codes.codes.set(corpId, permanentCode);
        corpIds = corps.map((c) => c.corpId);
        return true;
      },
      async deliver({ query, body }) {
        return suite.handleCallback(query, body);
      },
      async warmUp() {
        // The suite token and the app's token, and the first run of the code paths, before any measurement.
        await suite.getSuiteToken();
        await tokens.getToken();
        heapBase = heapUsed();
        return true;
      },
      /** Every corp's token at once: time, failures, peak sockets, CPU. */
      async coldAll() {
        // The engine's fetch channel: every attempt (retries included) and why the failed ones failed.
        const diagnostics = require('node:diagnostics_channel');
        const attempts = { ok: 0, error: 0, errors: {} };
        const onFetch = (m) => {
          if (m.kind !== 'corp_access_token') return;
          if (m.outcome === 'ok') attempts.ok++;
          else {
            attempts.error++;
            const key = m.errcode !== undefined ? `errcode ${m.errcode}` : `no errcode, after ${Math.round(m.durationMs / 1000)} s`;
            attempts.errors[key] = (attempts.errors[key] || 0) + 1;
          }
        };
        diagnostics.subscribe('nestjs-wecom-token:fetch', onFetch);
        logger.take();
        const cpu0 = process.cpuUsage();
        const t = nowMs();
        const { value: results, peakSockets } = await withSocketPeak(() => Promise.allSettled(corpIds.map((id) => suite.getCorpToken(id)))).finally(() =>
          diagnostics.unsubscribe('nestjs-wecom-token:fetch', onFetch),
        );
        const ms = nowMs() - t;
        const cpu = process.cpuUsage(cpu0);
        const failures = results.filter((r) => r.status === 'rejected').map((r) => String(r.reason && r.reason.message));
        const distinct = new Set(results.filter((r) => r.status === 'fulfilled').map((r) => r.value)).size;
        return { ms, failed: failures.length, failures: failures.slice(0, 3), distinct, peakSockets, cpuMs: (cpu.user + cpu.system) / 1000, attempts, logged: logger.take() };
      },
      /** Heap per corp now (after GC) over the baseline taken before any corp token, and the same for a naive Map. */
      async heap() {
        const ours = heapUsed() - heapBase;
        // The naive holder: a Map corpId → { token, expiresAt }, with token strings of their own (copies).
        const before = heapUsed();
        const naive = new Map();
        for (const id of corpIds) {
          const held = suite.credentials.corp(id).peek();
          naive.set(id, { token: Buffer.from(held.token).toString('latin1'), expiresAt: held.expiresAt });
        }
        const naiveBytes = heapUsed() - before;
        if (naive.size !== corpIds.length) throw new Error('naive map incomplete');
        // The floor: what each idle corp must hold, its token and its shared cache entry (the suite's default cache
        // is cache-manager's in-memory store), as copies in a cache of its own under copies of the same keys.
        const { createCache } = require('cache-manager');
        const floorBefore = heapUsed();
        const floorCache = createCache();
        for (const id of corpIds) {
          const credential = suite.credentials.corp(id);
          const held = credential.peek();
          const key = Buffer.from(credential.spec.cacheKey).toString('latin1');
          await floorCache.set(key, { token: Buffer.from(held.token).toString('latin1'), expiresAt: held.expiresAt, fetchedAt: held.fetchedAt }, 3_600_000);
        }
        const floorBytes = heapUsed() - floorBefore;
        if (floorCache === undefined || naive.size === 0) throw new Error('floor lost');
        return { ours, naive: naiveBytes, floor: floorBytes, corps: corpIds.length };
      },
      /** The same cold fetch written by hand: a pool of `concurrency` workers posting get_corp_token with axios. */
      async handPool({ concurrency }) {
        const suiteToken = await suite.getSuiteToken();
        const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
        const raw = axios.create({ baseURL: config.baseUrl, timeout: 10_000, httpAgent: agent });
        let next = 0;
        let failed = 0;
        const cpu0 = process.cpuUsage();
        const t = nowMs();
        const { peakSockets } = await withSocketPeak(() =>
          Promise.all(
            Array.from({ length: concurrency }, async () => {
              while (next < corpIds.length) {
                const id = corpIds[next++];
                const { data } = await raw.post(`/cgi-bin/service/get_corp_token?suite_access_token=${encodeURIComponent(suiteToken)}`, {
                  auth_corpid: id,
                  permanent_code: codes.codes.get(id),
                });
                if (data.errcode !== 0 || typeof data.access_token !== 'string') failed++;
              }
            }),
          ),
        );
        const ms = nowMs() - t;
        const cpu = process.cpuUsage(cpu0);
        agent.destroy();
        return { ms, failed, peakSockets, cpuMs: (cpu.user + cpu.system) / 1000 };
      },
      /** Warm getCorpToken() round robin over every corp, against the floor with as many keys, and getToken(). */
      async warm({ time, rounds }) {
        const { nsPerOp } = require('./hot-path');
        const entries = corpIds.map((id) => {
          const held = suite.credentials.corp(id).peek();
          return { key: id, token: held.token, expiresAt: held.expiresAt };
        });
        const floor = createFloor(entries);
        const n = corpIds.length;
        let a = 0;
        let b = 0;
        const result = await nsPerOp(
          {
            'floor (a)': () => floor.get(corpIds[a++ % n]),
            getCorpToken: () => suite.getCorpToken(corpIds[b++ % n]),
            getToken: () => tokens.getToken(),
          },
          { time, rounds },
        );
        return result;
      },
      ...registry,
    },
    async () => {
      await closeRegistry();
      await app.close();
      if (shared.lock) await shared.lock.close();
      if (shared.keyv) await shared.keyv.disconnect().catch(() => undefined);
    },
  );
  process.send({ ready: { pid: process.pid } });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
