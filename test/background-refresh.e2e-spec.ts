import { INestApplicationContext } from '@nestjs/common';
import { ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { AccessTokenService, WeComTokenModule } from '../lib';
import { WeComSimulator } from '../lib/testing';
import { bootContext, waitFor } from './support/app';

describe('background refresh', () => {
  let sim: WeComSimulator;
  let app: INestApplicationContext | undefined;

  beforeEach(async () => {
    sim = await WeComSimulator.start({ tokenLifetimeSeconds: 2, repeatedGettoken: 'new-token' });
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await sim.close();
  });

  it('with ScheduleModule, renews the token ahead of expiry with no callers, on a timer in SchedulerRegistry', async () => {
    ({ app } = await bootContext([ScheduleModule.forRoot(), WeComTokenModule.forRoot({ corpId: sim.corpId, secret: sim.secretOf(), baseUrl: sim.baseUrl })]));
    const tokens = app.get(AccessTokenService);
    expect(tokens.backgroundRefreshActive).toBe(true);
    const first = await tokens.getToken();
    const { expiresAt } = tokens.peek()!;
    expect(app.get(SchedulerRegistry).getTimeouts()).toContain('WeComTokenRefresh(default)');
    // The simulator counts the request before its answer reaches the service: wait for the service to hold it.
    await waitFor(() => tokens.peek()?.token !== first, 3_000);
    expect(sim.gettokenCalls()).toBe(2);
    const renewed = tokens.peek()!;
    expect(renewed.fetchedAt).toBeLessThan(expiresAt);
    expect(await tokens.getToken()).toBe(renewed.token);
  });

  it('app.close() removes the timer', async () => {
    ({ app } = await bootContext([ScheduleModule.forRoot(), WeComTokenModule.forRoot({ corpId: sim.corpId, secret: sim.secretOf(), baseUrl: sim.baseUrl })]));
    await app.get(AccessTokenService).getToken();
    const registry = app.get(SchedulerRegistry);
    expect(registry.getTimeouts()).toHaveLength(1);
    await app.close();
    app = undefined;
    expect(registry.getTimeouts()).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(sim.gettokenCalls()).toBe(1);
  });

  it('without ScheduleModule, refresh is on demand only', async () => {
    ({ app } = await bootContext([WeComTokenModule.forRoot({ corpId: sim.corpId, secret: sim.secretOf(), baseUrl: sim.baseUrl })]));
    const tokens = app.get(AccessTokenService);
    expect(tokens.backgroundRefreshActive).toBe(false);
    await tokens.getToken();
    await new Promise((r) => setTimeout(r, 1_300));
    expect(sim.gettokenCalls()).toBe(1);
    await tokens.getToken(); // in the refresh window: served, refreshed off the caller's path
    await waitFor(() => sim.gettokenCalls() === 2, 2_000);
  });

  it('backgroundRefresh: false sets no timer even with ScheduleModule', async () => {
    ({ app } = await bootContext([
      ScheduleModule.forRoot(),
      WeComTokenModule.forRoot({ corpId: sim.corpId, secret: sim.secretOf(), baseUrl: sim.baseUrl, backgroundRefresh: false }),
    ]));
    await app.get(AccessTokenService).getToken();
    expect(app.get(SchedulerRegistry).getTimeouts()).toHaveLength(0);
  });
});
