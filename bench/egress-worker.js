'use strict';
/**
 * One process of the egress part (forked by bench/egress.js): the BUILT package, two application contexts on the
 * same HTTPS base URL (the simulator behind a TLS front), one with `proxy: <the loopback forward proxy>` and one with
 * `proxy: false`. NODE_EXTRA_CA_CERTS makes it trust the front's certificate (read at start-up, hence the process).
 * `block` runs `calls` WeComClient.get calls on one of them and answers this process's CPU time for the block: the
 * client's own cost, without the simulator's, the front's or the proxy's (they run in the parent).
 */
const { bootContext, lib, serveWorker } = require('./support');

const config = JSON.parse(process.env.BENCH_EGRESS || '{}');

async function main() {
  const { WeComClient, WeComTokenModule } = lib();
  const options = (proxy) => ({ corpId: config.corpId, secret: config.secret, baseUrl: config.baseUrl, timeoutMs: 5000, proxy });
  const contexts = { proxy: await bootContext([WeComTokenModule.forRoot(options(config.proxyUrl))]), direct: await bootContext([WeComTokenModule.forRoot(options(false))]) };
  const clients = { proxy: contexts.proxy.get(WeComClient), direct: contexts.direct.get(WeComClient) };
  serveWorker(
    {
      async block({ path, calls }) {
        const client = clients[path];
        const cpu0 = process.cpuUsage();
        const t0 = process.hrtime.bigint();
        let failed = 0;
        for (let i = 0; i < calls; i++) {
          const body = await client.get('/cgi-bin/department/list').catch(() => undefined);
          if (!body || !Array.isArray(body.department)) failed++;
        }
        const cpu = process.cpuUsage(cpu0);
        return { cpuUs: cpu.user + cpu.system, wallMs: Number(process.hrtime.bigint() - t0) / 1e6, failed };
      },
    },
    async () => {
      await contexts.proxy.close();
      await contexts.direct.close();
    },
  );
  process.send({ ready: true });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
