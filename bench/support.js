'use strict';
/**
 * Shared helpers of the benchmarks: sizes (full or smoke), statistics, timing, booting a Nest application context
 * around the BUILT package, child processes that are always cleaned up, and the Redis probe.
 */
require('reflect-metadata');
const { fork } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');

const SMOKE = process.env.BENCH_SMOKE === '1' || process.argv.includes('--smoke');
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const DIST = path.resolve(__dirname, '..', 'dist');

/** Pick the full or the smoke size. */
const size = (full, smoke) => (SMOKE ? smoke : full);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Milliseconds since an arbitrary origin, sub-microsecond resolution. */
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

/** The q-quantile (0..1) of numbers, nearest-rank on a sorted copy. */
function quantile(values, q) {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank];
}
const median = (values) => quantile(values, 0.5);

/** p50 / p99 / max of latencies, plus the count. */
function latencySummary(values) {
  return { n: values.length, p50: quantile(values, 0.5), p99: quantile(values, 0.99), max: values.length ? Math.max(...values) : NaN };
}

/** Human formatting of a duration in ms: ns, µs, ms or s. */
function fmtMs(ms) {
  if (!Number.isFinite(ms)) return 'n/a';
  if (ms < 0.001) return `${(ms * 1e6).toFixed(0)} ns`;
  if (ms < 1) return `${(ms * 1e3).toFixed(ms < 0.01 ? 2 : 1)} µs`;
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}
const fmtNs = (ns) => (Number.isFinite(ns) ? (ns < 1000 ? `${ns.toFixed(1)} ns` : `${(ns / 1000).toFixed(2)} µs`) : 'n/a');
const fmtRatio = (r) => (Number.isFinite(r) ? `${r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2)}×` : 'n/a');
const fmtInt = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const fmtBytes = (b) => (Number.isFinite(b) ? (b >= 1024 * 1024 ? `${(b / 1024 / 1024).toFixed(1)} MiB` : `${(b / 1024).toFixed(1)} KiB`) : 'n/a');

/** The built package and its simulator; loaded lazily so that a missing build fails with a clear message. */
function lib() {
  try {
    return require(DIST);
  } catch (error) {
    throw new Error(`cannot load the built package at ${DIST} (run \`npm run build\` first): ${error.message}`, { cause: error });
  }
}
function testing() {
  return require(path.join(DIST, 'testing'));
}

/**
 * A Nest application context whose root module imports `imports`. Logging is off unless `logger` says otherwise:
 * the library logs refreshes at debug and failures at warn, neither of which belongs in a timing loop.
 */
async function bootContext(imports, logger = false) {
  const { Module } = require('@nestjs/common');
  const { NestFactory } = require('@nestjs/core');
  class BenchAppModule {}
  Module({ imports })(BenchAppModule);
  return NestFactory.createApplicationContext(BenchAppModule, { logger, abortOnError: false });
}

/** Options of the module for one app of a simulator: no retries to hide a failure, short timeouts. */
function appOptions(sim, extra = {}) {
  return { corpId: sim.corpId, secret: sim.secretOf(), baseUrl: sim.baseUrl, timeoutMs: 5000, ...extra };
}

// ---- child processes ----

const children = new Set();

/** Kill every child still running (by its own pid); called on exit, on error and on signals. */
function killChildren() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  children.clear();
}
process.on('exit', killChildren);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    killChildren();
    process.exit(130);
  });
}

/**
 * Fork a bench script with an IPC channel, and talk to it with request/response messages: `call(cmd, args)` sends
 * `{ id, cmd, args }` and resolves with the child's `{ id, result }` (or rejects with its `{ id, error }`), each
 * bounded by `timeoutMs`. The first message the child sends with `{ ready: … }` resolves `ready`.
 */
