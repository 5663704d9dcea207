/**
 * Issue 18.9: when WeCom rejects every token it hands out (40014 / 40082 on every call), a value rejected at once
 * after its fetch is a failure of its own, not a rejection wave: each refetch counts against the fetch budget (10 in
 * 60 s per credential and process), the loop ends there, and callers get a WeComCooldownError that names the cause.
 * Against the simulator with injected faults; requests counted at the simulator.
 */
import { INestApplicationContext } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { createCache } from 'cache-manager';
import { AccessTokenService, SuiteService, WeComClient, WeComCooldownError, WeComSuiteModule, WeComTokenModule } from '../lib/index';
import { WeComSimulator } from '../lib/testing';
import { bootContext } from './support/app';
import { CapturingLogger } from './support/capture';
import { MemoryCodes } from './support/memory-codes';

const FAULTS = 10_000;

/** Every call of `calls` awaited in turn; the errors it ended with. */
async function inTurn(n: number, call: () => Promise<unknown>): Promise<unknown[]> {
  const errors: unknown[] = [];
  for (let i = 0; i < n; i++) await call().catch((error: unknown) => errors.push(error));
  return errors;
}

describe('tokens rejected as soon as they are fetched: the fetch budget holds (issue 18.9)', () => {
  let sim: WeComSimulator;
  let app: INestApplicationContext | undefined;
  let close: (() => Promise<void>) | undefined;

  beforeEach(async () => {
    sim = await WeComSimulator.start();
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await close?.();
    close = undefined;
    await sim.close();
  });

  it('an app whose every call is answered 40014: at most 10 gettoken, then a WeComCooldownError naming the fresh rejections', async () => {
    let logger: CapturingLogger;
    ({ app, logger } = await bootContext([WeComTokenModule.forRoot({ corpId: sim.corpId, secret: sim.secretOf(), baseUrl: sim.baseUrl })]));
    const client = app.get(WeComClient);
    sim.failNext('/cgi-bin/user/get', { errcode: 40014, errmsg: 'invalid access_token' }, FAULTS);
    const errors = await inTurn(200, () => client.get('/cgi-bin/user/get', { userid: 'zhangsan' }));
    expect(errors).toHaveLength(200);
    expect(sim.gettokenCalls()).toBeLessThanOrEqual(10);
    const cooldown = errors.find((e): e is WeComCooldownError => e instanceof WeComCooldownError);
    expect(cooldown).toBeDefined();
    expect(cooldown!.freshRejections).toBeGreaterThan(0);
    expect(cooldown!.message).toMatch(/WeCom rejected \d+ freshly fetched access_token value\(s\) at once/);
    expect(cooldown!.message).toContain(sim.corpId);
    expect(logger.matching(/^error .*freshly fetched/).length).toBeGreaterThan(0);
  });

  it('a token that lived is still replaced outside the budget: its revocation costs one gettoken that the budget does not count', async () => {
    const clock = Date.now();
    ({ app } = await bootContext([WeComTokenModule.forRoot({ corpId: sim.corpId, secret: sim.secretOf(), baseUrl: sim.baseUrl })]));
    const client = app.get(WeComClient);
    const tokens = app.get(AccessTokenService);
    sim.setRepeatedGettoken('new-token');
    await client.get('/cgi-bin/user/get', { userid: 'zhangsan' });
    expect(sim.gettokenCalls()).toBe(1);
    // The held token is a minute old (it lived) when WeCom revokes it. Only Date is moved: timers run for real.
    jest.useFakeTimers({
      now: clock + 61_000,
      doNotFake: ['setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval', 'nextTick', 'queueMicrotask', 'performance', 'hrtime'],
    });
    try {
      sim.revokeTokens();
      await expect(client.get('/cgi-bin/user/get', { userid: 'zhangsan' })).resolves.toBeDefined();
      expect(sim.gettokenCalls()).toBe(2);
      // The whole budget is still there: 10 more fetches are admitted, the 11th is not.
      for (let i = 0; i < 10; i++) await tokens.refresh();
      expect(sim.gettokenCalls()).toBe(12);
      const refused = await tokens.refresh().catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(WeComCooldownError);
      expect((refused as WeComCooldownError).freshRejections).toBe(0);
      expect(sim.gettokenCalls()).toBe(12);
    } finally {
      jest.useRealTimers();
    }
  });

  describe('a suite whose suite_access_token WeCom rejects on every call (40082)', () => {
    async function bootSuite(): Promise<SuiteService> {
      const s = sim.suite();
      const moduleRef = await Test.createTestingModule({
        imports: [
          WeComSuiteModule.forRoot({
            ...s, // suiteId, suiteSecret, callbackToken, encodingAESKey
            permanentCodes: new MemoryCodes(),
            baseUrl: sim.baseUrl,
            cache: createCache(),
          }),
        ],
      }).compile();
      await moduleRef.init();
      close = () => moduleRef.close();
      const suite = moduleRef.get(SuiteService);
      const ticket = sim.suiteCallback('suite_ticket');
      await suite.handleCallback(ticket.query, ticket.body);
      return suite;
    }

    it('suiteClient calls in a loop: at most 10 get_suite_token, then a clear WeComCooldownError', async () => {
      const suite = await bootSuite();
      sim.failNext('/cgi-bin/service/get_auth_info', { errcode: 40082, errmsg: 'invalid suite_access_token' }, FAULTS);
      const errors = await inTurn(150, () => suite.suiteClient.post('/cgi-bin/service/get_auth_info', { auth_corpid: 'wwcorp', permanent_code: 'x' }));
      expect(errors).toHaveLength(150);
      expect(sim.calls('/cgi-bin/service/get_suite_token')).toBeLessThanOrEqual(10);
      const cooldown = errors.find((e): e is WeComCooldownError => e instanceof WeComCooldownError);
      expect(cooldown?.kind).toBe('suite_access_token');
      expect(cooldown?.message).toMatch(/freshly fetched suite_access_token/);
    });
  });
});
