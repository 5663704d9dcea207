'use strict';
/**
 * 8. Tenants: one suite with 10,000 authorised corps (the simulator, in a process of its own, answers every
 * /cgi-bin/service/* request after 20 ms). In one process (forked with --expose-gc): the cold fetch of every corp's
 * token with the module's bounded concurrency, against a hand-written pool of 16 axios workers doing the same
 * requests; heap per idle corp against a naive Map and against its measured floor (each token and its cache entry,
 * copies in a cache-manager cache of its own), target ≤ 1 KiB; warm getCorpToken() round robin against the floor
 * with as many keys. The app registry (bench/tenants-registry.js) in the same process: as many apps as corps
 * registered, each token held: heap per idle app against the same kind of floor (≤ 1 KiB); warm
 * `(await registry.tokens(key)).getToken()` and `registry.getToken(key)` round robin against the floor (≤ 1.5×).
 * In a fresh process, 100,000 distinct unknown ids asked once each (registry keys, suite corps with no permanent
 * code): heap after GC after them against before (flat: growth < 1 MiB). Then a fleet of 4 processes sharing Redis
 * (RedisTokenLock) asks for every corp at once: get_corp_token calls counted by the simulator, against the number
 * of corps. The fleet is skipped, and says why, without Redis.
 */
const { REDIS_URL, fmtBytes, fmtInt, fmtMs, fmtNs, fmtRatio, forkWorker, probeRedis, size } = require('./support');

const SERVICE_DELAY_MS = 20;
/** The module's bound on one suite's credential requests in flight (lib/suite: FetchLimit of 16). */
const BOUND = 16;

