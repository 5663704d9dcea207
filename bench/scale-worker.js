'use strict';
/**
 * The scale part's measuring process (forked by bench/scale.js with --expose-gc, so that heap figures are taken
 * after a full collection and are not disturbed by the other parts): N named apps of one corp in one process.
 */
const http = require('node:http');
const { createFloor, createNaiveHolder } = require('./baselines');
const { nsPerOp } = require('./hot-path');
const { bootContext, lib, median, nowMs, serveWorker, sleep } = require('./support');

function heapUsed() {
  for (let i = 0; i < 3; i++) global.gc();
  return process.memoryUsage().heapUsed;
}

/** Run fn over items, `concurrency` at a time (so that at most that many sockets are opened to the simulator). */
async function limited(items, concurrency, fn) {
  let next = 0;
  const out = new Array(items.length);
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}

/**
 * The Nest floor of one app: a dynamic module with the same provider graph as ours (options → config → service →
 * interceptor → HttpService → client), each factory returning a small object. What Nest itself costs per app.
 */
function bareNestModule(name, lookUp = false) {
  const { Module } = require('@nestjs/common');
  const { ModuleRef } = require('@nestjs/core');
  class BareAppModule {}
  Module({})(BareAppModule);
  const t = (role) => `${role}(${name})`;
  // With `lookUp`, the service factory does what ours does: one non-strict lookup on its module's ModuleRef.
  const service = (c, moduleRef) => {
    if (lookUp) {
      try {
        moduleRef.get('CACHE_MANAGER', { strict: false });
      } catch {
        // absent, as in ours without a CacheModule
      }
    }
    return { c, held: undefined };
  };
  const providers = [
    { provide: t('options'), useValue: { name } },
    { provide: t('config'), useFactory: (o) => ({ o }), inject: [t('options')] },
    { provide: t('service'), useFactory: service, inject: [t('config'), ModuleRef] },
    { provide: t('interceptor'), useFactory: (s) => ({ s }), inject: [t('service')] },
    { provide: t('http'), useFactory: (i) => ({ i }), inject: [t('interceptor')] },
    { provide: t('client'), useFactory: (h, s) => ({ h, s }), inject: [t('http'), t('service')] },
  ];
  return { module: BareAppModule, providers, exports: providers.slice(2).map((p) => p.provide) };
}

async function measure({ baseUrl, corpId, apps, benchTime, benchRounds }) {
  if (typeof global.gc !== 'function') throw new Error('scale worker needs --expose-gc');
  const { WeComTokenModule, getAccessTokenServiceToken } = lib();
  const n = apps.length;
  const moduleFor = (app) => WeComTokenModule.forRoot({ name: app.name, corpId, secret: app.secret, baseUrl, agentId: app.agentId });

  // Load and JIT Nest and the package once, then time the start-up of a one-app context (median of 3).
  const warm = await bootContext([moduleFor(apps[0])]);
  await warm.get(getAccessTokenServiceToken(apps[0].name)).getToken();
  await warm.close();
  const oneAppMs = [];
  for (let i = 0; i < 3; i++) {
    const t0 = nowMs();
    const ctx = await bootContext([moduleFor(apps[0])]);
    oneAppMs.push(nowMs() - t0);
    await ctx.close();
  }

  // Baseline heap: N naive static holders (one class and one axios instance per app, one shared agent), warm.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 50 });
  let heap0 = heapUsed();
  let holders = apps.map((app) => createNaiveHolder({ baseUrl, corpId, secret: app.secret, httpAgent: agent }));
  await limited(holders, 50, (h) => h.getToken());
  const naivePerApp = (heapUsed() - heap0) / n;
  // eslint-disable-next-line no-useless-assignment -- drops the holders so that the collector can take them before the next heap reading
  holders = undefined;
  agent.destroy();
  await sleep(50);

  // Nest's own cost per app: the same provider graph, nothing of ours.
  heap0 = heapUsed();
  const tb = nowMs();
  const bare = await bootContext(apps.map((a) => bareNestModule(a.name)));
  const bareStartupMs = nowMs() - tb;
  const barePerApp = (heapUsed() - heap0) / n;
  await bare.close();
  await sleep(50);

  // The same, plus one moduleRef.get(token, { strict: false }) per app, as ours does for CACHE_MANAGER.
  heap0 = heapUsed();
  const tl = nowMs();
  const looking = await bootContext(apps.map((a) => bareNestModule(a.name, true)));
  const lookupStartupMs = nowMs() - tl;
  const lookupPerApp = (heapUsed() - heap0) / n;
  await looking.close();
  await sleep(50);

  // A quarter of the apps first: if heap per app grows with the number of apps, the two figures differ.
  const quarter = apps.slice(0, Math.max(1, Math.floor(n / 4)));
  heap0 = heapUsed();
  const tq = nowMs();
  const small = await bootContext(quarter.map(moduleFor));
  const quarterStartupMs = nowMs() - tq;
  const quarterPerApp = (heapUsed() - heap0) / quarter.length;
  await small.close();
  await sleep(50);

  // Ours: one context with N named apps. Start-up = compile + init; then every app warmed (N gettoken).
  heap0 = heapUsed();
  const t0 = nowMs();
  const app = await bootContext(apps.map(moduleFor));
  const startupMs = nowMs() - t0;
  const heapBooted = heapUsed();
  const services = apps.map((a) => app.get(getAccessTokenServiceToken(a.name)));
  const t1 = nowMs();
  const tokens = await limited(services, 50, (s) => s.getToken());
  const warmMs = nowMs() - t1;
  if (new Set(tokens).size !== n) throw new Error(`scale: ${new Set(tokens).size} distinct tokens for ${n} apps`);
  const heapWarm = heapUsed();

  // Hot path with all N warm: one batch visits every app once, round robin; the floor is a Map of N entries.
  const floor = createFloor(services.map((s, i) => ({ key: i, token: tokens[i], expiresAt: s.peek().expiresAt })));
  const result = await nsPerOp(
    {
      'floor (a)': (i) => floor.get(i),
      ours: (i) => services[i].getToken(),
    },
    { time: benchTime, rounds: benchRounds, batch: n },
  );
  await app.close();
  return {
    n,
    oneAppMs: median(oneAppMs),
    bareStartupMs,
    barePerApp,
    lookupStartupMs,
    lookupPerApp,
    quarter: quarter.length,
    quarterStartupMs,
    quarterPerApp,
    startupMs,
    warmMs,
    bootedPerApp: (heapBooted - heap0) / n,
    warmPerApp: (heapWarm - heap0) / n,
    naivePerApp,
    hotOurs: result.ours,
    hotFloor: result['floor (a)'],
  };
}

serveWorker({ measure });
process.send({ ready: true });
