/**
 * WeComOAuthService and SuiteService.oauth against the simulator over real HTTP: the URLs and WeCom's rules for
 * them, the exchange (members, visitors, user_ticket), 40029 as WeComOAuthCodeError, the user_ticket fields, and the
 * third-party exchange with the suite token. Nothing printed of an identity shows its user_ticket.
 */
import { inspect } from 'node:util';
import { INestApplicationContext } from '@nestjs/common';
import { getWeComOAuthServiceToken, SuiteService, WeComApiError, WeComConfigError, WeComOAuthCodeError, WeComOAuthService, WeComSuiteModule, WeComTokenModule } from '../../lib';
import { WeComSimulator } from '../../lib/testing';
import { bootContext } from '../support/app';
import { CapturingLogger, expectNoneOf, renderError } from '../support/capture';
import { appOptions } from './identity-harness';

class MemoryCodes {
  readonly codes = new Map<string, string>();
  async get(corp: string) {
    return this.codes.get(corp);
  }
  async set(corp: string, code: string) {
    this.codes.set(corp, code);
  }
  async delete(corp: string) {
    this.codes.delete(corp);
  }
}

describe('WeComOAuthService', () => {
  let sim: WeComSimulator;
  let app: INestApplicationContext;
  let logger: CapturingLogger;
  let oauth: WeComOAuthService;

  beforeEach(async () => {
    sim = await WeComSimulator.start();
    ({ app, logger } = await bootContext([
      WeComTokenModule.forRoot(appOptions(sim, { auth: { scope: 'snsapi_privateinfo' } })),
      WeComTokenModule.forRoot({ ...appOptions(sim), name: 'crm' }),
    ]));
    oauth = app.get(WeComOAuthService);
  });

  afterEach(async () => {
    await app.close();
    expectNoneOf(logger.lines.join('\n'), [sim.secretOf(), ...sim.issuedTokens(), ...sim.oauth.issuedUserTickets()]);
    await sim.close();
  });

  it('builds the authorize and login URLs WeCom documents', () => {
    expect(oauth.authorizeUrl({ redirectUri: 'https://app.example.com/me?x=1', state: 'abc123' })).toBe(
      `${sim.baseUrl}/connect/oauth2/authorize?appid=${sim.corpId}&redirect_uri=https%3A%2F%2Fapp.example.com%2Fme%3Fx%3D1&response_type=code&scope=snsapi_privateinfo&state=abc123&agentid=1000002#wechat_redirect`,
    );
    expect(oauth.authorizeUrl({ redirectUri: 'https://app.example.com/', state: 'S', scope: 'snsapi_base' })).toContain('scope=snsapi_base');
    expect(oauth.loginUrl({ redirectUri: 'http://localhost:3000/me', state: 'Z9' })).toBe(
      `${sim.baseUrl}/wwlogin/sso/login?login_type=CorpApp&appid=${sim.corpId}&agentid=1000002&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fme&state=Z9`,
    );
    expect(app.get(getWeComOAuthServiceToken('crm'))).toBeInstanceOf(WeComOAuthService);
  });

  it.each([
    ['STATE with a dash', 'a-b'],
    ['empty', ''],
    ['129 characters', 'a'.repeat(129)],
    ['a newline', 'ab\nc'],
    ['non-ASCII', '状态'],
  ])('refuses a state that is %s before any redirect', (_label, state) => {
    expect(() => oauth.authorizeUrl({ redirectUri: 'https://app.example.com/', state })).toThrow(WeComConfigError);
    expect(() => oauth.loginUrl({ redirectUri: 'https://app.example.com/', state })).toThrow(/\[A-Za-z0-9\]/);
  });

  it.each(['/me', '//evil.example/me', 'javascript:alert(1)', 'ftp://x.example/', 'https://user:pw@x.example/', 'me'])('refuses the redirectUri %s', (redirectUri) => {
    expect(() => oauth.loginUrl({ redirectUri, state: 'abc' })).toThrow(/absolute http\(s\) URL/);
  });

  it("exchanges a member's code once: userId and a user_ticket that no print shows; the code again is WeComOAuthCodeError", async () => {
    const code = sim.oauth.issueCode({ agentId: 1000002, privateInfo: true, who: 'zhangsan' });
    const identity = await oauth.exchange(code);
    expect(identity).toEqual({ corpId: sim.corpId, userId: 'zhangsan', userTicketExpiresAt: expect.any(Number) });
    expect(identity.userTicket).toBe(sim.oauth.issuedUserTickets()[0]);
    const printed = [JSON.stringify(identity), inspect(identity, { showHidden: true, depth: 9 }), JSON.stringify({ ...identity }), String(Object.keys(identity))].join('\n');
    expectNoneOf(printed, sim.oauth.issuedUserTickets());

    const detail = await oauth.userDetail(identity.userTicket!);
    expect(detail).toEqual({
      userId: 'zhangsan',
      gender: '1',
      avatar: expect.stringContaining('http'),
      qrCode: expect.stringContaining('http'),
      mobile: '13800000000',
      email: 'zhangsan@example.com',
      bizMail: 'zhangsan@corp.example.com',
      address: expect.any(String),
    });

    const again = await oauth.exchange(code).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(WeComOAuthCodeError);
    expect(again).toBeInstanceOf(WeComApiError);
    expect((again as WeComOAuthCodeError).errcode).toBe(40029);
    expect((again as Error).message).toMatch(/already used or is older than 5 minutes/);
    expectNoneOf(renderError(again), [code]);
    expect(sim.gettokenCalls()).toBe(1);
  });

  it('an expired code is 40029; a code of another app (its agentid) is 40029; a malformed one is refused without a request', async () => {
    sim.oauth.setCodeLifetime(0.05);
    const expired = sim.oauth.issueCode({ agentId: 1000002 });
    await new Promise((r) => setTimeout(r, 80));
    await expect(oauth.exchange(expired)).rejects.toBeInstanceOf(WeComOAuthCodeError);
    sim.oauth.setCodeLifetime(300);
    const other = sim.oauth.issueCode({ suiteId: sim.suite().suiteId });
    await expect(oauth.exchange(other)).rejects.toBeInstanceOf(WeComOAuthCodeError);
    const before = sim.calls('/cgi-bin/auth/getuserinfo');
    for (const bad of ['', 'x'.repeat(513), 'a b', 'a\nb', 12 as unknown as string]) await expect(oauth.exchange(bad)).rejects.toBeInstanceOf(WeComOAuthCodeError);
    expect(sim.calls('/cgi-bin/auth/getuserinfo')).toBe(before);
  });

  it('a user_ticket that expired or is unknown is a WeComApiError, its value in no message', async () => {
    const error = await oauth.userDetail('not-a-ticket-0123456789').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WeComApiError);
    expectNoneOf(renderError(error), ['not-a-ticket-0123456789']);
  });

  it("the exchange uses the app's token: 40014 replaces it once and replays", async () => {
    const code = sim.oauth.issueCode({ agentId: 1000002 });
    await oauth.exchange(sim.oauth.issueCode({ agentId: 1000002 }));
    sim.revokeTokens();
    expect((await oauth.exchange(code)).userId).toBe('zhangsan');
    expect(sim.gettokenCalls()).toBe(2);
  });
});

