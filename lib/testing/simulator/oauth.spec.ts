import { WeComSimulator } from '../wecom-simulator.js';

type Body = Record<string, unknown> & { errcode?: number };

describe('WeComSimulator user identity (oauth.ts)', () => {
  let sim: WeComSimulator;
  beforeEach(async () => {
    sim = await WeComSimulator.start();
  });
  afterEach(() => sim.close());

  const get = async (path: string, query: Record<string, string>): Promise<Response> =>
    fetch(`${sim.baseUrl}${path}?${new URLSearchParams(query).toString()}`, { redirect: 'manual' });
  const token = async (): Promise<string> => ((await (await get('/cgi-bin/gettoken', { corpid: sim.corpId, corpsecret: sim.secretOf() })).json()) as Body).access_token as string;
  const base = { appid: '', redirect_uri: 'https://app.example.com/me?x=1', response_type: 'code', scope: 'snsapi_base', state: 'abc123' };

  it("the authorize page answers 302 back with a code and the state, keeping the redirect_uri's query", async () => {
    const res = await get('/connect/oauth2/authorize', { ...base, appid: sim.corpId, agentid: '1000002' });
    expect(res.status).toBe(302);
    const back = new URL(res.headers.get('location')!);
    expect(`${back.origin}${back.pathname}`).toBe('https://app.example.com/me');
    expect(back.searchParams.get('x')).toBe('1');
    expect(back.searchParams.get('state')).toBe('abc123');
    const code = back.searchParams.get('code')!;
    const info = (await (await get('/cgi-bin/auth/getuserinfo', { access_token: await token(), code })).json()) as Body;
    expect(info).toEqual({ errcode: 0, errmsg: 'ok', userid: 'zhangsan' });
    const again = (await (await get('/cgi-bin/auth/getuserinfo', { access_token: await token(), code })).json()) as Body;
    expect(again.errcode).toBe(40029);
  });

  it.each([
    [{ appid: 'wwnotthecorp' }, /appid/],
    [{ response_type: 'token' }, /response_type/],
    [{ scope: 'snsapi_userinfo' }, /scope/],
    [{ scope: 'snsapi_privateinfo' }, /agentid/],
    [{ agentid: '999' }, /agentid 999/],
    [{ redirect_uri: '/relative' }, /redirect_uri/],
    [{ state: 'a-b' }, /state/],
    [{ state: 'a'.repeat(129) }, /state/],
  ])('the authorize page refuses %o with an HTML page (400)', async (change, problem) => {
    const res = await get('/connect/oauth2/authorize', { ...base, appid: sim.corpId, ...change });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(problem);
  });

  it("the login page: CorpApp needs the corp and an agentid; a member's web login comes with a user_ticket and its detail", async () => {
    expect((await get('/wwlogin/sso/login', { login_type: 'CorpApp', appid: sim.corpId, redirect_uri: 'http://a.example/', state: 's' })).status).toBe(400);
    const res = await get('/wwlogin/sso/login', { login_type: 'CorpApp', appid: sim.corpId, agentid: '1000002', redirect_uri: 'http://a.example/', state: 's' });
    const code = new URL(res.headers.get('location')!).searchParams.get('code')!;
    const info = (await (await get('/cgi-bin/auth/getuserinfo', { access_token: await token(), code })).json()) as Body;
    expect(info).toEqual({ errcode: 0, errmsg: 'ok', userid: 'zhangsan', user_ticket: expect.any(String), expires_in: 1800 });
    const detail = await fetch(`${sim.baseUrl}/cgi-bin/auth/getuserdetail?access_token=${await token()}`, {
      method: 'POST',
      body: JSON.stringify({ user_ticket: info.user_ticket }),
    });
    expect(await detail.json()).toEqual(expect.objectContaining({ errcode: 0, userid: 'zhangsan', mobile: '13800000000', email: 'zhangsan@example.com' }));
    const bad = await fetch(`${sim.baseUrl}/cgi-bin/auth/getuserdetail?access_token=${await token()}`, { method: 'POST', body: JSON.stringify({ user_ticket: 'nope' }) });
    expect(((await bad.json()) as Body).errcode).toBe(40029);
  });

  it('the consent page: allow gives a code, deny returns without one; a used consent link is refused', async () => {
    sim.oauth.setConsent('page');
    const res = await get('/connect/oauth2/authorize', { ...base, appid: sim.corpId });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('张三');
    const allow = /id="allow" href="([^"]+)"/.exec(html)![1].replace(/&amp;/g, '&');
    const deny = /id="deny" href="([^"]+)"/.exec(html)![1];
    const allowed = await fetch(`${sim.baseUrl}${allow}`, { redirect: 'manual' });
    expect(new URL(allowed.headers.get('location')!).searchParams.get('code')).toBeTruthy();
    expect((await fetch(`${sim.baseUrl}${allow}`, { redirect: 'manual' })).status).toBe(400);
    const second = await (await get('/connect/oauth2/authorize', { ...base, appid: sim.corpId })).text();
    const denied = await fetch(`${sim.baseUrl}${/id="deny" href="([^"]+)"/.exec(second)![1]}`, { redirect: 'manual' });
    expect(new URL(denied.headers.get('location')!).searchParams.has('code')).toBe(false);
    expect(deny).toMatch(/decision=deny/);
  });

  it('an expired code is 40029; a code bound to another app is 40029', async () => {
    const two = await WeComSimulator.start({
      apps: [
        { name: 'default', secret: 'secret-default-1', agentId: 1 },
        { name: 'crm', secret: 'secret-crm-0001', agentId: 2 },
      ],
    });
    try {
      const tokenOf = async (secret: string) =>
        ((await (await fetch(`${two.baseUrl}/cgi-bin/gettoken?corpid=${two.corpId}&corpsecret=${secret}`)).json()) as Body).access_token as string;
      const forCrm = two.oauth.issueCode({ agentId: 2 });
      const info = async (code: string, secret: string) =>
        ((await (await fetch(`${two.baseUrl}/cgi-bin/auth/getuserinfo?access_token=${await tokenOf(secret)}&code=${code}`)).json()) as Body).errcode;
      expect(await info(forCrm, 'secret-default-1')).toBe(40029);
      expect(await info(forCrm, 'secret-crm-0001')).toBe(0);
      const expiring = two.oauth.issueCode();
      two.oauth.expireCodes();
      expect(await info(expiring, 'secret-default-1')).toBe(40029);
      expect(await info('', 'secret-default-1')).toBe(41008);
    } finally {
      await two.close();
    }
  });

  it("service/auth/getuserinfo3rd needs the suite token (40082) and answers the member's corp, open_userid and user_ticket", async () => {
    const { suiteId, suiteSecret } = sim.suite();
    const code = sim.oauth.issueCode({ suiteId, who: { userId: 'wangwu', corpId: 'wwauthcorp01' } });
    expect(((await (await get('/cgi-bin/service/auth/getuserinfo3rd', { suite_access_token: 'nope', code })).json()) as Body).errcode).toBe(40082);
    const st = (await (
      await fetch(`${sim.baseUrl}/cgi-bin/service/get_suite_token`, {
        method: 'POST',
        body: JSON.stringify({ suite_id: suiteId, suite_secret: suiteSecret, suite_ticket: sim.issueSuiteTicket() }),
      })
    ).json()) as Body;
    const info = (await (await get('/cgi-bin/service/auth/getuserinfo3rd', { suite_access_token: st.suite_access_token as string, code })).json()) as Body;
    expect(info).toEqual({ errcode: 0, errmsg: 'ok', corpid: 'wwauthcorp01', userid: 'wangwu', open_userid: 'wowangwu', user_ticket: expect.any(String), expires_in: 1800 });
    const login = await get('/wwlogin/sso/login', { login_type: 'ServiceApp', appid: suiteId, redirect_uri: 'https://saas.example/', state: 'q' });
    expect(login.status).toBe(302);
  });
});
