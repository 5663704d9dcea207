/**
 * Egress through a real forward proxy on loopback (test/support/forward-proxy.ts), plain-HTTP targets in absolute
 * form: every kind of request of an app and of a suite is counted at the proxy and arrives at the simulator from the
 * proxy's outbound address (127.0.0.2; direct calls come from 127.0.0.1). Basic proxy auth, its failures, the
 * environment's HTTP_PROXY / NO_PROXY, `proxy: false`, and a password that appears in nothing captured.
 * HTTPS targets through CONNECT tunnels: test/egress-https.e2e-spec.ts.
 */
import { HttpService } from '@nestjs/axios';
import { INestApplicationContext } from '@nestjs/common';
import { createCache } from 'cache-manager';
import { inspect } from 'node:util';
import axios from 'axios';
import { AccessTokenInterceptor, AccessTokenService, JsapiTicketService, SuiteService, WeComClient, WeComSuiteModule, WeComTokenModule, WeComTransportError } from '../lib/index';
import type { WeComTokenModuleOptions } from '../lib/index';
import { getWeComHttpServiceName } from '../lib/app/wecom-token.providers';
import { getWeComConfigToken } from '../lib/app/wecom-token.tokens';
import { WeComSimulator } from '../lib/testing';
import { bootContext, FAST_RETRY, waitFor } from './support/app';
import { CapturingLogger, expectNoneOf, renderError } from './support/capture';
import { ForwardProxy } from './support/forward-proxy';
import { MemoryCodes } from './support/memory-codes';

const PROXY_USER = 'egress-user';
const PROXY_PASSWORD = 'pr0xy-Pa55:w@rd/never-shown';
const PROXY_BASIC = Buffer.from(`${PROXY_USER}:${PROXY_PASSWORD}`).toString('base64');
const VIA_PROXY = '127.0.0.2';

/** Everything a test captured that could show the password: logs, errors, inspect and JSON of the module's objects. */
function everything(parts: unknown[]): string {
  return parts
    .map((part) => {
      if (typeof part === 'string') return part;
      let json: string;
      try {
        json = JSON.stringify(part);
      } catch {
        json = '';
      }
      return `${part instanceof Error ? renderError(part) : ''}\n${inspect(part, { depth: 6, showHidden: true })}\n${json}`;
    })
    .join('\n');
}