describe('WeComOAuthService options', () => {
  it.each([
    [{ oauthBaseUrl: 'ftp://x' }, /oauthBaseUrl/],
    [{ loginBaseUrl: 'https://login.example/?q=1' }, /loginBaseUrl/],
    [{ auth: { sessionSecret: 'short' } }, /auth\.sessionSecret/],
    [{ auth: { sessionTtlSeconds: 0 } }, /auth\.sessionTtlSeconds/],
    [{ auth: { scope: 'snsapi_userinfo' as never } }, /auth\.scope/],
    [{ auth: { cookieName: 'a b;c' } }, /auth\.cookieName/],
    [{ auth: { publicOrigin: 'https://app.example.com/path' } }, /auth\.publicOrigin/],
  ])('fails at start-up naming the option: %o', async (extra, pattern) => {
    const sim = await WeComSimulator.start();
    try {
      const failure = await bootContext([WeComTokenModule.forRoot(appOptions(sim, extra))]).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(WeComConfigError);
      expect((failure as Error).message).toMatch(pattern);
      expectNoneOf(renderError(failure), [sim.secretOf(), 'short']);
    } finally {
      await sim.close();
    }
  });

  it('the web login and snsapi_privateinfo need an agentId, and say so', async () => {
    const sim = await WeComSimulator.start();
    const { app } = await bootContext([WeComTokenModule.forRoot({ corpId: sim.corpId, secret: sim.secretOf(), baseUrl: sim.baseUrl })]);
    try {
      const oauth = app.get(WeComOAuthService);
      expect(() => oauth.loginUrl({ redirectUri: 'https://a.example/', state: 'a' })).toThrow(/agentId/);
      expect(() => oauth.authorizeUrl({ redirectUri: 'https://a.example/', state: 'a', scope: 'snsapi_privateinfo' })).toThrow(/agentId/);
      expect(oauth.authorizeUrl({ redirectUri: 'https://a.example/', state: 'a' })).toMatch(/^https:\/\/open\.weixin\.qq\.com\/connect\/oauth2\/authorize\?/);
    } finally {
      await app.close();
      await sim.close();
    }
  });
});

