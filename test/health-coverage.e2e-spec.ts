/**
 * Issue 18 item 11: WeComHealthIndicator covers every credential the module serves, not only the apps' access
 * tokens: the JS-SDK tickets an app has been asked for, each suite's suite_access_token (40085 before any
 * suite_ticket) and its provider_access_token. Each is checked within its fetch budget: polling the indicator costs
 * no extra request. A real TerminusModule application against the simulator over loopback HTTP.
 */
import { INestApplicationContext, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import { JsapiTicketService, SuiteService, WeComSuiteModule, WeComTokenModule } from '../lib';
import { WeComHealthIndicator } from '../lib/health';
import { WeComSimulator } from '../lib/testing';
import { expectNoneOf } from './support/capture';
import { MemoryCodes } from './support/memory-codes';

const JSAPI_TICKET_PATH = '/cgi-bin/get_jsapi_ticket';
const SUITE_TOKEN_PATH = '/cgi-bin/service/get_suite_token';
const PROVIDER_TOKEN_PATH = '/cgi-bin/service/get_provider_token';

type Details = { status: 'up' | 'down'; apps: Record<string, any>; tickets?: Record<string, any>; suites?: Record<string, any>; message?: string };

describe('WeComHealthIndicator covers tickets, suites and providers', () => {
  let sim: WeComSimulator;
  let app: INestApplicationContext | undefined;

  beforeEach(async () => {
    sim = await WeComSimulator.start();
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await sim.close();
  });

  async function boot(imports: NonNullable<Parameters<typeof Module>[0]['imports']>): Promise<WeComHealthIndicator> {
    @Module({ imports: [TerminusModule.forRoot({ logger: false }), ...imports], providers: [WeComHealthIndicator] })
    class HealthModule {}
    const moduleRef = await Test.createTestingModule({ imports: [HealthModule] }).compile();
    app = await moduleRef.init();
    return app.get(WeComHealthIndicator);
  }

  const checked = async (indicator: WeComHealthIndicator, options?: Parameters<WeComHealthIndicator['check']>[1]): Promise<Details> =>
    (await indicator.check('wecom', options)).wecom as unknown as Details;

  it('down while every signConfig fails (48002), and polling it sends no extra ticket request; no ticket is fetched for an app that never asked', async () => {
    const indicator = await boot([
      WeComTokenModule.forRoot({
        corpId: sim.corpId,
        secret: sim.secretOf(),
        agentId: sim.app().agentId,
        baseUrl: sim.baseUrl,
        retry: { attempts: 1, baseDelayMs: 5, maxDelayMs: 10 },
      }),
    ]);
    const before = await checked(indicator);
    expect(before).toEqual({ status: 'up', apps: { default: { status: 'up', validForSeconds: expect.any(Number) } } });
    expect(sim.calls(JSAPI_TICKET_PATH)).toBe(0);

    sim.failNext(JSAPI_TICKET_PATH, { errcode: 48002 }, 50);
    const tickets = app!.get(JsapiTicketService);
    await expect(tickets.signConfig('https://example.com/page')).rejects.toMatchObject({ errcode: 48002 });
    const sent = sim.calls(JSAPI_TICKET_PATH);
    expect(sent).toBe(1);

    const down = await checked(indicator);
    expect(down.status).toBe('down');
    expect(down.apps.default.status).toBe('up');
    expect(down.tickets!['default:corp']).toMatchObject({ status: 'down' });
    expect(down.message).toContain("ticket 'default:corp'");
    const afterFirst = sim.calls(JSAPI_TICKET_PATH);
    expect(afterFirst - sent).toBeLessThanOrEqual(1);
    for (let i = 0; i < 20; i++) expect((await checked(indicator)).tickets!['default:corp'].status).toBe('down');
    expect(sim.calls(JSAPI_TICKET_PATH)).toBe(afterFirst);
    expectNoneOf(JSON.stringify(down), [sim.secretOf(), ...sim.issuedTokens()]);
  });

  it('up with the ticket held once the ticket works, from the held ticket without another request', async () => {
    const indicator = await boot([WeComTokenModule.forRoot({ corpId: sim.corpId, secret: sim.secretOf(), agentId: sim.app().agentId, baseUrl: sim.baseUrl })]);
    await app!.get(JsapiTicketService).signConfig('https://example.com/page');
    const up = await checked(indicator);
    expect(up).toEqual({
      status: 'up',
      apps: { default: expect.objectContaining({ status: 'up' }) },
      tickets: { 'default:corp': { status: 'up', validForSeconds: expect.any(Number) } },
    });
    expect(sim.calls(JSAPI_TICKET_PATH)).toBe(1);
  });

  it('the agent ticket once signAgentConfig was asked for: down while it fails; not checked for an app without agentId', async () => {
    const indicator = await boot([WeComTokenModule.forRoot({ corpId: sim.corpId, secret: sim.secretOf(), agentId: sim.app().agentId, baseUrl: sim.baseUrl })]);
    sim.failNext('/cgi-bin/ticket/get', { errcode: 48002 }, 50);
    await expect(app!.get(JsapiTicketService).signAgentConfig('https://example.com/page')).rejects.toMatchObject({ errcode: 48002 });
    const down = await checked(indicator);
    expect(Object.keys(down.tickets!)).toEqual(['default:agent']);
    expect(down.tickets!['default:agent']).toMatchObject({ status: 'down' });
    await app!.close();

    const withoutAgent = await boot([WeComTokenModule.forRoot({ corpId: sim.corpId, secret: sim.secretOf(), baseUrl: sim.baseUrl })]);
    await expect(app!.get(JsapiTicketService).signAgentConfig('https://example.com/page')).rejects.toThrow(/agentId/);
    expect(await checked(withoutAgent)).toEqual({ status: 'up', apps: { default: expect.objectContaining({ status: 'up' }) } });
  });

  describe('suites', () => {
    async function bootSuite(): Promise<WeComHealthIndicator> {
      const s = sim.suite();
      return boot([
        WeComSuiteModule.forRoot({
          ...s, // suiteId, suiteSecret, callbackToken, encodingAESKey
          permanentCodes: new MemoryCodes(),
          providerCorpId: sim.provider.corpId,
          providerSecret: sim.provider.secret,
          baseUrl: sim.baseUrl,
        }),
      ]);
    }

    it('down while getSuiteToken fails (40085, no suite_ticket yet) with no request sent; up once a suite_ticket arrived', async () => {
      const indicator = await bootSuite();
      const suiteId = sim.suite().suiteId;
      const down = await checked(indicator, { failureMemoryMs: 1 });
      expect(down.status).toBe('down');
      expect(down.suites![suiteId]).toMatchObject({ status: 'down', errcode: 40085 });
      expect(down.suites![`${suiteId}:provider`]).toMatchObject({ status: 'up' });
      expect(down.message).toContain(`suite '${suiteId}': 40085`);
      // Asked again each time (a 1 ms failure memory): still no request, since there is no suite_ticket to send.
      for (let i = 0; i < 10; i++) {
        await new Promise((resolve) => setTimeout(resolve, 2));
        expect((await checked(indicator, { failureMemoryMs: 1 })).status).toBe('down');
      }
      expect(sim.calls(SUITE_TOKEN_PATH)).toBe(0);
      expect(sim.calls(PROVIDER_TOKEN_PATH)).toBe(1);

      const suite = app!.get(SuiteService);
      const cb = sim.suiteCallback('suite_ticket');
      await suite.handleCallback(cb.query, cb.body);
      await new Promise((resolve) => setTimeout(resolve, 5));
      const up = await checked(indicator, { failureMemoryMs: 1 });
      expect(up.status).toBe('up');
      expect(up.suites![suiteId]).toEqual({ status: 'up', validForSeconds: expect.any(Number) });
      expect(sim.calls(SUITE_TOKEN_PATH)).toBe(1);
      for (let i = 0; i < 10; i++) expect((await checked(indicator)).status).toBe('up');
      expect(sim.calls(SUITE_TOKEN_PATH)).toBe(1);
      expect(sim.calls(PROVIDER_TOKEN_PATH)).toBe(1);
    });

    it('down while the provider token fails (40091), polled without extra requests', async () => {
      const indicator = await bootSuite();
      const suiteId = sim.suite().suiteId;
      sim.failNext(PROVIDER_TOKEN_PATH, { errcode: 40091 }, 50);
      const down = await checked(indicator);
      expect(down.suites![`${suiteId}:provider`]).toMatchObject({ status: 'down', errcode: 40091 });
      const sent = sim.calls(PROVIDER_TOKEN_PATH);
      expect(sent).toBe(1);
      for (let i = 0; i < 20; i++) expect((await checked(indicator)).suites![`${suiteId}:provider`].status).toBe('down');
      expect(sim.calls(PROVIDER_TOKEN_PATH)).toBe(sent);
      expectNoneOf(JSON.stringify(down), [sim.provider.secret, sim.suite().suiteSecret]);
    });
  });
});