async function run(report) {
  const runId = `${process.pid}x${Date.now().toString(36)}`;
  // BENCH_TENANTS_CORPS and BENCH_TENANTS_TIMEOUT_MS (the module's timeoutMs, 10,000 by default) for investigations.
  const corps = Number(process.env.BENCH_TENANTS_CORPS) || size(10_000, 200);
  const timeoutMs = Number(process.env.BENCH_TENANTS_TIMEOUT_MS) || 10_000;
  const sim = forkWorker('sim-process.js', {
    env: {
      BENCH_SIM_OPTIONS: JSON.stringify({
        suites: [{ suiteId: `wwbenchsuite${runId}`, suiteSecret: `bench-suite-secret-${runId}` }],
        // The first app is the worker's static app (the getToken() reference); the others are registry apps.
        apps: { count: corps + 1, prefix: 'tenant' },
      }),
    },
    timeoutMs: 120_000,
  });
  const workers = [];
  try {
    const info = await sim.ready;
    const list = await sim.call('authoriseCorps', { count: corps });
    await sim.call('setServiceDelay', { ms: SERVICE_DELAY_MS });
    const env = (extra = {}) => ({
      BENCH_TENANTS: JSON.stringify({ baseUrl: info.baseUrl, corpId: info.corpId, secret: info.apps[0].secret, suite: info.suite, timeoutMs, ...extra }),
    });
    const one = forkWorker('tenants-worker.js', { env: env(), execArgv: ['--expose-gc'], timeoutMs: 120_000 });
    workers.push(one);
    await one.ready;
    await one.call('codes', { corps: list });
    const ticket = await sim.call('suiteCallback', { event: 'suite_ticket' });
    await one.call('deliver', ticket);
    await one.call('warmUp');

    // Cold: every corp at once through the module, then the same requests by a hand-written pool of 16.
    const before = await sim.call('serviceCounters');
    const cold = await one.call('coldAll', {}, 300_000);
    const afterOurs = await sim.call('serviceCounters');
    const calls = afterOurs.corpToken - before.corpToken;
    const heap = await one.call('heap');
    const hand = await one.call('handPool', { concurrency: BOUND }, 300_000);
    const afterHand = await sim.call('serviceCounters');
    const floorMs = Math.ceil(corps / BOUND) * SERVICE_DELAY_MS;
    report.line(
      `  ${fmtInt(corps)} corps, get_corp_token answered after ${SERVICE_DELAY_MS} ms: ours ${fmtMs(cold.ms)} (${fmtInt(calls)} calls, ` +
        `${cold.failed} failed, ${fmtInt(cold.distinct)} distinct tokens, peak ${afterOurs.peak} requests at the simulator, ` +
        `peak ${cold.peakSockets} TCP sockets in the process, CPU ${fmtMs(cold.cpuMs)}; fetch attempts: ${cold.attempts.ok} ok, ` +
        `${cold.attempts.error} failed ${JSON.stringify(cold.attempts.errors)}); hand-written pool of ${BOUND}: ${fmtMs(hand.ms)} ` +
        `(${fmtInt(afterHand.corpToken - afterOurs.corpToken)} calls, ${hand.failed} failed, peak ${hand.peakSockets} sockets, CPU ${fmtMs(hand.cpuMs)}); ` +
        `floor ${fmtInt(Math.ceil(corps / BOUND))} × ${SERVICE_DELAY_MS} ms = ${fmtMs(floorMs)}`,
    );
    for (const f of cold.failures) report.line(`    failure: ${f}`);
    for (const [k, n] of Object.entries(cold.logged)) report.line(`    logged ${n} × "${k}"`);
    report.row({
      figure: `cold fetch of ${fmtInt(corps)} corps (bounded concurrency)`,
      ours: `${fmtMs(cold.ms)}, ${fmtInt(calls)} calls, ${cold.failed} failed, peak ${afterOurs.peak} in flight / ${cold.peakSockets} sockets`,
      baseline: `${fmtMs(hand.ms)} hand-written pool of ${BOUND} (peak ${hand.peakSockets} sockets)`,
      ratio: `${fmtRatio(cold.ms / hand.ms)} ours/pool`,
      target: `0 failed, 1 call per corp, ≤ ${BOUND} in flight`,
      met: cold.failed === 0 && calls === corps && cold.distinct === corps && afterOurs.peak <= BOUND,
    });
    if (cold.attempts.error > 0) {
      report.note(
        `one process: ${fmtInt(cold.attempts.error)} corp_access_token fetch attempts failed without an errcode ` +
          `(${JSON.stringify(cold.attempts.errors)}) and were retried (${fmtInt(calls - corps)} extra calls, peak ${cold.peakSockets} sockets): ` +
          `each fetch's deadline (timeoutMs, ${fmtInt(timeoutMs)} ms) starts when the corp's load holds one of the ${BOUND} slots ` +
          `(lib/engine/credential.ts, loadLimit), so these are requests that did not complete in time once sent.`,
      );
    } else if (cold.ms > timeoutMs) {
      report.note(
        `one process: the cold fetch took ${fmtMs(cold.ms)}, longer than timeoutMs (${fmtInt(timeoutMs)} ms), and no fetch attempt ` +
          `timed out: as designed, a corp's deadline starts when its load holds one of the ${BOUND} slots (lib/engine/credential.ts, ` +
          `loadLimit), not while it queues.`,
      );
    }
    const perCorp = heap.ours / heap.corps;
    const naivePerCorp = heap.naive / heap.corps;
    const floorPerCorp = heap.floor / heap.corps;
    report.row({
      figure: `heap per idle corp (${fmtInt(corps)} corps, after GC)`,
      ours: fmtBytes(perCorp),
      baseline: `${fmtBytes(naivePerCorp)} naive Map corpId → { token, expiresAt }; floor ${fmtBytes(floorPerCorp)} (token + its cache-manager entry)`,
      ratio: `${fmtRatio(perCorp / naivePerCorp)} ours/naive, ${fmtRatio(perCorp / floorPerCorp)} ours/floor`,
      target: '≤ 1 KiB',
      met: perCorp <= 1024,
    });

    const warm = await one.call('warm', { time: size(400, 15), rounds: size(9, 1) }, 300_000);
    const afterWarm = await sim.call('serviceCounters');
    if (afterWarm.corpToken !== afterHand.corpToken) throw new Error('tenants: a warm getCorpToken() fetched');
    report.line(
      `  warm ns/op, round robin over ${fmtInt(corps)} corps: getCorpToken ${fmtNs(warm.getCorpToken)}, floor ${fmtNs(warm['floor (a)'])}, getToken ${fmtNs(warm.getToken)}`,
    );
    report.row({
      figure: `getCorpToken() warm, round robin over ${fmtInt(corps)} corps, vs (a) floor`,
      ours: fmtNs(warm.getCorpToken),
      baseline: `${fmtNs(warm['floor (a)'])} (a), ${fmtInt(corps)} keys; getToken() ${fmtNs(warm.getToken)}`,
      ratio: `${fmtRatio(warm.getCorpToken / warm['floor (a)'])} ours/(a)`,
      target: '≤ 1.5× (as 1.)',
      met: warm.getCorpToken / warm['floor (a)'] <= 1.5,
    });

    await registryRows(report, { one, sim, apps: info.apps.slice(1), afterWarm });
    await one.stop();
    workers.length = 0;

    // 100,000 distinct unknown ids, in a fresh process (no corp held, so none is evicted to make room).
    const two = forkWorker('tenants-worker.js', { env: env(), execArgv: ['--expose-gc'], timeoutMs: 120_000 });
    workers.push(two);
    await two.ready;
    await two.call('codes', { corps: [] });
    await two.call('deliver', await sim.call('suiteCallback', { event: 'suite_ticket' }));
    await two.call('warmUp');
    await unknownRows(report, await two.call('unknownIds', { count: size(100_000, 2_000) }, 300_000));
    await two.stop();
    workers.length = 0;

    // A fleet of 4 sharing Redis: every process asks for every corp at once.
    const probe = await probeRedis(REDIS_URL);
    const p = size(4, 2);
    if (!probe.ok) {
      report.line(`  fleet SKIPPED: Redis is unreachable (${probe.reason})`);
      report.row({ figure: `fleet of ${p}: get_corp_token calls`, ours: 'skipped: Redis unreachable', baseline: REDIS_URL, ratio: '', target: `${fmtInt(corps)}`, met: null });
      return;
    }
    for (let i = 0; i < p; i++) workers.push(forkWorker('tenants-worker.js', { env: env({ redisUrl: REDIS_URL }), execArgv: ['--expose-gc'], timeoutMs: 120_000 }));
    await Promise.all(workers.map((w) => w.ready));
    await Promise.all(workers.map((w) => w.call('codes', { corps: list })));
    // The suite_ticket arrives at one instance (WeCom pushes it to one), which shares it through the cache.
    await workers[0].call('deliver', await sim.call('suiteCallback', { event: 'suite_ticket' }));
    await Promise.all(workers.map((w) => w.call('warmUp')));
    const fleetBefore = await sim.call('serviceCounters');
    const fleet = await Promise.all(workers.map((w) => w.call('coldAll', {}, 300_000)));
    const fleetAfter = await sim.call('serviceCounters');
    const fleetCalls = fleetAfter.corpToken - fleetBefore.corpToken;
    const fleetMs = Math.max(...fleet.map((r) => r.ms));
    const fleetFailed = fleet.reduce((sum, r) => sum + r.failed, 0);
    report.line(
      `  fleet of ${p} on Redis: ${fmtInt(fleetCalls)} get_corp_token calls for ${fmtInt(corps)} corps, all served after ${fmtMs(fleetMs)} ` +
        `(${fleetFailed} failed; per process ${fleet.map((r) => `${fmtMs(r.ms)}, CPU ${fmtMs(r.cpuMs)}`).join(' | ')})`,
    );
    for (const f of fleet.flatMap((r) => r.failures).slice(0, 3)) report.line(`    failure: ${f}`);
    for (const [i, r] of fleet.entries()) {
      const logged = Object.entries(r.logged);
      if (logged.length) report.line(`    process ${i + 1} logged: ${logged.map(([k, n]) => `${n} × "${k}"`).join('; ')}`);
      if (r.attempts.error) report.line(`    process ${i + 1} fetch attempts: ${r.attempts.ok} ok, ${r.attempts.error} failed ${JSON.stringify(r.attempts.errors)}`);
    }
    report.row({
      figure: `fleet of ${p} on Redis, every process asks for all ${fmtInt(corps)} corps: get_corp_token calls`,
      ours: `${fmtInt(fleetCalls)} (all served in ${fmtMs(fleetMs)}, ${fleetFailed} failed)`,
      baseline: `${fmtInt(corps)} corps; one process alone ${fmtMs(cold.ms)}`,
      ratio: `${fmtRatio(fleetCalls / corps)} calls/corp, time ${fmtRatio(fleetMs / cold.ms)} of one process`,
      target: `exactly ${fmtInt(corps)}`,
      met: fleetCalls === corps && fleetFailed === 0,
    });
    if (fleetCalls !== corps || fleetFailed > 0) {
      const logged = {};
      for (const r of fleet) for (const [k, n] of Object.entries(r.logged)) logged[k] = (logged[k] || 0) + n;
      const top = Object.entries(logged)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 3);
      report.note(
        `fleet of ${p}: ${fmtInt(fleetCalls)} get_corp_token calls for ${fmtInt(corps)} corps and ${fleetFailed} failed callers. The processes logged ` +
          `${top.map(([k, n]) => `${fmtInt(n)} × "${k}"`).join(', ')}. Each corp's whole load (cache read, lease, request, write) runs ` +
          `inside one of the suite's ${BOUND} slots (lib/engine/credential.ts, loadLimit); more calls than corps mean instances gave up ` +
          `on the shared cache or the lock (the warnings above) and fetched for themselves.`,
      );
    }
    report.note(
      `the simulator runs in a process of its own and holds every /cgi-bin/service/* answer for ${SERVICE_DELAY_MS} ms; the floor of the cold ` +
        `fetch is ceil(${fmtInt(corps)} / ${BOUND}) × ${SERVICE_DELAY_MS} ms = ${fmtMs(floorMs)}. Heap per idle corp: the process's heap after GC with ` +
        `every corp's token held and idle, minus the heap after GC before the first corp token (the permanent codes, the suite and ` +
        `the app token already there), per corp; it includes the corp's entry in the suite's in-memory shared cache. The naive Map ` +
        `holds copies of the same token strings; the floor is copies of each token and of its cache entry in a cache-manager cache ` +
        `of its own (what any holder that shares tokens through cache-manager keeps). Peak sockets: TCP handles of the ` +
        `process, sampled every 2 ms (the Redis clients included in the fleet).`,
    );
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await sim.stop();
  }
}

