/**
 * The HTTP side of the limits that hold whatever a server answers, each against a real server on loopback: the
 * credential parameter of the binding, a deadline on the whole exchange, no redirect ever followed, the token only
 * ever sent under baseUrl as axios resolves the URL, nothing secret in inspect/JSON, downloads of any kind of file,
 * and no raw error of a request that carried a token.
 */
import { HttpService } from '@nestjs/axios';
import { INestApplicationContext } from '@nestjs/common';
import axios, { AxiosRequestConfig } from 'axios';
import { inspect } from 'node:util';
import { firstValueFrom } from 'rxjs';
import { AccessTokenInterceptor, WeComApiError, WeComClient, WeComTokenModule, WeComTransportError } from '../lib';
import type { CredentialBinding } from '../lib/http/credential-binding';
import { WeComSimulator } from '../lib/testing';
import { bootContext, FAST_RETRY } from './support/app';
import { expectNoneOf, failureRecorder, renderError } from './support/capture';
import { json, Received, Route, startHostileWeCom, startServer, TestServer } from './support/hostile';

const SECRET = 'hostile-secret-0123456789abcdef0123456789';

/** The token (if any) a request carried in `param`. */
function sent(r: Received, param = 'access_token'): string | undefined {
  return new URLSearchParams(r.url.split('?')[1] ?? '').get(param) ?? undefined;
}

