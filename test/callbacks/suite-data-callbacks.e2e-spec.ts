/**
 * A suite's 数据回调: an authorised corp's events, encrypted for that corp, reach the application's @OnWeComCallback
 * handlers through SuiteService.handleDataCallback, once per delivery, with corpId the authorised corp.
 */
import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { OnWeComCallback, SuiteService, WeComCallbackError, WeComCrypto, WeComSuiteModule } from '../../lib/index';
import type { PermanentCodeStore, WeComCallbackMessage } from '../../lib/index';
import { AppCallbackSender, WeComSimulator } from '../../lib/testing';

@Injectable()
class SuiteHandlers {
  readonly runs: WeComCallbackMessage[] = [];
  /** The default APP's handler: a suite named 'default' too must not feed it. */
  readonly appRuns: WeComCallbackMessage[] = [];
  /** No filter: every app's and suite's callbacks. */
  readonly anyRuns: WeComCallbackMessage[] = [];

  @OnWeComCallback({ suite: 'default', event: 'change_contact' })
  onContact(message: WeComCallbackMessage): void {
    this.runs.push(message);
  }

  @OnWeComCallback({ app: 'default' })
  onAppCallback(message: WeComCallbackMessage): void {
    this.appRuns.push(message);
  }

  @OnWeComCallback()
  onAny(message: WeComCallbackMessage): void {
    this.anyRuns.push(message);
  }
}

const codes: PermanentCodeStore = { get: async () => undefined, set: async () => undefined, delete: async () => undefined };

describe('SuiteService.handleDataCallback', () => {
  let sim: WeComSimulator;
  let suite: SuiteService;
  let handlers: SuiteHandlers;
  let close: () => Promise<void>;
  let corpA: AppCallbackSender;

  beforeEach(async () => {
    sim = await WeComSimulator.start();
    const s = sim.suite();
    const moduleRef = await Test.createTestingModule({
      imports: [
        WeComSuiteModule.forRoot({
          ...s, // suiteId, suiteSecret, callbackToken, encodingAESKey
          permanentCodes: codes,
          baseUrl: sim.baseUrl,
        }),
      ],
      providers: [SuiteHandlers],
    }).compile();
    await moduleRef.init();
    close = () => moduleRef.close();
    suite = moduleRef.get(SuiteService);
    handlers = moduleRef.get(SuiteHandlers);
    // WeCom encrypts a 数据回调 for the authorised corp, with the suite's Token and EncodingAESKey.
    corpA = new AppCallbackSender({ corpId: 'wwauthorisedA', agentId: '1000005', token: s.callbackToken, encodingAESKey: s.encodingAESKey });
  });

  afterEach(async () => {
    await close();
    await sim.close();
  });

  it("dispatches an authorised corp's event to the same handlers, with corpId that corp, once per delivery", async () => {
    const { query, body } = corpA.envelope(corpA.xml({ type: 'change_contact', changeType: 'update_user', userId: 'lisi' }));
    await expect(suite.handleDataCallback(query, body)).resolves.toBe('success');
    await expect(suite.handleDataCallback(query, body)).resolves.toBe('success');
    expect(handlers.runs).toHaveLength(1);
    expect(handlers.runs[0]).toMatchObject({ app: 'default', suite: 'default', corpId: 'wwauthorisedA', event: 'change_contact', changeType: 'update_user' });
    expect(handlers.runs[0]?.fields['UserID']).toBe('lisi');
    // { app: 'default' } is the default app's own URL: the default suite's 数据回调 never reaches it; no filter does.
    expect(handlers.appRuns).toHaveLength(0);
    expect(handlers.anyRuns).toHaveLength(1);
  });

  it('a filter naming both an app and a suite fails where it is written', () => {
    expect(() => OnWeComCallback({ app: 'default', suite: 'default' })).toThrow(/give app or suite, not both/);
  });

  it('refuses a ciphertext for another corp than the envelope names, and a bad signature; nothing runs', async () => {
    const s = sim.suite();
    const corpB = new WeComCrypto({ token: s.callbackToken, encodingAESKey: s.encodingAESKey, receiveId: 'wwotherB' });
    const timestamp = String(Math.floor(Date.now() / 1000));
    const encrypt = corpB.encrypt(corpA.xml({ type: 'change_contact', changeType: 'delete_user', userId: 'x' }));
    const query = { msg_signature: corpB.signature(timestamp, '7', encrypt), timestamp, nonce: '7' };
    const body = `<xml><ToUserName><![CDATA[wwauthorisedA]]></ToUserName><Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>`;
    await expect(suite.handleDataCallback(query, body)).rejects.toMatchObject({ reason: 'receiver' });

    const good = corpA.envelope(corpA.xml({ type: 'change_contact', changeType: 'delete_user', userId: 'y' }));
    const forged = { ...good.query, msg_signature: good.query.msg_signature.replace(/^./, (c) => (c === 'a' ? 'b' : 'a')) };
    await expect(suite.handleDataCallback(forged, good.body)).rejects.toBeInstanceOf(WeComCallbackError);
    await expect(suite.handleDataCallback(good.query, '<xml><Encrypt>x</Encrypt></xml>')).rejects.toMatchObject({ reason: 'format' });
    expect(handlers.runs).toHaveLength(0);
  });
});
