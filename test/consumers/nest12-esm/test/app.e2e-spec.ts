/**
 * The NestJS 12 ES-module starter (vitest 4) using nestjs-wecom-token exactly as npm installs it from the tarball,
 * against the WeCom simulator shipped in the package (nestjs-wecom-token/testing). Test globals as the starter has them.
 */
import 'reflect-metadata';
import { createHash } from 'node:crypto';
import KeyvRedis from '@keyv/redis';
import { CACHE_MANAGER, CacheModule } from '@nestjs/cache-manager';
import type { INestApplicationContext } from '@nestjs/common';
import { ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import type { Cache } from 'cache-manager';
import { AccessTokenService, getAccessTokenServiceToken, RedisTokenLock, WeComClient, WeComTokenModule } from 'nestjs-wecom-token';
import { WeComSimulator } from 'nestjs-wecom-token/testing';
import { AppModule } from '../src/app.module.js';
import { DirectoryService } from '../src/directory.service.js';
import { REDIS_URL, redisReachable } from './redis-probe.js';

const CI = process.env.CI === 'true';
const reachable = await redisReachable();

describe('NestJS 12 ES-module starter (vitest)', () => {
  let sim: WeComSimulator;
  const opened: INestApplicationContext[] = [];

  async function boot(imports: NonNullable<Parameters<typeof Test.createTestingModule>[0]['imports']>): Promise<INestApplicationContext> {
    const moduleRef = await Test.createTestingModule({ imports }).compile();
    const app = await moduleRef.init();
    opened.push(app);
    return app;
  }

  beforeAll(async () => {
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

  afterAll(async () => {
    await sim.close();
  });

  it(`loads the package from the installed tarball, its ES-module build only (Node ${process.versions.node})`, () => {
    // Each build records itself when loaded: the ES-module build alone in this process, so one copy of every class.
    expect((globalThis as Record<symbol, { systems?: string[] } | undefined>)[Symbol.for('nestjs-wecom-token.loaded')]?.systems).toEqual(['ES module']);
    expect(WeComTokenModule.name).toBe('WeComTokenModule');
  });

  it('forRoot: getToken fetches once, then serves the held token', async () => {
    const app = await boot([WeComTokenModule.forRoot({ corpId: sim.corpId, secret: sim.secretOf(), baseUrl: sim.baseUrl })]);
    const before = sim.gettokenCalls('default');
    const tokens = app.get(AccessTokenService);
    expect(tokens).toBeInstanceOf(AccessTokenService);
    const token = await tokens.getToken();
    expect(token).toBe(sim.currentToken());
    expect(await tokens.getToken()).toBe(token);
    expect(sim.gettokenCalls('default')).toBe(before + 1);
  });

  it("with ScheduleModule.forRoot(), the refresh timer is registered in the application's SchedulerRegistry", async () => {
    const app = await boot([ScheduleModule.forRoot(), WeComTokenModule.forRoot({ corpId: sim.corpId, secret: sim.secretOf(), baseUrl: sim.baseUrl })]);
    const tokens = app.get(AccessTokenService);
    expect(tokens.backgroundRefreshActive).toBe(true);
    await tokens.getToken();
    expect(app.get(SchedulerRegistry).getTimeouts()).toContain('WeComTokenRefresh(default)');
  });

  it('forRootAsync with @nestjs/config: a WeComClient call, replayed once after the token is revoked', async () => {
    const app = await boot([AppModule]);
    const directory = app.get(DirectoryService);

    expect((await directory.user('zhangsan')).name).toBe('张三');
    const fetched = sim.gettokenCalls('default');
    expect(sim.revokeTokens('default')).toHaveLength(1);
    expect((await directory.user('zhangsan')).name).toBe('张三');
    expect(sim.gettokenCalls('default')).toBe(fetched + 1);
    expect(app.get(WeComClient)).toBeInstanceOf(WeComClient);
  });

  it('a named app lives beside the default one, with its own token', async () => {
    const app = await boot([AppModule]);
    const directory = app.get(DirectoryService);
    expect(await directory.departmentNames()).toContain('广州研发中心');
    const contacts = app.get<AccessTokenService>(getAccessTokenServiceToken('contacts'));
    expect(contacts).toBe(directory.contactsTokens);
    expect(contacts.appName).toBe('contacts');
    expect(await contacts.getToken()).toBe(sim.currentToken('contacts'));
    expect(await app.get(AccessTokenService).getToken()).not.toBe(await contacts.getToken());
  });

  (reachable || CI ? it : it.skip)(
    `shares the token through CACHE_MANAGER backed by Redis, with RedisTokenLock (${REDIS_URL})${reachable || CI ? '' : ' [Redis unreachable]'}`,
    async () => {
      if (!reachable) throw new Error(`Redis is unreachable at ${REDIS_URL}; CI=true requires it`);
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
        expect(other).toBe(token);
        expect(redisSim.gettokenCalls()).toBe(1);

        const key = `wecom:v1:${redisSim.corpId}:${createHash('sha256').update(redisSim.secretOf()).digest('hex').slice(0, 16)}:access_token`;
        const cache = b.get<Cache>(CACHE_MANAGER);
        expect(await cache.get(key)).toMatchObject({ token, expiresAt: expect.any(Number), fetchedAt: expect.any(Number) });
        await cache.del(key);
      } finally {
        while (opened.length) await opened.pop()!.close();
        for (const store of stores) await store.disconnect();
        await redisSim.close();
      }
    },
  );
});
