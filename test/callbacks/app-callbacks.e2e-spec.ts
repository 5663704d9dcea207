/**
 * An app's callbacks end to end: the simulator POSTs messages and events as WeCom does (signed, encrypted, retried)
 * to a real Nest HTTP app whose controller hands them to WeComCallbackService; handlers are found by @OnWeComCallback.
 */
import { Body, Controller, Get, HttpCode, Injectable, Post, Query } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { createCache } from 'cache-manager';
import type { Cache } from 'cache-manager';
import { createCipheriv } from 'node:crypto';
import { inspect } from 'node:util';
import { decrypt as referenceDecrypt, getSignature as referenceSignature } from '@wecom/crypto';
import {
  InProcessTokenLock,
  OnWeComCallback,
  WeComCallbackError,
  WeComCallbackService,
  WeComConfigError,
  WeComCrypto,
  WeComTokenModule,
  getWeComCallbackServiceToken,
  InjectWeComCallbackService,
} from '../../lib/index';
import type { WeComCallbackMessage } from '../../lib/index';
import { WeComSimulator } from '../../lib/testing';
import type { AppCallbackSender } from '../../lib/testing';

/** What the handlers do, set by each test. */
const behaviour = { throwTimes: 0, slowMs: 0 };

@Injectable()
class Handlers {
  readonly texts: WeComCallbackMessage[] = [];
  readonly contacts: WeComCallbackMessage[] = [];
  readonly entered: WeComCallbackMessage[] = [];
  readonly finished: WeComCallbackMessage[] = [];
  readonly others: WeComCallbackMessage[] = [];
  readonly suiteOnly: WeComCallbackMessage[] = [];

  @OnWeComCallback({ msgType: 'text' })
  onText(message: WeComCallbackMessage): { reply: string } {
    this.texts.push(message);
    if (behaviour.throwTimes > 0) {
      behaviour.throwTimes -= 1;
      throw new Error('handler failed');
    }
    return { reply: `echo: ${String(message.fields['Content'])}` };
  }

  @OnWeComCallback({ event: 'change_contact' })
  onContact(message: WeComCallbackMessage): void {
    this.contacts.push(message);
  }

  @OnWeComCallback({ event: 'enter_agent' })
  async onEnter(message: WeComCallbackMessage): Promise<void> {
    this.entered.push(message);
    await new Promise((resolve) => setTimeout(resolve, behaviour.slowMs));
    this.finished.push(message);
  }

  @OnWeComCallback({ app: 'other' })
  onOtherApp(message: WeComCallbackMessage): void {
    this.others.push(message);
  }

  /** A suite's 数据回调 handler (the suite named like the app): an app's own URL never feeds it. */
  @OnWeComCallback({ suite: 'default' })
  onSuiteData(message: WeComCallbackMessage): void {
    this.suiteOnly.push(message);
  }
}

@Controller('wecom/callback')
class CallbackController {
  constructor(private readonly callbacks: WeComCallbackService) {}

  @Get()
  verify(@Query() query: { msg_signature: string; timestamp: string; nonce: string; echostr: string }): Promise<string> {
    return this.callbacks.handle(query);
  }

  @Post()
  @HttpCode(200)
  receive(@Query() query: { msg_signature: string; timestamp: string; nonce: string }, @Body() body: string): Promise<string> {
    return this.callbacks.handle(query, body);
  }
}

