'use strict';
/**
 * 11. Egress: WeComClient calls to an HTTPS WeCom (the simulator behind a TLS front with a certificate made for the
 * run) through the loopback forward proxy the tests use (CONNECT tunnels), against the same calls direct, in one
 * client process, interleaved blocks (direct, proxy, proxy, direct, …) so drift hits both alike. Figures: the client's
 * CPU per call (process.cpuUsage of the client process only), and the tunnels the proxy opened for all the calls.
 */
const { loadTestSupport } = require('./ts-load');
const { fmtInt, fmtRatio, forkWorker, median, size, testing } = require('./support');

async function run(report) {
  const { opensslUnavailableReason, makeCertificate, TlsFront } = loadTestSupport('tls-front');
  const { ForwardProxy } = loadTestSupport('forward-proxy');
  const noOpenssl = opensslUnavailableReason();
  if (noOpenssl) {
    report.row({ figure: 'egress through a forward proxy', ours: 'not run', baseline: '', ratio: '', target: '', met: null, why: noOpenssl });
    report.note(`not run: ${noOpenssl}`);
    return;
  }
  const { WeComSimulator } = testing();
  const certificate = makeCertificate();
  const sim = await WeComSimulator.start();
  const front = await TlsFront.start(sim.port, certificate);
  const proxy = await ForwardProxy.start();
  const worker = forkWorker('egress-worker.js', {
    env: { NODE_EXTRA_CA_CERTS: certificate.certPath, BENCH_EGRESS: JSON.stringify({ corpId: sim.corpId, secret: sim.secretOf(), baseUrl: front.baseUrl, proxyUrl: proxy.url() }) },
  });
  try {
    await worker.ready;
    const block = size(1_000, 20);
    const blocks = size(10, 2);
    // Warm both: the token, the pools, the tunnel, JIT.
    for (const path of ['direct', 'proxy']) await worker.call('block', { path, calls: Math.max(20, block / 5) });
    const tunnelsBefore = proxy.tunnels;
    const gettokenBefore = sim.gettokenCalls();
    const per = { direct: [], proxy: [] };
    let failed = 0;
    let calls = 0;
    for (let b = 0; b < blocks; b++) {
      for (const path of b % 2 === 0 ? ['direct', 'proxy'] : ['proxy', 'direct']) {
        const r = await worker.call('block', { path, calls: block }, 300_000);
        per[path].push(r.cpuUs / block);
        failed += r.failed;
        if (path === 'proxy') calls += block;
      }
    }
    const tunnels = proxy.tunnels - tunnelsBefore;
    const viaProxy = proxy.tunnels;
    const ours = median(per.proxy);
    const base = median(per.direct);
    const ratio = ours / base;
    report.line(`  client CPU per call: through the proxy ${ours.toFixed(1)} µs, direct ${base.toFixed(1)} µs (medians of ${blocks} blocks of ${block}); ${failed} failed`);
    report.line(
      `  tunnels: ${viaProxy} in all (warm-up included), ${tunnels} during the ${fmtInt(calls)} measured calls; gettoken during them: ${sim.gettokenCalls() - gettokenBefore}`,
    );
    if (failed > 0) throw new Error(`egress: ${failed} calls failed`);
    report.row({
      figure: `client CPU per WeComClient call through a CONNECT proxy (HTTPS), ${fmtInt(calls)} calls`,
      ours: `${ours.toFixed(1)} µs`,
      baseline: `${base.toFixed(1)} µs direct (same process, interleaved)`,
      ratio: `${fmtRatio(ratio)} proxy/direct`,
      target: '≤ 1.2×',
      met: ratio <= 1.2,
    });
    report.row({
      figure: `CONNECT tunnels opened for ${fmtInt(calls)} calls (+ warm-up)`,
      ours: `${tunnels} (+ ${viaProxy - tunnels} in warm-up)`,
      baseline: `${fmtInt(calls)} (one per call)`,
      ratio: `${fmtRatio((viaProxy || 1) / calls)} tunnels/call`,
      target: 'a handful (≤ 5), not one per call',
      met: viaProxy <= 5,
    });
    report.note(
      "The simulator, the TLS front and the proxy run in the parent process; the figure is the client process's own CPU (user + system) per call, " +
        'TLS included on both paths (direct: TLS to the front; proxy: TLS inside the tunnel). Calls are sequential, so one pooled tunnel serves them.',
    );
  } finally {
    await worker.stop();
    await proxy.close();
    await front.close();
    await sim.close();
    certificate.remove();
  }
}

module.exports = { run };
