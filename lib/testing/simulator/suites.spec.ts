import { WeComCrypto } from '../../crypto/wecom-crypto.js';
import { openEncryptedEnvelope, parseSuiteCallback } from '../../crypto/callback-message.js';
import { WeComSimulator } from '../wecom-simulator.js';

type Body = Record<string, unknown> & { errcode?: number };

describe('WeComSimulator third-party apps (suites.ts)', () => {
  let sim: WeComSimulator;
  beforeEach(async () => {
    sim = await WeComSimulator.start();
  });
  afterEach(() => sim.close());

  async function post(path: string, body: unknown, query: Record<string, string> = {}): Promise<Body> {
    const qs = new URLSearchParams(query).toString();
    const res = await fetch(`${sim.baseUrl}${path}${qs ? `?${qs}` : ''}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(200);
    return (await res.json()) as Body;
  }

  async function suiteToken(): Promise<string> {
    const { suiteId, suiteSecret } = sim.suite();
    const body = await post('/cgi-bin/service/get_suite_token', { suite_id: suiteId, suite_secret: suiteSecret, suite_ticket: sim.issueSuiteTicket() });
    expect(body).toEqual({ errcode: 0, errmsg: 'ok', suite_access_token: expect.any(String), expires_in: 7200 });
    return body.suite_access_token as string;
  }

  it('get_suite_token: 40083 bad suite_id, 40080 bad secret, 40085 missing / unknown / another suite’s ticket', async () => {
    const { suiteId, suiteSecret } = sim.suite();
    const ticket = sim.issueSuiteTicket();
    expect((await post('/cgi-bin/service/get_suite_token', { suite_id: 'nope', suite_secret: suiteSecret, suite_ticket: ticket })).errcode).toBe(40083);
    expect((await post('/cgi-bin/service/get_suite_token', { suite_id: suiteId, suite_secret: 'wrong', suite_ticket: ticket })).errcode).toBe(40080);
    expect((await post('/cgi-bin/service/get_suite_token', { suite_id: suiteId, suite_secret: suiteSecret })).errcode).toBe(40085);
    expect((await post('/cgi-bin/service/get_suite_token', { suite_id: suiteId, suite_secret: suiteSecret, suite_ticket: 'x' })).errcode).toBe(40085);
    const two = await WeComSimulator.start({
      suites: [
        { suiteId: 'a', suiteSecret: 'secret-a-123' },
        { suiteId: 'b', suiteSecret: 'secret-b-123' },
      ],
    });
    try {
      const res = await fetch(`${two.baseUrl}/cgi-bin/service/get_suite_token`, {
        method: 'POST',
        body: JSON.stringify({ suite_id: 'a', suite_secret: 'secret-a-123', suite_ticket: two.issueSuiteTicket('b') }),
      });
      expect(((await res.json()) as Body).errcode).toBe(40085);
    } finally {
      await two.close();
    }
  });

  it('get_provider_token with the provider corpid and secret', async () => {
    const ok = await post('/cgi-bin/service/get_provider_token', { corpid: sim.provider.corpId, provider_secret: sim.provider.secret });
    expect(ok).toEqual({ errcode: 0, errmsg: 'ok', provider_access_token: expect.any(String), expires_in: 7200 });
    expect((await post('/cgi-bin/service/get_provider_token', { corpid: sim.provider.corpId, provider_secret: 'no' })).errcode).toBe(40091);
  });

  it('auth_code → permanent code (v1 with a token, v2 without; one-time, 40078) → get_corp_token → user/get', async () => {
    const token = await suiteToken();
    const { authCode, corpId } = sim.createAuthCode();
    const v1 = await post('/cgi-bin/service/get_permanent_code', { auth_code: authCode }, { suite_access_token: token });
    expect(v1).toMatchObject({ errcode: 0, permanent_code: expect.any(String), auth_corp_info: { corpid: corpId }, access_token: expect.any(String), expires_in: 7200 });
    expect((await post('/cgi-bin/service/get_permanent_code', { auth_code: authCode }, { suite_access_token: token })).errcode).toBe(40078);
    const second = sim.createAuthCode();
    const v2 = await post('/cgi-bin/service/v2/get_permanent_code', { auth_code: second.authCode }, { suite_access_token: token });
    expect(v2.permanent_code).toEqual(expect.any(String));
    expect(v2.access_token).toBeUndefined();

    const corp = await post('/cgi-bin/service/get_corp_token', { auth_corpid: corpId, permanent_code: v1.permanent_code }, { suite_access_token: token });
    expect(corp).toEqual({ errcode: 0, errmsg: 'ok', access_token: expect.any(String), expires_in: 7200 });
    const user = await (await fetch(`${sim.baseUrl}/cgi-bin/user/get?access_token=${encodeURIComponent(corp.access_token as string)}&userid=zhangsan`)).json();
    expect(user).toMatchObject({ errcode: 0 });
    expect(sim.calls('/cgi-bin/service/get_corp_token')).toBe(1);

    expect((await post('/cgi-bin/service/get_corp_token', { auth_corpid: corpId, permanent_code: 'bad' }, { suite_access_token: token })).errcode).toBe(40084);
    sim.revokeCorpTokens(corpId);
    expect(((await (await fetch(`${sim.baseUrl}/cgi-bin/user/get?access_token=${encodeURIComponent(corp.access_token as string)}&userid=zhangsan`)).json()) as Body).errcode).toBe(
      40014,
    );
    sim.cancelAuth(corpId);
    expect((await post('/cgi-bin/service/get_corp_token', { auth_corpid: corpId, permanent_code: v1.permanent_code }, { suite_access_token: token })).errcode).toBe(40084);
  });

  it('suite token checks: 40082 missing or revoked, 42009 expired', async () => {
    const token = await suiteToken();
    const { permanentCode, corpId } = sim.authoriseCorp();
    const call = (t?: string): Promise<Body> => post('/cgi-bin/service/get_corp_token', { auth_corpid: corpId, permanent_code: permanentCode }, t ? { suite_access_token: t } : {});
    expect((await call()).errcode).toBe(40082);
    expect((await call(token)).errcode).toBe(0);
    sim.expireSuiteTokens();
    expect((await call(token)).errcode).toBe(42009);
    const fresh = await suiteToken();
    sim.revokeSuiteTokens();
    expect((await call(fresh)).errcode).toBe(40082);
  });

  it('produces the encrypted callbacks WeCom would POST, and the URL check', () => {
    const s = sim.suite();
    const crypto = new WeComCrypto({ token: s.callbackToken, encodingAESKey: s.encodingAESKey, receiveId: s.suiteId });
    const ticket = sim.suiteCallback('suite_ticket', { timeStamp: 1700000000 });
    expect(parseSuiteCallback(openEncryptedEnvelope(crypto, ticket.query, ticket.body))).toMatchObject({
      infoType: 'suite_ticket',
      suiteId: s.suiteId,
      suiteTicket: ticket.suiteTicket,
      timeStamp: 1700000000,
    });
    const created = sim.suiteCallback('create_auth');
    expect(parseSuiteCallback(openEncryptedEnvelope(crypto, created.query, created.body))).toMatchObject({ infoType: 'create_auth', authCode: created.authCode });
    const cancelled = sim.suiteCallback('cancel_auth', { corpId: created.corpId! });
    expect(parseSuiteCallback(openEncryptedEnvelope(crypto, cancelled.query, cancelled.body))).toMatchObject({ infoType: 'cancel_auth', authCorpId: created.corpId });
    const check = sim.urlVerification();
    expect(crypto.decryptVerified(check.query.msg_signature, check.query.timestamp, check.query.nonce, check.query.echostr)).toBe(check.expected);
  });

  it('records the peak of concurrent service requests under a delay', async () => {
    sim.setServiceDelay(50);
    const { suiteId, suiteSecret } = sim.suite();
    await Promise.all([1, 2, 3].map(() => post('/cgi-bin/service/get_suite_token', { suite_id: suiteId, suite_secret: suiteSecret })));
    expect(sim.peakServiceConcurrency()).toBe(3);
  });
});
