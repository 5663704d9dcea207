/**
 * JS-SDK tickets and signatures against the simulator over HTTP: one engine, shared like tokens, signatures the
 * simulator (as WeCom would) accepts, and a page reporting "invalid signature" in a loop cannot burn the quota.
 */
import { INestApplicationContext } from '@nestjs/common';
import { CACHE_MANAGER, CacheModule } from '@nestjs/cache-manager';
import type { Cache } from 'cache-manager';
import { createHash } from 'node:crypto';
import { inspect } from 'node:util';
import { AccessTokenService, getJsapiTicketServiceToken, jsapiSignature, JsapiTicketService, WeComApiError, WeComConfigError, WeComTokenModule } from '../lib';
import { WeComSimulator } from '../lib/testing';
import { bootContext, FAST_RETRY } from './support/app';
import { CapturingLogger, expectNoneOf } from './support/capture';

describe('JsapiTicketService', () => {
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

  async function boot(extra: Record<string, unknown> = {}, imports: Parameters<typeof bootContext>[0] = []): Promise<JsapiTicketService> {
    const booted = await bootContext([
      ...imports,
      WeComTokenModule.forRoot({ corpId: sim.corpId, secret: sim.secretOf(), baseUrl: sim.baseUrl, agentId: sim.app().agentId, retry: FAST_RETRY, ...extra }),
    ]);
    app = booted.app;
    logger = booted.logger;
    return app.get(JsapiTicketService);
  }

  it("jsapiSignature matches WeCom's published example", () => {
    expect(
      jsapiSignature({
        ticket: 'sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg',
        nonceStr: 'Wm3WZYTPz0wzccnW',
        timestamp: 1414587457,
        url: 'http://mp.weixin.qq.com?params=value',
      }),
    ).toBe('0f9de62fce790f9a083d5c99e95740ceb90c27ed');
  });

  it('1,000 concurrent callers cause one gettoken and one ticket fetch per kind; warm calls cost no request', async () => {
    const tickets = await boot();
    const corp = await Promise.all(Array.from({ length: 1_000 }, () => tickets.getCorpTicket()));
    const agent = await Promise.all(Array.from({ length: 1_000 }, () => tickets.getAgentTicket()));
    expect(new Set(corp).size).toBe(1);
    expect(new Set(agent).size).toBe(1);
    expect(corp[0]).not.toBe(agent[0]);
    expect(sim.gettokenCalls()).toBe(1);
    expect(sim.ticketCalls('corp')).toBe(1);
    expect(sim.ticketCalls('agent')).toBe(1);
    await tickets.getCorpTicket();
    await tickets.signConfig('https://app.example.com/page');
    expect(sim.ticketCalls()).toBe(2);
  });

  it('signConfig and signAgentConfig: accepted by the simulator with the right ticket only; fragment stripped; seconds; 16-character nonce', async () => {
    const tickets = await boot();
    const url = 'https://app.example.com/h5/index.html?from=menu&x=1#/detail/7';
    const config = await tickets.signConfig(url);
    expect(config.corpId).toBe(sim.corpId);
    expect(config.nonceStr).toMatch(/^[A-Za-z0-9]{16}$/);
    expect(Math.abs(config.timestamp - Date.now() / 1000)).toBeLessThan(5);
    expect(sim.verifySignature({ kind: 'corp', url, ...config }).valid).toBe(true);
    expect(sim.verifySignature({ kind: 'agent', url, ...config }).valid).toBe(false);
    expect(config.signature).toBe(jsapiSignature({ ticket: await tickets.getCorpTicket(), nonceStr: config.nonceStr, timestamp: config.timestamp, url: url.split('#')[0] }));

    const agent = await tickets.signAgentConfig(url);
    expect(agent.agentId).toBe(String(sim.app().agentId));
    expect(sim.verifySignature({ kind: 'agent', url, ...agent }).valid).toBe(true);
    expect(sim.verifySignature({ kind: 'corp', url, ...agent }).valid).toBe(false);
    const second = await tickets.signConfig(url);
    expect(second.nonceStr).not.toBe(config.nonceStr);
  });

  it.each(['/relative/page', 'ftp://app.example.com/x', 'javascript:alert(1)', '', '//app.example.com/x'])('refuses to sign %j, with no request', async (url) => {
    const tickets = await boot();
    await expect(tickets.signConfig(url)).rejects.toThrow(/absolute|http|empty|relative|host/i);
    expect(sim.ticketCalls()).toBe(0);
  });

  it('an app without agentId: getAgentTicket and signAgentConfig reject with WeComConfigError naming the app, no request', async () => {
    ({ app } = await bootContext([WeComTokenModule.forRoot({ name: 'crm', corpId: sim.corpId, secret: sim.secretOf(), baseUrl: sim.baseUrl })]));
    const tickets = app.get<JsapiTicketService>(getJsapiTicketServiceToken('crm'));
    await expect(tickets.getAgentTicket()).rejects.toThrow(WeComConfigError);
    await expect(tickets.signAgentConfig('https://a.example.com/')).rejects.toThrow(/app 'crm' has no agentId/);
    expect(sim.ticketCalls()).toBe(0);
    expect(sim.gettokenCalls()).toBe(0);
  });

  it('a ticket request answered 40014 replaces the access token once and is replayed once', async () => {
    const tickets = await boot();
    const tokens = app!.get(AccessTokenService);
    const before = await tokens.getToken();
    sim.revokeTokens();
    const ticket = await tickets.getCorpTicket();
    expect(ticket).toBe(sim.currentTicket('corp'));
    expect(sim.gettokenCalls()).toBe(2);
    expect(sim.calls('/cgi-bin/get_jsapi_ticket')).toBe(2);
    expect(await tokens.getToken()).not.toBe(before);
  });

  it('45009 on a ticket endpoint pauses ticket fetches: callers get the cause at once', async () => {
    const tickets = await boot({ rateLimitCooldownMs: 60_000 });
    sim.failNext('/cgi-bin/get_jsapi_ticket', { errcode: 45009 });
    await expect(tickets.getCorpTicket()).rejects.toMatchObject({ errcode: 45009 });
    const calls = sim.calls('/cgi-bin/get_jsapi_ticket');
    for (let i = 0; i < 20; i++) await expect(tickets.getCorpTicket()).rejects.toBeInstanceOf(WeComApiError);
    expect(sim.calls('/cgi-bin/get_jsapi_ticket')).toBe(calls);
    expect(logger.matching(/^error .*45009/).length).toBeGreaterThan(0);
  });

  it("the simulator's hourly limit (45009 past it) is met with one error, not a loop", async () => {
    sim.setTicketLimits({ perApp: 3, perCorp: 400 });
    const tickets = await boot({ rateLimitCooldownMs: 60_000 });
    for (let i = 0; i < 3; i++) {
      await tickets.getCorpTicket();
      sim.revokeTickets('corp');
      await tickets.invalidate('corp');
    }
    await expect(tickets.getCorpTicket()).rejects.toMatchObject({ errcode: 45009 });
    await expect(tickets.getCorpTicket()).rejects.toMatchObject({ errcode: 45009 });
    expect(sim.ticketCalls('corp')).toBe(4);
  });

  it('a page reporting "invalid signature" in a loop: at most the fetch budget of ticket requests, and compare-and-delete keeps a newer ticket', async () => {
    sim.setRepeatedTicket('new-ticket');
    const tickets = await boot();
    const first = await tickets.getCorpTicket();
    // A report of an old ticket does not drop the newer one.
    await tickets.invalidate('corp', 'a-ticket-we-never-held-00000000');
    expect(await tickets.getCorpTicket()).toBe(first);
    let failures = 0;
    for (let i = 0; i < 50; i++) {
      const held = await tickets.getCorpTicket().catch(() => undefined);
      if (held === undefined) failures++;
      await tickets.invalidate('corp', held);
    }
    expect(sim.ticketCalls('corp')).toBeLessThanOrEqual(10);
    expect(failures).toBeGreaterThan(0);
  });

  it('shares tickets through the cache under the documented keys, with no secret and no whole ticket in keys', async () => {
    const tickets = await boot({}, [CacheModule.register({ isGlobal: true })]);
    const ticket = await tickets.getCorpTicket();
    const agent = await tickets.getAgentTicket();
    const cache = app!.get<Cache>(CACHE_MANAGER);
    const tokenKey = `wecom:v1:${sim.corpId}:${createHash('sha256').update(sim.secretOf()).digest('hex').slice(0, 16)}`;
    expect(await cache.get(`${tokenKey}:jsapi_ticket`)).toEqual({ ticket, expiresAt: expect.any(Number), fetchedAt: expect.any(Number) });
    expect(await cache.get(`${tokenKey}:agent_ticket`)).toEqual({ ticket: agent, expiresAt: expect.any(Number), fetchedAt: expect.any(Number) });
    // A second application context sharing the cache (another instance) fetches nothing.
    const other = await bootContext([WeComTokenModule.forRoot({ corpId: sim.corpId, secret: sim.secretOf(), baseUrl: sim.baseUrl, agentId: sim.app().agentId, cache })]);
    try {
      expect(await other.app.get(JsapiTicketService).getCorpTicket()).toBe(ticket);
      expect(sim.ticketCalls('corp')).toBe(1);
    } finally {
      await other.app.close();
    }
  });

  it('util.inspect and JSON of the service show no whole ticket', async () => {
    const tickets = await boot();
    await tickets.getCorpTicket();
    await tickets.getAgentTicket();
    const printed = inspect(tickets, { depth: Infinity, showHidden: true }) + JSON.stringify(tickets);
    expectNoneOf(printed, [...sim.issuedTickets('corp'), ...sim.issuedTickets('agent'), sim.secretOf(), ...sim.issuedTokens()]);
    expect(printed).toContain('…');
  });
});
