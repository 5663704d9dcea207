/**
 * Issue 18 item 12: corp ids, AuthCorpIds and errmsgs chosen by an attacker (a caller's parameter, a callback, an
 * upstream answer) with newlines or 10 KB of text. None of them starts a log line of its own, and a message that
 * names one stays under 1 KB. Against the simulator over loopback HTTP, logs captured through a Logger.
 */
import { INestApplicationContext } from '@nestjs/common';
import { SuiteService, WeComApiError, WeComClient, WeComSuiteModule, WeComTokenModule } from '../lib';
import { WeComSimulator } from '../lib/testing';
import { bootContext, FAST_RETRY } from './support/app';
import { CapturingLogger } from './support/capture';
import { MemoryCodes } from './support/memory-codes';

const FORGED = 'ERROR [WeComTokenModule] forged line';
const NEWLINE_ID = `ww1\n${FORGED}`;
const HUGE_ID = `ww${'x'.repeat(10 * 1024)}`;

/** No forged text begins a line: it stays on the line of the message that named it. */
function expectNoForgedLine(text: string): void {
  expect(text).not.toMatch(/(^|[\r\n\u2028\u2029\u0085])ERROR \[WeComTokenModule\] forged/);
}

async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Error);
  return error as Error;
}

describe('untrusted ids and errmsgs in log lines and messages: quoted and cut', () => {
  let sim: WeComSimulator;
  let app: INestApplicationContext | undefined;
  let logger: CapturingLogger;

  beforeEach(async () => {
    sim = await WeComSimulator.start();
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await sim.close();
  });

  it('an errmsg with a newline, or of 10 KB, makes a one-line WeComApiError message under 1 KB', async () => {
    ({ app, logger } = await bootContext([WeComTokenModule.forRoot({ corpId: sim.corpId, secret: sim.secretOf(), baseUrl: sim.baseUrl, retry: FAST_RETRY })]));
    const client = app.get(WeComClient);
    sim.failNext('/cgi-bin/user/get', { errcode: 60111, errmsg: `userid not found\n${FORGED}` });
    const forged = await rejectionOf(client.get('/cgi-bin/user/get', { userid: 'zhangsan' }));
    expect(forged).toBeInstanceOf(WeComApiError);
    expect(forged.message).not.toMatch(/[\r\n]/);
    expect(forged.message).toContain('\\nERROR [WeComTokenModule] forged line');
    sim.failNext('/cgi-bin/user/get', { errcode: 60111, errmsg: 'y'.repeat(10 * 1024) });
    const huge = await rejectionOf(client.get('/cgi-bin/user/get', { userid: 'zhangsan' }));
    expect(huge.message.length).toBeLessThan(1024);
    // The errmsg kept is cut at 4 KB (after redaction), the message shows 300 characters of it and says how long it is.
    expect((huge as WeComApiError).errmsg).toHaveLength(4097);
    expect(huge.message).toMatch(/\(errmsg: "y{300}"…\(4097 characters\)\)$/);
    // A gateway's 10 KB Content-Type, in a transport error.
    sim.failNext('/cgi-bin/user/get', { kind: 'status', status: 502, contentType: `text/${'z'.repeat(10 * 1024)}` });
    const gateway = await rejectionOf(client.get('/cgi-bin/user/get', { userid: 'zhangsan' }));
    expect(gateway.message).toContain('HTTP 502 with a "text/zzz');
    expect(gateway.message.length).toBeLessThan(1024);
    expectNoForgedLine([...logger.lines, forged.message].join('\n'));
  });

  describe('suites', () => {
    let suite: SuiteService;

    beforeEach(async () => {
      const s = sim.suite();
      ({ app, logger } = await bootContext([
        WeComSuiteModule.forRoot({
          ...s, // suiteId, suiteSecret, callbackToken, encodingAESKey
          permanentCodes: new MemoryCodes(),
          baseUrl: sim.baseUrl,
        }),
      ]));
      suite = app.get(SuiteService);
    });

    it('getCorpToken of an id with a newline: a one-line message; of a 10 KB id: a message under 1 KB', async () => {
      const forged = await rejectionOf(suite.getCorpToken(NEWLINE_ID));
      expect(forged.message).toContain('"ww1\\nERROR [WeComTokenModule] forged line"');
      expect(forged.message).not.toMatch(/[\r\n]/);
      const huge = await rejectionOf(suite.getCorpToken(HUGE_ID));
      expect(huge.message.length).toBeLessThan(1024);
      const client = await rejectionOf(suite.clientFor(HUGE_ID).get('/cgi-bin/user/get', { userid: 'zhangsan' }));
      expect(client.message.length).toBeLessThan(1024);
      expectNoForgedLine([...logger.lines, forged.message, huge.message, client.message].join('\n'));
      expect(sim.calls('/cgi-bin/service/get_corp_token')).toBe(0);
    });

    it('a signed callback whose AuthCorpId has a newline or 10 KB: every log line stays one line, under 1 KB', async () => {
      for (const corpId of [NEWLINE_ID, HUGE_ID]) {
        const cb = sim.suiteCallback('cancel_auth', { corpId });
        await suite.handleCallback(cb.query, cb.body).catch((e: unknown) => e);
      }
      const named = logger.lines.filter((line) => line.includes('ww1') || line.includes('xxxxxxxx'));
      expect(named.length).toBeGreaterThan(0);
      for (const line of named) {
        expect(line).not.toMatch(/[\r\n]/);
        expect(line.length).toBeLessThan(1024);
      }
      expectNoForgedLine(logger.lines.join('\n'));
    });
  });
});
