import diagnostics from 'node:diagnostics_channel';
import { DynamicModule, Injectable, INestApplication, Module } from '@nestjs/common';
import { EventEmitter2, EventEmitterModule, OnEvent } from '@nestjs/event-emitter';
import { Test } from '@nestjs/testing';
import { FETCH_CHANNEL, publishFetch, publishRefreshFailed, publishRejected, REFRESH_FAILED_CHANNEL, REJECTED_CHANNEL } from './diagnostics.js';
import type { CredentialFetchEvent, CredentialRefreshFailedEvent, CredentialRejectedEvent } from './diagnostics.js';
import { createWeComEventsBridgeProvider, WeComEventsBridge, WECOM_FETCH_EVENT, WECOM_REFRESH_FAILED_EVENT, WECOM_REJECTED_EVENT } from './events.js';

@Injectable()
class Listener {
  readonly seen: Array<[string, unknown]> = [];

  @OnEvent(WECOM_FETCH_EVENT)
  onFetch(event: CredentialFetchEvent): void {
    this.seen.push([WECOM_FETCH_EVENT, event]);
  }

  @OnEvent(WECOM_REJECTED_EVENT)
  onRejected(event: CredentialRejectedEvent): void {
    this.seen.push([WECOM_REJECTED_EVENT, event]);
  }

  @OnEvent(WECOM_REFRESH_FAILED_EVENT)
  onRefreshFailed(event: CredentialRefreshFailedEvent): void {
    this.seen.push([WECOM_REFRESH_FAILED_EVENT, event]);
  }
}

@Module({})
class AppModuleOne {}
@Module({})
class AppModuleTwo {}

/** Two app modules, each with its own bridge provider, as two WeComTokenModule registrations will have. */
const appModules = (): DynamicModule[] => [
  { module: AppModuleOne, providers: [createWeComEventsBridgeProvider()], exports: [WeComEventsBridge] },
  { module: AppModuleTwo, providers: [createWeComEventsBridgeProvider()] },
];

const hasAnySubscriber = () => [FETCH_CHANNEL, REJECTED_CHANNEL, REFRESH_FAILED_CHANNEL].some((name) => diagnostics.channel(name).hasSubscribers);

const fetched: CredentialFetchEvent = { kind: 'access_token', corpId: 'ww0001', app: 'crm', outcome: 'ok', durationMs: 12, expiresAt: 1_900_000_000_000 };
const rejected: CredentialRejectedEvent = { kind: 'access_token', corpId: 'ww0001', app: 'crm', errcode: 40014 };
const refreshFailed: CredentialRefreshFailedEvent = { kind: 'jsapi_ticket', corpId: 'ww0001', app: 'default', error: 'timeout', validForMs: 90_000 };

describe('WeComEventsBridge', () => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it("emits the three events once on the application's EventEmitter2, however many app modules there are", async () => {
    const moduleRef = await Test.createTestingModule({ imports: [EventEmitterModule.forRoot(), ...appModules()], providers: [Listener] }).compile();
    app = await moduleRef.createNestApplication({ logger: false }).init();
    const listener = app.get(Listener);

    publishFetch(fetched);
    publishRejected(rejected);
    publishRefreshFailed(refreshFailed);

    expect(listener.seen).toEqual([
      [WECOM_FETCH_EVENT, fetched],
      [WECOM_REJECTED_EVENT, rejected],
      [WECOM_REFRESH_FAILED_EVENT, refreshFailed],
    ]);
    expect(app.get(WeComEventsBridge).active).toBe(true);
  });

  it('stops emitting when the application closes', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [EventEmitterModule.forRoot(), ...appModules()], providers: [Listener] }).compile();
    app = await moduleRef.createNestApplication({ logger: false }).init();
    const listener = app.get(Listener);
    expect(hasAnySubscriber()).toBe(true);
    await app.close();
    app = undefined;
    expect(hasAnySubscriber()).toBe(false);
    publishFetch(fetched);
    expect(listener.seen).toEqual([]);
  });

  it('does nothing, and registers no emitter, when the application has no EventEmitterModule', async () => {
    const moduleRef = await Test.createTestingModule({ imports: appModules() }).compile();
    app = await moduleRef.createNestApplication({ logger: false }).init();
    expect(app.get(WeComEventsBridge).active).toBe(false);
    expect(() => app!.get(EventEmitter2, { strict: false })).toThrow();
    expect(hasAnySubscriber()).toBe(false);
    expect(() => publishFetch(fetched)).not.toThrow();
  });

  it('keeps a throwing listener away from the publisher (the token fetch)', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [EventEmitterModule.forRoot(), ...appModules()] }).compile();
    app = await moduleRef.createNestApplication({ logger: false }).init();
    app.get(EventEmitter2).on(WECOM_REJECTED_EVENT, () => {
      throw new Error('listener bug');
    });
    const uncaught = jest.fn();
    process.on('uncaughtException', uncaught);
    try {
      expect(() => publishRejected(rejected)).not.toThrow();
      await new Promise((resolve) => setImmediate(resolve));
      expect(uncaught).not.toHaveBeenCalled();
    } finally {
      process.off('uncaughtException', uncaught);
    }
  });

  it("emits a copy: a listener that changes its payload does not change what the channel's other subscribers see", async () => {
    const moduleRef = await Test.createTestingModule({ imports: [EventEmitterModule.forRoot(), ...appModules()] }).compile();
    app = await moduleRef.createNestApplication({ logger: false }).init();
    const emitter = app.get(EventEmitter2);
    emitter.on(WECOM_REJECTED_EVENT, (event: CredentialRejectedEvent) => {
      event.app = 'changed';
    });
    const seenOnChannel: unknown[] = [];
    const spy = (message: unknown) => seenOnChannel.push(message);
    diagnostics.subscribe(REJECTED_CHANNEL, spy);
    try {
      const event = { ...rejected };
      publishRejected(event);
      expect(event.app).toBe('crm');
      expect(seenOnChannel).toEqual([rejected]);
    } finally {
      diagnostics.unsubscribe(REJECTED_CHANNEL, spy);
    }
  });
});
