'use strict';
/**
 * 2. Herd: N concurrent callers on a cold cache; gettoken calls counted by the simulator. Each contender starts
 * cold for each N (a fresh application context, a fresh cache, a fresh holder class). gettoken answers after
 * 20 ms, as a real round trip would, so that the callers overlap the fetch.
 */
const { createNaiveHolder, createWrapHolder } = require('./baselines');
const { appOptions, bootContext, fmtInt, fmtMs, fmtRatio, lib, nowMs, size, testing } = require('./support');

const GETTOKEN_DELAY_MS = 20;

/** Fire n getToken() at once; the number of gettoken calls it caused, the distinct tokens and the time. */
async function herd(sim, n, getToken) {
  sim.resetCounters();
  const t0 = nowMs();
  const results = await Promise.allSettled(Array.from({ length: n }, () => getToken()));
  const ms = nowMs() - t0;
  const tokens = new Set(results.filter((r) => r.status === 'fulfilled').map((r) => r.value));
  const failed = results.filter((r) => r.status === 'rejected').length;
  return { calls: sim.gettokenCalls(), tokens: tokens.size, failed, ms };
}

async function run(report) {
  const { AccessTokenService, WeComTokenModule } = lib();
  const { WeComSimulator } = testing();
  const sim = await WeComSimulator.start();
  sim.setGettokenDelay(GETTOKEN_DELAY_MS);
  const holderOptions = { baseUrl: sim.baseUrl, corpId: sim.corpId, secret: sim.secretOf() };
  try {
    for (const n of size([1, 10, 100, 1_000, 10_000], [1, 10, 100])) {
      const app = await bootContext([WeComTokenModule.forRoot(appOptions(sim))]);
      let ours;
      try {
        const tokens = app.get(AccessTokenService);
        ours = await herd(sim, n, () => tokens.getToken());
      } finally {
        await app.close();
      }
      const wrap = createWrapHolder(holderOptions);
      const b = await herd(sim, n, () => wrap.getToken()).finally(() => wrap.close());
      const naive = createNaiveHolder(holderOptions);
      const c = await herd(sim, n, () => naive.getToken()).finally(() => naive.close());

      const describe = (r) => `${fmtInt(r.calls)} gettoken, ${fmtMs(r.ms)}${r.failed ? `, ${r.failed} failed` : ''}${r.tokens > 1 ? `, ${r.tokens} tokens` : ''}`;
      report.line(`  N=${fmtInt(n)}: ours ${describe(ours)}; (b) wrap ${describe(b)}; (c) naive ${describe(c)}`);
      report.row({
        figure: `N=${fmtInt(n)} cold callers: gettoken calls`,
        ours: `${fmtInt(ours.calls)} (all in ${fmtMs(ours.ms)})`,
        baseline: `(b) ${fmtInt(b.calls)}, (c) ${fmtInt(c.calls)}`,
        ratio: `(c)/ours ${fmtRatio(c.calls / ours.calls)}`,
        target: '1',
        met: ours.calls === 1 && ours.failed === 0 && ours.tokens === 1,
      });
    }
    report.note(
      `cache-manager 7's wrap coalesces concurrent calls of one key within one cache instance (@cacheable/utils ` +
        `coalesceAsync), so (b) also fetches once per process; the naive holder (c) fetches once per caller. ` +
        `gettoken answered after ${GETTOKEN_DELAY_MS} ms; the baselines' HTTP agent caps sockets at 256 (queued requests still count).`,
    );
  } finally {
    await sim.close();
  }
}

module.exports = { run };
