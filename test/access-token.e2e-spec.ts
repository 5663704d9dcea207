import { INestApplicationContext } from '@nestjs/common';
import { AccessTokenService, WeComApiError, WeComTokenModule, WeComTransportError } from '../lib';
import { WeComSimulator } from '../lib/testing';
import { bootContext, FAST_RETRY, waitFor } from './support/app';
import { CapturingLogger } from './support/capture';

describe('AccessTokenService against the simulator', () => {
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

  async function boot(extra: Record<string, unknown> = {}): Promise<AccessTokenService> {
    const booted = await bootContext([WeComTokenModule.forRoot({ corpId: sim.corpId, secret: sim.secretOf(), baseUrl: sim.baseUrl, retry: FAST_RETRY, ...extra })]);
    app = booted.app;
    logger = booted.logger;
    return app.get(AccessTokenService);
  }

  it('fetches a token once and serves it from the in-process copy afterwards', async () => {
    const tokens = await boot();
    const first = await tokens.getToken();
    expect(first).toBe(sim.currentToken());
    for (let i = 0; i < 50; i++) expect(await tokens.getToken()).toBe(first);
    expect(sim.gettokenCalls()).toBe(1);
  });

  it('1,000 concurrent callers on a cold cache cause one gettoken', async () => {
    const tokens = await boot();
    sim.setGettokenDelay(50);
    const results = await Promise.all(Array.from({ length: 1000 }, () => tokens.getToken()));
    expect(new Set(results).size).toBe(1);
    expect(sim.gettokenCalls()).toBe(1);
  });

  it('measures expiry from the moment gettoken was sent, from the expires_in returned', async () => {
    sim.setTokenLifetime(600);
    const tokens = await boot();
    const before = Date.now();
    await tokens.getToken();
    const entry = tokens.peek()!;
    expect(entry.fetchedAt).toBeGreaterThanOrEqual(before);
    expect(entry.expiresAt - entry.fetchedAt).toBe(600_000);
  });

  it('refresh() fetches a new token now, one fetch for concurrent callers', async () => {
    sim.setRepeatedGettoken('new-token');
    const tokens = await boot();
    const first = await tokens.getToken();
    const refreshed = await Promise.all([tokens.refresh(), tokens.refresh(), tokens.refresh()]);
    expect(new Set(refreshed).size).toBe(1);
    expect(refreshed[0]).not.toBe(first);
    expect(sim.gettokenCalls()).toBe(2);
    expect(await tokens.getToken()).toBe(refreshed[0]);
  });

  it('invalidate(rejected) forgets only that token; a newer one stays', async () => {
    sim.setRepeatedGettoken('new-token');
    const tokens = await boot();
    const old = await tokens.getToken();
    const newer = await tokens.refresh();
    await tokens.invalidate(old);
    expect(await tokens.getToken()).toBe(newer);
    expect(sim.gettokenCalls()).toBe(2);
    await tokens.invalidate(newer);
    const third = await tokens.getToken();
    expect(third).not.toBe(newer);
    expect(sim.gettokenCalls()).toBe(3);
  });

  it('invalidate() without argument forgets whatever is held', async () => {
    sim.setRepeatedGettoken('new-token');
    const tokens = await boot();
    const first = await tokens.getToken();
    await tokens.invalidate();
    expect(await tokens.getToken()).not.toBe(first);
    expect(sim.gettokenCalls()).toBe(2);
  });

  it('refreshes ahead of expiry, never earlier than half the lifetime, serving the held token meanwhile', async () => {
    sim.setTokenLifetime(2).setRepeatedGettoken('new-token');
    const tokens = await boot({ refreshAheadSeconds: 300, backgroundRefresh: false });
    const first = await tokens.getToken();
    const { fetchedAt, expiresAt } = tokens.peek()!;
    // refreshAhead (300 s) is longer than the lifetime: the refresh point is half the lifetime.
    await new Promise((r) => setTimeout(r, Math.max(0, fetchedAt + 1_050 - Date.now())));
    expect(Date.now()).toBeLessThan(expiresAt);
    expect(await tokens.getToken()).toBe(first); // served while the refresh runs off the caller's path
    // The simulator counts the request before its answer reaches the service: wait for the service to hold it.
    await waitFor(() => tokens.peek()?.token !== first);
    expect(sim.gettokenCalls()).toBe(2);
    expect(await tokens.getToken()).not.toBe(first);
  });

  it('a refresh returning the same token with no later expiry causes no other fetch before that expiry', async () => {
    sim.setTokenLifetime(3).setRepeatedGettoken('same-token');
    const tokens = await boot({ refreshAheadSeconds: 300, backgroundRefresh: false });
    const first = await tokens.getToken();
    const { expiresAt } = tokens.peek()!;
    await new Promise((r) => setTimeout(r, 1_600));
    // In the refresh window: one refresh, which returns the same token with the remaining expires_in.
    for (let i = 0; i < 20 && Date.now() < expiresAt - 300; i++) {
      expect(await tokens.getToken()).toBe(first);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(sim.gettokenCalls()).toBe(2);
  });

  it('a failed refresh keeps the still-valid token in service; past expiry callers get the error', async () => {
    sim.setTokenLifetime(2);
    const tokens = await boot({ refreshAheadSeconds: 300, backgroundRefresh: false, retry: { attempts: 1 } });
    const first = await tokens.getToken();
    sim.failNext('gettoken', { kind: 'html-502' }, 10);
    await new Promise((r) => setTimeout(r, 1_100));
    expect(await tokens.getToken()).toBe(first);
    await waitFor(() => logger.matching(/refresh failed/).length > 0);
    expect(await tokens.getToken()).toBe(first);
    await new Promise((r) => setTimeout(r, Math.max(0, tokens.peek()!.expiresAt - Date.now() + 20)));
    await expect(tokens.getToken()).rejects.toBeInstanceOf(WeComTransportError);
  });

  it('names the corp and the app in a credential error and does not hammer gettoken', async () => {
    const booted = await bootContext([
      WeComTokenModule.forRoot({ name: 'contacts', corpId: sim.corpId, secret: 'wrong-secret-value-123', baseUrl: sim.baseUrl, retry: FAST_RETRY }),
    ]);
    app = booted.app;
    const tokens = app.get<AccessTokenService>('WeComAccessTokenService(contacts)');
    const results = await Promise.allSettled(Array.from({ length: 100 }, () => tokens.getToken()));
    const again = await Promise.allSettled([tokens.getToken(), tokens.getToken()]);
    for (const r of [...results, ...again]) {
      expect(r.status).toBe('rejected');
      const error = (r as PromiseRejectedResult).reason as WeComApiError;
      expect(error).toBeInstanceOf(WeComApiError);
      expect(error.errcode).toBe(40001);
      expect(error.message).toContain(sim.corpId);
      expect(error.message).toContain("app 'contacts'");
      expect(error.hint).toMatch(/secret/);
    }
    expect(sim.gettokenCalls()).toBe(1);
  });
});
