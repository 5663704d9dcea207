/*
 * One application in its own Node process for the HTTPS egress tests: loads the BUILT package from dist/, trusts the
 * test certificate through NODE_EXTRA_CA_CERTS (read by Node at start-up, hence the process), boots WeComTokenModule
 * with the given `proxy` (or none, so the environment's HTTPS_PROXY decides), runs the scenario and prints one JSON
 * line: what it got, and each error as its fields, message, util.inspect and JSON (for the leak scan of the parent).
 */
'use strict';
require('reflect-metadata');
const { join } = require('node:path');
const { inspect } = require('node:util');
const { NestFactory } = require('@nestjs/core');
const dist = join(__dirname, '..', '..', 'dist');
const { AccessTokenService, JsapiTicketService, WeComClient, WeComTokenModule } = require(dist);

const config = JSON.parse(process.argv[2]);
const lines = [];
const logger = ['log', 'error', 'warn', 'debug', 'verbose', 'fatal'].reduce((l, level) => {
  l[level] = (...parts) => lines.push(`${level} ${parts.map((p) => (typeof p === 'string' ? p : inspect(p, { depth: 5 }))).join(' ')}`);
  return l;
}, {});

function describe(error) {
  let json;
  try {
    json = JSON.stringify(error);
  } catch {
    json = '';
  }
  return {
    name: error?.name,
    failure: error?.failure,
    status: error?.status,
    code: error?.code,
    proxy: error?.proxy,
    message: String(error?.message),
    rendered: `${inspect(error, { depth: Infinity, showHidden: true })}\n${json}\n${error?.stack}`,
  };
}

async function main() {
  const options = {
    corpId: config.corpId,
    secret: config.secret,
    agentId: 1000002,
    baseUrl: config.baseUrl,
    retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 20 },
    timeoutMs: 5000,
  };
  if (config.proxy !== undefined) options.proxy = config.proxy;
  const imports = [WeComTokenModule.forRoot(options)];
  class EgressWorkerModule {}
  const app = await NestFactory.createApplicationContext({ module: EgressWorkerModule, imports }, { logger, abortOnError: false });
  const out = { ok: 0, errors: [] };
  try {
    const tokens = app.get(AccessTokenService);
    const client = app.get(WeComClient);
    const tickets = app.get(JsapiTicketService);
    if (config.scenario === 'every-kind') {
      await tickets.getCorpTicket();
      await tickets.getAgentTicket();
      await client.post('/cgi-bin/message/send', { touser: '@all', msgtype: 'text', agentid: 1000002, text: { content: 'hi' } });
      const uploaded = await client.upload('file', { data: Buffer.from('through a tunnel'), filename: 'a.txt' });
      const file = await client.download('/cgi-bin/media/get', { media_id: uploaded.media_id });
      out.download = file.bytes.toString();
      await client.http.axiosRef.get('/cgi-bin/department/list');
      for (let i = 0; i < config.calls; i++) {
        await client.get('/cgi-bin/department/list');
        out.ok += 1;
      }
      out.inspected = [
        inspect(client.http.axiosRef.defaults, { depth: 6, showHidden: true }),
        inspect(tokens, { depth: 6 }),
        JSON.stringify(tokens.egress),
        inspect(client.http.axiosRef.defaults.httpsAgent, { showHidden: true }),
      ].join('\n');
    } else {
      try {
        await client.get('/cgi-bin/department/list');
        out.ok += 1;
      } catch (error) {
        out.errors.push(describe(error));
      }
    }
  } finally {
    await app.close();
  }
  out.logs = lines.join('\n');
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((error) => {
  process.stdout.write(`${JSON.stringify({ crashed: describe(error), logs: lines.join('\n') })}\n`);
  process.exitCode = 1;
});
