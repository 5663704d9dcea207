/**
 * WeComHealthIndicator on @nestjs/terminus 12 (installed as the devDependency alias @nestjs/terminus-12, an
 * ES-module package), loaded from the built dist/ in a plain Node process: jest cannot load an ES-module-only
 * package, Node (>= 20.19) requires it. Every `require('@nestjs/terminus')` of this process, dist/health's included,
 * is pointed at terminus 12. Prints one JSON line with what it saw; the jest spec asserts on it.
 */
'use strict';
const Module = require('node:module');
const { join } = require('node:path');

const ROOT = join(__dirname, '..', '..');
const terminus12 = require.resolve('@nestjs/terminus-12', { paths: [ROOT] });
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return resolveFilename.call(this, request === '@nestjs/terminus' ? terminus12 : request, ...rest);
};

require('reflect-metadata');
const { Controller, Get, Inject, Module: NestModule } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const terminus = require('@nestjs/terminus');
const { WeComTokenModule, getAccessTokenServiceToken } = require(join(ROOT, 'dist'));
const { WeComHealthIndicator } = require(join(ROOT, 'dist', 'health'));
const { WeComSimulator } = require(join(ROOT, 'dist', 'testing'));

async function main() {
  const sim = await WeComSimulator.start({
    apps: [
      { name: 'default', secret: 'sim-secret-default-0123456789', agentId: 1000002 },
      { name: 'crm', secret: 'sim-secret-crm-5555555555', kind: 'customer-contact' },
    ],
  });
  const opts = (name) => ({
    corpId: sim.corpId,
    secret: sim.secretOf(name),
    baseUrl: sim.baseUrl,
    retry: { attempts: 1, baseDelayMs: 5, maxDelayMs: 10 },
    ...(name === 'default' ? {} : { name }),
  });

  class HealthController {
    constructor(health, wecom) {
      this.health = health;
      this.wecom = wecom;
    }
    all() {
      return this.health.check([() => this.wecom.check()]);
    }
  }
  Inject(terminus.HealthCheckService)(HealthController, undefined, 0);
  Inject(WeComHealthIndicator)(HealthController, undefined, 1);
  const all = Object.getOwnPropertyDescriptor(HealthController.prototype, 'all');
  Get()(HealthController.prototype, 'all', all);
  terminus.HealthCheck()(HealthController.prototype, 'all', all);
  Controller('health')(HealthController);

  class AppModule {}
  NestModule({
    imports: [terminus.TerminusModule.forRoot({ logger: false }), WeComTokenModule.forRoot(opts('default')), WeComTokenModule.forRoot(opts('crm'))],
    controllers: [HealthController],
    providers: [WeComHealthIndicator],
  })(AppModule);

  const app = await NestFactory.create(AppModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${app.getHttpServer().address().port}/health`;
  const get = async () => {
    const response = await fetch(url);
    return { status: response.status, body: await response.json() };
  };
  try {
    const up = await get();
    const crm = app.get(getAccessTokenServiceToken('crm'));
    await crm.invalidate(); // crm holds nothing now: the next check asks its service, and gettoken fails
    sim.failNext('gettoken', { errcode: 40001 });
    const down = await get();
    const polls = [];
    for (let i = 0; i < 10; i++) polls.push((await get()).status);
    const terminusVersion = require(join(terminus12, '..', '..', 'package.json')).version;
    process.stdout.write(`${JSON.stringify({ terminusVersion, up, down, polls, gettokenCrm: sim.gettokenCalls('crm'), issuedTokens: sim.issuedTokens() })}\n`);
  } finally {
    await app.close();
    await sim.close();
  }
}

main().catch((error) => {
  process.stderr.write(`${error && error.stack ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
