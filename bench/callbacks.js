'use strict';
/**
 * 9. Callbacks: an app's 接收消息 URL on one core. Deliveries per second through WeComCallbackService.handle()
 * (size, timestamp, signature before any XML, decrypt, receiver, parse, the delivery ledger, one handler run) for
 * distinct 1 KiB events, with the ledger in process and on the shared cache + lock in Redis, against the same work
 * written by hand with @wecom/crypto and fast-xml-parser (parse the envelope, verify, decrypt, parse the event,
 * remember its hash in a Set); and the cost of refusing an unsigned 1 MiB body. Every delivery is handled
 * sequentially (awaited), so the figures are one core's; each run's handler count is checked against the
 * deliveries sent, so a figure never comes from refusals.
 */
const { createHash } = require('node:crypto');
const { Injectable, Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { appOptions, fmtInt, fmtRatio, lib, median, probeRedis, size, testing } = require('./support');

/** A change_contact event whose decrypted XML is about 1 KiB. */
function events(sender, count, tag) {
  const out = [];
  for (let i = 0; i < count; i++) {
    const xml = sender.xml({
      type: 'change_contact',
      changeType: 'update_user',
      userId: `u${tag}${i}`,
      fields: { Name: `member ${i}`, Position: 'x'.repeat(760), Mobile: '13800000000' },
    });
    out.push(sender.envelope(xml));
  }
  return out;
}

async function bootCallbacks(sim, sender, extra) {
  const { OnWeComCallback, WeComCallbackService, WeComTokenModule } = lib();
  const counter = { runs: 0 };
  class BenchHandlers {
    onChange() {
      counter.runs++;
    }
  }
  OnWeComCallback({ event: 'change_contact' })(BenchHandlers.prototype, 'onChange', Object.getOwnPropertyDescriptor(BenchHandlers.prototype, 'onChange'));
  Injectable()(BenchHandlers);
  const callback = { token: sender.settings.token, encodingAESKey: sender.settings.encodingAESKey };
  class BenchCallbackModule {}
  Module({ imports: [WeComTokenModule.forRoot({ ...appOptions(sim), callback, ...extra })], providers: [BenchHandlers] })(BenchCallbackModule);
  const app = await NestFactory.createApplicationContext(BenchCallbackModule, { logger: false, abortOnError: false });
  return { app, service: app.get(WeComCallbackService), counter };
}

/** Seconds for `deliveries`, handled one after another by `handle`. */
async function timeSequential(deliveries, handle) {
  const t0 = process.hrtime.bigint();
  for (const d of deliveries) await handle(d);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function handWritten(sender) {
  const { decrypt, getSignature } = require('@wecom/crypto');
  const { XMLParser } = require('fast-xml-parser');
  const parser = new XMLParser({ ignoreDeclaration: true, parseTagValue: false });
  const { token, encodingAESKey } = sender.settings;
  const seen = new Set();
  let runs = 0;
  const handle = async ({ query, body }) => {
    const envelope = parser.parse(body).xml;
    if (getSignature(token, query.timestamp, query.nonce, envelope.Encrypt) !== query.msg_signature) throw new Error('signature');
    const { message, id } = decrypt(encodingAESKey, envelope.Encrypt);
    if (id !== sender.settings.corpId) throw new Error('receiver');
    const event = parser.parse(message).xml;
    const key = createHash('sha256').update(message).digest('hex');
    if (seen.has(key)) return 'success';
    seen.add(key);
    if (event.Event === 'change_contact') runs++;
    return 'success';
  };
  return { handle, runs: () => runs };
}

async function throughput(report, sim, sender) {
  const n = size(6_000, 200);
  const rounds = size(5, 1);
  const { app, service, counter } = await bootCallbacks(sim, sender, {});
  const hand = handWritten(sender);
  const ours = [];
  const theirs = [];
  try {
    // Warm-up of both paths (JIT), deliveries not reused afterwards.
    for (const d of events(sender, size(500, 20), 'w')) await service.handle(d.query, d.body);
    for (const d of events(sender, size(500, 20), 'h')) await hand.handle(d);
    for (let r = 0; r < rounds; r++) {
      const forUs = events(sender, n, `o${r}-`);
      const forHand = events(sender, n, `h${r}-`);
      const runs0 = counter.runs;
      const handRuns0 = hand.runs();
      const order = r % 2 === 0 ? ['ours', 'hand'] : ['hand', 'ours'];
      for (const who of order) {
        if (who === 'ours') ours.push(n / (await timeSequential(forUs, (d) => service.handle(d.query, d.body))));
        else theirs.push(n / (await timeSequential(forHand, hand.handle)));
      }
      if (counter.runs - runs0 !== n || hand.runs() - handRuns0 !== n) throw new Error(`callbacks: ${counter.runs - runs0} runs of ${n} (hand ${hand.runs() - handRuns0})`);
      // Each delivery again: answered 'success', the handler does not run a second time.
      for (const d of forUs.slice(0, 50)) if ((await service.handle(d.query, d.body)) !== 'success') throw new Error('callbacks: a repeat was not acknowledged');
      if (counter.runs - runs0 !== n) throw new Error('callbacks: a repeated delivery ran its handler again');
    }
  } finally {
    await app.close();
  }
  const oursPs = median(ours);
  const handPs = median(theirs);
  report.line(`  in process: ${fmtInt(oursPs)}/s ours, ${fmtInt(handPs)}/s hand-written (medians of ${rounds} rounds of ${fmtInt(n)} distinct 1 KiB events)`);
  report.row({
    figure: 'deliveries per second, one core: verify + decrypt + parse + dedup in process (1 KiB event)',
    ours: `${fmtInt(oursPs)}/s`,
    baseline: `${fmtInt(handPs)}/s @wecom/crypto + fast-xml-parser + Set, by hand`,
    ratio: `${fmtRatio(oursPs / handPs)} ours/hand`,
    target: '≥ 0.8×',
    met: oursPs / handPs >= 0.8,
  });
  return oursPs;
}

async function onRedis(report, sim, sender, inProcess) {
  const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  const probe = await probeRedis(redisUrl);
  if (!probe.ok) {
    if (process.env.CI === 'true') throw new Error(`callbacks: Redis at ${redisUrl} is unreachable under CI=true (${probe.reason})`);
    report.line(`  SKIPPED: the Redis ledger (Redis at ${redisUrl} unreachable: ${probe.reason})`);
    return;
  }
  const { createKeyv } = require('@keyv/redis');
  const { createCache } = require('cache-manager');
  const { RedisTokenLock } = lib();
  const keyv = createKeyv({ url: redisUrl }, { throwOnErrors: true });
  const cache = createCache({ stores: [keyv] });
  const lock = new RedisTokenLock({ url: redisUrl });
  const { app, service, counter } = await bootCallbacks(sim, sender, { cache, lock });
  const n = size(2_000, 50);
  try {
    for (const d of events(sender, size(200, 10), `rw${process.pid}-${Date.now()}-`)) await service.handle(d.query, d.body);
    const deliveries = events(sender, n, `r${process.pid}-${Date.now()}-`);
    const runs0 = counter.runs;
    const perSecond = n / (await timeSequential(deliveries, (d) => service.handle(d.query, d.body)));
    if (counter.runs - runs0 !== n) throw new Error(`callbacks: ${counter.runs - runs0} runs of ${n} on Redis`);
    const pingT0 = process.hrtime.bigint();
    const pings = size(2_000, 50);
    const client = await keyv.store.getClient();
    for (let i = 0; i < pings; i++) await client.ping();
    const rttUs = Number(process.hrtime.bigint() - pingT0) / 1e3 / pings;
    const perDeliveryUs = 1e6 / perSecond;
    const inProcessUs = 1e6 / inProcess;
    report.line(`  on Redis: ${fmtInt(perSecond)}/s (${perDeliveryUs.toFixed(0)} µs each; in process ${inProcessUs.toFixed(0)} µs; a Redis round trip ${rttUs.toFixed(0)} µs)`);
    report.row({
      figure: 'deliveries per second, one core, the ledger on the shared cache + lock in Redis',
      ours: `${fmtInt(perSecond)}/s (${perDeliveryUs.toFixed(0)} µs each)`,
      baseline: `in process ${inProcessUs.toFixed(0)} µs; PING round trip ${rttUs.toFixed(0)} µs`,
      ratio: `${((perDeliveryUs - inProcessUs) / rttUs).toFixed(1)} round trips added`,
      target: '—',
      met: undefined,
    });
    report.note(
      'The Redis ledger asks the shared cache whether the delivery ran, takes the lock, records it done and releases the lock: a few sequential round trips per new delivery, no polling.',
    );
  } finally {
    await app.close();
    await keyv.disconnect().catch(() => undefined);
  }
}

async function refusal(report, sim, sender) {
  const { app, service, counter } = await bootCallbacks(sim, sender, {});
  const big = `<xml><ToUserName><![CDATA[${sim.corpId}]]></ToUserName><Encrypt><![CDATA[${'A'.repeat(1024 * 1024 - 200)}]]></Encrypt></xml>`;
  const n = size(400, 20);
  try {
    const refuse = async () => {
      const query = { msg_signature: '0'.repeat(40), timestamp: String(Math.floor(Date.now() / 1000)), nonce: '42' };
      try {
        await service.handle(query, big);
      } catch (error) {
        if (error.reason !== 'signature') throw new Error(`callbacks: an unsigned body was refused for ${error.reason}, not its signature`, { cause: error });
        return;
      }
      throw new Error('callbacks: an unsigned body was accepted');
    };
    for (let i = 0; i < 20; i++) await refuse();
    const samples = [];
    for (let r = 0; r < 5; r++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) await refuse();
      samples.push(Number(process.hrtime.bigint() - t0) / 1e6 / n);
    }
    if (counter.runs !== 0) throw new Error('callbacks: a refused body ran a handler');
    const ms = median(samples);
    report.line(`  unsigned 1 MiB body refused in ${(ms * 1000).toFixed(0)} µs (${((ms * 1000) / 1024).toFixed(2)} µs per KiB), before any XML is parsed`);
    report.row({
      figure: 'refusing an unsigned 1 MiB body (signature checked before any XML parsing)',
      ours: `${(ms * 1000).toFixed(0)} µs`,
      baseline: '1 ms target',
      ratio: `${(ms / 1).toFixed(2)}× of 1 ms`,
      target: '< 1 ms',
      met: ms < 1,
    });
  } finally {
    await app.close();
  }
}

async function run(report) {
  const { WeComSimulator } = testing();
  const sim = await WeComSimulator.start();
  try {
    const sender = sim.appCallbacks();
    const inProcess = await throughput(report, sim, sender);
    await onRedis(report, sim, sender, inProcess);
    await refusal(report, sim, sender);
  } finally {
    await sim.close();
  }
}

module.exports = { run };
