/**
 * Observability through the real module: the diagnostics channels, OpenTelemetry metrics with an SDK registered
 * before the application starts, and the application's EventEmitter2, all fed by real fetches and rejections
 * against the simulator. No payload carries a secret or a whole token.
 */
import { INestApplicationContext } from '@nestjs/common';
import { EventEmitter2, EventEmitterModule } from '@nestjs/event-emitter';
import { ScheduleModule } from '@nestjs/schedule';
import { metrics } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { CollectingReader } from './support/collecting-reader';
import diagnostics from 'node:diagnostics_channel';
import { AccessTokenService, FETCH_CHANNEL, JsapiTicketService, REFRESH_FAILED_CHANNEL, REJECTED_CHANNEL, WeComClient, WeComTokenModule } from '../lib';
import { WeComSimulator } from '../lib/testing';
import { bootContext, FAST_RETRY, waitFor } from './support/app';
import { expectNoneOf } from './support/capture';

describe('observability through the module', () => {
  let sim: WeComSimulator;
  let app: INestApplicationContext | undefined;
  const seen: Array<{ channel: string; message: unknown }> = [];
  const listeners = [FETCH_CHANNEL, REJECTED_CHANNEL, REFRESH_FAILED_CHANNEL].map((channel) => {
    const listener = (message: unknown) => seen.push({ channel, message });
    return { channel, listener };
  });

  beforeEach(async () => {
    sim = await WeComSimulator.start();
    seen.length = 0;
    for (const { channel, listener } of listeners) diagnostics.subscribe(channel, listener);
  });
  afterEach(async () => {
    for (const { channel, listener } of listeners) diagnostics.unsubscribe(channel, listener);
    await app?.close();
    app = undefined;
    await sim.close();
    metrics.disable();
  });

  it('channels: a fetch, a rejection (40014 on a business call) and a failed refresh while the token is still valid', async () => {
    sim.setTokenLifetime(2);
    ({ app } = await bootContext([
      ScheduleModule.forRoot(),
      WeComTokenModule.forRoot({ corpId: sim.corpId, secret: sim.secretOf(), baseUrl: sim.baseUrl, agentId: sim.app().agentId, retry: { attempts: 1 } }),
    ]));
    const tokens = app.get(AccessTokenService);
    await tokens.getToken();
    await app.get(JsapiTicketService).getCorpTicket();
    sim.revokeTokens();
    await app.get(WeComClient).get('/cgi-bin/user/get', { userid: 'zhangsan' });
    sim.failNext('gettoken', { kind: 'html-502' }, 3);
    await waitFor(() => seen.some((s) => s.channel === REFRESH_FAILED_CHANNEL), 3_000);

    const fetches = seen.filter((s) => s.channel === FETCH_CHANNEL).map((s) => s.message as Record<string, unknown>);
    expect(fetches).toContainEqual(
      expect.objectContaining({ kind: 'access_token', corpId: sim.corpId, app: 'default', outcome: 'ok', durationMs: expect.any(Number), expiresAt: expect.any(Number) }),
    );
    expect(fetches).toContainEqual(expect.objectContaining({ kind: 'jsapi_ticket', outcome: 'ok' }));
    expect(fetches).toContainEqual(expect.objectContaining({ kind: 'access_token', outcome: 'error' }));
    expect(seen.filter((s) => s.channel === REJECTED_CHANNEL).map((s) => s.message)).toContainEqual({ kind: 'access_token', corpId: sim.corpId, app: 'default', errcode: 40014 });
    expect(seen.find((s) => s.channel === REFRESH_FAILED_CHANNEL)!.message).toEqual(
      expect.objectContaining({ kind: 'access_token', app: 'default', error: expect.stringMatching(/502/), validForMs: expect.any(Number) }),
    );
    expectNoneOf(JSON.stringify(seen), [sim.secretOf(), ...sim.issuedTokens(), ...sim.issuedTickets('corp')]);
  });

  it('metrics: an SDK registered before the application starts records fetches, their duration and rejections', async () => {
    const reader = new CollectingReader();
    const provider = new MeterProvider({ readers: [reader] });
    metrics.setGlobalMeterProvider(provider);
    try {
      ({ app } = await bootContext([WeComTokenModule.forRoot({ corpId: sim.corpId, secret: sim.secretOf(), baseUrl: sim.baseUrl, retry: FAST_RETRY })]));
      await app.get(AccessTokenService).getToken();
      sim.revokeTokens();
      await app.get(WeComClient).get('/cgi-bin/department/list');
      expect(await reader.points('wecom.credential.fetches')).toContainEqual({
        attributes: expect.objectContaining({ 'wecom.kind': 'access_token', 'wecom.app': 'default', 'wecom.outcome': 'ok' }),
        value: 2,
      });
      expect(await reader.points('wecom.credential.rejections')).toContainEqual({
        attributes: expect.objectContaining({ 'wecom.kind': 'access_token', 'wecom.app': 'default' }),
        value: 1,
      });
      const durations = await reader.points('wecom.credential.fetch.duration');
      expect(durations.length).toBeGreaterThan(0);
    } finally {
      await app?.close();
      app = undefined;
      await provider.shutdown();
    }
  });

  it("events: the application's EventEmitter2 receives the same events; nothing is registered without it", async () => {
    ({ app } = await bootContext([EventEmitterModule.forRoot(), WeComTokenModule.forRoot({ corpId: sim.corpId, secret: sim.secretOf(), baseUrl: sim.baseUrl })]));
    const received: unknown[] = [];
    app.get(EventEmitter2).on('wecom.credential.fetch', (payload: unknown) => received.push(payload));
    await app.get(AccessTokenService).getToken();
    expect(received).toEqual([expect.objectContaining({ kind: 'access_token', app: 'default', outcome: 'ok' })]);
  });
});
