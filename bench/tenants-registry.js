'use strict';
/**
 * The registry and unknown-id handlers of the tenants worker (bench/tenants-worker.js, --expose-gc): a second
 * application context with `WeComTokenModule.forRegistry` (no loader: every app is registered), the apps of the
 * simulator registered under keys of their own, each one's token held; heap per idle app over the heap before the
 * first register() and the measured floor of what every app must hold (its token and its shared cache entry, copies
 * in a cache-manager cache of its own); warm `(await registry.tokens(key)).getToken()` round robin against the floor
 * with as many keys; the heap after 100,000 distinct unknown ids asked once each, of the registry and of the suite.
 */
const { createCache } = require('cache-manager');
const { createFloor } = require('./baselines');
const { bootContext, lib } = require('./support');

const copy = (s) => Buffer.from(s).toString('latin1');

/** @param heapUsed heap after GC; @param suite the worker's SuiteService (for unknown corp ids). */
function registryHandlers({ config, heapUsed, suite }) {
  const { WeComAppRegistry, WeComTokenModule } = lib();
  let context;
  let registry;
  let keys = [];

  const ensure = async () => {
    if (registry) return registry;
    context = await bootContext([WeComTokenModule.forRegistry({ baseUrl: config.baseUrl, timeoutMs: config.timeoutMs || 10_000 })]);
    registry = context.get(WeComAppRegistry);
    return registry;
  };

  return {
    /** Register every app, hold each one's token; heap per app after GC, and the floor measured the same way. */
    async registryApps({ apps }) {
      const reg = await ensure();
      keys = apps.map((_, i) => `tenant-${i}`);
      const base = heapUsed();
      apps.forEach((app, i) => reg.register(keys[i], { corpId: config.corpId, secret: app.secret, agentId: app.agentId }));
      // The apps alone (config, credential, engine state), before any token: what the registry holds per key.
      const registered = heapUsed() - base;
      for (let i = 0; i < keys.length; i += 200) {
        await Promise.all(keys.slice(i, i + 200).map(async (key) => (await reg.tokens(key)).getToken()));
      }
      const ours = heapUsed() - base;
      const held = await Promise.all(keys.map(async (key) => (await reg.tokens(key)).peek()));
      if (held.some((h) => !h)) throw new Error('tenants: a registry app holds no token');
      // The floor: the token string and the shared cache entry of each app (cache-manager's in-memory store, as
      // the registry's default cache), with copies of the same key and token strings.
      const cacheKeys = await Promise.all(keys.map(async (key) => (await reg.tokens(key)).credential.spec.cacheKey));
      const before = heapUsed();
      const cache = createCache();
      for (let i = 0; i < keys.length; i++) {
        await cache.set(copy(cacheKeys[i]), { token: copy(held[i].token), expiresAt: held[i].expiresAt, fetchedAt: held[i].fetchedAt }, 3_600_000);
      }
      const floor = heapUsed() - before;
      const tokenBytes = held.reduce((sum, h) => sum + h.token.length, 0);
      if ((await cache.get(copy(cacheKeys[0]))) === undefined) throw new Error('floor cache empty');
      return { apps: keys.length, ours, registered, floor, tokenChars: tokenBytes / keys.length, keyChars: cacheKeys.reduce((s, k) => s + k.length, 0) / keys.length };
    },

    /** Warm round robin over every registered app against the floor with as many keys. */
    async registryWarm({ time, rounds }) {
      const { nsPerOp } = require('./hot-path');
      const reg = await ensure();
      const services = await Promise.all(keys.map((key) => reg.tokens(key)));
      const floor = createFloor(services.map((s, i) => ({ key: keys[i], token: s.peek().token, expiresAt: s.peek().expiresAt })));
      const n = keys.length;
      let a = 0;
      let b = 0;
      let c = 0;
      return nsPerOp(
        {
          'floor (a)': () => floor.get(keys[a++ % n]),
          'registry tokens(key).getToken()': async () => (await reg.tokens(keys[b++ % n])).getToken(),
          'registry getToken(key)': () => reg.getToken(keys[c++ % n]),
        },
        { time, rounds },
      );
    },

    /** `count` distinct unknown ids asked once each: heap after GC before and after, for the registry and the suite. */
    async unknownIds({ count }) {
      const reg = await ensure();
      const run = async (ask) => {
        // A first batch warms the code paths (and any bounded memory reaches its level).
        for (let i = 0; i < Math.min(1_000, count / 4); i++) await ask(`warm${i}`).catch(() => undefined);
        const before = heapUsed();
        const reasons = {};
        for (let i = 0; i < count; i += 500) {
          const batch = Array.from({ length: Math.min(500, count - i) }, (_, j) => ask(String(i + j)));
          for (const r of await Promise.allSettled(batch)) {
            const why = r.status === 'fulfilled' ? 'served' : r.reason.reason || r.reason.name;
            reasons[why] = (reasons[why] || 0) + 1;
          }
        }
        await new Promise((resolve) => setImmediate(resolve));
        await new Promise((resolve) => setImmediate(resolve));
        return { before, after: heapUsed(), reasons };
      };
      const registryRun = await run(async (id) => (await reg.tokens(`unknown-${id}`)).getToken());
      const suiteRun = await run((id) => suite.getCorpToken(`wwunknown${id}`));
      return { count, registry: { ...registryRun, size: reg.size }, suite: { ...suiteRun, corps: suite.credentials.corpCount } };
    },

    async close() {
      if (context) await context.close();
    },
  };
}

module.exports = { registryHandlers };
