/*
 * One instance of a fleet serving a route behind WeComAuthGuard, in its own Node process: the BUILT package from
 * dist/, the documented Redis recipe (a global CacheModule on Keyv/Redis and RedisTokenLock), Express on
 * 127.0.0.1:0. Prints "listening http://…" once ready, and its captured log lines as JSON on SIGTERM's way out.
 * Configuration comes as JSON in argv[2].
 */
'use strict';
require('reflect-metadata');
const { join } = require('node:path');
const { inspect } = require('node:util');
const { Controller, Get, Module, UseGuards } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { CacheModule } = require('@nestjs/cache-manager');
const { createKeyv } = require('@keyv/redis');
const { RedisTokenLock, WeComAuthGuard, WeComTokenModule, WeComUser } = require(join(__dirname, '..', '..', 'dist'));

const config = JSON.parse(process.argv[2]);
const lines = [];
const keep =
  (level) =>
  (message, ...rest) =>
    lines.push(`${level} ${[message, ...rest].map((p) => (typeof p === 'string' ? p : inspect(p, { depth: 5 }))).join(' ')}`);
const logger = { log: keep('log'), error: keep('error'), warn: keep('warn'), debug: keep('debug'), verbose: keep('verbose'), fatal: keep('fatal') };

// The route, decorated by hand (plain JS has no decorator syntax): GET /me behind the guard, the identity as JSON.
class MeController {
  me(user) {
    return user;
  }
}
Controller()(MeController);
const me = Object.getOwnPropertyDescriptor(MeController.prototype, 'me');
Get('me')(MeController.prototype, 'me', me);
UseGuards(WeComAuthGuard)(MeController.prototype, 'me', me);
WeComUser()(MeController.prototype, 'me', 0);

async function main() {
  const lock = new RedisTokenLock({ url: config.redisUrl });
  class FleetIdentityModule {}
  Module({
    imports: [
      CacheModule.registerAsync({ isGlobal: true, useFactory: () => ({ stores: [createKeyv({ url: config.redisUrl, disableOfflineQueue: true }, { throwOnErrors: true })] }) }),
      WeComTokenModule.forRoot({
        corpId: config.corpId,
        secret: config.secret,
        agentId: config.agentId,
        baseUrl: config.baseUrl,
        oauthBaseUrl: config.baseUrl,
        loginBaseUrl: config.baseUrl,
        lock,
      }),
    ],
    controllers: [MeController],
  })(FleetIdentityModule);
  const app = await NestFactory.create(FleetIdentityModule, { logger });
  app.enableShutdownHooks();
  await app.listen(0, '127.0.0.1');
  process.stdout.write(`listening http://127.0.0.1:${app.getHttpServer().address().port}\n`);
  process.on('SIGTERM', async () => {
    await app.close();
    process.stdout.write(`lines ${JSON.stringify(lines)}\n`);
    process.exit(0);
  });
}

main().catch((error) => {
  process.stderr.write(`worker failed: ${error && error.stack}\n`);
  process.exit(1);
});
