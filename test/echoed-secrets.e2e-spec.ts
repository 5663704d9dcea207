/**
 * Issue 18 item 10: WeCom or a gateway that echoes the request (URL with its query string, and the body) in its
 * errmsg. For each credential the module sends, the echo is answered over loopback HTTP and every captured output
 * (log lines through a Logger, the error's message, stack, util.inspect and JSON) is scanned for the value and for
 * any 8-character piece of it: a later cut must not leave part of a secret either.
 */
import { INestApplicationContext } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import {
  AccessTokenService,
  JsapiTicketService,
  SuiteService,
  WeComApiError,
  WeComClient,
  WeComOAuthCodeError,
  WeComOAuthService,
  WeComSuiteModule,
  WeComTokenModule,
} from '../lib';
import { WeComSimulator } from '../lib/testing';
import { bootContext, FAST_RETRY } from './support/app';
import { CapturingLogger, renderError } from './support/capture';
import { MemoryCodes } from './support/memory-codes';

/** Fail naming the value and where it showed, when `printed` holds any 8-character piece of a value in `sent`. */
function expectNoPieceOf(printed: string, sent: readonly string[]): void {
  for (const value of sent) {
    expect(value.length).toBeGreaterThanOrEqual(8);
    for (let i = 0; i + 8 <= value.length; i++) {
      const piece = value.slice(i, i + 8);
      const at = printed.indexOf(piece);
      if (at >= 0) throw new Error(`a piece of a sent value leaked: …${printed.slice(Math.max(0, at - 60), at)}[${piece}]…`);
    }
  }
}

async function rejectionOf(promise: Promise<unknown>): Promise<WeComApiError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WeComApiError);
  return error as WeComApiError;
}

