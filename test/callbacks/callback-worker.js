/*
 * One instance of a fleet receiving an app's callbacks, in its own Node process: the BUILT package from dist/, a
 * Redis-backed global cache (Keyv) and RedisTokenLock, one @OnWeComCallback handler that counts its runs in Redis
 * (INCR config.runsKey) and takes config.handlerMs. The test sends callbacks over IPC: { id, query, body }.
 */
'use strict';
require('reflect-metadata');
const { join } = require('node:path');
const { Injectable } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { CacheModule } = require('@nestjs/cache-manager');
const { createKeyv } = require('@keyv/redis');
const { createClient } = require('@redis/client');
const { OnWeComCallback, RedisTokenLock, WeComCallbackService, WeComTokenModule } = require(join(__dirname, '..', '..', 'dist'));

const config = JSON.parse(process.argv[2]);
const redis = createClient({ url: config.redisUrl, socket: { connectTimeout: 2000, reconnectStrategy: false } });
redis.on('error', () => undefined);

class Handlers {
  async onAny(message) {
    await redis.rPush(config.runsKey, `${process.pid} ${message.msgType} ${message.event ?? ''} ${message.changeType ?? ''}`);
    await new Promise((resolve) => setTimeout(resolve, config.handlerMs));
  }
}
OnWeComCallback()(Handlers.prototype, 'onAny', Object.getOwnPropertyDescriptor(Handlers.prototype, 'onAny'));
Injectable()(Handlers);

let app;
async function boot() {
  await redis.connect();
  class CallbackWorkerModule {}
  const lock = new RedisTokenLock({ url: config.redisUrl });
  const imports = [
    CacheModule.registerAsync({ isGlobal: true, useFactory: () => ({ stores: [createKeyv({ url: config.redisUrl, disableOfflineQueue: true }, { throwOnErrors: true })] }) }),
    WeComTokenModule.forRoot({ corpId: config.corpId, secret: config.secret, baseUrl: config.baseUrl, lock, callback: config.callback }),
  ];
  app = await NestFactory.createApplicationContext({ module: CallbackWorkerModule, imports, providers: [Handlers] }, { logger: false, abortOnError: false });
  await app.init();
}

process.on('message', async ({ id, query, body, close }) => {
  try {
    if (close) {
      await app.close();
      redis.destroy();
      process.send({ id, ok: true, result: 'closed' });
      process.exit(0);
    }
    const result = await app.get(WeComCallbackService).handle(query, body);
    process.send({ id, ok: true, result });
  } catch (error) {
    process.send({ id, ok: false, error: `${error && error.name}: ${error && error.message}` });
  }
});

boot().then(
  () => process.send({ ready: true }),
  (error) => {
    process.send({ ready: false, error: String(error && error.message) });
    process.exit(1);
  },
);