describe('callbacks of an app (WeComCallbackService)', () => {
  let sim: WeComSimulator;
  let sender: AppCallbackSender;
  let app: INestApplication;
  let handlers: Handlers;
  let service: WeComCallbackService;
  let url: string;
  let closed = false;

  async function boot(ackTimeoutMs?: number): Promise<void> {
    const { token, encodingAESKey } = sender.settings;
    const moduleRef = await Test.createTestingModule({
      imports: [
        WeComTokenModule.forRoot({
          corpId: sim.corpId,
          secret: sim.app().secret,
          baseUrl: sim.baseUrl,
          callback: { token, encodingAESKey, ...(ackTimeoutMs && { ackTimeoutMs }) },
        }),
      ],
      providers: [Handlers],
      controllers: [CallbackController],
    }).compile();
    const nest = moduleRef.createNestApplication<NestExpressApplication>({ logger: false });
    nest.useBodyParser('text', { type: ['text/xml', 'application/xml'], limit: '2mb' });
    await nest.listen(0, '127.0.0.1');
    app = nest;
    closed = false;
    url = `${await nest.getUrl()}/wecom/callback`.replace('[::1]', '127.0.0.1');
    handlers = nest.get(Handlers);
    service = nest.get(WeComCallbackService);
  }

  beforeEach(async () => {
    behaviour.throwTimes = 0;
    behaviour.slowMs = 0;
    sim = await WeComSimulator.start();
    sender = sim.appCallbacks();
    await boot();
  });

  afterEach(async () => {
    if (!closed) await app.close();
    await sim.close();
  });

  it('answers the URL check with the decrypted echostr', async () => {
    const { query, expected } = sender.urlVerification();
    const response = await fetch(`${url}?${new URLSearchParams(query).toString()}`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(expected);
  });

  it('dispatches a text message with its fields and answers an encrypted passive reply that @wecom/crypto decrypts', async () => {
    const attempts = await sender.deliver(url, { type: 'text', content: 'hi', fromUserName: 'lisi' });
    expect(attempts).toHaveLength(1);
    expect(attempts[0]?.status).toBe(200);
    expect(handlers.texts).toHaveLength(1);
    const message = handlers.texts[0];
    expect(message).toMatchObject({ app: 'default', corpId: sim.corpId, agentId: '1000002', fromUserName: 'lisi', toUserName: sim.corpId, msgType: 'text' });
    expect(message?.msgId).toMatch(/^\d+$/);
    expect(message?.fields['Content']).toBe('hi');
    expect(handlers.others).toHaveLength(0);

    const body = attempts[0]?.body ?? '';
    const part = (name: string): string => new RegExp(`<${name}>(?:<!\\[CDATA\\[)?([^<\\]]*)`).exec(body)?.[1] ?? '';
    const encrypt = part('Encrypt');
    expect(referenceSignature(sender.settings.token, part('TimeStamp'), part('Nonce'), encrypt)).toBe(part('MsgSignature'));
    const { message: inner, id } = referenceDecrypt(sender.settings.encodingAESKey, encrypt);
    expect(id).toBe(sim.corpId);
    expect(inner).toContain('<Content><![CDATA[echo: hi]]></Content>');
    expect(inner).toContain('<ToUserName><![CDATA[lisi]]></ToUserName>');
    expect(inner).toContain('<MsgType><![CDATA[text]]></MsgType>');
  });

  it('maps change_contact and enter_agent events, filtered by event', async () => {
    await sender.deliver(url, { type: 'change_contact', changeType: 'create_user', userId: 'wangwu' });
    await sender.deliver(url, { type: 'enter_agent' });
    expect(handlers.contacts).toHaveLength(1);
    expect(handlers.contacts[0]).toMatchObject({ msgType: 'event', event: 'change_contact', changeType: 'create_user', fromUserName: 'sys' });
    expect(handlers.contacts[0]?.fields['UserID']).toBe('wangwu');
    expect(handlers.entered).toHaveLength(1);
    expect(handlers.entered[0]?.event).toBe('enter_agent');
    expect(handlers.entered[0]?.suite).toBeUndefined();
    expect(handlers.texts).toHaveLength(0);
    expect(handlers.suiteOnly).toHaveLength(0);
  });

  it('runs a delivery that WeCom repeats three times once, one after another and all at once', async () => {
    const envelope = sender.envelope(sender.xml({ type: 'text', content: 'once' }));
    for (let i = 0; i < 3; i++) {
      const [attempt] = await sender.deliverEnvelope(url, envelope, { retries: 0 });
      expect(attempt?.status).toBe(200);
    }
    expect(handlers.texts).toHaveLength(1);

    const together = sender.envelope(sender.xml({ type: 'change_contact', changeType: 'update_user', userId: 'a' }));
    const answers = await Promise.all([0, 1, 2].map(() => sender.deliverEnvelope(url, together, { retries: 0 })));
    expect(answers.map(([attempt]) => attempt?.status)).toEqual([200, 200, 200]);
    expect(handlers.contacts).toHaveLength(1);
  });

  it('runs two distinct events of the same second from the same member twice', async () => {
    const createTime = Math.floor(Date.now() / 1000);
    await sender.deliver(url, { type: 'change_contact', changeType: 'update_user', userId: 'zhaoliu', createTime, fields: { Mobile: '1' } });
    await sender.deliver(url, { type: 'change_contact', changeType: 'update_user', userId: 'zhaoliu', createTime, fields: { Mobile: '2' } });
    expect(handlers.contacts.map((m) => [m.createTime, m.fromUserName, m.fields['Mobile']])).toEqual([
      [createTime, 'sys', '1'],
      [createTime, 'sys', '2'],
    ]);
  });

  it('answers a throwing handler with a non-200, so WeCom retries and the handler runs again', async () => {
    behaviour.throwTimes = 1;
    const attempts = await sender.deliver(url, { type: 'text', content: 'retry me' }, { retryIntervalMs: 10 });
    expect(attempts.map((a) => a.status)).toEqual([500, 200]);
    expect(handlers.texts).toHaveLength(2);
    expect(attempts[1]?.body).toContain('<Encrypt>');
  });

  it('acknowledges a handler slower than ackTimeoutMs, runs it once, and app.close() waits for it', async () => {
    await app.close();
    await boot(200);
    behaviour.slowMs = 1_500;
    const attempts = await sender.deliver(url, { type: 'enter_agent' }, { waitMs: 1_000 });
    expect(attempts.map((a) => [a.status, a.body])).toEqual([[200, 'success']]);
    expect(handlers.entered).toHaveLength(1);
    expect(handlers.finished).toHaveLength(0);
    await app.close();
    closed = true;
    // close resolved only once the background handler was done
    expect(handlers.finished).toHaveLength(1);
    // and nothing runs after close
    const late = sender.envelope(sender.xml({ type: 'enter_agent', fromUserName: 'late' }));
    await expect(service.handle(late.query, late.body)).rejects.toThrow(/shut/i);
    expect(handlers.entered).toHaveLength(1);
  });

  describe('refuses what WeCom never sends, dispatching nothing', () => {
    const xml = (): string => sender.xml({ type: 'text', content: 'attack' });
    async function refused(query: Record<string, string>, body: string | Buffer, reason: string): Promise<void> {
      const error = await service.handle(query as never, body).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(WeComCallbackError);
      expect((error as WeComCallbackError).reason).toBe(reason);
      const overHttp = await fetch(`${url}?${new URLSearchParams(query).toString()}`, { method: 'POST', body, headers: { 'content-type': 'text/xml' } });
      expect(overHttp.status).not.toBe(200);
      expect(handlers.texts).toHaveLength(0);
      expect(handlers.contacts).toHaveLength(0);
    }

    it('a bad signature', async () => {
      const { query, body } = sender.envelope(xml());
      await refused({ ...query, msg_signature: query.msg_signature.replace(/^./, (c) => (c === 'a' ? 'b' : 'a')) }, body, 'signature');
    });

    it('bad padding under a valid signature', async () => {
      const key = Buffer.from(`${sender.settings.encodingAESKey}=`, 'base64');
      const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16));
      cipher.setAutoPadding(false);
      const encrypt = Buffer.concat([cipher.update(Buffer.alloc(64, 0x41)), cipher.final()]).toString('base64');
      const timestamp = String(Math.floor(Date.now() / 1000));
      const query = { msg_signature: sender.crypto.signature(timestamp, '123456789', encrypt), timestamp, nonce: '123456789' };
      await refused(query, `<xml><ToUserName><![CDATA[${sim.corpId}]]></ToUserName><Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>`, 'padding');
    });

    it('a message encrypted for another corp', async () => {
      const other = new WeComCrypto({ token: sender.settings.token, encodingAESKey: sender.settings.encodingAESKey, receiveId: 'wwattacker' });
      const timestamp = String(Math.floor(Date.now() / 1000));
      const encrypt = other.encrypt(xml());
      const query = { msg_signature: other.signature(timestamp, '1', encrypt), timestamp, nonce: '1' };
      await refused(query, `<xml><Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>`, 'receiver');
    });

    it('a body over 1 MiB', async () => {
      const { query } = sender.envelope(xml());
      const error = await service.handle(query, `<xml><Encrypt>${'A'.repeat(1024 * 1024 + 1)}</Encrypt></xml>`).catch((e: unknown) => e);
      expect((error as WeComCallbackError).reason).toBe('length');
      expect(handlers.texts).toHaveLength(0);
    });

    it('a <! declaration in the envelope or in the decrypted message', async () => {
      const inner = sender.envelope(
        `<!DOCTYPE x [<!ENTITY e "boom">]><xml><ToUserName>${sim.corpId}</ToUserName><FromUserName>a</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&e;</Content></xml>`,
      );
      await refused(inner.query, inner.body, 'format');
      const outer = sender.envelope(xml());
      await refused(outer.query, `<!DOCTYPE x>${outer.body}`, 'format');
    });

    it('a timestamp more than 5 minutes away from now, even correctly signed', async () => {
      const stale = sender.envelope(xml(), Math.floor(Date.now() / 1000) - 301);
      await refused(stale.query, stale.body, 'stale');
      const future = sender.envelope(xml(), Math.floor(Date.now() / 1000) + 301);
      await refused(future.query, future.body, 'stale');
    });

    it('an echostr that decrypts to markup', async () => {
      const timestamp = String(Math.floor(Date.now() / 1000));
      const echostr = sender.crypto.encrypt('<xml>not an echo</xml>');
      const query = { msg_signature: sender.crypto.signature(timestamp, '1', echostr), timestamp, nonce: '1', echostr };
      await expect(service.handle(query)).rejects.toMatchObject({ reason: 'format' });
    });
  });

  it('a shared cache that hangs: the delivery is refused within cacheTimeoutMs (WeCom retries), nothing runs; once it answers, the retry runs once', async () => {
    await app.close();
    closed = true;
    let hanging = true;
    const store = createCache();
    const cache = {
      get: (key: string) => (hanging ? new Promise<never>(() => undefined) : store.get(key)),
      set: (key: string, value: unknown, ttl?: number) => store.set(key, value, ttl),
      del: (key: string) => store.del(key),
    } as unknown as Cache;
    const { token, encodingAESKey } = sender.settings;
    const moduleRef = await Test.createTestingModule({
      imports: [
        WeComTokenModule.forRoot({
          corpId: sim.corpId,
          secret: sim.app().secret,
          baseUrl: sim.baseUrl,
          cache,
          lock: new InProcessTokenLock(),
          cacheTimeoutMs: 100,
          callback: { token, encodingAESKey },
        }),
      ],
      providers: [Handlers],
    }).compile();
    await moduleRef.init();
    try {
      const callbacks = moduleRef.get(WeComCallbackService);
      const local = moduleRef.get(Handlers);
      const { query, body } = sender.envelope(sender.xml({ type: 'change_contact', changeType: 'delete_user', userId: 'x' }));
      await expect(callbacks.handle(query, body)).rejects.toThrow(/did not answer within 100 ms/);
      expect(local.contacts).toHaveLength(0);
      hanging = false;
      await expect(callbacks.handle(query, body)).resolves.toBe('success');
      await expect(callbacks.handle(query, body)).resolves.toBe('success');
      expect(local.contacts).toHaveLength(1);
    } finally {
      await moduleRef.close();
    }
  });

  describe('the callback option', () => {
    it('a malformed encodingAESKey fails at start-up naming the option and the app, never the value', async () => {
      const bad = 'abc$'.repeat(10) + 'xyz';
      const error = await Test.createTestingModule({
        imports: [WeComTokenModule.forRoot({ name: 'hr', corpId: sim.corpId, secret: 's', baseUrl: sim.baseUrl, callback: { token: 't', encodingAESKey: bad } })],
      })
        .compile()
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WeComConfigError);
      expect((error as Error).message).toContain("option 'callback.encodingAESKey' of app 'hr'");
      expect((error as Error).message).not.toContain(bad);
      const short = await Test.createTestingModule({
        imports: [WeComTokenModule.forRoot({ corpId: sim.corpId, secret: 's', baseUrl: sim.baseUrl, callback: { token: 't', encodingAESKey: 'A'.repeat(42) } })],
      })
        .compile()
        .catch((e: unknown) => e);
      expect((short as Error).message).toMatch(/option 'callback.encodingAESKey' of app 'default' must be 43 characters, got 42/);
    });

    it('a named app gets its own service, injected by name; an app without callback refuses to handle', async () => {
      @Injectable()
      class Consumer {
        constructor(@InjectWeComCallbackService('other') readonly other: WeComCallbackService) {}
      }
      const other = sim.appCallbacks();
      const moduleRef = await Test.createTestingModule({
        imports: [
          WeComTokenModule.forRoot({ corpId: sim.corpId, secret: sim.app().secret, baseUrl: sim.baseUrl }),
          WeComTokenModule.forRootAsync({ name: 'other', useFactory: () => ({ corpId: sim.corpId, secret: sim.app().secret, baseUrl: sim.baseUrl, callback: other.settings }) }),
        ],
        providers: [Handlers, Consumer],
      }).compile();
      await moduleRef.init();
      try {
        const named = moduleRef.get(Consumer).other;
        expect(named).toBe(moduleRef.get(getWeComCallbackServiceToken('other')));
        const { query, body } = other.envelope(other.xml({ type: 'enter_agent' }));
        await expect(named.handle(query, body)).resolves.toBe('success');
        const local = moduleRef.get(Handlers);
        // the 'other' handler and the unfiltered-by-app enter_agent handler both ran
        expect(local.others).toHaveLength(1);
        expect(local.others[0]?.app).toBe('other');
        expect(local.entered).toHaveLength(1);
        await expect(moduleRef.get(WeComCallbackService).handle(query, body)).rejects.toThrow("option 'callback' of app 'default' is missing");
        expect(inspect(named)).not.toContain(other.settings.encodingAESKey);
        expect(inspect(named)).not.toContain(other.settings.token);
      } finally {
        await moduleRef.close();
      }
    });
  });
});