describe('echoed requests: nothing the module sent is kept in an error or printed', () => {
  let sim: WeComSimulator;
  let app: INestApplicationContext | undefined;
  let logger: CapturingLogger;

  beforeEach(async () => {
    // Random secrets, as WeCom's are: the simulator's defaults hold words ("provider") that a message names too.
    const secret = () => randomBytes(32).toString('base64url');
    sim = await WeComSimulator.start({
      apps: [{ name: 'default', secret: secret(), agentId: 1000002 }],
      suites: [{ suiteId: 'wwechosuite000001', suiteSecret: secret() }],
      provider: { secret: secret() },
    });
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await sim.close();
  });

  /** The echo reached the module (the fault fired and the error shows the echo), and nothing sent shows. */
  function expectRedacted(error: WeComApiError, path: string, sent: readonly string[]): void {
    expect(sim.requests.some((r) => r.path === path && r.fault !== undefined && 'kind' in r.fault && r.fault.kind === 'echo')).toBe(true);
    expect(error.errmsg).toContain('invalid request');
    expect(error.errmsg).toContain('[redacted]');
    expectNoPieceOf([...logger.lines, renderError(error), JSON.stringify({ error })].join('\n'), sent);
  }

  async function bootApp(): Promise<void> {
    ({ app, logger } = await bootContext([
      WeComTokenModule.forRoot({ corpId: sim.corpId, secret: sim.secretOf(), agentId: sim.app().agentId, baseUrl: sim.baseUrl, retry: FAST_RETRY }),
    ]));
  }

  it('app secret: gettoken echoing corpsecret', async () => {
    await bootApp();
    sim.failNext('gettoken', { kind: 'echo' });
    const error = await rejectionOf(app!.get(AccessTokenService).getToken());
    expect(error.message).toContain('errcode 40001');
    expectRedacted(error, '/cgi-bin/gettoken', [sim.secretOf()]);
  });

  it('access token: a client call echoing access_token (query) and the body it posted', async () => {
    await bootApp();
    const client = app!.get(WeComClient);
    await client.get('/cgi-bin/user/get', { userid: 'zhangsan' });
    sim.failNext('/cgi-bin/message/send', { kind: 'echo', errcode: 60011 });
    const error = await rejectionOf(client.post('/cgi-bin/message/send', { touser: 'zhangsan', msgtype: 'text', agentid: sim.app().agentId, text: { content: 'hi' } }));
    expect(error.errmsg).toContain('touser');
    expectRedacted(error, '/cgi-bin/message/send', sim.issuedTokens());
  });

  it('access token: a download echoing access_token', async () => {
    await bootApp();
    const client = app!.get(WeComClient);
    await app!.get(AccessTokenService).getToken();
    sim.failNext('/cgi-bin/media/get', { kind: 'echo', errcode: 40007 });
    const error = await rejectionOf(client.download('/cgi-bin/media/get', { media_id: 'MEDIA_ID_1' }));
    expectRedacted(error, '/cgi-bin/media/get', sim.issuedTokens());
  });

  it('access token: the JS-SDK ticket request echoing access_token', async () => {
    await bootApp();
    await app!.get(AccessTokenService).getToken();
    sim.failNext('/cgi-bin/get_jsapi_ticket', { kind: 'echo', errcode: 60011 });
    const error = await rejectionOf(app!.get(JsapiTicketService).getCorpTicket());
    expectRedacted(error, '/cgi-bin/get_jsapi_ticket', sim.issuedTokens());
  });

  it('OAuth code: an exchange whose getuserinfo echoes the code (40029) and the token', async () => {
    await bootApp();
    await app!.get(AccessTokenService).getToken();
    const code = `CODE${randomBytes(24).toString('base64url')}`;
    sim.failNext('/cgi-bin/auth/getuserinfo', { kind: 'echo', errcode: 40029 });
    const error = await rejectionOf(app!.get(WeComOAuthService).exchange(code));
    expect(error).toBeInstanceOf(WeComOAuthCodeError);
    expectRedacted(error, '/cgi-bin/auth/getuserinfo', [code, ...sim.issuedTokens()]);
  });

  describe('suites', () => {
    let codes: MemoryCodes;
    let suite: SuiteService;

    beforeEach(async () => {
      codes = new MemoryCodes();
      const s = sim.suite();
      ({ app, logger } = await bootContext([
        WeComSuiteModule.forRoot({
          ...s, // suiteId, suiteSecret, callbackToken, encodingAESKey
          permanentCodes: codes,
          providerCorpId: sim.provider.corpId,
          providerSecret: sim.provider.secret,
          baseUrl: sim.baseUrl,
        }),
      ]));
      suite = app.get(SuiteService);
    });

    async function deliver(event: Parameters<WeComSimulator['suiteCallback']>[0]) {
      const cb = sim.suiteCallback(event);
      await suite.handleCallback(cb.query, cb.body);
      return cb;
    }

    const issued = () => {
      const v = sim.issuedSuiteValues();
      return [sim.suite().suiteSecret, sim.provider.secret, ...v.suiteTickets, ...v.suiteTokens, ...v.providerTokens, ...v.corpTokens, ...v.authCodes, ...v.permanentCodes];
    };

    it('suite secret and suite_ticket: get_suite_token echoing its body', async () => {
      await deliver('suite_ticket');
      sim.failNext('/cgi-bin/service/get_suite_token', { kind: 'echo' });
      const error = await rejectionOf(suite.getSuiteToken());
      expect(error.errmsg).toContain('suite_id');
      expectRedacted(error, '/cgi-bin/service/get_suite_token', [sim.suite().suiteSecret, ...sim.issuedSuiteValues().suiteTickets]);
    });

    it('provider secret: get_provider_token echoing its body', async () => {
      sim.failNext('/cgi-bin/service/get_provider_token', { kind: 'echo' });
      const error = await rejectionOf(suite.getProviderToken());
      expectRedacted(error, '/cgi-bin/service/get_provider_token', [sim.provider.secret]);
    });

    it('auth code and suite token: get_permanent_code echoing both', async () => {
      await deliver('suite_ticket');
      await suite.getSuiteToken();
      sim.failNext('/cgi-bin/service/get_permanent_code', { kind: 'echo', errcode: 40078 });
      const cb = sim.suiteCallback('create_auth');
      const error = await rejectionOf(suite.handleCallback(cb.query, cb.body));
      expect(sim.issuedSuiteValues().authCodes.length).toBeGreaterThan(0);
      expectRedacted(error, '/cgi-bin/service/get_permanent_code', issued());
    });

    it('permanent code and suite token: get_corp_token echoing both', async () => {
      await deliver('suite_ticket');
      const { corpId } = await deliver('create_auth');
      expect(codes.codes.size).toBe(1);
      sim.failNext('/cgi-bin/service/get_corp_token', { kind: 'echo', errcode: 40084 });
      const error = await rejectionOf(suite.getCorpToken(corpId!));
      expectRedacted(error, '/cgi-bin/service/get_corp_token', issued());
    });

    it('provider token and suite token: providerClient and suiteClient calls echoing them', async () => {
      await deliver('suite_ticket');
      await suite.getProviderToken();
      sim.failNext('/cgi-bin/service/get_login_info', { kind: 'echo', errcode: 60011 });
      const provider = await rejectionOf(suite.providerClient.post('/cgi-bin/service/get_login_info', { auth_code: 'LOGIN_AUTH_CODE_123' }));
      expect(provider.errmsg).toContain('provider_access_token=[redacted]');
      expectRedacted(provider, '/cgi-bin/service/get_login_info', [...issued(), 'LOGIN_AUTH_CODE_123']);
      await suite.getSuiteToken();
      sim.failNext('/cgi-bin/service/get_auth_info', { kind: 'echo', errcode: 60011 });
      const viaSuite = await rejectionOf(suite.suiteClient.post('/cgi-bin/service/get_auth_info', { auth_corpid: 'wwsomecorp', permanent_code: 'PERMANENT_CODE_456' }));
      expect(viaSuite.errmsg).toContain('suite_access_token=[redacted]');
      expectRedacted(viaSuite, '/cgi-bin/service/get_auth_info', [...issued(), 'PERMANENT_CODE_456']);
    });

    it('corp token: a corp client call echoing access_token', async () => {
      await deliver('suite_ticket');
      const { corpId } = await deliver('create_auth');
      const client = suite.clientFor(corpId!);
      await client.get('/cgi-bin/user/get', { userid: 'zhangsan' });
      sim.failNext('/cgi-bin/user/get', { kind: 'echo', errcode: 60111 });
      const error = await rejectionOf(client.get('/cgi-bin/user/get', { userid: 'zhangsan' }));
      expectRedacted(error, '/cgi-bin/user/get', issued());
    });
  });
});
