import { CACHE_MANAGER, CacheModule } from '@nestjs/cache-manager';
import { Injectable, INestApplicationContext, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { Test } from '@nestjs/testing';
import type { Cache } from 'cache-manager';
import { createHash } from 'node:crypto';
import { inspect } from 'node:util';
import {
  AccessTokenService,
  getAccessTokenServiceToken,
  getWeComClientToken,
  InjectAccessTokenService,
  InjectWeComClient,
  WeComClient,
  WeComConfigError,
  WeComTokenModule,
  WeComTokenModuleOptions,
  WeComTokenOptionsFactory,
} from '../lib';
import { WeComSimulator } from '../lib/testing';
import { bootContext } from './support/app';

describe('WeComTokenModule', () => {
  let sim: WeComSimulator;
  let app: INestApplicationContext | undefined;
  const contexts: INestApplicationContext[] = [];

  beforeEach(async () => {
    sim = await WeComSimulator.start({
      apps: [
        { name: 'default', secret: 'sim-secret-default-0123456789', agentId: 1000002 },
        { name: 'contacts', secret: 'sim-secret-contacts-9876543210', kind: 'contacts' },
        { name: 'crm', secret: 'sim-secret-crm-5555555555', kind: 'customer-contact' },
      ],
    });
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await Promise.all(contexts.splice(0).map((c) => c.close()));
    await sim.close();
  });

  const opts = (name = 'default'): WeComTokenModuleOptions => ({ corpId: sim.corpId, secret: sim.secretOf(name), baseUrl: sim.baseUrl, ...(name === 'default' ? {} : { name }) });

  it('named apps live side by side, each with its own token, injected by decorator or token helper', async () => {
    @Injectable()
    class Consumer {
      constructor(
        readonly tokens: AccessTokenService,
        @InjectAccessTokenService('contacts') readonly contacts: AccessTokenService,
        @InjectWeComClient('crm') readonly crm: WeComClient,
        readonly client: WeComClient,
      ) {}
    }
    ({ app } = await bootContext([
      {
        module: class AppModule {},
        imports: [WeComTokenModule.forRoot(opts()), WeComTokenModule.forRoot(opts('contacts')), WeComTokenModule.forRoot(opts('crm'))],
        providers: [Consumer],
      },
    ]));
    const consumer = app.get(Consumer);
    const [a, b] = await Promise.all([consumer.tokens.getToken(), consumer.contacts.getToken()]);
    expect(a).toBe(sim.currentToken('default'));
    expect(b).toBe(sim.currentToken('contacts'));
    expect(a).not.toBe(b);
    expect(consumer.contacts.appName).toBe('contacts');
    expect(app.get(getAccessTokenServiceToken('contacts'))).toBe(consumer.contacts);
    expect(app.get(getWeComClientToken('crm'))).toBe(consumer.crm);
    expect(app.get(getAccessTokenServiceToken())).toBe(consumer.tokens);
    await consumer.crm.get('/cgi-bin/department/list').catch(() => undefined);
    expect(sim.gettokenCalls('crm')).toBe(1);
  });

  describe('forRootAsync', () => {
    it('useFactory + inject with @nestjs/config', async () => {
      process.env.TEST_WECOM_CORP_ID = sim.corpId;
      process.env.TEST_WECOM_CRM_SECRET = sim.secretOf('crm');
      ({ app } = await bootContext([
        WeComTokenModule.forRootAsync({
          name: 'crm',
          imports: [ConfigModule.forRoot({ ignoreEnvFile: true })],
          inject: [ConfigService],
          useFactory: (config: ConfigService) => ({
            corpId: config.getOrThrow<string>('TEST_WECOM_CORP_ID'),
            secret: config.getOrThrow<string>('TEST_WECOM_CRM_SECRET'),
            baseUrl: sim.baseUrl,
          }),
        }),
      ]));
      expect(await app.get<AccessTokenService>(getAccessTokenServiceToken('crm')).getToken()).toBe(sim.currentToken('crm'));
    });

    it('useClass', async () => {
      const baseUrl = sim.baseUrl;
      const { corpId } = sim;
      const secret = sim.secretOf();
      class Options implements WeComTokenOptionsFactory {
        createWeComTokenOptions() {
          return { corpId, secret, baseUrl };
        }
      }
      ({ app } = await bootContext([WeComTokenModule.forRootAsync({ useClass: Options })]));
      expect(await app.get(AccessTokenService).getToken()).toBe(sim.currentToken());
    });

    it('useExisting, with the factory from imports, async, global', async () => {
      const baseUrl = sim.baseUrl;
      const { corpId } = sim;
      const secret = sim.secretOf('contacts');
      @Injectable()
      class Options implements WeComTokenOptionsFactory {
        async createWeComTokenOptions() {
          return { corpId, secret, baseUrl };
        }
      }
      @Module({ providers: [Options], exports: [Options] })
      class OptionsModule {}
      @Injectable()
      class ElsewhereConsumer {
        constructor(@InjectAccessTokenService('contacts') readonly tokens: AccessTokenService) {}
      }
      @Module({ providers: [ElsewhereConsumer] })
      class Elsewhere {}
      ({ app } = await bootContext([WeComTokenModule.forRootAsync({ name: 'contacts', isGlobal: true, imports: [OptionsModule], useExisting: Options }), Elsewhere]));
      expect(await app.get(ElsewhereConsumer).tokens.getToken()).toBe(sim.currentToken('contacts'));
    });

    it('without useFactory, useClass or useExisting it says what is missing', () => {
      expect(() => WeComTokenModule.forRootAsync({ name: 'crm' })).toThrow(/forRootAsync for app 'crm' needs useFactory, useClass or useExisting/);
    });
  });

  describe('start-up validation names the option and the app, never the secret', () => {
    const secret = 'a-secret-that-must-never-be-printed';
    const cases: Array<[string, Partial<WeComTokenModuleOptions>, RegExp]> = [
      ['missing corpId', { corpId: undefined }, /option 'corpId' of app 'crm' is missing/],
      ['empty corpId', { corpId: '  ' }, /option 'corpId' of app 'crm' is empty/],
      ['missing secret', { secret: undefined }, /option 'secret' of app 'crm' is missing/],
      ['empty secret', { secret: '' }, /option 'secret' of app 'crm' is empty/],
      ['bad baseUrl', { baseUrl: 'ftp://example' }, /option 'baseUrl' of app 'crm' must be an http\(s\) URL/],
      ['negative refreshAheadSeconds', { refreshAheadSeconds: -5 }, /option 'refreshAheadSeconds' of app 'crm' must be a finite number from 0 to 86400, got -5/],
      ['zero timeoutMs', { timeoutMs: 0 }, /option 'timeoutMs' of app 'crm'/],
      ['non-numeric agentId', { agentId: 'abc' }, /option 'agentId' of app 'crm' must be a number/],
    ];
    it.each(cases)('%s', async (_, patch, message) => {
      const options = { name: 'crm', corpId: 'wwcorp', secret, baseUrl: sim.baseUrl, ...patch } as WeComTokenModuleOptions;
      const error = await Test.createTestingModule({ imports: [WeComTokenModule.forRoot(options)] })
        .compile()
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error).toBeInstanceOf(WeComConfigError);
      expect((error as Error).message).toMatch(message);
      expect(inspect(error, { depth: Infinity, showHidden: true })).not.toContain(secret);
    });

    it('two registrations with one name fail at start-up', async () => {
      const error = await Test.createTestingModule({
        imports: [WeComTokenModule.forRoot({ ...opts('contacts') }), WeComTokenModule.forRoot({ ...opts('contacts'), refreshAheadSeconds: 60 })],
      })
        .compile()
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect((error as Error).message).toMatch(/app 'contacts' is registered 2 times/);
      expect(inspect(error)).not.toContain(sim.secretOf('contacts'));
    });
  });

  describe('the cache', () => {
    it('uses the application CACHE_MANAGER when it provides one, under the documented key and layout', async () => {
      ({ app } = await bootContext([CacheModule.register({ isGlobal: true }), WeComTokenModule.forRoot(opts())]));
      const token = await app.get(AccessTokenService).getToken();
      const cache = app.get<Cache>(CACHE_MANAGER);
      const key = `wecom:v1:${sim.corpId}:${createHash('sha256').update(sim.secretOf()).digest('hex').slice(0, 16)}:access_token`;
      const entry = await cache.get<{ token: string; expiresAt: number; fetchedAt: number }>(key);
      expect(entry).toEqual({ token, expiresAt: expect.any(Number), fetchedAt: expect.any(Number) });
      expect(entry!.expiresAt - entry!.fetchedAt).toBe(7_200_000);
      expect(key).not.toContain(sim.secretOf());
    });

    it('an entry already in the cache is used without a gettoken (another instance fetched it)', async () => {
      ({ app } = await bootContext([CacheModule.register({ isGlobal: true }), WeComTokenModule.forRoot(opts())]));
      const cache = app.get<Cache>(CACHE_MANAGER);
      const key = `wecom:v1:${sim.corpId}:${createHash('sha256').update(sim.secretOf()).digest('hex').slice(0, 16)}:access_token`;
      const now = Date.now();
      await cache.set(key, JSON.stringify({ token: 'token-written-by-a-service-in-go-0000', expiresAt: now + 3_600_000, fetchedAt: now }));
      expect(await app.get(AccessTokenService).getToken()).toBe('token-written-by-a-service-in-go-0000');
      expect(sim.gettokenCalls()).toBe(0);
    });

    it('two application contexts in one process share nothing by accident', async () => {
      const one = await bootContext([WeComTokenModule.forRoot(opts())]);
      const two = await bootContext([WeComTokenModule.forRoot(opts())]);
      contexts.push(one.app, two.app);
      expect(one.app.get(AccessTokenService)).not.toBe(two.app.get(AccessTokenService));
      await one.app.get(AccessTokenService).getToken();
      await two.app.get(AccessTokenService).getToken();
      // Each context has its own private cache: each fetched once.
      expect(sim.gettokenCalls()).toBe(2);
    });
  });

  it('util.inspect of the services shows no secret', async () => {
    ({ app } = await bootContext([WeComTokenModule.forRoot(opts())]));
    const tokens = app.get(AccessTokenService);
    await tokens.getToken();
    const printed = inspect(tokens, { depth: Infinity, showHidden: true }) + inspect(app.get(WeComClient), { depth: 3 });
    expect(printed).not.toContain(sim.secretOf());
  });
});
