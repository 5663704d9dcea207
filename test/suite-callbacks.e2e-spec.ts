/**
 * Issue 18 items 2, 5 and 8: a suite's 指令回调 under attack, against the simulator over real loopback HTTP.
 * Replays act once, stale timestamps are refused, the URL check answers only a decrypted echostr, a suite_ticket
 * dated in the future does not freeze the kept one, oversized and unsigned bodies never reach the XML parser, and
 * nothing is written after app.close() resolves.
 */
import { Test } from '@nestjs/testing';
import { createCache, type Cache } from 'cache-manager';
import { SuiteService, WeComCallbackError, WeComCrypto, WeComSuiteModule } from '../lib/index';
import type { PermanentCodeStore } from '../lib/index';
import { WeComSimulator } from '../lib/testing';
import { buildEncryptedEnvelope, buildSuiteCallbackXml } from '../lib/crypto/callback-message';

const PERMANENT_CODE_PATH = '/cgi-bin/service/get_permanent_code';

/** Permanent codes in memory, each call recorded with whether the module had already closed. */
class RecordingCodes implements PermanentCodeStore {
  readonly codes = new Map<string, string>();
  readonly writes: Array<{ op: 'set' | 'delete'; corpId: string; afterClose: boolean }> = [];
  closed = false;
  async get(corpId: string): Promise<string | undefined> {
    return this.codes.get(corpId);
  }
  async set(corpId: string, code: string): Promise<void> {
    this.writes.push({ op: 'set', corpId, afterClose: this.closed });
    this.codes.set(corpId, code);
  }
  async delete(corpId: string): Promise<void> {
    this.writes.push({ op: 'delete', corpId, afterClose: this.closed });
    this.codes.delete(corpId);
  }
}

const reasonOf = async (promise: Promise<unknown>): Promise<string> =>
  promise.then(
    () => 'accepted',
    (error: unknown) => (error instanceof WeComCallbackError ? error.reason : `error: ${error instanceof Error ? error.message : String(error)}`),
  );

