import { Logger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { createCache } from 'cache-manager';
import { createCipheriv } from 'node:crypto';
import { inspect } from 'node:util';
import { SuiteService, WeComApiError, WeComCrypto, WeComCallbackError, WeComSuiteModule } from '../lib/index';
import { WeComSimulator } from '../lib/testing';
import { MemoryCodes } from './support/memory-codes';

describe('WeComSuiteModule against the simulator', () => {
  let sim: WeComSimulator;
  let codes: MemoryCodes;
  let suite: SuiteService;
  let close: () => Promise<void>;
  const cache = () => createCache();
  let shared = cache();

  async function boot(extra: Record<string, unknown> = {}): Promise<SuiteService> {
    const s = sim.suite();
    const moduleRef = await Test.createTestingModule({
      imports: [
        WeComSuiteModule.forRoot({
          ...s, // suiteId, suiteSecret, callbackToken, encodingAESKey
          permanentCodes: codes,
          providerCorpId: sim.provider.corpId,
          providerSecret: sim.provider.secret,
          baseUrl: sim.baseUrl,
          cache: shared,
          ...extra,
        }),
      ],
    }).compile();
    await moduleRef.init();
    close = () => moduleRef.close();
    return moduleRef.get(SuiteService);
  }

  beforeEach(async () => {
    sim = await WeComSimulator.start();
    codes = new MemoryCodes();
    shared = cache();
    suite = await boot();
  });
  afterEach(async () => {
    await close();
    await sim.close();
  });

  async function deliver(event: Parameters<WeComSimulator['suiteCallback']>[0], options?: Parameters<WeComSimulator['suiteCallback']>[1]) {
    const cb = sim.suiteCallback(event, options);
    expect(await suite.handleCallback(cb.query, cb.body)).toBe('success');
    return cb;
  }

  it('URL check: returns the echostr for the suiteId and for the providerCorpId', async () => {
    const forSuite = sim.urlVerification();
    expect(await suite.handleCallback(forSuite.query)).toBe(forSuite.expected);
    const forProvider = sim.urlVerification(undefined, sim.provider.corpId);
    expect(await suite.handleCallback(forProvider.query)).toBe(forProvider.expected);
    const other = sim.urlVerification(undefined, 'wwsomeoneelse');
    await expect(suite.handleCallback(other.query)).rejects.toMatchObject({ reason: 'receiver' });
  });

  it('getSuiteToken before any suite_ticket: fast, clear 40085 error, no request', async () => {
    const started = Date.now();
    const error = await suite.getSuiteToken().catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(200);
    expect(error).toBeInstanceOf(WeComApiError);
    expect(error).toMatchObject({ errcode: 40085, reason: 'no-suite-ticket' });
    expect((error as Error).message).toContain('suite_ticket');
    expect(sim.calls()).toBe(0);
  });

  it('suite_ticket callback: stored in the shared cache, the latest TimeStamp wins; getSuiteToken uses it', async () => {
    const now = Math.floor(Date.now() / 1000);
    const newer = await deliver('suite_ticket', { timeStamp: now });
    await deliver('suite_ticket', { timeStamp: now - 600 });
    const key = `wecom:v1:suite:${sim.suite().suiteId}:suite_ticket`;
    expect(await shared.get(key)).toEqual({ ticket: newer.suiteTicket, timeStamp: now });
    const [a, b] = await Promise.all([suite.getSuiteToken(), suite.getSuiteToken()]);
    expect(a).toBe(b);
    expect(sim.calls('/cgi-bin/service/get_suite_token')).toBe(1);
    expect(JSON.stringify(sim.requests.map((r) => r.query))).not.toContain(newer.suiteTicket!);
  });

  it('getProviderToken: one get_provider_token for concurrent callers', async () => {
    const [token, again] = await Promise.all([suite.getProviderToken(), suite.getProviderToken()]);
    expect(token).toEqual(expect.any(String));
    expect(again).toBe(token);
    expect(sim.calls('/cgi-bin/service/get_provider_token')).toBe(1);
  });

  it('create_auth → permanent code stored → getCorpToken → clientFor(corp).get(user/get); corp token revoked → replaced once, replayed once', async () => {
    await deliver('suite_ticket');
    const created = await deliver('create_auth');
    const corpId = created.corpId!;
    expect(codes.codes.get(corpId)).toBe(sim.issuedSuiteValues().permanentCodes[0]);
    const token = await suite.getCorpToken(corpId);
    expect(sim.calls('/cgi-bin/service/get_corp_token')).toBe(1);
    const client = suite.clientFor(corpId);
    await expect(client.get('/cgi-bin/user/get', { userid: 'zhangsan' })).resolves.toMatchObject({ errcode: 0 });
    sim.revokeCorpTokens(corpId);
    await expect(client.get('/cgi-bin/user/get', { userid: 'zhangsan' })).resolves.toMatchObject({ errcode: 0 });
    expect(sim.calls('/cgi-bin/service/get_corp_token')).toBe(2);
    expect(await suite.getCorpToken(corpId)).not.toBe(token);
    expect(sim.calls('/cgi-bin/user/get')).toBe(3);
  });

  it('get_corp_token answered 40082 (suite token revoked): the suite token is replaced once and the call replayed once', async () => {
    await deliver('suite_ticket');
    const { corpId } = await deliver('create_auth');
    sim.revokeSuiteTokens();
    await expect(suite.getCorpToken(corpId!)).resolves.toEqual(expect.any(String));
    expect(sim.calls('/cgi-bin/service/get_suite_token')).toBe(2);
    expect(sim.calls('/cgi-bin/service/get_corp_token')).toBe(2);
  });

  it('suiteClient attaches suite_access_token (never access_token) and replaces it once on 40082', async () => {
    await deliver('suite_ticket');
    const { corpId } = await deliver('create_auth');
    const code = codes.codes.get(corpId!)!;
    const first = await suite.suiteClient.post<{ access_token: string }>('/cgi-bin/service/get_corp_token', { auth_corpid: corpId, permanent_code: code });
    expect(first.access_token).toEqual(expect.any(String));
    const sent = sim.requests.filter((r) => r.path === '/cgi-bin/service/get_corp_token').map((r) => r.query);
    expect(sent[0]).toHaveProperty('suite_access_token', await suite.getSuiteToken());
    expect(sent[0]).not.toHaveProperty('access_token');
    sim.revokeSuiteTokens();
    await expect(suite.suiteClient.post('/cgi-bin/service/get_corp_token', { auth_corpid: corpId, permanent_code: code })).resolves.toMatchObject({
      access_token: expect.any(String),
    });
    expect(sim.calls('/cgi-bin/service/get_suite_token')).toBe(2);
    expect(sim.calls('/cgi-bin/service/get_corp_token')).toBe(3);
  });

  it('cancel_auth: permanentCodes.delete, the corp is marked in the shared cache, getCorpToken rejects without a request, forever', async () => {
    await deliver('suite_ticket');
    const { corpId } = await deliver('create_auth');
    await suite.getCorpToken(corpId!);
    const tokenKey = `wecom:v1:suite:${sim.suite().suiteId}:corp:${corpId}:access_token`;
    expect(await shared.get(tokenKey)).toBeDefined();
    await deliver('cancel_auth', { corpId: corpId! });
    expect(codes.deleted).toEqual([corpId]);
    expect(await shared.get(tokenKey)).toBeUndefined();
    expect(await shared.get(`wecom:v1:suite:${sim.suite().suiteId}:corp:${corpId}:cancelled`)).toBe(1);
    sim.resetCounters();
    await expect(suite.getCorpToken(corpId!)).rejects.toMatchObject({ reason: 'cancelled' });
    await expect(suite.clientFor(corpId!).get('/cgi-bin/user/get', { userid: 'zhangsan' })).rejects.toMatchObject({ reason: 'cancelled' });
    expect(sim.calls()).toBe(0);

    // Another instance sharing the cache never fetches it either.
    const other = await boot();
    await expect(other.getCorpToken(corpId!)).rejects.toMatchObject({ reason: 'cancelled' });
    expect(sim.calls('/cgi-bin/service/get_corp_token')).toBe(0);
  });

  it('reset_permanent_code: the new code replaces the old one', async () => {
    await deliver('suite_ticket');
    const { corpId } = await deliver('create_auth');
    const old = codes.codes.get(corpId!);
    await deliver('reset_permanent_code', { corpId: corpId! });
    expect(codes.codes.get(corpId!)).not.toBe(old);
    await expect(suite.getCorpToken(corpId!)).resolves.toEqual(expect.any(String));
  });

  it('bad signature, another receiver, bad padding: WeComCallbackError, nothing stored', async () => {
    const key = `wecom:v1:suite:${sim.suite().suiteId}:suite_ticket`;
    const good = sim.suiteCallback('suite_ticket');
    await expect(suite.handleCallback({ ...good.query, msg_signature: '0'.repeat(40) }, good.body)).rejects.toMatchObject({ reason: 'signature' });
    const otherSim = await WeComSimulator.start({ suites: [{ ...sim.suite(), suiteId: 'wwanothersuite0001' }] });
    try {
      const foreign = otherSim.suiteCallback('suite_ticket');
      await expect(suite.handleCallback(foreign.query, foreign.body)).rejects.toMatchObject({ reason: 'receiver' });
      const s = sim.suite();
      const crypto = new WeComCrypto({ token: s.callbackToken, encodingAESKey: s.encodingAESKey, receiveId: s.suiteId });
      // A ciphertext of the right length whose padding is wrong: flip the last byte of the last block's plaintext.
      const aes = Buffer.from(`${s.encodingAESKey}=`, 'base64');
      const plain = Buffer.alloc(64, 0x41);
      plain[63] = 40;
      const cipher = createCipheriv('aes-256-cbc', aes, aes.subarray(0, 16)).setAutoPadding(false);
      const encrypt = Buffer.concat([cipher.update(plain), cipher.final()]).toString('base64');
      const ts = String(Math.floor(Date.now() / 1000));
      const query = { msg_signature: crypto.signature(ts, '2', encrypt), timestamp: ts, nonce: '2' };
      await expect(suite.handleCallback(query, `<xml><ToUserName><![CDATA[x]]></ToUserName><Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>`)).rejects.toMatchObject({
        reason: 'padding',
      });
    } finally {
      await otherSim.close();
    }
    await expect(suite.handleCallback({ ...good.query, msg_signature: 'x' }, good.body)).rejects.toBeInstanceOf(WeComCallbackError);
    expect(await shared.get(key)).toBeUndefined();
  });

  it('2,000 corps at once: exactly 2,000 get_corp_token calls, concurrency bounded', async () => {
    await deliver('suite_ticket');
    await suite.getSuiteToken();
    const corps = Array.from({ length: 2000 }, () => sim.authoriseCorp());
    for (const { corpId, permanentCode } of corps) codes.codes.set(corpId, permanentCode);
    sim.setServiceDelay(5);
    const tokens = await Promise.all(corps.flatMap(({ corpId }) => [suite.getCorpToken(corpId), suite.getCorpToken(corpId)]));
    expect(new Set(tokens).size).toBe(2000);
    expect(sim.calls('/cgi-bin/service/get_corp_token')).toBe(2000);
    expect(sim.peakServiceConcurrency()).toBeLessThanOrEqual(16);
    expect(sim.peakServiceConcurrency()).toBeGreaterThan(1);
  }, 60_000);

  it('no secret, permanent code or whole token in logs, errors, inspect, JSON or cache keys', async () => {
    const lines: string[] = [];
    const spies = (['log', 'error', 'warn', 'debug', 'verbose'] as const).map((level) =>
      jest.spyOn(Logger.prototype, level).mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(' '))),
    );
    try {
      await deliver('suite_ticket');
      const { corpId } = await deliver('create_auth');
      await suite.getCorpToken(corpId!);
      await suite.getProviderToken();
      const errors: unknown[] = [];
      sim.failNext('/cgi-bin/service/get_corp_token', { errcode: 40084 });
      await suite.credentials.corp(corpId!).invalidate();
      await suite.getCorpToken(corpId!).catch((e: unknown) => errors.push(e));
      await suite.getCorpToken('wwnocode').catch((e: unknown) => errors.push(e));
      await deliver('cancel_auth', { corpId: corpId! });
      await suite.getCorpToken(corpId!).catch((e: unknown) => errors.push(e));
      const s = sim.suite();
      const values = sim.issuedSuiteValues();
      const secrets = [
        s.suiteSecret,
        s.callbackToken,
        s.encodingAESKey,
        sim.provider.secret,
        ...values.permanentCodes,
        ...values.authCodes,
        ...values.suiteTickets,
        ...values.suiteTokens,
        ...values.corpTokens,
        ...values.providerTokens,
      ];
      const text = [...lines, ...errors.map((e) => `${String(e)} ${inspect(e)} ${JSON.stringify(e)}`), inspect(suite, { depth: 5, showHidden: true }), JSON.stringify(suite)].join(
        '\n',
      );
      expect(errors.length).toBeGreaterThanOrEqual(2);
      for (const secret of secrets) expect(text).not.toContain(secret);
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  });

  it('option validation names the option and the suite, never a value', async () => {
    const s = sim.suite();
    const build = (over: Record<string, unknown>) =>
      Test.createTestingModule({
        imports: [
          WeComSuiteModule.forRoot({
            ...s, // suiteId, suiteSecret, callbackToken, encodingAESKey
            permanentCodes: codes,
            ...over,
          }),
        ],
      }).compile();
    await expect(build({ suiteSecret: undefined })).rejects.toThrow(/option 'suiteSecret' of suite 'default' is missing/);
    await expect(build({ permanentCodes: {} })).rejects.toThrow(/permanentCodes/);
    await expect(build({ timeoutMs: -1 })).rejects.toThrow(/WeComSuiteModule: option 'timeoutMs' of suite 'default'/);
    await expect(build({ providerCorpId: 'x' })).rejects.toThrow(/providerSecret/);
    const noProvider = await build({});
    await expect(noProvider.get(SuiteService).getProviderToken()).rejects.toThrow(/providerCorpId/);
    await noProvider.close();
  });
});
