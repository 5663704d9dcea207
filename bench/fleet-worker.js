'use strict';
/**
 * One instance of a fleet (forked by bench/fleet.js): the BUILT package, a Nest application context with named
 * apps that share Redis through @keyv/redis + cache-manager, some also with RedisTokenLock (`locked: true`), the
 * others with the default in-process lock (the baseline). Each app has its own corp or secret, so no two share a
 * cache key. Configuration in BENCH_FLEET (JSON): { redisUrl, apps: { name: { corpId, secret, baseUrl, locked } } }.
 */
const { bootContext, nowMs, serveWorker, lib } = require('./support');

/** Keeps the warnings and errors the library logs, so the parent can report them instead of scrolling them by. */
class KeepingLogger {
  constructor() {
    this.lines = [];
  }
  keep(level, message) {
    if (this.lines.length < 100) this.lines.push(`${level} ${typeof message === 'string' ? message : String(message)}`);
  }
  log() {}
  debug() {}
  verbose() {}
  warn(message) {
    this.keep('warn', message);
  }
  error(message) {
    this.keep('error', message);
  }
  fatal(message) {
    this.keep('fatal', message);
  }
}

async function main() {
  const config = JSON.parse(process.env.BENCH_FLEET);
  const { createKeyv } = require('@keyv/redis');
  const { createCache } = require('cache-manager');
  const { RedisTokenLock, WeComTokenModule, getAccessTokenServiceToken, getWeComClientToken } = lib();

  const t0 = nowMs();
  // The README's recipe: Keyv on Redis without a namespace (the entry sits under the documented key), no offline
  // queue and errors surfaced, so that an outage fails fast instead of queueing.
  const keyv = createKeyv({ url: config.redisUrl, disableOfflineQueue: true }, { throwOnErrors: true });
  const cache = createCache({ stores: [keyv] });
  const lock = new RedisTokenLock({ url: config.redisUrl });
  const common = { timeoutMs: 5_000, cacheTimeoutMs: 1_000, retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 20 }, cache };
  const names = Object.keys(config.apps);
  const logger = new KeepingLogger();
  const app = await bootContext(
    names.map((name) => {
      const { locked, ...options } = config.apps[name];
      return WeComTokenModule.forRoot({ name, ...options, ...common, ...(locked ? { lock } : {}) });
    }),
    logger,
  );
  // Connect both Redis clients before the measurement (they connect lazily on first use otherwise), so that the
  // cold start measures coordination, not TCP handshakes.
  await keyv.get('wecom:bench:warm-up');
  const release = await lock.acquire(`wecom:bench:warm-up:${process.pid}`, 1_000);
  if (release) await release();
  const bootMs = nowMs() - t0;
  const services = Object.fromEntries(names.map((name) => [name, app.get(getAccessTokenServiceToken(name))]));
  const clients = Object.fromEntries(names.map((name) => [name, app.get(getWeComClientToken(name))]));
  // Diagnostics of the lock's waiters (bench only, through the engine's internals): when the holder's announcement
  // arrived, how many pauses the waiter slept, and whether each ended by the announcement or by its timer.
  const probes = Object.fromEntries(names.map((name) => [name, { t0: 0, announcedMs: undefined, pauses: 0, woken: 0, timedOut: 0, lost: 0, pausedMs: 0, obtains: 0 }]));
  for (const name of names) {
    const coordinator = services[name].credential && services[name].credential.coordinator;
    if (!coordinator || typeof coordinator.pauseOrWake !== 'function') continue;
    const probe = probes[name];
    const entryWritten = coordinator.entryWritten.bind(coordinator);
    coordinator.entryWritten = () => {
      if (probe.announcedMs === undefined) probe.announcedMs = nowMs() - probe.t0;
      entryWritten();
    };
    const invalidate = services[name].credential.invalidate.bind(services[name].credential);
    services[name].credential.invalidate = (...args) => {
      if (probe.rejectedMs === undefined) probe.rejectedMs = nowMs() - probe.t0;
      return invalidate(...args);
    };
    const pauseOrWake = coordinator.pauseOrWake.bind(coordinator);
    coordinator.pauseOrWake = async (...args) => {
      const t = nowMs();
      probe.pauses++;
      let woken = false;
      const wakeBefore = coordinator.wake;
      const p = pauseOrWake(...args);
      const wake = coordinator.wake;
      // A pause that did not install a wake (it knew of the write already) counts as woken.
      if (wake !== wakeBefore) coordinator.wake = () => ((woken = true), wake());
      else woken = true;
      await p;
      probe.pausedMs += nowMs() - t;
      if (woken) probe.woken++;
      else probe.timedOut++;
      // Slept to its timer although the holder's announcement had arrived before it ended: a lost wakeup.
      if (!woken && probe.announcedMs !== undefined && probe.t0 + probe.announcedMs < nowMs() - 1) probe.lost++;
    };
  }
  const describe = (error) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

  async function settle(n, fn) {
    const t = nowMs();
    const results = await Promise.allSettled(Array.from({ length: n }, fn));
    const ms = nowMs() - t;
    const failures = results.filter((r) => r.status === 'rejected').map((r) => describe(r.reason));
    const values = results.filter((r) => r.status === 'fulfilled').map((r) => r.value);
    return { ok: values.length, failed: failures.length, failures: failures.slice(0, 3), ms, values };
  }

  serveWorker(
    {
      /** The warnings and errors logged since the last call. */
      logs() {
        return logger.lines.splice(0);
      },
      /** Forget app `app`'s token, here and in the shared cache (before another cold start). */
      async forget({ app: name }) {
        await services[name].invalidate();
        return true;
      },
      /** n concurrent getToken() on app `app`. */
      async cold({ app: name, n }) {
        const probe = probes[name];
        Object.assign(probe, { t0: nowMs(), rejectedMs: undefined, announcedMs: undefined, pauses: 0, woken: 0, timedOut: 0, lost: 0, pausedMs: 0 });
        const cpu0 = process.cpuUsage();
        const r = await settle(n, () => services[name].getToken());
        const cpu = process.cpuUsage(cpu0);
        return { ok: r.ok, failed: r.failed, failures: r.failures, ms: r.ms, tokens: [...new Set(r.values)], cpuMs: (cpu.user + cpu.system) / 1000, probe: { ...probe } };
      },
      /** n concurrent message/send through WeComClient of app `app` (each replayed once after a 40014). */
      async wave({ app: name, n, body }) {
        // Also: how long until this process holds a token other than the revoked one (sampled every 2 ms).
        const before = services[name].peek()?.token;
        const t = nowMs();
        const probe = probes[name];
        Object.assign(probe, { t0: t, rejectedMs: undefined, announcedMs: undefined, pauses: 0, woken: 0, timedOut: 0, lost: 0, pausedMs: 0 });
        const cpu0 = process.cpuUsage();
        const { monitorEventLoopDelay } = require('node:perf_hooks');
        const loop = monitorEventLoopDelay({ resolution: 5 });
        loop.enable();
        let adoptedMs;
        const sampler = setInterval(() => {
          const now = services[name].peek()?.token;
          if (adoptedMs === undefined && now !== undefined && now !== before) adoptedMs = nowMs() - t;
        }, 2);
        try {
          const r = await settle(n, () => clients[name].post('/cgi-bin/message/send', body));
          const cpu = process.cpuUsage(cpu0);
          return {
            ok: r.ok,
            failed: r.failed,
            failures: r.failures,
            ms: r.ms,
            adoptedMs: adoptedMs ?? r.ms,
            cpuMs: (cpu.user + cpu.system) / 1000,
            loopMaxMs: loop.max / 1e6,
            probe: { ...probe },
          };
        } finally {
          loop.disable();
          clearInterval(sampler);
        }
      },
    },
    async () => {
      await app.close();
      await lock.close();
      await keyv.disconnect().catch(() => undefined);
    },
  );
  process.send({ ready: { bootMs } });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
