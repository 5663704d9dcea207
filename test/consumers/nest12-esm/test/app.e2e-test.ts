/**
 * A NestJS 12 ES-module application using nestjs-wecom-token exactly as npm installs it from the tarball, against the
 * WeCom simulator shipped in the package (nestjs-wecom-token/testing). Compiled by tsc, run by node:test.
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, afterEach, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import KeyvRedis from '@keyv/redis';
import { CACHE_MANAGER, CacheModule } from '@nestjs/cache-manager';
import type { DynamicModule, INestApplicationContext, Type } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import type { Cache } from 'cache-manager';
import { AccessTokenService, getAccessTokenServiceToken, RedisTokenLock, WeComClient, WeComTokenModule } from 'nestjs-wecom-token';
import { WeComSimulator } from 'nestjs-wecom-token/testing';
import { AppModule } from '../src/app.module.js';
import { DirectoryService } from '../src/directory.service.js';
import { REDIS_URL, redisReachable } from './redis-probe.js';

const require = createRequire(import.meta.url);
const CI = process.env.CI === 'true';
const reachable = await redisReachable();

describe('NestJS 12 ES-module application', () => {
  let sim: WeComSimulator;
  const opened: INestApplicationContext[] = [];

  async function boot(imports: Array<Type<unknown> | DynamicModule>): Promise<INestApplicationContext> {
    const moduleRef = await Test.createTestingModule({ imports }).compile();
    const app = await moduleRef.init();
    opened.push(app);
    return app;
  }

  before(async () => {
    sim = await WeComSimulator.start({
      corpId: `wwconsumer12${process.pid}`,
      apps: [
        { name: 'default', secret: 'consumer-secret-default-0123456789', agentId: 1000002, kind: 'app' },
        { name: 'contacts', secret: 'consumer-secret-contacts-0123456789', kind: 'contacts' },
      ],
    });
    process.env.WECOM_CORP_ID = sim.corpId;
    process.env.WECOM_SECRET = sim.secretOf('default');
    process.env.WECOM_CONTACTS_SECRET = sim.secretOf('contacts');
    process.env.WECOM_BASE_URL = sim.baseUrl;
  });

  afterEach(async () => {
    while (opened.length) await opened.pop()!.close();
  });

  after(async () => {
    await sim.close();
  });

  it('imports the CommonJS build from the installed tarball: one copy of each class', async () => {
    const entry = realpathSync(fileURLToPath(import.meta.resolve('nestjs-wecom-token')));
    assert.match(entry, /[\\/]node_modules[\\/]nestjs-wecom-token[\\/]dist[\\/]index\.js$/);
    assert.match(realpathSync(fileURLToPath(import.meta.resolve('nestjs-wecom-token/testing'))), /[\\/]node_modules[\\/]nestjs-wecom-token[\\/]dist[\\/]testing[\\/]index\.js$/);
    // import() and require() of the package give the same classes (Node loads the CommonJS build once) ...
    assert.equal(require('nestjs-wecom-token').AccessTokenService, AccessTokenService);
    assert.equal(require('nestjs-wecom-token/testing').WeComSimulator, WeComSimulator);
    assert.ok(require.cache[entry], 'the package is in the CommonJS module cache');
    // ... and the package's require() of the ESM-only NestJS 12 gets the very module this application imported.
    assert.equal(require('@nestjs/core').ModuleRef, ModuleRef);
    assert.equal((await import('@nestjs/core')).ModuleRef, ModuleRef);
  });

  it('forRoot: getToken fetches once, then serves the held token', async () => {
    const app = await boot([WeComTokenModule.forRoot({ corpId: sim.corpId, secret: sim.secretOf(), baseUrl: sim.baseUrl })]);
    const before = sim.gettokenCalls('default');
    const tokens = app.get(AccessTokenService);
    assert.ok(tokens instanceof AccessTokenService);
    const token = await tokens.getToken();
    assert.equal(token, sim.currentToken());
    assert.equal(await tokens.getToken(), token);
    assert.equal(sim.gettokenCalls('default'), before + 1);
  });

  it('with ScheduleModule.forRoot(), the refresh timer is registered in the application\'s SchedulerRegistry', async () => {
    const app = await boot([ScheduleModule.forRoot(), WeComTokenModule.forRoot({ corpId: sim.corpId, secret: sim.secretOf(), baseUrl: sim.baseUrl })]);
    const tokens = app.get(AccessTokenService);
    // The package's lazy require('@nestjs/schedule') found the SchedulerRegistry this application imported.
    assert.equal(tokens.backgroundRefreshActive, true);
    await tokens.getToken();
    assert.ok(app.get(SchedulerRegistry).getTimeouts().includes('WeComTokenRefresh(default)'));
  });

  it('forRootAsync with @nestjs/config: a WeComClient call, replayed once after the token is revoked', async () => {
    const app = await boot([AppModule]);
    const directory = app.get(DirectoryService);

    assert.equal((await directory.user('zhangsan')).name, '张三');
    const fetched = sim.gettokenCalls('default');
    assert.equal(sim.revokeTokens('default').length, 1);
    assert.equal((await directory.user('zhangsan')).name, '张三');
    assert.equal(sim.gettokenCalls('default'), fetched + 1);
    assert.ok(app.get(WeComClient) instanceof WeComClient);
  });

  it('a named app lives beside the default one, with its own token', async () => {
    const app = await boot([AppModule]);
    const directory = app.get(DirectoryService);
    assert.ok((await directory.departmentNames()).includes('广州研发中心'));
    const contacts = app.get<AccessTokenService>(getAccessTokenServiceToken('contacts'));
    assert.equal(contacts, directory.contactsTokens);
    assert.equal(contacts.appName, 'contacts');
    assert.equal(await contacts.getToken(), sim.currentToken('contacts'));
    assert.notEqual(await app.get(AccessTokenService).getToken(), await contacts.getToken());
  });

  const skip = reachable || CI ? false : `Redis unreachable at ${REDIS_URL}`;
  it(`shares the token through CACHE_MANAGER backed by Redis, with RedisTokenLock (${REDIS_URL})`, { skip }, async () => {
    assert.ok(reachable, `Redis is unreachable at ${REDIS_URL}; CI=true requires it`);
    const redisSim = await WeComSimulator.start({ corpId: `wwconsumer12r${process.pid}${Date.now()}` });
    const stores: KeyvRedis<unknown>[] = [];
    const instance = () => {
      const store = new KeyvRedis(REDIS_URL);
      stores.push(store);
      return boot([
        CacheModule.register({ isGlobal: true, stores: [store] }),
        WeComTokenModule.forRoot({ corpId: redisSim.corpId, secret: redisSim.secretOf(), baseUrl: redisSim.baseUrl, lock: new RedisTokenLock({ url: REDIS_URL }) }),
      ]);
    };
    try {
      const [a, b] = [await instance(), await instance()];
      const [token, other] = await Promise.all([a.get(AccessTokenService).getToken(), b.get(AccessTokenService).getToken()]);
      assert.equal(other, token);
      assert.equal(redisSim.gettokenCalls(), 1);

      const key = `wecom:v1:${redisSim.corpId}:${createHash('sha256').update(redisSim.secretOf()).digest('hex').slice(0, 16)}:access_token`;
      const cache = b.get<Cache>(CACHE_MANAGER);
      const entry = (await cache.get(key)) as { token: string; expiresAt: unknown; fetchedAt: unknown } | undefined;
      assert.equal(entry?.token, token);
      assert.equal(typeof entry?.expiresAt, 'number');
      assert.equal(typeof entry?.fetchedAt, 'number');
      await cache.del(key);
    } finally {
      while (opened.length) await opened.pop()!.close();
      for (const store of stores) await store.disconnect();
      await redisSim.close();
    }
  });
});