describe('HTTP limits against hostile servers', () => {
  const servers: TestServer[] = [];
  const issued: string[][] = [];
  const apps: INestApplicationContext[] = [];
  const errors: unknown[] = [];
  const failure = failureRecorder(errors);

  afterEach(async () => {
    const printed = errors.map(renderError).join('\n');
    errors.length = 0;
    const secrets = [SECRET, ...issued.splice(0).flat()];
    for (const app of apps.splice(0)) await app.close();
    for (const server of servers.splice(0)) await server.close();
    expectNoneOf(printed, secrets);
  });

  async function hostile(basePath: string, route: Route) {
    const server = await startHostileWeCom(basePath, route);
    servers.push(server);
    issued.push(server.issued);
    return server;
  }

  async function other(route?: Route) {
    const server = await startServer(route);
    servers.push(server);
    return server;
  }

  async function boot(baseUrl: string, timeoutMs = 5_000, corpId = 'wwhostile', secret = SECRET) {
    const { app } = await bootContext([WeComTokenModule.forRoot({ corpId, secret, baseUrl, timeoutMs, retry: FAST_RETRY })]);
    apps.push(app);
    return { app, client: app.get(WeComClient), interceptor: app.get(AccessTokenInterceptor) };
  }

  describe('the credential parameter and rejection errcodes come from the binding', () => {
    it('a suite binding sends suite_access_token, replays on 40082 and 42009 only, and strips a stale copy', async () => {
      let rejectNext = 0;
      const server = await other((_req, res, r) => {
        if (rejectNext > 0) {
          rejectNext--;
          return json(res, { errcode: r.url.includes('expire') ? 42009 : 40082, errmsg: 'invalid suite_access_token' });
        }
        if (r.url.startsWith('/service/old-code')) return json(res, { errcode: 40014, errmsg: 'invalid access_token' });
        return json(res, { errcode: 0, errmsg: 'ok', path: r.url.split('?')[0] });
      });
      let n = 0;
      const invalidated: string[] = [];
      const binding: CredentialBinding = {
        kind: 'suite_access_token',
        ref: { corpId: 'wwsuite', app: 'suite' },
        baseUrl: server.url,
        param: 'suite_access_token',
        rejectedErrcodes: new Set([40082, 42009]),
        retry: FAST_RETRY,
        timeoutMs: 2_000,
        getToken: async () => `SUITE_TOKEN_${n}_abcdefghijklmnop`,
        invalidate: async (rejected) => {
          invalidated.push(rejected);
          n++;
        },
      };
      const http = new HttpService(axios.create({ baseURL: server.url }));
      new AccessTokenInterceptor(binding).attach(http);
      const client = new WeComClient(http, binding);

      await client.get('/service/get_pre_auth_code', { suite_access_token: 'STALE' });
      rejectNext = 1;
      await client.post('/service/get_permanent_code', { auth_code: 'x' });
      rejectNext = 1;
      await firstValueFrom(http.get('/service/expire?suite_access_token=STALE'));
      const error = (await failure(client.get('/service/old-code'))) as WeComApiError;
      expect(error.errcode).toBe(40014);

      expect(server.seen.map((r) => [r.url.split('?')[0], sent(r, 'suite_access_token')])).toEqual([
        ['/service/get_pre_auth_code', 'SUITE_TOKEN_0_abcdefghijklmnop'],
        ['/service/get_permanent_code', 'SUITE_TOKEN_0_abcdefghijklmnop'],
        ['/service/get_permanent_code', 'SUITE_TOKEN_1_abcdefghijklmnop'],
        ['/service/expire', 'SUITE_TOKEN_1_abcdefghijklmnop'],
        ['/service/expire', 'SUITE_TOKEN_2_abcdefghijklmnop'],
        ['/service/old-code', 'SUITE_TOKEN_2_abcdefghijklmnop'],
      ]);
      for (const r of server.seen) {
        expect(r.url).not.toContain('access_token=STALE');
        expect(new URLSearchParams(r.url.split('?')[1]).getAll('suite_access_token')).toHaveLength(1);
        expect(sent(r, 'access_token')).toBeUndefined();
      }
      expect(invalidated).toEqual(['SUITE_TOKEN_0_abcdefghijklmnop', 'SUITE_TOKEN_1_abcdefghijklmnop']);
      expect(inspect(client) + JSON.stringify(client) + inspect(http, { depth: Infinity, showHidden: true })).not.toContain('SUITE_TOKEN_2');
    });
  });

  describe('timeoutMs bounds the whole exchange, headers and body', () => {
    /** Headers at once, then one byte every 300 ms, for as long as the client listens. */
    const trickle: Route = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"errcode":0,"x":"');
      const timer = setInterval(() => res.write('x'), 300);
      res.on('close', () => clearInterval(timer));
    };

    async function expectTimeout(promise: Promise<unknown>, timeoutMs: number) {
      const started = Date.now();
      const error = (await failure(promise)) as WeComTransportError;
      const took = Date.now() - started;
      expect(error).toBeInstanceOf(WeComTransportError);
      expect(error.failure).toBe('timeout');
      expect(error.message).toContain(`within ${timeoutMs} ms`);
      expect(took).toBeGreaterThanOrEqual(timeoutMs - 50);
      expect(took).toBeLessThan(timeoutMs + 700);
    }

    it('WeComClient.get, post and download, and the HttpService Observable path, reject with a timeout', async () => {
      const server = await hostile('', trickle);
      const { client } = await boot(server.baseUrl, 800);
      await expectTimeout(client.get('/cgi-bin/user/get', { userid: 'a' }), 800);
      await expectTimeout(client.post('/cgi-bin/message/send', { touser: 'a' }), 800);
      await expectTimeout(client.download('/cgi-bin/media/get', { media_id: 'm' }), 800);
      await expectTimeout(firstValueFrom(client.http.get('/cgi-bin/user/get')), 800);
      expect(server.issued).toHaveLength(1);
    });

    it('an application HttpService with the interceptor: bounded too, and its own signal still cancels', async () => {
      const server = await hostile('', trickle);
      const { interceptor } = await boot(server.baseUrl, 800);
      const own = new HttpService(axios.create({ baseURL: server.baseUrl }));
      interceptor.attach(own);
      await expectTimeout(firstValueFrom(own.get('/cgi-bin/user/get')), 800);
      const started = Date.now();
      const cancelled = (await failure(firstValueFrom(own.get('/cgi-bin/user/get', { signal: AbortSignal.timeout(200) })))) as WeComTransportError;
      expect(cancelled).toBeInstanceOf(WeComTransportError);
      expect(cancelled.failure).toBe('network');
      expect(Date.now() - started).toBeLessThan(700);
    });

    it('a slow wait for the token does not eat into the exchange’s own deadline', async () => {
      const server = await other((_req, res) => json(res, { errcode: 0, errmsg: 'ok' }));
      const binding: CredentialBinding = {
        kind: 'access_token',
        ref: { corpId: 'wwslow', app: 'slow' },
        baseUrl: server.url,
        param: 'access_token',
        rejectedErrcodes: new Set([40014]),
        retry: FAST_RETRY,
        timeoutMs: 300,
        getToken: () => new Promise((resolve) => setTimeout(() => resolve('SLOW_TOKEN_abcdefghijklmnop'), 500)),
        invalidate: async () => undefined,
      };
      const http = new HttpService(axios.create({ baseURL: server.url }));
      new AccessTokenInterceptor(binding).attach(http);
      await expect(new WeComClient(http, binding).get('/cgi-bin/user/get')).resolves.toEqual({ errcode: 0, errmsg: 'ok' });
      await expect(firstValueFrom(http.get('/cgi-bin/user/get'))).resolves.toMatchObject({ status: 200 });
    });

    it('a fast answer after a slow one is not cut short: each exchange has its own deadline', async () => {
      let slow = true;
      const server = await hostile('', (_req, res) => {
        if (slow) {
          slow = false;
          setTimeout(() => json(res, { errcode: 40014, errmsg: 'invalid access_token' }), 500);
          return;
        }
        setTimeout(() => json(res, { errcode: 0, errmsg: 'ok' }), 500);
      });
      const { client } = await boot(server.baseUrl, 800);
      await expect(client.get('/cgi-bin/user/get')).resolves.toEqual({ errcode: 0, errmsg: 'ok' });
      expect(server.issued).toHaveLength(2);
    });
  });

  describe('no redirect is followed, and a 3xx is a WeComTransportError', () => {
    it('a 302 to another host: the client, the Observable path and an application HttpService fail, the other host receives nothing', async () => {
      const elsewhere = await other();
      const server = await hostile('', (_req, res, r) => {
        // Like a careless proxy: keep the path and query string on the way to another host.
        res.writeHead(302, { location: `${elsewhere.url}${r.url}` });
        res.end();
      });
      const { client, interceptor } = await boot(server.baseUrl);
      const own = new HttpService(axios.create({ baseURL: server.baseUrl }));
      interceptor.attach(own);
      const attempts: Array<Promise<unknown>> = [
        client.get('/cgi-bin/user/get', { userid: 'a' }),
        client.download('/cgi-bin/media/get', { media_id: 'm' }),
        firstValueFrom(client.http.get('/cgi-bin/user/get')),
        firstValueFrom(own.get('/cgi-bin/user/get')),
        own.axiosRef.get('/cgi-bin/user/get'),
      ];
      for (const error of (await Promise.all(attempts.map(failure))) as WeComTransportError[]) {
        expect(error).toBeInstanceOf(WeComTransportError);
        expect(error.failure).toBe('http-status');
        expect(error.status).toBe(302);
        expect(error.message).toMatch(/WeCom never redirects/);
      }
      expect(elsewhere.seen).toEqual([]);
      expect(server.seen.filter((r) => !r.url.includes('gettoken'))).toHaveLength(attempts.length);
    });

    it.each([301, 302, 303, 307, 308])('a POST answered %i never comes back as a GET success', async (status) => {
      const server = await hostile('', (_req, res, r) => {
        if (r.url.startsWith('/cgi-bin/ok')) return json(res, { errcode: 0, errmsg: 'ok', msgid: 'fake' });
        res.writeHead(status, { location: '/cgi-bin/ok' });
        res.end();
      });
      const { client } = await boot(server.baseUrl);
      const error = (await failure(client.post('/cgi-bin/message/send', { touser: 'a', msgtype: 'text', text: { content: 'x' } }))) as WeComTransportError;
      expect(error.status).toBe(status);
      expect(server.seen.some((r) => r.url.startsWith('/cgi-bin/ok'))).toBe(false);
    });
  });

  describe('the token goes only to baseUrl, decided on the URL as axios resolves it', () => {
    it('with a base path, nothing outside it gets the token: dot segments, encoded forms, protocol-relative, look-alikes, ports, schemes', async () => {
      const elsewhere = await other();
      const server = await hostile('/wecom', () => false);
      const { client } = await boot(server.baseUrl);
      const base = server.baseUrl;
      const ownOrigin = server.url;
      const outside: Array<AxiosRequestConfig> = [
        { url: '/../x' },
        { url: '/%2e%2e/x' },
        { url: '/%2E%2e/x' },
        { url: '/.%2e/x' },
        { url: '/..%2fx' },
        { url: '/..%2Fx' },
        { url: '/%2e%2e%2fx' },
        { url: '/%252e%252e/x' },
        { url: '/..\\x' },
        { url: '/..;/x' },
        { url: '/.\t./x' },
        { url: `${ownOrigin}/wecomx/y` },
        { url: `${ownOrigin}/x` },
        { url: `//127.0.0.1:${elsewhere.port}/wecom/x` },
        { url: `//localhost:${server.port}/wecom/x` },
        { url: `http://localhost:${server.port}/wecom/x` },
        { url: `http://127.0.0.1:${server.port}@127.0.0.1:${elsewhere.port}/wecom/x` },
        { url: `http://127.0.0.1:${elsewhere.port}/wecom/x` },
        { url: `https://127.0.0.1:${server.port}/wecom/x` },
        { url: '/cgi-bin/x', baseURL: ownOrigin },
      ];
      for (const config of outside) {
        await client.http.axiosRef.request({ ...config, timeout: 2_000 }).catch((error: unknown) => errors.push(error));
      }
      await client.get('/cgi-bin/user/get');
      await client.get(`${base}/cgi-bin/department/list`);
      const withToken = [...server.seen, ...elsewhere.seen].filter((r) => sent(r) !== undefined).map((r) => r.url.split('?')[0]);
      expect(withToken).toEqual(['/wecom/cgi-bin/user/get', '/wecom/cgi-bin/department/list']);
      // The refusals are of the token, not of the request: what resolves outside the base path is still sent.
      expect(server.seen.filter((r) => r.url === '/x')).not.toHaveLength(0);
    });

    it('an interceptor registered before ours (so run after it) that moves a request elsewhere: the other host gets it without the token, and its 40014 is not ours', async () => {
      const elsewhere = await other((_req, res) => json(res, { errcode: 40014, errmsg: 'invalid access_token' }));
      const server = await hostile('', () => false);
      const { interceptor } = await boot(server.baseUrl);
      const instance = axios.create({ baseURL: server.baseUrl, timeout: 2_000 });
      // Registered first, so axios runs it after ours: it sees the URL with the token already in it.
      instance.interceptors.request.use((config) => {
        if (config.url?.includes('/move-url')) config.url = `${elsewhere.url}/moved${config.url.slice(config.url.indexOf('?'))}`;
        if (config.url?.includes('/move-base')) config.baseURL = `${elsewhere.url}/based`;
        if (config.url?.includes('/move-params')) config.params = { ...(config.params as object), access_token: 'copied' };
        return config;
      });
      interceptor.attach(instance);
      const moved = await instance.get('/cgi-bin/move-url?keep=1#frag');
      const based = await instance.get('/cgi-bin/move-base');
      await instance.get('/cgi-bin/user/get');
      expect(moved.data).toEqual({ errcode: 40014, errmsg: 'invalid access_token' });
      expect(based.data).toEqual({ errcode: 40014, errmsg: 'invalid access_token' });
      expect(elsewhere.seen.map((r) => r.url)).toEqual(['/moved?keep=1', '/based/cgi-bin/move-base']);
      expect(server.seen.filter((r) => r.url.startsWith('/cgi-bin/user/get')).map((r) => sent(r))).toEqual([server.issued[0]]);
      // Still on baseUrl with another access_token put into params: sent with the one token, not a second value.
      await instance.get('/cgi-bin/move-params');
      const params = server.seen.filter((r) => r.url.startsWith('/cgi-bin/move-params'));
      expect(params.map((r) => new URLSearchParams(r.url.split('?')[1]).getAll('access_token'))).toEqual([[server.issued[0]]]);
      expect(server.issued).toHaveLength(1);
    });

    it('a request that carried a token fails only with the module’s errors (an invalid URL after attaching included)', async () => {
      const server = await hostile('/wecom', () => false);
      const { client } = await boot(server.baseUrl);
      const invalid = (await failure(client.http.axiosRef.get(`http:/127.0.0.1:${server.port}/wecom/x`))) as WeComTransportError;
      expect(invalid).toBeInstanceOf(WeComTransportError);
      const relative = await failure(client.http.axiosRef.get(`//127.0.0.1:${server.port}/wecom/x`));
      expect(relative).not.toBeInstanceOf(WeComTransportError);
      expect(server.issued.length).toBeGreaterThan(0);
    });

    it('a connection dropped before or during the body, or a body over maxContentLength: the module’s errors on every path', async () => {
      const server = await hostile('', (req, res, r) => {
        if (r.url.startsWith('/cgi-bin/reset')) return void req.socket.destroy();
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
        res.write('{"errcode":0,"x":"');
        setTimeout(() => res.destroy(), 20);
      });
      const { client, interceptor } = await boot(server.baseUrl);
      const own = new HttpService(axios.create({ baseURL: server.baseUrl, maxContentLength: 5 }));
      interceptor.attach(own);
      for (const path of ['/cgi-bin/reset', '/cgi-bin/half']) {
        const attempts = [client.get(path), client.download(path), firstValueFrom(client.http.get(path)), own.axiosRef.get(path)];
        for (const error of await Promise.all(attempts.map(failure))) {
          expect(error).toBeInstanceOf(WeComTransportError);
          expect(error).not.toHaveProperty('config');
          expect(error).not.toHaveProperty('request');
        }
      }
      expect(server.issued).toHaveLength(1);
    });
  });

  describe('util.inspect and JSON.stringify never show a token or the secret', () => {
    it('WeComClient, AccessTokenInterceptor and the HttpService behind the client, after successful calls', async () => {
      const sim = await WeComSimulator.start();
      try {
        const { client, interceptor } = await boot(sim.baseUrl, 5_000, sim.corpId, sim.secretOf());
        await client.get('/cgi-bin/user/get', { userid: 'zhangsan' });
        await client.post('/cgi-bin/message/send', { touser: 'zhangsan', msgtype: 'text', agentid: 1000002, text: { content: 'x' } });
        await firstValueFrom(client.http.get('/cgi-bin/department/list'));
        const printed = [client, interceptor, client.http, client.http.axiosRef, client.http.axiosRef.defaults]
          .flatMap((o) => [inspect(o, { depth: Infinity, showHidden: true }), inspect(o), safeJson(o)])
          .join('\n');
        expect(sim.issuedTokens().length).toBeGreaterThan(0);
        expectNoneOf(printed, [sim.secretOf(), ...sim.issuedTokens()]);
        expect(inspect(client)).toContain("app: 'default'");
        expect(JSON.parse(JSON.stringify(interceptor))).toEqual({ app: 'default', corpId: sim.corpId, baseUrl: sim.baseUrl, param: 'access_token' });
      } finally {
        for (const app of apps.splice(0)) await app.close();
        await sim.close();
      }
    });
  });

  describe('download(): an error only when the body is JSON with a non-zero errcode', () => {
    const files: Record<string, { type: string; body: string | Buffer; disposition?: string }> = {
      '/text': { type: 'text/plain; charset=utf-8', body: 'hello, not JSON', disposition: 'attachment; filename="100%.txt"' },
      '/csv': { type: 'text/csv', body: 'a,b\n1,2\n', disposition: 'attachment; filename*=UTF-8\'\'%E6%8A%A5%E5%91%8A.csv; filename="report.csv"' },
      '/json-file': { type: 'application/json', body: '{"rows":[1,2,3]}', disposition: 'attachment; filename="../../data.json"' },
      '/json-ok': { type: 'application/json', body: '{"errcode":0,"errmsg":"ok","rows":[]}' },
      '/json-array': { type: 'application/json', body: '[{"errcode":40007}]' },
      '/html': { type: 'text/html', body: '<html><body>a page</body></html>', disposition: 'attachment; filename="..\\\\..\\\\page.html"' },
      '/empty': { type: 'application/octet-stream', body: '' },
      '/binary': { type: 'image/png', body: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 255]), disposition: 'attachment; filename=".."' },
      '/error-json': { type: 'application/json', body: '{"errcode":40007,"errmsg":"invalid media_id"}' },
      '/error-text': { type: 'text/plain', body: ' {"errcode":40007,"errmsg":"invalid media_id"}' },
      '/error-octet': { type: 'application/octet-stream', body: '{"errcode":40007,"errmsg":"invalid media_id"}' },
    };

    it('every kind of file resolves to its bytes with a safe base name; JSON errors of any Content-Type reject', async () => {
      const server = await hostile('', (_req, res, r) => {
        const file = files[r.url.split('?')[0]];
        if (!file) return false;
        res.writeHead(200, { 'content-type': file.type, ...(file.disposition ? { 'content-disposition': file.disposition } : {}) });
        res.end(file.body);
        return true;
      });
      const { client } = await boot(server.baseUrl);
      const got = async (path: string) => client.download(path, { media_id: 'm' });
      const expected: Record<string, string | undefined> = {
        '/text': '100%.txt',
        '/csv': '报告.csv',
        '/json-file': 'data.json',
        '/json-ok': undefined,
        '/json-array': undefined,
        '/html': 'page.html',
        '/empty': undefined,
        '/binary': undefined,
      };
      for (const [path, filename] of Object.entries(expected)) {
        const file = await got(path);
        expect(Buffer.compare(file.bytes, Buffer.from(files[path].body))).toBe(0);
        expect(file.contentType).toContain(files[path].type.split(';')[0]);
        expect(file.filename).toBe(filename);
      }
      for (const path of ['/error-json', '/error-text', '/error-octet']) {
        const error = (await failure(got(path))) as WeComApiError;
        expect(error).toBeInstanceOf(WeComApiError);
        expect(error.errcode).toBe(40007);
      }
    });
  });
});

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? '';
  } catch (error) {
    return String(error);
  }
}