/** (a) warm registry round robin against the floor, (b) heap per idle registry app against its measured floor. */
async function registryRows(report, { one, sim, apps, afterWarm }) {
  const heap = await one.call('registryApps', { apps }, 300_000);
  const perApp = heap.ours / heap.apps;
  const floorPerApp = heap.floor / heap.apps;
  report.line(
    `  registry: ${fmtInt(heap.apps)} apps, each token held: heap ${fmtBytes(perApp)} per app (${fmtBytes(heap.registered / heap.apps)} of it ` +
      `registered, before any token); floor (token of ${Math.round(heap.tokenChars)} chars and its cache-manager entry under a key of ` +
      `${Math.round(heap.keyChars)} chars, copies) ${fmtBytes(floorPerApp)} per app`,
  );
  report.row({
    figure: `heap per idle registry app (${fmtInt(heap.apps)} apps, token held, after GC)`,
    ours: `${fmtBytes(perApp)} (${fmtBytes(heap.registered / heap.apps)} before any token)`,
    baseline: `${fmtBytes(floorPerApp)} measured floor: token + its cache-manager entry`,
    ratio: `${fmtRatio(perApp / floorPerApp)} ours/floor`,
    target: '≤ 1 KiB',
    met: perApp <= 1024,
  });
  const before = await sim.call('serviceCounters');
  const warm = await one.call('registryWarm', { time: size(400, 15), rounds: size(9, 1) }, 300_000);
  if ((await sim.call('serviceCounters')).corpToken !== before.corpToken || before.corpToken !== afterWarm.corpToken) throw new Error('tenants: registry warm fetched');
  const floor = warm['floor (a)'];
  const ours = warm['registry tokens(key).getToken()'];
  const direct = warm['registry getToken(key)'];
  report.line(
    `  warm ns/op, round robin over ${fmtInt(heap.apps)} registry apps: (await tokens(key)).getToken() ${fmtNs(ours)}, ` + `getToken(key) ${fmtNs(direct)}, floor ${fmtNs(floor)}`,
  );
  report.row({
    figure: `registry (await tokens(key)).getToken() warm, round robin over ${fmtInt(heap.apps)} apps, vs (a) floor`,
    ours: fmtNs(ours),
    baseline: `${fmtNs(floor)} (a), ${fmtInt(heap.apps)} keys`,
    ratio: `${fmtRatio(ours / floor)} ours/(a)`,
    target: '≤ 1.5× (as 1.)',
    met: ours / floor <= 1.5,
  });
  report.row({
    figure: `registry getToken(key) warm, round robin over ${fmtInt(heap.apps)} apps, vs (a) floor`,
    ours: fmtNs(direct),
    baseline: `${fmtNs(floor)} (a), ${fmtInt(heap.apps)} keys`,
    ratio: `${fmtRatio(direct / floor)} ours/(a)`,
    target: '≤ 1.5× (as 1.)',
    met: direct / floor <= 1.5,
  });
  if (ours / floor > 1.5) {
    report.note(
      `registry: (await tokens(key)).getToken() is two awaited promises and an async function's promise (the await of ` +
        `tokens(), getToken()'s promise returned through the function: three extra microtask hops over the floor's one); ` +
        `registry.getToken(key) is the same lookup with one promise, as a static app's getToken().`,
    );
  }
  report.note(
    `registry heap: the worker's heap after GC with ${fmtInt(heap.apps)} apps registered (WeComTokenModule.forRegistry, no loader) ` +
      `and each one's token held and idle, minus the heap after GC before the first register(), per app; "before any token" is the ` +
      `same after register() alone. It includes each app's entry in the registry's in-memory shared cache. Floor, measured in the ` +
      `same process: copies of each token and of its cache entry in a cache-manager cache of its own, ${fmtBytes(floorPerApp)} per app. ` +
      (perApp > 1024
        ? `Over 1 KiB: the ${fmtBytes(perApp - floorPerApp)} above the floor are the app's own objects: its resolved config (Secret, ` +
          `cache key, name), its AccessTokenService with the engine's credential (spec, store, coordinator, fetch budget, the held entry ` +
          `with its three timestamps) and the registry's entry and recover closure; each was cut down (shared gettoken client, logger, ` +
          `egress, retry policy and no-op schedule; fixed-shape spec and config; shutdown controller, rejected-values map, budget ` +
          `arrays built on first use), what remains is per-app state the engine's behaviour needs.`
        : 'At or under 1 KiB.'),
  );
  return heap;
}

