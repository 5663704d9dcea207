/**
 * WeComHealthIndicator in a real TerminusModule application (terminus 11, the devDependency), through HTTP on a
 * listening port, against the simulator. Terminus 12 is covered by health-terminus12.e2e-spec.ts.
 */
import { Controller, Get, INestApplication, Module } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import type { AddressInfo } from 'node:net';
import { AccessTokenService, getAccessTokenServiceToken, WeComTokenModule, WeComTokenModuleOptions } from '../lib';
import { WeComHealthIndicator } from '../lib/health';
import { WeComSimulator } from '../lib/testing';
import { expectNoneOf } from './support/capture';

const SECRETS = { default: 'sim-secret-default-0123456789', crm: 'sim-secret-crm-5555555555' };

describe('WeComHealthIndicator (terminus 11, over HTTP)', () => {
  let sim: WeComSimulator;
  let app: INestApplication | undefined;

  beforeEach(async () => {
    sim = await WeComSimulator.start({
      apps: [
        { name: 'default', secret: SECRETS.default, agentId: 1000002 },
        { name: 'crm', secret: SECRETS.crm, kind: 'customer-contact' },
      ],
    });
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await sim.close();
  });

  const opts = (name: 'default' | 'crm'): WeComTokenModuleOptions => ({
    corpId: sim.corpId,
    secret: sim.secretOf(name),
    baseUrl: sim.baseUrl,
    retry: { attempts: 1, baseDelayMs: 5, maxDelayMs: 10 },
    ...(name === 'default' ? {} : { name }),
  });

  /** A listening application with GET /health (every app) and GET /health/crm (one app, short failure memory). */
  async function start(): Promise<string> {
    @Controller('health')
    class HealthController {
      constructor(
        private readonly health: HealthCheckService,
        private readonly wecom: WeComHealthIndicator,
      ) {}

      @Get()
      @HealthCheck()
      all() {
        return this.health.check([() => this.wecom.check()]);
      }

      @Get('crm')
      @HealthCheck()
      crm() {
        return this.health.check([() => this.wecom.check('wecom-crm', { apps: ['crm'], failureMemoryMs: 200 })]);
      }

      @Get('unknown')
      @HealthCheck()
      unknown() {
        return this.health.check([() => this.wecom.check('wecom', { apps: ['billing'] })]);
      }
    }

    @Module({
      imports: [TerminusModule.forRoot({ logger: false }), WeComTokenModule.forRoot(opts('default')), WeComTokenModule.forRoot(opts('crm'))],
      controllers: [HealthController],
      providers: [WeComHealthIndicator],
    })
    class AppModule {}

    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  async function get(url: string): Promise<{ status: number; text: string; body: Record<string, any> }> {
    const response = await fetch(url);
    const text = await response.text();
    return { status: response.status, text, body: JSON.parse(text) as Record<string, any> };
  }

  it('is up when every app can fetch a token, and answers later polls from the held tokens without gettoken', async () => {
    const base = await start();
    const first = await get(`${base}/health`);
    expect(first.status).toBe(200);
    expect(first.body.status).toBe('ok');
    expect(first.body.info.wecom.status).toBe('up');
    expect(Object.keys(first.body.info.wecom.apps).sort()).toEqual(['crm', 'default']);
    expect(first.body.info.wecom.apps.crm).toEqual({ status: 'up', validForSeconds: expect.any(Number) });
    expect(first.body.info.wecom.apps.crm.validForSeconds).toBeGreaterThan(7000);
    expect(sim.gettokenCalls()).toBe(2);

    for (let i = 0; i < 10; i++) expect((await get(`${base}/health`)).status).toBe(200);
    expect(sim.gettokenCalls()).toBe(2);
    expectNoneOf(first.text, [...sim.issuedTokens(), SECRETS.default, SECRETS.crm]);
  });

  it("is down with the app, the errcode and the hint when WeCom refuses the secret (40001 for 'crm'), and polling it costs no gettoken", async () => {
    const base = await start();
    await app!.get<AccessTokenService>(getAccessTokenServiceToken('default')).getToken();
    const crm = app!.get<AccessTokenService>(getAccessTokenServiceToken('crm'));
    const asked = jest.spyOn(crm, 'getToken');
    sim.failNext('gettoken', { errcode: 40001 });

    const down = await get(`${base}/health`);
    expect(down.status).toBe(503);
    expect(down.body.status).toBe('error');
    expect(down.body.error.wecom).toEqual({
      status: 'down',
      apps: {
        crm: { status: 'down', errcode: 40001, hint: expect.stringContaining('the secret does not match the corpid') },
        default: { status: 'up', validForSeconds: expect.any(Number) },
      },
      message: expect.stringContaining("app 'crm': 40001 the secret does not match the corpid"),
    });
    expect(sim.gettokenCalls('crm')).toBe(1);

    // Polled every few ms: answered from the indicator's memory, so neither the service nor WeCom is asked again.
    for (let i = 0; i < 20; i++) {
      const again = await get(`${base}/health`);
      expect(again.status).toBe(503);
      expect(again.body.error.wecom.apps.crm).toEqual({ status: 'down', errcode: 40001, hint: expect.any(String), retryInSeconds: expect.any(Number) });
      expectNoneOf(again.text, [...sim.issuedTokens(), SECRETS.default, SECRETS.crm]);
    }
    expect(asked).toHaveBeenCalledTimes(1);
    expect(sim.gettokenCalls('crm')).toBe(1);
    expectNoneOf(down.text, [...sim.issuedTokens(), SECRETS.default, SECRETS.crm]);
  });

  it('asks again once the failure memory has passed, and the service answers from its own cool-down', async () => {
    const base = await start();
    const crm = app!.get<AccessTokenService>(getAccessTokenServiceToken('crm'));
    const asked = jest.spyOn(crm, 'getToken');
    sim.failNext('gettoken', { errcode: 40001 });

    expect((await get(`${base}/health/crm`)).body.error['wecom-crm'].apps.crm.errcode).toBe(40001);
    expect((await get(`${base}/health/crm`)).status).toBe(503);
    expect(asked).toHaveBeenCalledTimes(1);

    await new Promise((resolve) => setTimeout(resolve, 250));
    const later = await get(`${base}/health/crm`);
    expect(later.body.error['wecom-crm'].apps.crm).toEqual({ status: 'down', errcode: 40001, hint: expect.any(String) });
    expect(asked).toHaveBeenCalledTimes(2);
    // The service's cool-down answered the second attempt: still one gettoken.
    expect(sim.gettokenCalls('crm')).toBe(1);
  });

  it("is down with WeCom's trusted-IP hint naming the IP it saw (60020)", async () => {
    const base = await start();
    sim.failNext('gettoken', { errcode: 60020 });
    const down = await get(`${base}/health/crm`);
    expect(down.status).toBe(503);
    expect(down.body.error['wecom-crm'].apps.crm).toEqual({ status: 'down', errcode: 60020, hint: expect.stringContaining('WeCom saw the call from 127.0.0.1') });
  });

  it('is down, without an errcode, when WeCom cannot be reached', async () => {
    const base = await start();
    sim.failNext('gettoken', { kind: 'html-502' });
    const down = await get(`${base}/health/crm`);
    expect(down.status).toBe(503);
    expect(down.body.error['wecom-crm'].apps.crm).toEqual({ status: 'down', hint: expect.stringMatching(/^WeCom gave no usable answer \(http-status: HTTP 502\)/) });
  });

  it('is down for an app name that is not registered', async () => {
    const base = await start();
    const down = await get(`${base}/health/unknown`);
    expect(down.status).toBe(503);
    expect(down.body.error.wecom.apps.billing).toEqual({ status: 'down', hint: "no app 'billing' is registered with WeComTokenModule" });
  });
});
