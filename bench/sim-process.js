'use strict';
/**
 * The WeCom simulator in a process of its own (forked by the interceptor and scale parts), so that its CPU time is
 * not charged to the process being measured. Options come in BENCH_SIM_OPTIONS (JSON); `apps` may be given as
 * `{ count, prefix }` to generate many apps. Answers: counters, resetCounters, setGettokenDelay, and for suites
 * (the tenants part): authoriseCorps, suiteCallback, setServiceDelay, serviceCounters; exit.
 */
const { serveWorker, testing } = require('./support');

async function main() {
  const { WeComSimulator } = testing();
  const options = JSON.parse(process.env.BENCH_SIM_OPTIONS || '{}');
  if (options.apps && !Array.isArray(options.apps)) {
    const { count, prefix } = options.apps;
    options.apps = Array.from({ length: count }, (_, i) => ({ name: `${prefix}${i}`, secret: `bench-secret-${prefix}-${i}-0123456789abcdef`, agentId: 1000000 + i }));
  }
  const sim = await WeComSimulator.start({ ...options, host: '127.0.0.1' });
  serveWorker(
    {
      counters: () => ({ gettoken: sim.gettokenCalls(), all: sim.calls() }),
      resetCounters: () => {
        sim.resetCounters();
        return true;
      },
      /** `count` authorised corps of the default suite: their corpids and permanent codes. */
      authoriseCorps: ({ count }) => Array.from({ length: count }, () => sim.authoriseCorp()),
      /** A 指令回调 as WeCom would POST it (query and encrypted body). */
      suiteCallback: ({ event }) => sim.suiteCallback(event),
      setServiceDelay: ({ ms }) => {
        sim.setServiceDelay(ms);
        return true;
      },
      serviceCounters: () => ({
        corpToken: sim.calls('/cgi-bin/service/get_corp_token'),
        suiteToken: sim.calls('/cgi-bin/service/get_suite_token'),
        peak: sim.peakServiceConcurrency(),
      }),
      setGettokenDelay: ({ ms }) => {
        sim.setGettokenDelay(ms);
        return true;
      },
    },
    () => sim.close(),
  );
  const apps = (options.apps || [{ name: 'default' }]).map((a) => a.name);
  process.send({
    ready: {
      baseUrl: sim.baseUrl,
      corpId: sim.corpId,
      suite: sim.suite(),
      apps: apps.map((name) => ({ name, secret: sim.secretOf(name), agentId: sim.app(name).agentId })),
    },
  });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