describe('suite callbacks under attack (issue 18.2, 18.5, 18.8)', () => {
  let sim: WeComSimulator;
  let codes: RecordingCodes;
  let suite: SuiteService;
  let cache: Cache;
  let close: () => Promise<void>;
  let crypto: WeComCrypto;

  async function boot(extra: Record<string, unknown> = {}): Promise<SuiteService> {
    const s = sim.suite();
    const moduleRef = await Test.createTestingModule({
      imports: [
        WeComSuiteModule.forRoot({
          ...s, // suiteId, suiteSecret, callbackToken, encodingAESKey
          permanentCodes: codes,
          baseUrl: sim.baseUrl,
          cache,
          ...extra,
        }),
      ],
    }).compile();
    await moduleRef.init();
    let closed = false;
    close = async () => {
      if (closed) return;
      closed = true;
      await moduleRef.close();
    };
    return moduleRef.get(SuiteService);
  }

  beforeEach(async () => {
    sim = await WeComSimulator.start();
    codes = new RecordingCodes();
    cache = createCache();
    suite = await boot();
    const s = sim.suite();
    crypto = new WeComCrypto({ token: s.callbackToken, encodingAESKey: s.encodingAESKey, receiveId: s.suiteId });
  });
  afterEach(async () => {
    await close();
    await sim.close();
  });

  const now = () => Math.floor(Date.now() / 1000);

  it('20 replays of one signed create_auth: one get_permanent_code, each replay answered success', async () => {
    const ticket = sim.suiteCallback('suite_ticket');
    expect(await suite.handleCallback(ticket.query, ticket.body)).toBe('success');
    const created = sim.suiteCallback('create_auth');
    expect(await suite.handleCallback(created.query, created.body)).toBe('success');
    const answers = await Promise.all(Array.from({ length: 20 }, () => suite.handleCallback(created.query, created.body)));
    expect(answers).toEqual(Array(20).fill('success'));
    expect(sim.calls(PERMANENT_CODE_PATH)).toBe(1);
    expect(codes.writes.filter((w) => w.op === 'set')).toHaveLength(1);
  });

  it('concurrent copies of one delivery: acted on once, the others refused as duplicate (WeCom retries) or answered success', async () => {
    const ticket = sim.suiteCallback('suite_ticket');
    await suite.handleCallback(ticket.query, ticket.body);
    const created = sim.suiteCallback('create_auth');
    const reasons = await Promise.all(Array.from({ length: 5 }, () => reasonOf(suite.handleCallback(created.query, created.body))));
    expect(reasons.filter((r) => r === 'accepted').length).toBeGreaterThanOrEqual(1);
    expect(reasons.every((r) => r === 'accepted' || r === 'duplicate')).toBe(true);
    expect(sim.calls(PERMANENT_CODE_PATH)).toBe(1);
  });

  it('a failed handler is forgotten: WeCom’s retry of the same delivery runs it again', async () => {
    const ticket = sim.suiteCallback('suite_ticket');
    await suite.handleCallback(ticket.query, ticket.body);
    const created = sim.suiteCallback('create_auth');
    sim.failNext(PERMANENT_CODE_PATH, { kind: 'status', status: 502 });
    await expect(suite.handleCallback(created.query, created.body)).rejects.toThrow();
    expect(await suite.handleCallback(created.query, created.body)).toBe('success');
    expect(sim.calls(PERMANENT_CODE_PATH)).toBe(2);
    expect(codes.codes.size).toBe(1);
  });

  it('an old cancel_auth replayed after the corp installed again: the permanent code is kept', async () => {
    const ticket = sim.suiteCallback('suite_ticket');
    await suite.handleCallback(ticket.query, ticket.body);
    const created = sim.suiteCallback('create_auth');
    await suite.handleCallback(created.query, created.body);
    const corpId = created.corpId!;
    const cancel = sim.suiteCallback('cancel_auth', { corpId });
    expect(await suite.handleCallback(cancel.query, cancel.body)).toBe('success');
    expect(codes.codes.has(corpId)).toBe(false);
    const again = sim.suiteCallback('create_auth', { corpId });
    expect(await suite.handleCallback(again.query, again.body)).toBe('success');
    const code = codes.codes.get(corpId);
    expect(code).toEqual(expect.any(String));

    // The captured delivery as it was: already acted on, answered without acting.
    expect(await suite.handleCallback(cancel.query, cancel.body)).toBe('success');
    // The same event re-signed with its capture time (10 minutes ago): stale.
    const innerOld = buildSuiteCallbackXml({ infoType: 'cancel_auth', suiteId: sim.suite().suiteId, authCorpId: corpId, timeStamp: now() - 600 });
    const old = buildEncryptedEnvelope(crypto, innerOld, { timestamp: now() - 600 });
    expect(await reasonOf(suite.handleCallback(old.query, old.body))).toBe('stale');
    expect(codes.codes.get(corpId)).toBe(code);
    expect(codes.writes.filter((w) => w.op === 'delete')).toHaveLength(1);
    await expect(suite.getCorpToken(corpId)).resolves.toEqual(expect.any(String));
  });

  it.each([['0'], ['99999999999'], [''], ['abc'], [String(Math.floor(Date.now() / 1000) - 301)], [String(Math.floor(Date.now() / 1000) + 3600)]])(
    "query timestamp '%s': refused as stale, nothing stored",
    async (timestamp) => {
      const xml = buildSuiteCallbackXml({ infoType: 'suite_ticket', suiteId: sim.suite().suiteId, suiteTicket: 'ticket-stale', timeStamp: now() });
      const cb = buildEncryptedEnvelope(crypto, xml, { timestamp });
      expect(await reasonOf(suite.handleCallback(cb.query, cb.body))).toBe('stale');
      await expect(suite.getSuiteToken()).rejects.toMatchObject({ name: 'WeComSuiteStateError' });
      expect(sim.calls('/cgi-bin/service/get_suite_token')).toBe(0);
    },
  );

  it("URL check: a captured POST's Encrypt as echostr is refused, never answered with the decrypted suite_ticket", async () => {
    const ticket = sim.suiteCallback('suite_ticket');
    const encrypt = /<Encrypt><!\[CDATA\[(.*?)\]\]><\/Encrypt>/.exec(ticket.body)![1];
    const replay = { ...ticket.query, msg_signature: crypto.signature(ticket.query.timestamp, ticket.query.nonce, encrypt), echostr: encrypt };
    const answer = suite.handleCallback(replay);
    expect(await reasonOf(answer)).toBe('format');
    await answer.catch((error: unknown) => expect(String(error)).not.toContain(ticket.suiteTicket!));
    const real = sim.urlVerification();
    expect(await suite.handleCallback(real.query)).toBe(real.expected);
  });

  it('a suite_ticket dated far in the future does not freeze the kept ticket: the next real one is used', async () => {
    const future = sim.suiteCallback('suite_ticket', { timeStamp: now() + 10 * 365 * 86_400 });
    expect(await suite.handleCallback(future.query, future.body)).toBe('success');
    // Ten minutes on, WeCom's next ticket (a real TimeStamp, later than "now" at the future one's arrival).
    const next = sim.suiteCallback('suite_ticket', { timeStamp: now() + 1 });
    expect(await suite.handleCallback(next.query, next.body)).toBe('success');
    expect((await suite.credentials.readTicket())?.ticket).toBe(next.suiteTicket);
    await expect(suite.getSuiteToken()).resolves.toEqual(expect.any(String));
  });

  it('a ticket kept with a far-future time (before this fix) is replaced by the next real one', async () => {
    // A far-future time in the cache as an earlier version kept it; then a real ticket arrives.
    await cache.set(`wecom:v1:suite:${sim.suite().suiteId}:suite_ticket`, { ticket: 'frozen-ticket', timeStamp: 99_999_999_999 }, 60_000);
    const next = sim.suiteCallback('suite_ticket');
    await suite.handleCallback(next.query, next.body);
    expect((await suite.credentials.readTicket())?.ticket).toBe(next.suiteTicket);
    await expect(suite.getSuiteToken()).resolves.toEqual(expect.any(String));
  });

  describe('unsigned bodies are refused before any XML is read (18.5)', () => {
    const query = () => ({ msg_signature: 'f'.repeat(40), timestamp: String(now()), nonce: '1' });

    it.each([[1024 * 1024 + 1], [5 * 1024 * 1024]])('%d bytes: refused by size, as string and Buffer', async (size) => {
      const body = `<xml><ToUserName>x</ToUserName><Encrypt>${'A'.repeat(size)}</Encrypt></xml>`;
      expect(await reasonOf(suite.handleCallback(query(), body))).toBe('length');
      expect(await reasonOf(suite.handleCallback(query(), Buffer.from(body)))).toBe('length');
    });

    it('an unsigned DOCTYPE bomb is refused on its signature, not by the XML checks (the parser never saw it)', async () => {
      const entities = Array.from({ length: 10 }, (_, i) => `<!ENTITY e${i + 1} "${`&e${i};`.repeat(10)}">`).join('');
      const bomb = `<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY e0 "lol">${entities}]><xml><Encrypt>&e10;</Encrypt></xml>`;
      expect(await reasonOf(suite.handleCallback(query(), bomb))).toBe('signature');
      // 900 KB of unsigned nested markup: the same, no parse.
      const deep = `<xml><Encrypt>AAAA</Encrypt>${'<a>'.repeat(300_000)}</xml>`;
      expect(await reasonOf(suite.handleCallback(query(), deep))).toBe('signature');
    });
  });

  describe('app.close() with a create_auth in flight (18.8)', () => {
    it('nothing is written (permanentCodes.set, the shared cache) after close() resolves', async () => {
      const cacheWrites: Array<{ op: string; afterClose: boolean }> = [];
      for (const op of ['set', 'del'] as const) {
        const original = cache[op].bind(cache) as (...args: unknown[]) => Promise<unknown>;
        (cache as unknown as Record<string, unknown>)[op] = (...args: unknown[]) => {
          cacheWrites.push({ op, afterClose: codes.closed });
          return original(...args);
        };
      }
      const ticket = sim.suiteCallback('suite_ticket');
      await suite.handleCallback(ticket.query, ticket.body);
      await suite.getSuiteToken();
      const created = sim.suiteCallback('create_auth');
      sim.failNext(PERMANENT_CODE_PATH, { kind: 'delay', ms: 800 });
      const handled = suite.handleCallback(created.query, created.body).then(
        (answer) => ({ answer, afterClose: codes.closed }),
        (error: unknown) => ({ answer: `refused: ${String(error)}`, afterClose: codes.closed }),
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
      await close();
      codes.closed = true;
      const outcome = await handled;
      // Give anything left running the time to finish its writes, if it were to.
      await new Promise((resolve) => setTimeout(resolve, 1200));
      expect(codes.writes.filter((w) => w.afterClose)).toEqual([]);
      expect(cacheWrites.filter((w) => w.afterClose)).toEqual([]);
      // close() waited for the delivery: it completed before close resolved.
      expect(outcome).toEqual({ answer: 'success', afterClose: false });
    });

    it('a callback arriving once close() has begun is refused, nothing written', async () => {
      const ticket = sim.suiteCallback('suite_ticket');
      await suite.handleCallback(ticket.query, ticket.body);
      const created = sim.suiteCallback('create_auth');
      await close();
      await expect(suite.handleCallback(created.query, created.body)).rejects.toThrow(/shutting down/);
      expect(codes.writes).toEqual([]);
      expect(sim.calls(PERMANENT_CODE_PATH)).toBe(0);
    });
  });
});
