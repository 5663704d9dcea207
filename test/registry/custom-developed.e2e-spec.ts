/**
 * 代开发 (custom-developed apps): a suite with `customDeveloped: true` gets each authorised corp's token from gettoken
 * with the permanent code as secret, never from get_corp_token, cached under the self-built layout.
 */
import { Test } from '@nestjs/testing';
import { createCache } from 'cache-manager';
import { createHash } from 'node:crypto';
import { SuiteService, WeComConfigError, WeComSuiteModule } from '../../lib';
import { WeComSimulator } from '../../lib/testing';
import { MemoryCodes } from '../support/memory-codes';

const DK_SUITE = {
  suiteId: 'dkcustomtemplate0001',
  suiteSecret: 'dk-suite-secret-0123456789',
  callbackToken: 'dkCallbackToken',
  encodingAESKey: Buffer.alloc(32, 0x4b).toString('base64').slice(0, 43),
};

describe('WeComSuiteModule with customDeveloped: true (代开发)', () => {
  let sim: WeComSimulator;
  let codes: MemoryCodes;
  let suite: SuiteService;
  let close: () => Promise<void>;
  const cache = createCache();

  beforeEach(async () => {
    sim = await WeComSimulator.start({ suites: [DK_SUITE] });
    codes = new MemoryCodes();
    const moduleRef = await Test.createTestingModule({
      imports: [WeComSuiteModule.forRoot({ ...DK_SUITE, customDeveloped: true, permanentCodes: codes, baseUrl: sim.baseUrl, cache })],
    }).compile();
    await moduleRef.init();
    close = () => moduleRef.close();
    suite = moduleRef.get(SuiteService);
  });
  afterEach(async () => {
    await close();
    await sim.close();
  });

  async function deliver(event: Parameters<WeComSimulator['suiteCallback']>[0]) {
    const cb = sim.suiteCallback(event);
    expect(await suite.handleCallback(cb.query, cb.body)).toBe('success');
    return cb;
  }

  it('a 代开发 corp: 100 concurrent first asks → 1 gettoken with the permanent code, 0 get_corp_token, self-built cache key', async () => {
    await deliver('suite_ticket');
    const { corpId } = await deliver('create_auth');
    const permanentCode = codes.codes.get(corpId!)!;
    expect(permanentCode).toBe(sim.issuedSuiteValues().permanentCodes[0]);
    const tokens = await Promise.all(Array.from({ length: 100 }, () => suite.getCorpToken(corpId!)));
    expect(new Set(tokens).size).toBe(1);
    expect(sim.customGettokenCalls(corpId)).toBe(1);
    expect(sim.calls('/cgi-bin/service/get_corp_token')).toBe(0);
    expect(codes.gets).toBe(1);
    const key = `wecom:v1:${corpId}:${createHash('sha256').update(permanentCode).digest('hex').slice(0, 16)}:access_token`;
    expect(await cache.get<{ token: string }>(key)).toMatchObject({ token: tokens[0] });
    // The corp's client works with that token; a revoked one is replaced once, still by gettoken.
    const client = suite.clientFor(corpId!);
    await expect(client.get('/cgi-bin/user/get', { userid: 'zhangsan' })).resolves.toMatchObject({ errcode: 0 });
    sim.revokeCorpTokens(corpId);
    await expect(client.get('/cgi-bin/user/get', { userid: 'zhangsan' })).resolves.toMatchObject({ errcode: 0 });
    expect(sim.customGettokenCalls(corpId)).toBe(2);
    expect(sim.calls('/cgi-bin/service/get_corp_token')).toBe(0);
  });

  it('reset_permanent_code: the new code is the secret from then on, under its own key', async () => {
    await deliver('suite_ticket');
    const { corpId } = await deliver('create_auth');
    const first = await suite.getCorpToken(corpId!);
    const cb = sim.suiteCallback('reset_permanent_code', { corpId: corpId! });
    await suite.handleCallback(cb.query, cb.body);
    const second = await suite.getCorpToken(corpId!);
    expect(second).not.toBe(first);
    expect(sim.customGettokenCalls(corpId)).toBe(2);
  });

  it('a corp without a permanent code rejects without any request, and leaves nothing behind', async () => {
    await expect(suite.getCorpToken('wwnobody')).rejects.toMatchObject({ reason: 'no-permanent-code' });
    expect(sim.gettokenCalls()).toBe(0);
  });

  it('customDeveloped on a suiteId that is no dk… template fails at start-up, naming the option', async () => {
    const build = Test.createTestingModule({
      imports: [WeComSuiteModule.forRoot({ ...DK_SUITE, suiteId: 'wwnotatemplate', customDeveloped: true, permanentCodes: codes, baseUrl: sim.baseUrl })],
    }).compile();
    await expect(build).rejects.toThrow(WeComConfigError);
    await expect(
      Test.createTestingModule({ imports: [WeComSuiteModule.forRoot({ ...DK_SUITE, suiteId: 'wwnotatemplate', customDeveloped: true, permanentCodes: codes })] }).compile(),
    ).rejects.toThrow(/customDeveloped/);
  });
});

describe('SuiteService.ticketsFor(authCorpId): JS-SDK of authorised corps', () => {
  for (const customDeveloped of [false, true]) {
    it(`${customDeveloped ? '代开发' : 'a suite'}: signConfig and signAgentConfig (the authorised agentid) verified by the simulator; one ticket fetch for 50 callers`, async () => {
      const suiteOptions = customDeveloped ? DK_SUITE : { ...DK_SUITE, suiteId: 'wwthirdpartysuite001' };
      const sim = await WeComSimulator.start({ suites: [suiteOptions] });
      const codes = new MemoryCodes();
      const moduleRef = await Test.createTestingModule({
        imports: [WeComSuiteModule.forRoot({ ...suiteOptions, customDeveloped, permanentCodes: codes, baseUrl: sim.baseUrl })],
      }).compile();
      await moduleRef.init();
      try {
        const suite = moduleRef.get(SuiteService);
        for (const event of ['suite_ticket', 'create_auth'] as const) {
          const cb = sim.suiteCallback(event);
          await suite.handleCallback(cb.query, cb.body);
        }
        const corpId = [...codes.codes.keys()][0];
        const tickets = suite.ticketsFor(corpId);
        expect(suite.ticketsFor(corpId)).toBe(tickets);
        const url = 'https://corp.example.com/page?a=1#frag';
        const configs = await Promise.all(Array.from({ length: 50 }, () => tickets.signConfig(url)));
        const appName = sim.authorisedAppName(corpId);
        for (const config of configs) {
          expect(config.corpId).toBe(corpId);
          expect(sim.verifySignature({ kind: 'corp', appName, url, ...config }).valid).toBe(true);
        }
        expect(sim.ticketCalls('corp')).toBe(1);
        const agent = await tickets.signAgentConfig(url);
        expect(agent.agentId).toMatch(/^\d+$/);
        expect(sim.verifySignature({ kind: 'agent', appName, url, ...agent }).valid).toBe(true);
        expect(sim.calls('/cgi-bin/service/get_corp_token')).toBe(customDeveloped ? 0 : 1);
      } finally {
        await moduleRef.close();
        await sim.close();
      }
    });
  }
});
