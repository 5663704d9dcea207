/**
 * One test for each row of the error table in wecom-api-notes.md §3, against the simulator over loopback HTTP,
 * plus the transport failures (dropped connection, hang, HTML 502, truncated body). Call counts prove the action.
 */
import { INestApplicationContext } from '@nestjs/common';
import { AccessTokenService, WeComApiError, WeComClient, WeComTokenModule, WeComTransportError } from '../lib';
import { SimulatedFault, WeComSimulator } from '../lib/testing';
import { bootContext, FAST_RETRY } from './support/app';
import { CapturingLogger, expectNoneOf, failureRecorder, renderError } from './support/capture';

describe('the error table', () => {
  let sim: WeComSimulator;
  let app: INestApplicationContext | undefined;
  let logger: CapturingLogger;
  const errors: unknown[] = [];

  beforeEach(async () => {
    sim = await WeComSimulator.start({
      apps: [
        { name: 'default', secret: 'sim-secret-default-0123456789', agentId: 1000002, kind: 'app' },
        { name: 'contacts', secret: 'sim-secret-contacts-9876543210', kind: 'contacts' },
      ],
    });
  });
  afterEach(async () => {
    // Whatever happened in the test, nothing printed or thrown may carry a secret or a whole token.
    const printed = [...logger.lines, ...errors.map(renderError)].join('\n');
    expectNoneOf(printed, [sim.secretOf('default'), sim.secretOf('contacts'), ...sim.issuedTokens()]);
    errors.length = 0;
    await app?.close();
    app = undefined;
    await sim.close();
  });

  async function boot(options: Record<string, unknown> = {}, name = 'default') {
    const booted = await bootContext([
      WeComTokenModule.forRoot({
        corpId: sim.corpId,
        secret: sim.secretOf(name),
        baseUrl: sim.baseUrl,
        retry: FAST_RETRY,
        timeoutMs: 500,
        ...(name === 'default' ? {} : { name }),
        ...options,
      }),
    ]);
    app = booted.app;
    logger = booted.logger;
    const tokens = app.get<AccessTokenService>(name === 'default' ? AccessTokenService : `WeComAccessTokenService(${name})`);
    const client = app.get<WeComClient>(name === 'default' ? WeComClient : `WeComClient(${name})`);
    return { tokens, client };
  }

  const failure = failureRecorder(errors);

  const gettokenFault = (fault: SimulatedFault, times = 1) => sim.failNext('gettoken', fault, times);

  describe('on gettoken', () => {
    it.each([-1, 45033])('%i: retried with backoff, bounded, then succeeds', async (errcode) => {
      const { tokens } = await boot();
      gettokenFault({ errcode }, 2);
      expect(await tokens.getToken()).toBe(sim.currentToken());
      expect(sim.gettokenCalls()).toBe(3);
    });

    it.each([-1, 45033])('%i: gives up after the bounded attempts with a typed error', async (errcode) => {
      const { tokens } = await boot();
      gettokenFault({ errcode }, 10);
      const error = (await failure(tokens.getToken())) as WeComApiError;
      expect(error).toBeInstanceOf(WeComApiError);
      expect(error.errcode).toBe(errcode);
      expect(sim.gettokenCalls()).toBe(FAST_RETRY.attempts);
    });

    it.each([40001, 40013, 40091])('%i: fails fast with the corp, the app and a hint; never loops; remembered for a cool-down', async (errcode) => {
      const { tokens } = await boot();
      gettokenFault({ errcode }, 10);
      const errs = await Promise.all(Array.from({ length: 20 }, () => failure(tokens.getToken())));
      const later = await failure(tokens.getToken());
      for (const error of [...errs, later] as WeComApiError[]) {
        expect(error).toBeInstanceOf(WeComApiError);
        expect(error.errcode).toBe(errcode);
        expect(error.path).toBe('/cgi-bin/gettoken');
        expect(error.corpId).toBe(sim.corpId);
        expect(error.app).toBe('default');
        expect(error.message).toContain(sim.corpId);
        expect(error.hint.length).toBeGreaterThan(20);
      }
      expect(sim.gettokenCalls()).toBe(1);
    });

    it('40013: a wrong corpId is named in the error', async () => {
      const booted = await bootContext([WeComTokenModule.forRoot({ corpId: 'wwnotacorp', secret: sim.secretOf(), baseUrl: sim.baseUrl, retry: FAST_RETRY })]);
      app = booted.app;
      logger = booted.logger;
      const error = (await failure(app.get(AccessTokenService).getToken())) as WeComApiError;
      expect(error.errcode).toBe(40013);
      expect(error.message).toContain('wwnotacorp');
      expect(error.hint).toMatch(/corpId/);
    });

    it('45009: not retried, gettoken paused, logged loudly', async () => {
      const { tokens } = await boot();
      gettokenFault({ errcode: 45009 }, 10);
      const first = (await failure(tokens.getToken())) as WeComApiError;
      const second = (await failure(tokens.getToken())) as WeComApiError;
      expect(first.errcode).toBe(45009);
      expect(second).toBe(first);
      expect(sim.gettokenCalls()).toBe(1);
      expect(logger.matching(/^error .*45009/).length).toBeGreaterThan(0);
    });

    it.each<[string, SimulatedFault]>([
      ['a dropped connection', { kind: 'drop' }],
      ['an HTML 502 page', { kind: 'html-502' }],
      ['a truncated JSON body', { kind: 'truncated-json' }],
      ['a hang past the timeout', { kind: 'hang' }],
    ])('%s: a clear WeComTransportError after bounded retries, never a TypeError', async (_, fault) => {
      const { tokens } = await boot({ timeoutMs: 200 });
      gettokenFault(fault, 10);
      const error = (await failure(tokens.getToken())) as WeComTransportError;
      expect(error).toBeInstanceOf(WeComTransportError);
      expect(error.message).toMatch(/GET \/cgi-bin\/gettoken for corp .*, app 'default' failed: /);
      expect(error).not.toHaveProperty('config');
      expect(error).not.toHaveProperty('request');
      expect(sim.gettokenCalls()).toBe(FAST_RETRY.attempts);
    });

    it('a delay shorter than the timeout is just a slow success', async () => {
      const { tokens } = await boot();
      gettokenFault({ kind: 'delay', ms: 100 });
      expect(await tokens.getToken()).toBe(sim.currentToken());
    });
  });

  describe('on business calls through WeComClient', () => {
    it.each([40014, 42001])('%i: the token is replaced once and the call replayed', async (errcode) => {
      const { client, tokens } = await boot();
      const before = await tokens.getToken();
      sim.failNext('/cgi-bin/user/get', { errcode });
      const user = await client.get<{ userid: string }>('/cgi-bin/user/get', { userid: 'zhangsan' });
      expect(user.userid).toBe('zhangsan');
      expect(sim.gettokenCalls()).toBe(2);
      // The forced rejection did not revoke the token, so WeCom (same-token mode) hands the same one back.
      expect(await tokens.getToken()).toBe(before);
      expect(sim.calls('/cgi-bin/user/get')).toBe(2);
    });

    it('40014 for real (revoked) and 42001 for real (expired) are both recovered', async () => {
      const { client } = await boot();
      await client.get('/cgi-bin/department/list');
      sim.revokeTokens();
      await client.get('/cgi-bin/department/list');
      sim.expireTokens();
      await client.get('/cgi-bin/department/list');
      expect(sim.gettokenCalls()).toBe(3);
    });

    it.each([-1, 45033])('%i on a GET: retried with backoff, bounded; a POST is not retried', async (errcode) => {
      const { client } = await boot();
      sim.failNext('/cgi-bin/department/list', { errcode }, 2);
      expect(await client.get('/cgi-bin/department/list')).toMatchObject({ errcode: 0 });
      expect(sim.calls('/cgi-bin/department/list')).toBe(3);
      sim.failNext('/cgi-bin/message/send', { errcode });
      const error = (await failure(client.post('/cgi-bin/message/send', { touser: 'zhangsan', msgtype: 'text', agentid: 1000002, text: { content: 'once' } }))) as WeComApiError;
      expect(error.errcode).toBe(errcode);
      expect(sim.calls('/cgi-bin/message/send')).toBe(1);
      expect(sim.sentMessages).toHaveLength(0);
    });

    it('41001: a bug, failed fast and not replayed', async () => {
      const { client } = await boot();
      sim.failNext('/cgi-bin/user/get', { errcode: 41001 });
      const error = (await failure(client.get('/cgi-bin/user/get', { userid: 'zhangsan' }))) as WeComApiError;
      expect(error.errcode).toBe(41001);
      expect(sim.calls('/cgi-bin/user/get')).toBe(1);
    });

    it('40056: an invalid agentid is a typed error naming the path', async () => {
      const { client } = await boot();
      const error = (await failure(client.post('/cgi-bin/message/send', { touser: 'zhangsan', msgtype: 'text', agentid: 999, text: { content: 'hi' } }))) as WeComApiError;
      expect(error.errcode).toBe(40056);
      expect(error.path).toBe('/cgi-bin/message/send');
      expect(error.hint).toMatch(/agentid/);
    });

    it('48002: an API not allowed for this secret says which kind of secret is needed', async () => {
      const { client } = await boot({}, 'contacts');
      const error = (await failure(client.post('/cgi-bin/message/send', { touser: 'zhangsan', msgtype: 'text', agentid: 1000002, text: { content: 'hi' } }))) as WeComApiError;
      expect(error.errcode).toBe(48002);
      expect(error.app).toBe('contacts');
      expect(error.hint).toMatch(/secret/);
      expect(sim.gettokenCalls()).toBe(1);
    });

    it.each([48001, 48006, 50003])('%i: fails fast, the token is kept', async (errcode) => {
      const { client, tokens } = await boot();
      const token = await tokens.getToken();
      sim.failNext('api', { errcode });
      const error = (await failure(client.get('/cgi-bin/department/list'))) as WeComApiError;
      expect(error.errcode).toBe(errcode);
      expect(await tokens.getToken()).toBe(token);
      expect(sim.gettokenCalls()).toBe(1);
    });

    it('60020: not a token problem; the token is kept and the IP WeCom saw is named', async () => {
      const { client, tokens } = await boot();
      const token = await tokens.getToken();
      sim.failNext('api', { errcode: 60020 });
      const error = (await failure(client.get('/cgi-bin/department/list'))) as WeComApiError;
      expect(error.errcode).toBe(60020);
      expect(error.hint).toContain('127.0.0.1');
      expect(await tokens.getToken()).toBe(token);
      expect(sim.gettokenCalls()).toBe(1);
      expect(sim.calls('/cgi-bin/department/list')).toBe(1);
    });

    it('45009 on a business call is a typed error; no token churn', async () => {
      const { client } = await boot();
      sim.failNext('api', { errcode: 45009 });
      const error = (await failure(client.get('/cgi-bin/department/list'))) as WeComApiError;
      expect(error.errcode).toBe(45009);
      expect(sim.gettokenCalls()).toBe(1);
    });
  });
});