describe('egress through a forward proxy (plain-HTTP targets, absolute form)', () => {
  let sim: WeComSimulator;
  let proxy: ForwardProxy;
  const opened: INestApplicationContext[] = [];
  const savedEnv = { ...process.env };

  async function app(options: Partial<WeComTokenModuleOptions>, logger = new CapturingLogger()) {
    const { app: ctx } = await bootContext(
      [WeComTokenModule.forRoot({ corpId: sim.corpId, secret: sim.secretOf(), agentId: 1000002, baseUrl: sim.baseUrl, retry: FAST_RETRY, ...options })],
      logger,
    );
    opened.push(ctx);
    return { ctx, logger, tokens: ctx.get(AccessTokenService), client: ctx.get(WeComClient), tickets: ctx.get(JsapiTicketService) };
  }

  beforeEach(async () => {
    sim = await WeComSimulator.start();
    proxy = await ForwardProxy.start();
  });

  afterEach(async () => {
    for (const ctx of opened.splice(0)) await ctx.close();
    for (const key of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy']) {
      if (savedEnv[key] === undefined) delete process.env[key];
      else process.env[key] = savedEnv[key];
    }
    await proxy.close();
    await sim.close();
  });

  /** Every request the simulator saw came through the proxy, and the proxy forwarded exactly those. */
  function expectAllThroughProxy(): void {
    expect(sim.requests.length).toBeGreaterThan(0);
    const peers = new Set(sim.requests.map((r) => r.peer));
    expect([...peers]).toEqual([VIA_PROXY]);
    const paths = new Set(sim.requests.map((r) => r.path));
    for (const path of paths) expect({ path, proxied: proxy.forwarded(path) }).toEqual({ path, proxied: sim.calls(path) });
    expect(proxy.forwarded()).toBe(sim.requests.length);
  }

  it("every kind of request of an app goes through its proxy: gettoken, both tickets, get/post/upload/download, the app's HttpService", async () => {
    const { ctx, client, tickets } = await app({ proxy: proxy.url() });
    await tickets.getCorpTicket();
    await tickets.getAgentTicket();
    await client.get('/cgi-bin/user/get', { userid: 'zhangsan' }).catch(() => undefined);
    await client.post('/cgi-bin/message/send', { touser: '@all', msgtype: 'text', agentid: 1000002, text: { content: 'hi' } });
    const uploaded = await client.upload('file', { data: Buffer.from('through the proxy'), filename: 'a.txt' });
    const file = await client.download('/cgi-bin/media/get', { media_id: uploaded.media_id });
    expect(file.bytes.toString()).toBe('through the proxy');
    const http = ctx.get<HttpService>(getWeComHttpServiceName());
    expect(http).toBe(client.http);
    const res = await http.axiosRef.get('/cgi-bin/department/list');
    expect((res.data as { errcode: number }).errcode).toBe(0);

    for (const path of [
      '/cgi-bin/gettoken',
      '/cgi-bin/get_jsapi_ticket',
      '/cgi-bin/ticket/get',
      '/cgi-bin/user/get',
      '/cgi-bin/message/send',
      '/cgi-bin/media/upload',
      '/cgi-bin/media/get',
      '/cgi-bin/department/list',
    ]) {
      expect({ path, proxied: proxy.forwarded(path) }).toEqual({ path, proxied: 1 });
    }
    expectAllThroughProxy();
    // Keep-alive: a handful of connections to the proxy, not one per request.
    expect(proxy.connections).toBeLessThanOrEqual(3);
  });

  it('an HttpService of the application with the interceptor attached sends its token requests through the proxy too', async () => {
    const { ctx } = await app({ proxy: proxy.url() });
    const own = new HttpService(axios.create({ baseURL: sim.baseUrl }));
    ctx.get(AccessTokenInterceptor).attach(own);
    const res = await own.axiosRef.get('/cgi-bin/department/list');
    expect((res.data as { errcode: number }).errcode).toBe(0);
    expectAllThroughProxy();
  });

  it('every kind of request of a suite goes through its proxy: suite, provider and corp tokens, get_permanent_code, clientFor(corp), suiteClient, providerClient', async () => {
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
        proxy: proxy.url(),
      }),
    ]);
    opened.push(ctx);
    const suite = ctx.get(SuiteService);
    const ticket = sim.suiteCallback('suite_ticket');
    await suite.handleCallback(ticket.query, ticket.body);
    const auth = sim.suiteCallback('create_auth');
    await suite.handleCallback(auth.query, auth.body);
    expect(codes.codes.has(auth.corpId!)).toBe(true);
    await suite.getProviderToken();
    const corp = suite.clientFor(auth.corpId!);
    await corp.get('/cgi-bin/user/get', { userid: 'zhangsan' }).catch(() => undefined);
    await suite.suiteClient.post('/cgi-bin/service/get_corp_token', { auth_corpid: auth.corpId, permanent_code: codes.codes.get(auth.corpId!) });
    await suite.providerClient.get('/cgi-bin/department/list').catch(() => undefined);

    for (const path of [
      '/cgi-bin/service/get_suite_token',
      '/cgi-bin/service/get_permanent_code',
      '/cgi-bin/service/get_provider_token',
      '/cgi-bin/service/get_corp_token',
      '/cgi-bin/user/get',
      '/cgi-bin/department/list',
    ]) {
      expect({ path, proxied: proxy.forwarded(path) > 0 }).toEqual({ path, proxied: true });
    }
    expectAllThroughProxy();
  });

  it('Basic proxy auth: the credentials of the URL are sent to the proxy and appear in nothing captured', async () => {
    await proxy.close();
    proxy = await ForwardProxy.start({ auth: { user: PROXY_USER, password: PROXY_PASSWORD } });
    const logger = new CapturingLogger();
    const { ctx, tokens, client, tickets } = await app({ proxy: proxy.url({ user: PROXY_USER, password: PROXY_PASSWORD }) }, logger);
    await client.post('/cgi-bin/message/send', { touser: '@all', msgtype: 'text', agentid: 1000002, text: { content: 'hi' } });
    await tickets.getCorpTicket();
    expectAllThroughProxy();
    expect(proxy.requests.every((r) => r.refusedWith === undefined)).toBe(true);

    // Everything that holds the proxy: config, services, client, its HttpService and axios defaults (the agents).
    const http = ctx.get<HttpService>(getWeComHttpServiceName());
    const res = await http.axiosRef.get('/cgi-bin/department/list');
    const captured = everything([
      logger.lines.join('\n'),
      ctx.get(getWeComConfigToken()),
      tokens,
      client,
      tickets,
      http,
      http.axiosRef.defaults,
      http.axiosRef.defaults.httpAgent,
      res,
      res.config,
      res.request,
      tokens.egress,
    ]);
    expectNoneOf(captured, [PROXY_PASSWORD, PROXY_BASIC, encodeURIComponent(PROXY_PASSWORD)]);
    expect(inspect(http.axiosRef.defaults.httpAgent)).toContain(proxy.label);
  });

  it("a wrong proxy password: WeComTransportError failure 'proxy', 407, naming the proxy's host and port, never the password", async () => {
    await proxy.close();
    proxy = await ForwardProxy.start({ auth: { user: PROXY_USER, password: 'the-right-one' } });
    const logger = new CapturingLogger();
    const { tokens, client } = await app({ proxy: proxy.url({ user: PROXY_USER, password: PROXY_PASSWORD }) }, logger);
    const error = (await tokens.getToken().catch((e: unknown) => e)) as WeComTransportError;
    expect(error).toBeInstanceOf(WeComTransportError);
    expect(error).toMatchObject({ failure: 'proxy', status: 407, proxy: proxy.label });
    expect(error.message).toContain(proxy.label);
    // A refusal by the proxy is not retried: one attempt, then the cool-down answers.
    expect(proxy.requests.filter((r) => r.refusedWith === 407)).toHaveLength(1);
    const again = await client.get('/cgi-bin/user/get').catch((e: unknown) => e);
    expect(again).toMatchObject({ failure: 'proxy' });
    expect(sim.requests).toHaveLength(0);
    expectNoneOf(everything([logger.lines.join('\n'), error, again]), [PROXY_PASSWORD, PROXY_BASIC]);
  });

  it("an unreachable proxy: failure 'proxy' naming host and port, retried within the bounded budget, nothing reaches WeCom", async () => {
    const dead = await ForwardProxy.start();
    const label = dead.label;
    const url = dead.url({ user: PROXY_USER, password: PROXY_PASSWORD });
    await dead.close();
    const { tokens } = await app({ proxy: url });
    const error = (await tokens.getToken().catch((e: unknown) => e)) as WeComTransportError;
    expect(error).toMatchObject({ name: 'WeComTransportError', failure: 'proxy', code: 'ECONNREFUSED', proxy: label });
    expect(error.message).toContain(label);
    expect(sim.requests).toHaveLength(0);
    expectNoneOf(everything([error]), [PROXY_PASSWORD, PROXY_BASIC]);
  });

  it('a proxy URL that is not http(s) fails at start-up, naming the option, without repeating the value', async () => {
    await expect(app({ proxy: `socks5://${PROXY_USER}:${PROXY_PASSWORD}@127.0.0.1:1080` })).rejects.toThrow(/option 'proxy' of app 'default' uses socks5/);
    const error = await app({ proxy: `http://${PROXY_USER}:${PROXY_PASSWORD}@127.0.0.1:1080/path` }).catch((e: unknown) => e);
    expect(String(error)).toMatch(/option 'proxy'/);
    expectNoneOf(everything([error]), [PROXY_PASSWORD]);
  });

  it('omitted: the environment decides (HTTP_PROXY for http targets, NO_PROXY honoured); axios does not proxy on its own', async () => {
    process.env.HTTP_PROXY = proxy.url();
    const first = await app({});
    await first.client.get('/cgi-bin/department/list');
    expectAllThroughProxy();
    expect(first.tokens.egress).toMatchObject({ mode: 'environment', via: `http://${proxy.label}` });

    sim.resetCounters();
    proxy.reset();
    process.env.NO_PROXY = 'localhost,127.0.0.1';
    const second = await app({});
    await second.client.get('/cgi-bin/department/list');
    expect(proxy.forwarded()).toBe(0);
    expect(sim.requests.map((r) => r.peer)).toEqual(['127.0.0.1', '127.0.0.1']);
  });

  it('`proxy: false` ignores the environment: nothing goes through the proxy that HTTP_PROXY and HTTPS_PROXY name', async () => {
    process.env.HTTP_PROXY = proxy.url();
    process.env.HTTPS_PROXY = proxy.url();
    const { client, tickets } = await app({ proxy: false });
    await client.get('/cgi-bin/department/list');
    await tickets.getCorpTicket();
    expect(proxy.forwarded()).toBe(0);
    expect(proxy.connects).toHaveLength(0);
    expect(new Set(sim.requests.map((r) => r.peer))).toEqual(new Set(['127.0.0.1']));
    expect(sim.requests.length).toBe(3);
  });

  it("app.close() closes the app's kept-alive connections to the proxy", async () => {
    const { ctx, client } = await app({ proxy: proxy.url() });
    await client.get('/cgi-bin/department/list');
    expect(proxy.openConnections).toBeGreaterThan(0);
    opened.splice(opened.indexOf(ctx), 1);
    await ctx.close();
    await waitFor(() => proxy.openConnections === 0, 3_000);
  });

  it('an explicit proxy wins over NO_PROXY: every request of the app goes through it', async () => {
    process.env.NO_PROXY = '*';
    const { client } = await app({ proxy: proxy.url() });
    await client.get('/cgi-bin/department/list');
    expectAllThroughProxy();
  });
});
