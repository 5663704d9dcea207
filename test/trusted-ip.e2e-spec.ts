/**
 * 60020 (the calling IP is not trusted) on every endpoint: a `WeComTrustedIpError` with the IP WeCom saw and the list
 * to add it to (a self-built app's 企业可信IP; the provider's IP whitelist for suites, the provider and authorised
 * corps); no token is invalidated for it; on credential endpoints it is under the credential-error cool-down. The
 * simulator's trusted-IP rules answer it with the peer it saw, so a call through the test proxy (127.0.0.2) passes
 * where a direct one (127.0.0.1) is refused.
 */
import { INestApplicationContext } from '@nestjs/common';
import { createCache } from 'cache-manager';
import { AccessTokenService, JsapiTicketService, SuiteService, WeComApiError, WeComClient, WeComSuiteModule, WeComTokenModule, WeComTrustedIpError } from '../lib/index';
import type { WeComTokenModuleOptions } from '../lib/index';
import { WeComSimulator } from '../lib/testing';
import { bootContext, FAST_RETRY } from './support/app';
import { ForwardProxy } from './support/forward-proxy';
import { MemoryCodes } from './support/memory-codes';

const SEND = { touser: '@all', msgtype: 'text', agentid: 1000002, text: { content: 'hi' } };

describe('trusted IPs: 60020 typed, with the IP and the list to fix', () => {
  let sim: WeComSimulator;
  let proxy: ForwardProxy;
  const opened: INestApplicationContext[] = [];

  beforeEach(async () => {
    sim = await WeComSimulator.start();
    proxy = await ForwardProxy.start();
  });
  afterEach(async () => {
    for (const ctx of opened.splice(0)) await ctx.close();
    await proxy.close();
    await sim.close();
  });

  async function app(options: Partial<WeComTokenModuleOptions> = {}) {
    const { app: ctx } = await bootContext([
      WeComTokenModule.forRoot({ corpId: sim.corpId, secret: sim.secretOf(), agentId: 1000002, baseUrl: sim.baseUrl, retry: FAST_RETRY, proxy: false, ...options }),
    ]);
    opened.push(ctx);
    return { tokens: ctx.get(AccessTokenService), client: ctx.get(WeComClient), tickets: ctx.get(JsapiTicketService) };
  }

  async function suite(options: { proxy?: string | false } = {}) {
    const codes = new MemoryCodes();
    const s = sim.suite();
    const { app: ctx } = await bootContext([
      WeComSuiteModule.forRoot({
        ...s, // suiteId, suiteSecret, callbackToken, encodingAESKey
        permanentCodes: codes,
        providerCorpId: sim.provider.corpId,
        providerSecret: sim.provider.secret,
        baseUrl: sim.baseUrl,
        cache: createCache(),
        proxy: false,
        ...options,
      }),
    ]);
    opened.push(ctx);
    const service = ctx.get(SuiteService);
    const ticket = sim.suiteCallback('suite_ticket');
    await service.handleCallback(ticket.query, ticket.body);
    return { service, codes };
  }

  it("a self-built app's API call from an untrusted IP: WeComTrustedIpError naming the IP and 企业可信IP; the token is kept", async () => {
    sim.setTrustedIps({ app: 'default' }, ['127.0.0.2']);
    const { tokens, client } = await app();
    const token = await tokens.getToken();
    const error = (await client.post('/cgi-bin/message/send', SEND).catch((e: unknown) => e)) as WeComTrustedIpError;
    expect(error).toBeInstanceOf(WeComTrustedIpError);
    expect(error).toBeInstanceOf(WeComApiError);
    expect(error).toMatchObject({
      name: 'WeComTrustedIpError',
      errcode: 60020,
      observedIp: '127.0.0.1',
      whitelist: 'app-trusted-ip',
      path: '/cgi-bin/message/send',
      app: 'default',
    });
    expect(error.message).toContain('127.0.0.1');
    expect(error.message).toContain('企业可信IP');
    expect(error.hint).toContain('add 127.0.0.1');
    // Not a token problem: the token is neither invalidated nor replaced, and the call is not replayed.
    expect(tokens.peek()?.token).toBe(token);
    expect(sim.gettokenCalls()).toBe(1);
    expect(sim.calls('/cgi-bin/message/send')).toBe(1);
    expect(sim.sentMessages).toHaveLength(0);
  });

  it('the same app through the proxy whose egress IP is trusted: accepted, and WeCom names the egress IP', async () => {
    sim.setTrustedIps({ app: 'default' }, ['127.0.0.2']);
    const { client } = await app({ proxy: proxy.url() });
    await client.post('/cgi-bin/message/send', SEND);
    expect(sim.sentMessages).toHaveLength(1);
    sim.setTrustedIps({ app: 'default' }, ['203.0.113.9']);
    const error = (await client.post('/cgi-bin/message/send', SEND).catch((e: unknown) => e)) as WeComTrustedIpError;
    expect(error).toMatchObject({ errcode: 60020, observedIp: '127.0.0.2', whitelist: 'app-trusted-ip' });
    sim.setTrustedIps({ app: 'default' }, undefined);
    await client.post('/cgi-bin/message/send', SEND);
    expect(sim.sentMessages).toHaveLength(2);
  });

  it('60020 on a credential endpoint (the JS-SDK ticket) is under the credential-error cool-down: one request for many callers', async () => {
    const { tokens, tickets } = await app();
    const token = await tokens.getToken();
    sim.setTrustedIps({ app: 'default' }, ['127.0.0.2']);
    const results = await Promise.all(Array.from({ length: 20 }, () => tickets.getCorpTicket().catch((e: unknown) => e)));
    for (const result of results) expect(result).toMatchObject({ name: 'WeComTrustedIpError', errcode: 60020, observedIp: '127.0.0.1' });
    for (let i = 0; i < 5; i++) await expect(tickets.getCorpTicket()).rejects.toBeInstanceOf(WeComTrustedIpError);
    expect(sim.calls('/cgi-bin/get_jsapi_ticket')).toBe(1);
    expect(tokens.peek()?.token).toBe(token);
    expect(sim.gettokenCalls()).toBe(1);
  });

  it("a suite's credential endpoint from an untrusted IP: provider-ip-whitelist, cool-down, no loop", async () => {
    sim.setTrustedIps({ suite: sim.suite().suiteId }, ['127.0.0.2']);
    const { service } = await suite();
    const error = (await service.getSuiteToken().catch((e: unknown) => e)) as WeComTrustedIpError;
    expect(error).toMatchObject({ name: 'WeComTrustedIpError', errcode: 60020, observedIp: '127.0.0.1', whitelist: 'provider-ip-whitelist' });
    expect(error.message).toContain('IP白名单');
    expect(error.message).not.toContain('企业可信IP (admin console');
    await expect(service.getSuiteToken()).rejects.toBeInstanceOf(WeComTrustedIpError);
    expect(sim.calls('/cgi-bin/service/get_suite_token')).toBe(1);
  });

  it("an authorised corp's API call and the provider's from an untrusted IP: provider-ip-whitelist; the corp token is kept", async () => {
    const { service, codes } = await suite();
    const auth = sim.suiteCallback('create_auth');
    await service.handleCallback(auth.query, auth.body);
    const corpId = auth.corpId!;
    expect(codes.codes.has(corpId)).toBe(true);
    const corpToken = await service.getCorpToken(corpId);
    sim.setTrustedIps({ suite: sim.suite().suiteId }, ['127.0.0.2']);
    const error = (await service
      .clientFor(corpId)
      .post('/cgi-bin/message/send', SEND)
      .catch((e: unknown) => e)) as WeComTrustedIpError;
    expect(error).toMatchObject({ name: 'WeComTrustedIpError', corpId, observedIp: '127.0.0.1', whitelist: 'provider-ip-whitelist' });
    expect(await service.getCorpToken(corpId)).toBe(corpToken);
    expect(sim.calls('/cgi-bin/service/get_corp_token')).toBe(1);

    sim.failNext('/cgi-bin/department/list', { errcode: 60020 });
    const providerError = await service.providerClient.get('/cgi-bin/department/list').catch((e: unknown) => e);
    expect(providerError).toMatchObject({ name: 'WeComTrustedIpError', corpId: sim.provider.corpId, whitelist: 'provider-ip-whitelist', observedIp: '127.0.0.1' });
  });

  it('a 60020 without a well-formed IP in errmsg: typed, no observedIp, the message says WeCom did not name it', async () => {
    const { client } = await app();
    sim.failNext('/cgi-bin/user/get', { errcode: 60020, errmsg: 'not allow to access from your ip, hint: [1_2_ab], from ip: 999.1.2.3<script>, more info at x' });
    const error = (await client.get('/cgi-bin/user/get').catch((e: unknown) => e)) as WeComTrustedIpError;
    expect(error).toBeInstanceOf(WeComTrustedIpError);
    expect(error.observedIp).toBeUndefined();
    expect(error.hint).toContain('did not name the IP it saw');
  });
});