/** (c) the heap after GC after `count` distinct unknown ids asked once each, registry keys and suite corp ids. */
async function unknownRows(report, result) {
  const MiB = 1024 * 1024;
  for (const [name, r, held] of [
    ['registry tokens(key), unknown keys', result.registry, `${fmtInt(result.registry.size)} apps held`],
    ['suite getCorpToken(id), corps with no permanent code', result.suite, `${fmtInt(result.suite.corps)} corp credentials held`],
  ]) {
    const growth = r.after - r.before;
    report.line(`  ${fmtInt(result.count)} distinct ids, ${name}: heap after GC ${fmtBytes(r.before)} → ${fmtBytes(r.after)}; ${held}; answers ${JSON.stringify(r.reasons)}`);
    report.row({
      figure: `heap growth after ${fmtInt(result.count)} distinct ${name}, once each (after GC)`,
      ours: `${growth < 0 ? '-' : ''}${fmtBytes(Math.abs(growth))} (${fmtBytes(r.before)} → ${fmtBytes(r.after)})`,
      baseline: `${fmtBytes(r.before)} before`,
      ratio: `${fmtRatio(r.after / r.before)} after/before`,
      target: 'flat: growth < 1 MiB',
      met: growth < MiB,
    });
  }
  report.note(
    `unknown ids: a fresh worker (no corp held, so none is evicted to make room) asks ${fmtInt(result.count)} distinct ids once each, ` +
      `500 at a time: registry.tokens('unknown-…') (no app registered, no loader) and getCorpToken('wwunknown…') (no permanent code). ` +
      `Heap after GC after them, minus the heap after GC before them (after up to 1,000 warm-up ids, so that bounded memories are at their ` +
      `level). Bounded by design: at most 1,000 unknown registry keys remembered for 10 s, the suite drops an unknown corp's ` +
      `credential once its callers have their answer, InProcessTokenLock forgets expired leases.`,
  );
}

module.exports = { run };
