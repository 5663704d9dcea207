/**
 * WeComClient and AccessTokenInterceptor against the simulator over loopback HTTP: tokens attached only to the
 * app's baseUrl, a rejection wave replaced with one fetch, replays bounded to one, uploads replayed intact.
 */
import { HttpService } from '@nestjs/axios';
import { INestApplicationContext } from '@nestjs/common';
import axios from 'axios';
import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { AccessTokenInterceptor, AccessTokenService, WeComApiError, WeComClient, WeComTokenModule, WeComTransportError } from '../lib';
import { WeComSimulator } from '../lib/testing';
import { bootContext, FAST_RETRY } from './support/app';
import { CapturingLogger, expectNoneOf, failureRecorder, renderError } from './support/capture';

/** Another host on loopback that records what it was sent. */
async function startOtherHost(): Promise<{ server: Server; url: string; seen: string[] }> {
  const seen: string[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    seen.push(req.url ?? '');
    res.setHeader('content-type', 'application/json');
    res.end('{"ok":true}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

describe('WeComClient and AccessTokenInterceptor', () => {
  let sim: WeComSimulator;
  let app: INestApplicationContext;
  let logger: CapturingLogger;
  let client: WeComClient;
  let tokens: AccessTokenService;
  const errors: unknown[] = [];

  beforeEach(async () => {
    sim = await WeComSimulator.start();
    ({ app, logger } = await bootContext([WeComTokenModule.forRoot({ corpId: sim.corpId, secret: sim.secretOf(), agentId: 1000002, baseUrl: sim.baseUrl, retry: FAST_RETRY })]));
    client = app.get(WeComClient);
    tokens = app.get(AccessTokenService);
  });
  afterEach(async () => {
    const printed = [...logger.lines, ...errors.map(renderError)].join('\n');
    expectNoneOf(printed, [sim.secretOf(), ...sim.issuedTokens()]);
    errors.length = 0;
    await app.close();
    await sim.close();
  });

  const failure = failureRecorder(errors);

  it('attaches the token as the access_token query parameter; get and post resolve to the body', async () => {
    const user = await client.get<{ userid: string; name: string }>('/cgi-bin/user/get', { userid: 'zhangsan' });
    expect(user.userid).toBe('zhangsan');
    const sent = await client.post<{ msgid: string }>('/cgi-bin/message/send', { touser: 'zhangsan', msgtype: 'text', agentid: 1000002, text: { content: '你好' } });
    expect(sent.msgid).toEqual(expect.any(String));
    const token = sim.currentToken();
    const apiCalls = sim.requests.filter((r) => r.path !== '/cgi-bin/gettoken');
    expect(apiCalls).toHaveLength(2);
    for (const r of apiCalls) expect(r.query.access_token).toBe(token);
  });

  it('a call to another host through the same HttpService gets no token', async () => {
    const other = await startOtherHost();
    try {
      await client.get('/cgi-bin/department/list');
      await new Promise<unknown>((resolve, reject) => client.http.get(`${other.url}/hook?x=1`).subscribe({ next: resolve, error: reject }));
      expect(other.seen).toEqual(['/hook?x=1']);
    } finally {
      await new Promise((r) => other.server.close(r));
    }
  });

  it('a revocation wave over 200 concurrent calls causes exactly one refetch and every call succeeds', async () => {
    await client.get('/cgi-bin/department/list');
    expect(sim.gettokenCalls()).toBe(1);
    sim.revokeTokens();
    const results = await Promise.all(Array.from({ length: 200 }, () => client.get<{ userid: string }>('/cgi-bin/user/get', { userid: 'lisi' })));
    expect(results.every((u) => u.userid === 'lisi')).toBe(true);
    expect(sim.gettokenCalls()).toBe(2);
    expect(sim.calls('/cgi-bin/user/get')).toBe(400);
  });

  it('an expiry wave (42001) over 200 concurrent calls likewise', async () => {
    await client.get('/cgi-bin/department/list');
    sim.expireTokens();
    const results = await Promise.all(Array.from({ length: 200 }, () => client.get('/cgi-bin/department/list')));
    expect(results).toHaveLength(200);
    expect(sim.gettokenCalls()).toBe(2);
    expect(sim.requests.filter((r) => r.errcode === 42001)).toHaveLength(200);
  });

  it('a second rejection after the replay fails cleanly, with no further loop', async () => {
    await client.get('/cgi-bin/department/list');
    sim.failNext('/cgi-bin/user/get', { errcode: 40014 }, 2);
    const error = (await failure(client.get('/cgi-bin/user/get', { userid: 'zhangsan' }))) as WeComApiError;
    expect(error).toBeInstanceOf(WeComApiError);
    expect(error.errcode).toBe(40014);
    expect(error.path).toBe('/cgi-bin/user/get');
    expect(sim.calls('/cgi-bin/user/get')).toBe(2);
    expect(sim.gettokenCalls()).toBe(2);
  });

  it('60020 leaves the token in place and names the IP from errmsg', async () => {
    const token = await tokens.getToken();
    sim.failNext('api', { errcode: 60020 });
    const error = (await failure(client.post('/cgi-bin/message/send', { touser: 'zhangsan', msgtype: 'text', agentid: 1000002, text: { content: 'x' } }))) as WeComApiError;
    expect(error.errcode).toBe(60020);
    expect(error.message).toContain('127.0.0.1');
    expect(tokens.peek()?.token).toBe(token);
    expect(sim.gettokenCalls()).toBe(1);
  });

  it('an upload replayed after 40014 arrives intact', async () => {
    const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 256));
    await tokens.getToken();
    sim.failNext('/cgi-bin/media/upload', { errcode: 40014 });
    const result = await client.upload('file', { data: bytes, filename: '报告.bin', contentType: 'application/octet-stream' });
    expect(result.media_id).toEqual(expect.any(String));
    const stored = sim.uploadedMedia(result.media_id)!;
    expect(Buffer.compare(stored.bytes, bytes)).toBe(0);
    expect(stored.filename).toBe('报告.bin');
    expect(sim.calls('/cgi-bin/media/upload')).toBe(2);
    expect(sim.gettokenCalls()).toBe(2);
  });

  it('a media download resolves to the bytes; its JSON error is a WeComApiError', async () => {
    const bytes = Buffer.from([0, 1, 2, 250, 251, 255]);
    const mediaId = sim.addMedia(bytes, 'tiny.bin', 'application/octet-stream');
    const file = await client.download('/cgi-bin/media/get', { media_id: mediaId });
    expect(Buffer.compare(file.bytes, bytes)).toBe(0);
    expect(file.contentType).toContain('application/octet-stream');
    expect(file.filename).toBe('tiny.bin');
    const error = (await failure(client.download('/cgi-bin/media/get', { media_id: 'no-such-media' }))) as WeComApiError;
    expect(error).toBeInstanceOf(WeComApiError);
    expect(error.errcode).toBe(40007);
  });

  it('a media download replayed after a revocation still returns the file', async () => {
    await tokens.getToken();
    sim.revokeTokens();
    const file = await client.download('/cgi-bin/media/get', { media_id: 'MEDIA_SAMPLE' });
    expect(file.bytes.length).toBeGreaterThan(0);
    expect(sim.gettokenCalls()).toBe(2);
  });

  it('transport failures are WeComTransportError without the URL, config or request of axios', async () => {
    await tokens.getToken();
    sim.failNext('api', { kind: 'drop' });
    const dropped = (await failure(client.get('/cgi-bin/department/list'))) as WeComTransportError;
    expect(dropped).toBeInstanceOf(WeComTransportError);
    expect(dropped.message).toMatch(/GET \/cgi-bin\/department\/list for corp .*, app 'default' failed/);
    sim.failNext('api', { kind: 'html-502' });
    const html = (await failure(client.get('/cgi-bin/department/list'))) as WeComTransportError;
    expect(html.status).toBe(502);
    sim.failNext('api', { kind: 'truncated-json' });
    const truncated = (await failure(client.get('/cgi-bin/department/list'))) as WeComTransportError;
    expect(truncated.failure).toBe('invalid-body');
    for (const e of [dropped, html, truncated]) {
      expect(renderError(e)).not.toContain('access_token=');
      expect(e).not.toHaveProperty('config');
    }
  });

  it('attaches to an application HttpService of its own, and detaches again, leaving other instances alone', async () => {
    const interceptor = app.get(AccessTokenInterceptor);
    const own = new HttpService(axios.create({ baseURL: sim.baseUrl }));
    const untouched = new HttpService(axios.create({ baseURL: sim.baseUrl }));
    const detach = interceptor.attach(own);
    const res = await new Promise<{ data: { errcode: number } }>((resolve, reject) => own.get('/cgi-bin/department/list').subscribe({ next: resolve, error: reject }));
    expect(res.data.errcode).toBe(0);
    const bare = await new Promise<{ data: { errcode: number } }>((resolve, reject) => untouched.get('/cgi-bin/department/list').subscribe({ next: resolve, error: reject }));
    expect(bare.data.errcode).toBe(41001);
    detach();
    const after = await new Promise<{ data: { errcode: number } }>((resolve, reject) => own.get('/cgi-bin/department/list').subscribe({ next: resolve, error: reject }));
    expect(after.data.errcode).toBe(41001);
  });

  it('the interceptor on an application HttpService also replays a rejected call once', async () => {
    const own = new HttpService(axios.create({ baseURL: sim.baseUrl }));
    app.get(AccessTokenInterceptor).attach(own);
    await tokens.getToken();
    sim.revokeTokens();
    const res = await new Promise<{ data: { userid: string } }>((resolve, reject) =>
      own.get('/cgi-bin/user/get', { params: { userid: 'zhangsan' } }).subscribe({ next: resolve, error: reject }),
    );
    expect(res.data.userid).toBe('zhangsan');
    expect(sim.gettokenCalls()).toBe(2);
  });
});