describe('SuiteService.oauth (third-party apps)', () => {
  it("exchanges through service/auth/getuserinfo3rd with the suite token; corpId is the member's corp", async () => {
    const sim = await WeComSimulator.start();
    const suite = sim.suite();
    const { app, logger } = await bootContext([
      WeComSuiteModule.forRoot({
        suiteId: suite.suiteId,
        suiteSecret: suite.suiteSecret,
        callbackToken: suite.callbackToken,
        encodingAESKey: suite.encodingAESKey,
        permanentCodes: new MemoryCodes(),
        baseUrl: sim.baseUrl,
        oauthBaseUrl: sim.baseUrl,
        loginBaseUrl: sim.baseUrl,
      }),
    ]);
    try {
      const service = app.get(SuiteService);
      const cb = sim.suiteCallback('suite_ticket');
      await service.handleCallback(cb.query, cb.body);
      expect(service.oauth.loginUrl({ redirectUri: 'https://saas.example/me', state: 'x1' })).toBe(
        `${sim.baseUrl}/wwlogin/sso/login?login_type=ServiceApp&appid=${suite.suiteId}&redirect_uri=https%3A%2F%2Fsaas.example%2Fme&state=x1`,
      );
      expect(service.oauth.authorizeUrl({ redirectUri: 'https://saas.example/me', state: 'x1', scope: 'snsapi_privateinfo' })).not.toMatch(/agentid/);

      const code = sim.oauth.issueCode({ suiteId: suite.suiteId, who: { userId: 'wangwu', corpId: 'wwauthcorp000001' } });
      const identity = await service.oauth.exchange(code);
      expect(identity).toEqual({ corpId: 'wwauthcorp000001', userId: 'wangwu', openUserId: 'wowangwu', userTicketExpiresAt: expect.any(Number) });
      expect((await service.oauth.userDetail(identity.userTicket!)).corpId).toBe('wwauthcorp000001');
      expect(sim.calls('/cgi-bin/service/auth/getuserinfo3rd')).toBe(1);
      await expect(service.oauth.exchange(code)).rejects.toBeInstanceOf(WeComOAuthCodeError);
      // An app's code is not the suite's.
      await expect(service.oauth.exchange(sim.oauth.issueCode({ agentId: 1000002 }))).rejects.toBeInstanceOf(WeComOAuthCodeError);
      expect(sim.calls('/cgi-bin/service/get_suite_token')).toBe(1);
      expectNoneOf(logger.lines.join('\n'), [suite.suiteSecret, ...sim.oauth.issuedUserTickets(), ...sim.issuedSuiteValues().suiteTokens]);
    } finally {
      await app.close();
      await sim.close();
    }
  });
});
