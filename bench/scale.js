'use strict';
/**
 * 6. Scale: 1,000 named apps in one process (a service provider serving many corps): start-up time, heap per app
 * and hot-path ns/op with all of them warm. The simulator (1,000 app secrets) and the measuring process are each
 * a child process of their own, so that neither the simulator's memory nor the other parts' leftovers enter the
 * heap figures.
 */
const { fmtBytes, fmtInt, fmtMs, fmtNs, fmtRatio, forkWorker, size } = require('./support');

async function run(report) {
  const n = size(1_000, 20);
  const sim = forkWorker('sim-process.js', { env: { BENCH_SIM_OPTIONS: JSON.stringify({ apps: { count: n, prefix: 'corp' } }) } });
  const worker = forkWorker('scale-worker.js', { execArgv: ['--expose-gc'], timeoutMs: 180_000 });
  try {
    const info = await sim.ready;
    await worker.ready;
    const r = await worker.call('measure', { baseUrl: info.baseUrl, corpId: info.corpId, apps: info.apps, benchTime: size(400, 15), benchRounds: size(3, 1) });
    const counters = await sim.call('counters');
    report.line(
      `  ${fmtInt(r.n)} apps: start-up ${fmtMs(r.startupMs)} (1 app: ${fmtMs(r.oneAppMs)}), all warmed in ${fmtMs(r.warmMs)} ` +
        `(50 at a time; the simulator saw ${fmtInt(counters.gettoken)} gettoken: naive holders, ours, one warm-up), heap ${fmtBytes(r.bootedPerApp)}/app booted, ${fmtBytes(r.warmPerApp)}/app warm ` +
        `(naive holder ${fmtBytes(r.naivePerApp)}/app); hot path ours ${fmtNs(r.hotOurs)}, floor ${fmtNs(r.hotFloor)}`,
    );
    report.line(`  bare Nest, same provider graph, ${fmtInt(r.n)} apps: start-up ${fmtMs(r.bareStartupMs)}, heap ${fmtBytes(r.barePerApp)}/app`);
    report.line(`  the same + one moduleRef.get(token, { strict: false }) per app: start-up ${fmtMs(r.lookupStartupMs)}, heap ${fmtBytes(r.lookupPerApp)}/app`);
    report.line(`  ${fmtInt(r.quarter)} apps: start-up ${fmtMs(r.quarterStartupMs)}, heap ${fmtBytes(r.quarterPerApp)}/app booted`);
    const growth = r.bootedPerApp / r.quarterPerApp;
    if (r.n >= 100 && growth > 1.5) {
      report.note(
        `heap per app grows with the number of apps: ${fmtBytes(r.quarterPerApp)}/app with ${fmtInt(r.quarter)} apps, ` +
          `${fmtBytes(r.bootedPerApp)}/app with ${fmtInt(r.n)} (${fmtRatio(growth)}), so the total is quadratic ` +
          `(${fmtBytes(r.bootedPerApp * r.n)} for ${fmtInt(r.n)} apps), and start-up is super-linear (${fmtMs(r.quarterStartupMs)} → ${fmtMs(r.startupMs)} for 4× the apps). ` +
          `Cause: a bare Nest module with the same provider graph costs ${fmtBytes(r.barePerApp)}/app; add one ` +
          `moduleRef.get(token, { strict: false }) per app and it costs ${fmtBytes(r.lookupPerApp)}/app (both measured in this run). ` +
          `Each app's provider factory in lib/app/wecom-token.providers.ts calls ` +
          `moduleRef.get(CACHE_MANAGER / SchedulerRegistry, { strict: false }) on its own module's ModuleRef, and Nest builds ` +
          `an InstanceLinksHost (an index of every provider of every module) lazily per ModuleRef and keeps it. ` +
          `One lookup per application (e.g. optional injection of CACHE_MANAGER / SchedulerRegistry, or one resolver shared by all apps) would make it linear.`,
      );
    }
    report.row({
      figure: `${fmtInt(r.n)} apps: start-up (compile + init)`,
      ours: `${fmtMs(r.startupMs)} (${fmtMs(r.startupMs / r.n)}/app)`,
      baseline: `${fmtMs(r.bareStartupMs)} bare Nest, same graph; 1 app ${fmtMs(r.oneAppMs)}`,
      ratio: `${fmtRatio(r.startupMs / r.bareStartupMs)} ours/bare`,
      target: '—',
      met: null,
    });
    report.row({
      figure: `${fmtInt(r.n)} apps: heap per app, warm`,
      ours: fmtBytes(r.warmPerApp),
      baseline: `${fmtBytes(r.naivePerApp)} (c) naive holder; bare Nest ${fmtBytes(r.barePerApp)}`,
      ratio: `${fmtRatio(r.warmPerApp / r.naivePerApp)} ours/(c)`,
      target: '—',
      met: null,
    });
    report.row({
      figure: `${fmtInt(r.n)} apps warm: getToken() round robin`,
      ours: fmtNs(r.hotOurs),
      baseline: `${fmtNs(r.hotFloor)} (a) floor, ${fmtInt(r.n)} keys`,
      ratio: `${fmtRatio(r.hotOurs / r.hotFloor)} ours/(a)`,
      target: '≤ 1.5× (as 1.)',
      met: r.hotOurs / r.hotFloor <= 1.5,
    });
    return r;
  } finally {
    await worker.stop();
    await sim.stop();
  }
}

module.exports = { run };