function forkWorker(script, { env = {}, execArgv = [], timeoutMs = 60_000 } = {}) {
  const child = fork(path.join(__dirname, script), [], {
    env: { ...process.env, ...env },
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  let nextId = 1;
  const pending = new Map();
  let readyResolve;
  let readyReject;
  const ready = new Promise((resolve, reject) => {
    readyResolve = resolve;
    readyReject = reject;
  });
  const readyTimer = setTimeout(() => readyReject(new Error(`${script} was not ready within ${timeoutMs} ms`)), timeoutMs);
  child.on('message', (message) => {
    if (message && 'ready' in message) {
      clearTimeout(readyTimer);
      readyResolve(message.ready);
      return;
    }
    const waiter = message && pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    clearTimeout(waiter.timer);
    if (message.error) waiter.reject(new Error(`${script}: ${message.error}`));
    else waiter.resolve(message.result);
  });
  child.once('exit', (code, signal) => {
    children.delete(child);
    clearTimeout(readyTimer);
    const error = new Error(`${script} exited (code ${code}, signal ${signal})`);
    readyReject(error);
    for (const waiter of pending.values()) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
    pending.clear();
  });
  ready.catch(() => undefined);
  const call = (cmd, args = {}, callTimeoutMs = timeoutMs) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`${script}: '${cmd}' did not answer within ${callTimeoutMs} ms`));
      }, callTimeoutMs);
      pending.set(id, { resolve, reject, timer });
      child.send({ id, cmd, args });
    });
  /** Ask the child to exit, and kill it if it has not within 5 s. */
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      child.send({ id: 0, cmd: 'exit', args: {} });
    } catch {
      // channel already closed
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  return { child, ready, call, stop };
}

/**
 * The child's side of forkWorker: answer `{ id, cmd, args }` with `handlers[cmd](args)`; `exit` runs `onExit` and
 * exits. The parent's death closes the IPC channel, and the child then exits too (no orphans).
 */
function serveWorker(handlers, onExit = async () => undefined) {
  const finish = async (code) => {
    try {
      await Promise.race([onExit(), sleep(3_000)]);
    } finally {
      process.exit(code);
    }
  };
  process.on('disconnect', () => void finish(0));
  process.on('message', async (message) => {
    const { id, cmd, args } = message || {};
    if (cmd === 'exit') return finish(0);
    const handler = handlers[cmd];
    try {
      if (!handler) throw new Error(`unknown command '${cmd}'`);
      const result = await handler(args || {});
      process.send({ id, result });
    } catch (error) {
      process.send({ id, error: error && error.stack ? error.stack : String(error) });
    }
  });
}

// ---- Redis ----

/** Whether Redis answers PING at `url` within 1.5 s; resolves a reason string when it does not. */
function probeRedis(url = REDIS_URL) {
  return new Promise((resolve) => {
    let parsed;
    try {
      parsed = new URL(url);
    } catch {
      resolve({ ok: false, reason: `REDIS_URL '${url}' is not a URL` });
      return;
    }
    const socket = net.connect(Number(parsed.port) || 6379, parsed.hostname.replace(/^\[|\]$/g, ''));
    const done = (result) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(1500, () => done({ ok: false, reason: `no answer from ${url} within 1.5 s` }));
    socket.on('error', (error) => done({ ok: false, reason: `${url}: ${error.code || error.message}` }));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => done(/^[+-]/.test(data.toString()) ? { ok: true } : { ok: false, reason: `${url} did not answer PING like Redis` }));
  });
}

/** The message/send body the parts post: a text message to the simulator's user zhangsan from app `agentId`. */
function textMessage(agentId, content) {
  return { touser: 'zhangsan', msgtype: 'text', agentid: agentId, text: { content } };
}

module.exports = {
  SMOKE,
  textMessage,
  REDIS_URL,
  size,
  sleep,
  nowMs,
  quantile,
  median,
  latencySummary,
  fmtMs,
  fmtNs,
  fmtRatio,
  fmtInt,
  fmtBytes,
  lib,
  testing,
  bootContext,
  appOptions,
  forkWorker,
  serveWorker,
  killChildren,
  probeRedis,
};
