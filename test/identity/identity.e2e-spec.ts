/**
 * Who is this user, over real HTTP on Express and Fastify: the guard sends a browser to the simulator's login page
 * (or, inside the WeCom client, its OAuth2 page), the simulator sends it back with a code, the guard exchanges it
 * with the app's token, sets the session cookie and answers 302 to the clean URL. Replays, forged and stale states
 * and reused codes end in a restart (once) or a 401, never a 500; no cookie or log line holds a user_ticket, a token
 * or the secret.
 */
import { WeComOAuthService } from '../../lib';
import { WeComSimulator } from '../../lib/testing';
import { expectNoneOf } from '../support/capture';
import { Browser, cookieText, PLATFORMS, Served, serveApp, sessionPayload } from './identity-harness';

const WXWORK_UA = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 wxwork/4.1.22 MicroMessenger/7.0.1';
const USERINFO = '/cgi-bin/auth/getuserinfo';

describe.each(PLATFORMS)('WeComAuthGuard on %s', (platform) => {
  let sim: WeComSimulator;
  let served: Served;
  const browsers: Browser[] = [];
  const browser = (ua?: string, headers?: Record<string, string>): Browser => {
    const b = new Browser(ua, headers);
    browsers.push(b);
    return b;
  };

  beforeEach(async () => {
    sim = await WeComSimulator.start();
    served = await serveApp(platform, sim);
  });

  afterEach(async () => {
    await served.close();
    // Every cookie and log line of the test, scanned for what must never leave the server whole.
    const secrets = [sim.secretOf(), ...sim.issuedTokens(), ...sim.oauth.issuedUserTickets()];
    expectNoneOf(cookieText(browsers.flatMap((b) => b.setCookies)), secrets);
    expectNoneOf(served.logger.lines.join('\n'), secrets);
    browsers.length = 0;
    await sim.close();
  });

  it('outside the WeCom client: 302 to the web login, back with a code, a session cookie, 302 to the clean URL', async () => {
    const b = browser();
    const first = await b.request(`${served.url}/me?tab=2`);
    expect(first.status).toBe(302);
    const login = new URL(first.location!);
    expect(`${login.origin}${login.pathname}`).toBe(`${sim.baseUrl}/wwlogin/sso/login`);
    expect(login.searchParams.get('login_type')).toBe('CorpApp');
    expect(login.searchParams.get('appid')).toBe(sim.corpId);
    expect(login.searchParams.get('agentid')).toBe(String(sim.app().agentId));
    expect(login.searchParams.get('redirect_uri')).toBe(`${served.url}/me?tab=2`);
    expect(login.searchParams.get('state')).toMatch(/^[A-Za-z0-9]{1,128}$/);
    const bindCookie = first.setCookies.find((c) => c.startsWith('wecom_session_state='))!;
    expect(bindCookie).toMatch(/HttpOnly/);
    expect(bindCookie).toMatch(/SameSite=Lax/);
    expect(bindCookie).not.toMatch(/Secure/);

    const atWeCom = await b.request(first.location!);
    expect(atWeCom.status).toBe(302);
    const back = new URL(atWeCom.location!);
    expect(back.pathname).toBe('/me');
    expect(back.searchParams.get('code')).toBeTruthy();
    expect(back.searchParams.get('state')).toBe(login.searchParams.get('state'));

    const returned = await b.request(atWeCom.location!);
    expect(returned.status).toBe(302);
    expect(returned.location).toBe(`${served.url}/me?tab=2`);
    const session = returned.setCookies.find((c) => c.startsWith('wecom_session='))!;
    expect(session).toMatch(/HttpOnly/);
    expect(session).toMatch(/SameSite=Lax/);
    expect(session).toMatch(/Max-Age=28800/);
    expect(session).not.toMatch(/Secure/);
    expect(sessionPayload(b.jar.get('wecom_session')!)).toEqual({ v: 1, c: sim.corpId, u: 'zhangsan', iat: expect.any(Number), exp: expect.any(Number) });
    // The web login's exchange came with a user_ticket: the session holds none of it.
    expect(sim.oauth.issuedUserTickets()).toHaveLength(1);

    const me = await b.request(returned.location!);
    expect(me.status).toBe(200);
    expect(JSON.parse(me.body)).toEqual({ corpId: sim.corpId, userId: 'zhangsan' });
    expect(sim.calls(USERINFO)).toBe(1);
  });

  it('inside the WeCom client (wxwork in the user agent): 302 to the OAuth2 page, back to the same route', async () => {
    const b = browser(WXWORK_UA);
    sim.oauth.signIn('lisi');
    const { final, steps } = await b.follow(`${served.url}/me`);
    const authorize = new URL(steps[0].location!);
    expect(`${authorize.origin}${authorize.pathname}`).toBe(`${sim.baseUrl}/connect/oauth2/authorize`);
    expect(steps[0].location).toMatch(/#wechat_redirect$/);
    expect(authorize.searchParams.get('scope')).toBe('snsapi_base');
    expect(authorize.searchParams.get('response_type')).toBe('code');
    expect(authorize.searchParams.get('redirect_uri')).toBe(`${served.url}/me`);
    expect(steps.map((s) => new URL(s.url).pathname)).toEqual(['/me', '/connect/oauth2/authorize', '/me', '/me']);
    expect(final.status).toBe(200);
    expect(JSON.parse(final.body)).toEqual({ corpId: sim.corpId, userId: 'lisi' });
  });

  it('a visitor who is not a member gets an identity with openId', async () => {
    sim.oauth.signIn({ openId: 'oVisitor001', externalUserId: 'wmExternal001' });
    const { final } = await browser(WXWORK_UA).follow(`${served.url}/me`);
    expect(JSON.parse(final.body)).toEqual({ corpId: sim.corpId, openId: 'oVisitor001', externalUserId: 'wmExternal001' });
  });

  it("100 logins cost 0 gettoken beyond the app's first one, and one exchange each", async () => {
    await browser().follow(`${served.url}/me`);
    expect(sim.gettokenCalls()).toBe(1);
    sim.resetCounters();
    for (let round = 0; round < 10; round++) {
      const results = await Promise.all(Array.from({ length: 10 }, () => new Browser().follow(`${served.url}/me`)));
      for (const { final } of results) expect(JSON.parse(final.body).userId).toBe('zhangsan');
    }
    expect(sim.gettokenCalls()).toBe(0);
    expect(sim.calls(USERINFO)).toBe(100);
  });

  it('a replayed callback URL restarts the flow once and exchanges nothing; a second failure is a 401, not a loop', async () => {
    const b = browser();
    const { steps } = await b.follow(`${served.url}/me`);
    const callback = steps[2].url;
    expect(callback).toMatch(/code=.*state=/);
    expect(sim.calls(USERINFO)).toBe(1);

    // The same browser without its session (it expired, or was cleared): the callback again.
    const replay = b.clone();
    replay.jar.delete('wecom_session');
    browsers.push(replay);
    const restarted = await replay.request(callback);
    expect(restarted.status).toBe(302);
    expect(new URL(restarted.location!).pathname).toBe('/wwlogin/sso/login');
    expect(sim.calls(USERINFO)).toBe(1);

    // The restart completes with a new code.
    const { final, steps: again } = await replay.follow(restarted.location!);
    expect(final.status).toBe(200);
    expect(sim.calls(USERINFO)).toBe(2);

    // Replaying the restart's callback too: the state says it was the second attempt, so 401 instead of a loop.
    const third = b.clone();
    third.jar.delete('wecom_session');
    browsers.push(third);
    const denied = await third.request(again[1].url);
    expect(denied.status).toBe(401);
    expect(sim.calls(USERINFO)).toBe(2);
  });

  it('the callback URL again in a browser that has its session: 302 to the clean URL, nothing exchanged', async () => {
    const b = browser();
    const { steps } = await b.follow(`${served.url}/me`);
    const again = await b.request(steps[2].url);
    expect(again.status).toBe(302);
    expect(again.location).toBe(`${served.url}/me`);
    expect(sim.calls(USERINFO)).toBe(1);
  });

  it('a reused code (40029) restarts once; 40029 on the restart is a 401; never a 500', async () => {
    const tokens = served.app.get(WeComOAuthService);
    const used = sim.oauth.issueCode({ agentId: sim.app().agentId });
    await tokens.exchange(used);
    const b = browser();
    const start = await b.request(`${served.url}/me`);
    const state = new URL(start.location!).searchParams.get('state')!;
    const refused = await b.request(`${served.url}/me?code=${used}&state=${state}`);
    expect(refused.status).toBe(302);
    expect(new URL(refused.location!).pathname).toBe('/wwlogin/sso/login');
    expect(sim.calls(USERINFO)).toBe(2);
    const restartState = new URL(refused.location!).searchParams.get('state')!;
    const second = await b.request(`${served.url}/me?code=${used}&state=${restartState}`);
    expect(second.status).toBe(401);
    expect(sim.calls(USERINFO)).toBe(3);
  });

  it('a state older than 10 minutes restarts once, without an exchange', async () => {
    const b = browser();
    const start = await b.request(`${served.url}/me`);
    const atWeCom = await b.request(start.location!);
    jest.useFakeTimers({
      doNotFake: ['nextTick', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout', 'queueMicrotask', 'hrtime', 'performance'],
    });
    try {
      jest.setSystemTime(Date.now() + 10 * 60_000 + 5_000);
      const stale = await b.request(atWeCom.location!);
      expect(stale.status).toBe(302);
      expect(new URL(stale.location!).pathname).toBe('/wwlogin/sso/login');
    } finally {
      jest.useRealTimers();
    }
    expect(sim.calls(USERINFO)).toBe(0);
  });

  it('a forged, altered or foreign state is 401 and exchanges nothing', async () => {
    const a = browser();
    const start = await a.request(`${served.url}/me`);
    const atWeCom = await a.request(start.location!);
    const callback = new URL(atWeCom.location!);
    const state = callback.searchParams.get('state')!;
    const code = callback.searchParams.get('code')!;

    const forged = await a.request(`${served.url}/me?code=${code}&state=${'a'.repeat(81)}`);
    expect(forged.status).toBe(401);
    const flipped = state.slice(0, 40) + (state[40] === '0' ? '1' : '0') + state.slice(41);
    expect((await a.request(`${served.url}/me?code=${code}&state=${flipped}`)).status).toBe(401);
    expect((await a.request(`${served.url}/me?code=${code}&state=STATE`)).status).toBe(401);
    expect((await a.request(`${served.url}/me?code=${code}&state=${'x'.repeat(10_000)}`)).status).toBe(401);

    // Browser B (its own binding cookie) is handed A's callback: a login CSRF. 401, and A's code is still unused.
    const b = browser();
    await b.request(`${served.url}/me`);
    expect((await b.request(callback.toString())).status).toBe(401);
    // A browser with no binding cookie at all.
    expect((await browser().request(callback.toString())).status).toBe(401);
    expect(sim.calls(USERINFO)).toBe(0);

    // A itself still completes with that code.
    expect((await a.follow(callback.toString())).final.status).toBe(200);
    expect(state).toMatch(/^[A-Za-z0-9]{1,128}$/);
  });

  it('WeCom answering the exchange with an HTML 502, a dropped connection or -1 every time: 502, never a 500', async () => {
    for (const fault of [{ kind: 'html-502' as const }, { kind: 'drop' as const }, { errcode: -1 }]) {
      const b = browser();
      const start = await b.request(`${served.url}/me`);
      const atWeCom = await b.request(start.location!);
      sim.failNext(USERINFO, fault, 3);
      const res = await b.request(atWeCom.location!);
      expect(res.status).toBe(502);
      expect(JSON.parse(res.body).message).toMatch(/could not identify/);
      sim.clearFaults();
    }
    expect(served.logger.matching(/code exchange failed/).length).toBeGreaterThanOrEqual(3);
  });

  it('an altered session cookie is no session', async () => {
    const b = browser();
    await b.follow(`${served.url}/me`);
    const value = decodeURIComponent(b.jar.get('wecom_session')!);
    const [body, mac] = value.split('.') as [string, string];
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<string, unknown>;
    payload.u = 'lisi';
    b.jar.set('wecom_session', encodeURIComponent(`${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${mac}`));
    const res = await b.request(`${served.url}/me`);
    expect(res.status).toBe(302);
    expect(new URL(res.location!).pathname).toBe('/wwlogin/sso/login');
  });

  it('a request without a session that is not a GET is 401 (no redirect of a POST to WeCom)', async () => {
    const res = await browser().request(`${served.url}/me`, { method: 'POST' });
    expect(res.status).toBe(401);
  });

  it('an app without agentId: outside the WeCom client a 401 saying to open it there (logged once, naming agentId), never a 500; inside, the OAuth2 page', async () => {
    await served.close();
    served = await serveApp(platform, sim, { agentId: undefined });
    const outside = await Promise.all([browser().request(`${served.url}/me`), browser().request(`${served.url}/me`)]);
    for (const res of outside) {
      expect(res.status).toBe(401);
      expect(res.body).toContain('inside the WeCom client');
      expect(res.location).toBeUndefined();
    }
    const told = served.logger.lines.filter((line) => line.includes('has no agentId'));
    expect(told).toHaveLength(1);
    expect(told[0]).toContain("app 'default'");
    expect(told[0]).toContain('set the option agentId');
    const inside = await browser(WXWORK_UA).request(`${served.url}/me`);
    expect(inside.status).toBe(302);
    expect(new URL(inside.location!).pathname).toBe('/connect/oauth2/authorize');
  });

  it('routes of a named app (@WeComAuth({ app })) have their own session cookie', async () => {
    const b = browser();
    const { final } = await b.follow(`${served.url}/crm/me`);
    expect(final.status).toBe(200);
    expect(b.jar.has('wecom_session_crm')).toBe(true);
    expect(b.jar.has('wecom_session')).toBe(false);
  });

  it('a route without the guard sees no user', async () => {
    const res = await browser().request(`${served.url}/open`);
    expect(JSON.parse(res.body)).toEqual({ user: null });
  });
});

describe.each(PLATFORMS)('WeComAuthGuard behind an https proxy on %s', (platform) => {
  it('cookies are Secure and redirect_uri is https when the request came over https (trust proxy)', async () => {
    const sim = await WeComSimulator.start();
    const served = await serveApp(platform, sim, {}, { trustProxy: true });
    try {
      const b = new Browser(undefined, { 'x-forwarded-proto': 'https' });
      const first = await b.request(`${served.url}/me`);
      expect(first.setCookies.every((c) => /; Secure/.test(c))).toBe(true);
      const redirectUri = new URL(first.location!).searchParams.get('redirect_uri')!;
      expect(redirectUri).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/me$/);
      // The simulator returns to the https URL; the test sends that return to the plain-http server (the proxy's job).
      const atWeCom = await b.request(first.location!);
      const back = new URL(atWeCom.location!);
      const returned = await b.request(`${served.url}${back.pathname}${back.search}`);
      expect(returned.status).toBe(302);
      expect(returned.setCookies.find((c) => c.startsWith('wecom_session='))).toMatch(/; Secure/);
      const plain = await new Browser().request(`${served.url}/me`);
      expect(plain.setCookies.some((c) => /; Secure/.test(c))).toBe(false);
    } finally {
      await served.close();
      await sim.close();
    }
  });
});
