import { WeComSimulator, WeComSimulatorOptions } from './wecom-simulator.js';

interface WeComBody {
  errcode?: number;
  errmsg?: string;
  access_token?: string;
  expires_in?: number;
  [key: string]: unknown;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('WeComSimulator', () => {
  const opened: WeComSimulator[] = [];

  async function start(options?: WeComSimulatorOptions): Promise<WeComSimulator> {
    const simulator = await WeComSimulator.start(options);
    opened.push(simulator);
    return simulator;
  }

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((simulator) => simulator.close()));
  });

  async function getJson(sim: WeComSimulator, pathAndQuery: string, init?: RequestInit): Promise<WeComBody> {
    const response = await fetch(`${sim.baseUrl}${pathAndQuery}`, init);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json; charset=UTF-8');
    return (await response.json()) as WeComBody;
  }

  function gettoken(sim: WeComSimulator, secret = sim.secretOf(), corpid = sim.corpId): Promise<WeComBody> {
    const query = new URLSearchParams({ corpid, corpsecret: secret });
    return getJson(sim, `/cgi-bin/gettoken?${query.toString()}`);
  }

  async function token(sim: WeComSimulator, appName = 'default'): Promise<string> {
    const body = await gettoken(sim, sim.secretOf(appName));
    expect(body.errcode).toBe(0);
    return body.access_token!;
  }

  function sendText(sim: WeComSimulator, accessToken: string, agentid: number): Promise<WeComBody> {
    return getJson(sim, `/cgi-bin/message/send?access_token=${accessToken}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ touser: 'zhangsan', msgtype: 'text', agentid, text: { content: 'hello' } }),
    });
  }

  function expectWeComError(body: WeComBody, errcode: number, ip = '127.0.0.1'): void {
    expect(body.errcode).toBe(errcode);
    expect(body.errmsg).toMatch(
      new RegExp(
        `, hint: \\[\\d+_\\d+_[0-9a-f]+\\], from ip: ${ip.replace(/\./g, '\\.')}, ` + `more info at https://open\\.work\\.weixin\\.qq\\.com/devtool/query\\?e=${errcode}$`,
      ),
    );
  }

  describe('lifecycle', () => {
    it('throws a clear error for baseUrl before listen, and closes safely twice', async () => {
      const sim = new WeComSimulator();
      expect(() => sim.baseUrl).toThrow(/not listening/);
      await sim.listen();
      expect(sim.baseUrl).toBe(`http://127.0.0.1:${sim.port}`);
      await sim.close();
      await sim.close();
    });

    it('rejects apps it cannot simulate', () => {
      expect(() => new WeComSimulator({ apps: [] })).toThrow(/at least one app/);
      expect(() => new WeComSimulator({ apps: [{ name: 'a', secret: 'x' }] })).toThrow(/at least 4 characters/);
      expect(
        () =>
          new WeComSimulator({
            apps: [
              { name: 'a', secret: 'same-secret' },
              { name: 'b', secret: 'same-secret' },
            ],
          }),
      ).toThrow(/shares its secret/);
    });
  });

  describe('gettoken', () => {
    it('issues a token with the configured lifetime', async () => {
      const sim = await start();
      const body = await gettoken(sim);
      expect(body).toEqual({ errcode: 0, errmsg: 'ok', access_token: expect.any(String), expires_in: 7200 });
      expect(body.access_token).toMatch(/^[A-Za-z0-9_-]{64,100}$/);
      expect(body.access_token).not.toContain(sim.secretOf());
      expect(sim.currentToken()).toBe(body.access_token);
      expect(sim.issuedTokens()).toEqual([body.access_token]);
      expect(sim.gettokenCalls('default')).toBe(1);
    });

    it('answers 40013 for a missing or wrong corpid', async () => {
      const sim = await start();
      expectWeComError(await gettoken(sim, sim.secretOf(), 'wwsomeoneelse'), 40013);
      expectWeComError(await getJson(sim, `/cgi-bin/gettoken?corpsecret=${sim.secretOf()}`), 40013);
      expect(sim.issuedTokens()).toEqual([]);
    });

    it('answers 40001 for an unknown secret and counts the call without an app', async () => {
      const sim = await start();
      const body = await gettoken(sim, 'not-the-secret');
      expectWeComError(body, 40001);
      expect(body.errmsg).toMatch(/^invalid credential/);
      expect(sim.gettokenCalls()).toBe(1);
      expect(sim.gettokenCalls('default')).toBe(0);
      expect(sim.requests[0]).toMatchObject({ path: '/cgi-bin/gettoken', status: 200, errcode: 40001 });
      expect(sim.requests[0].app).toBeUndefined();
    });

    it("returns the same token with a shrinking expires_in in 'same-token' mode", async () => {
      const sim = await start({ tokenLifetimeSeconds: 3 });
      const first = await gettoken(sim);
      expect(first.expires_in).toBe(3);
      await sleep(1100);
      const second = await gettoken(sim);
      expect(second.access_token).toBe(first.access_token);
      expect(second.expires_in).toBe(2);
      expect(sim.issuedTokens()).toHaveLength(1);
    });

    it("issues a new token with a full lifetime in 'new-token' mode, the old one staying valid", async () => {
      const sim = await start({ repeatedGettoken: 'new-token' });
      const first = await token(sim);
      const second = await gettoken(sim);
      expect(second.access_token).not.toBe(first);
      expect(second.expires_in).toBe(7200);
      expect(sim.currentToken()).toBe(second.access_token);
      expect((await getJson(sim, `/cgi-bin/user/get?access_token=${first}&userid=lisi`)).errcode).toBe(0);
      sim.setRepeatedGettoken('same-token');
      expect((await gettoken(sim)).access_token).toBe(second.access_token);
    });

    it('keeps the tokens of different secrets apart', async () => {
      const sim = await start({
        apps: [
          { name: 'default', secret: 'secret-of-default-app', agentId: 1000002 },
          { name: 'contacts', secret: 'secret-of-contacts-sync', kind: 'contacts' },
        ],
      });
      const app = await token(sim, 'default');
      const contacts = await token(sim, 'contacts');
      expect(app).not.toBe(contacts);
      expect(sim.issuedTokens('contacts')).toEqual([contacts]);
      expect(sim.gettokenCalls('contacts')).toBe(1);
      expect(sim.app('contacts')).toEqual({ name: 'contacts', secret: 'secret-of-contacts-sync', kind: 'contacts' });
    });
  });

  describe('token checks', () => {
    it('answers 40014 for a revoked token, then issues a new one', async () => {
      const sim = await start();
      const first = await token(sim);
      expect(sim.revokeTokens()).toEqual([first]);
      expectWeComError(await getJson(sim, `/cgi-bin/user/get?access_token=${first}&userid=zhangsan`), 40014);
      expect(sim.currentToken()).toBeUndefined();
      const second = await token(sim);
      expect(second).not.toBe(first);
      expect((await getJson(sim, `/cgi-bin/user/get?access_token=${second}&userid=zhangsan`)).errcode).toBe(0);
      expect(sim.revokeToken(second)).toBe(true);
      expect(sim.revokeToken(second)).toBe(false);
    });

    it('answers 40014 for a token it never issued', async () => {
      const sim = await start();
      expectWeComError(await getJson(sim, '/cgi-bin/user/get?access_token=made-up&userid=zhangsan'), 40014);
    });

    it('answers 42001 once the lifetime has passed', async () => {
      const sim = await start({ tokenLifetimeSeconds: 1 });
      const first = await token(sim);
      await sleep(1100);
      const body = await getJson(sim, `/cgi-bin/user/get?access_token=${first}&userid=zhangsan`);
      expectWeComError(body, 42001);
      expect(body.errmsg).toMatch(/^access_token expired/);
      expect(await token(sim)).not.toBe(first);
    });

    it('answers 42001 after expireTokens()', async () => {
      const sim = await start();
      const first = await token(sim);
      sim.expireTokens('default');
      expectWeComError(await getJson(sim, `/cgi-bin/user/get?access_token=${first}&userid=zhangsan`), 42001);
      expect(await token(sim)).not.toBe(first);
    });

    it('answers 41001 when the token is missing from the query, even if it is in the body', async () => {
      const sim = await start();
      const accessToken = await token(sim);
      expectWeComError(await getJson(sim, '/cgi-bin/user/get?userid=zhangsan'), 41001);
      const inBody = await getJson(sim, '/cgi-bin/message/send', {
        method: 'POST',
        body: JSON.stringify({ access_token: accessToken, touser: 'zhangsan', msgtype: 'text', agentid: 1000002 }),
      });
      expectWeComError(inBody, 41001);
      expect(sim.sentMessages).toHaveLength(0);
    });

    it('answers 48002 when a contacts token calls message/send', async () => {
      const sim = await start({
        apps: [
          { name: 'default', secret: 'secret-of-default-app', agentId: 1000002 },
          { name: 'contacts', secret: 'secret-of-contacts-sync', kind: 'contacts' },
        ],
      });
      const contacts = await token(sim, 'contacts');
      expectWeComError(await sendText(sim, contacts, 1000002), 48002);
      expect((await getJson(sim, `/cgi-bin/department/list?access_token=${contacts}`)).errcode).toBe(0);
      expect(sim.requests.at(-1)!.app).toBe('contacts');
    });

    it('answers 40056 for an agentid that is not the calling app', async () => {
      const sim = await start();
      expectWeComError(await sendText(sim, await token(sim), 1000099), 40056);
    });
  });

  describe('business endpoints', () => {
    it('sends a message and records it', async () => {
      const sim = await start();
      const body = await sendText(sim, await token(sim), 1000002);
      expect(body).toEqual({ errcode: 0, errmsg: 'ok', invaliduser: '', msgid: expect.any(String) });
      expect(sim.sentMessages).toEqual([
        {
          app: 'default',
          msgid: body.msgid,
          body: { touser: 'zhangsan', msgtype: 'text', agentid: 1000002, text: { content: 'hello' } },
          at: expect.any(Number),
        },
      ]);
    });

    it('answers user/get and department/list', async () => {
      const sim = await start();
      const accessToken = await token(sim);
      const user = await getJson(sim, `/cgi-bin/user/get?access_token=${accessToken}&userid=zhangsan`);
      expect(user).toMatchObject({ errcode: 0, errmsg: 'ok', userid: 'zhangsan', name: '张三', department: [1, 2] });
      expectWeComError(await getJson(sim, `/cgi-bin/user/get?access_token=${accessToken}&userid=nobody`), 60111);
      const all = await getJson(sim, `/cgi-bin/department/list?access_token=${accessToken}`);
      expect(all.department).toContainEqual(expect.objectContaining({ id: 1, name: '广州研发中心', parentid: 0, order: 1 }));
      const sub = await getJson(sim, `/cgi-bin/department/list?access_token=${accessToken}&id=3`);
      expect((sub.department as Array<{ id: number }>).map((d) => d.id)).toEqual([3, 4]);
    });

    it('answers an unknown /cgi-bin path with HTTP 404 JSON, after the token check', async () => {
      const sim = await start();
      const accessToken = await token(sim);
      const unknown = await fetch(`${sim.baseUrl}/cgi-bin/agent/get?access_token=${accessToken}`);
      expect(unknown.status).toBe(404);
      expect(((await unknown.json()) as WeComBody).errcode).toBe(404);
      expectWeComError(await getJson(sim, '/cgi-bin/agent/get'), 41001);
      expect((await fetch(`${sim.baseUrl}/favicon.ico`)).status).toBe(404);
    });

    it('serves APIs added with addApi behind the token check', async () => {
      const sim = await start();
      sim.addApi('/cgi-bin/get_jsapi_ticket', () => ({ errcode: 0, errmsg: 'ok', ticket: 'T', expires_in: 7200 }), {
        method: 'GET',
      });
      const accessToken = await token(sim);
      expect(await getJson(sim, `/cgi-bin/get_jsapi_ticket?access_token=${accessToken}`)).toEqual({
        errcode: 0,
        errmsg: 'ok',
        ticket: 'T',
        expires_in: 7200,
      });
      expectWeComError(await getJson(sim, `/cgi-bin/get_jsapi_ticket?access_token=x`), 40014);
    });
  });

  describe('media', () => {
    function binaryFixture(): Buffer {
      const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      // Bytes that look like a part boundary must not end the part.
      return Buffer.concat([allBytes, Buffer.from('\r\n--not-the-boundary\r\n\r\n'), allBytes.reverse()]);
    }

    async function upload(sim: WeComSimulator, accessToken: string, bytes: Buffer, filename: string): Promise<WeComBody> {
      const form = new FormData();
      form.append('media', new Blob([bytes], { type: 'application/x-custom' }), filename);
      const path = `/cgi-bin/media/upload?access_token=${accessToken}&type=file`;
      return getJson(sim, path, { method: 'POST', body: form });
    }

    it('round-trips binary bytes through upload and media/get', async () => {
      const sim = await start();
      const accessToken = await token(sim);
      const bytes = binaryFixture();
      const body = await upload(sim, accessToken, bytes, '报告 "q1".bin');
      expect(body).toEqual({
        errcode: 0,
        errmsg: '',
        type: 'file',
        media_id: expect.any(String),
        created_at: expect.stringMatching(/^\d+$/),
      });
      const mediaId = body.media_id as string;

      const stored = sim.uploadedMedia(mediaId)!;
      expect(stored.bytes.equals(bytes)).toBe(true);
      expect(stored).toMatchObject({
        filename: '报告 "q1".bin',
        contentType: 'application/x-custom',
        uploads: 1,
        type: 'file',
      });

      const download = await fetch(`${sim.baseUrl}/cgi-bin/media/get?access_token=${accessToken}&media_id=${mediaId}`);
      expect(download.status).toBe(200);
      expect(download.headers.get('content-type')).toBe('application/x-custom');
      expect(download.headers.get('content-length')).toBe(String(bytes.length));
      expect(download.headers.get('content-disposition')).toMatch(/^attachment; filename="/);
      expect(Buffer.from(await download.arrayBuffer()).equals(bytes)).toBe(true);

      await upload(sim, accessToken, bytes, '报告 "q1".bin');
      expect(sim.uploadedMedia(mediaId)!.uploads).toBe(2);
    });

    it('answers 44001 for a body that is not multipart, and 40004 for a bad type', async () => {
      const sim = await start();
      const accessToken = await token(sim);
      const post = { method: 'POST', body: 'x' };
      expectWeComError(await getJson(sim, `/cgi-bin/media/upload?access_token=${accessToken}&type=file`, post), 44001);
      expectWeComError(await getJson(sim, `/cgi-bin/media/upload?access_token=${accessToken}&type=pdf`, post), 40004);
    });

    it('serves the seeded MEDIA_SAMPLE and media added with addMedia', async () => {
      const sim = await start();
      const accessToken = await token(sim);
      const sample = await fetch(`${sim.baseUrl}/cgi-bin/media/get?access_token=${accessToken}&media_id=MEDIA_SAMPLE`);
      expect(sample.headers.get('content-type')).toBe('image/png');
      expect(
        Buffer.from(await sample.arrayBuffer())
          .subarray(1, 4)
          .toString(),
      ).toBe('PNG');
      const mediaId = sim.addMedia(Buffer.from('hello'), 'hello.txt', 'text/plain');
      const added = await fetch(`${sim.baseUrl}/cgi-bin/media/get?access_token=${accessToken}&media_id=${mediaId}`);
      expect(await added.text()).toBe('hello');
      expect(added.headers.get('content-disposition')).toBe('attachment; filename="hello.txt"');
    });

    it('answers media/get for an unknown id with a JSON 40007', async () => {
      const sim = await start();
      const accessToken = await token(sim);
      expectWeComError(await getJson(sim, `/cgi-bin/media/get?access_token=${accessToken}&media_id=nope`), 40007);
    });
  });

  describe('faults', () => {
    it('drops the connection: fetch rejects', async () => {
      const sim = await start();
      sim.failNext('gettoken', { kind: 'drop' });
      const url = `${sim.baseUrl}/cgi-bin/gettoken?corpid=${sim.corpId}&corpsecret=${sim.secretOf()}`;
      await expect(fetch(url)).rejects.toThrow('fetch failed');
      expect(sim.gettokenCalls('default')).toBe(1);
      expect(sim.requests[0]).toMatchObject({ status: 0, fault: { kind: 'drop' } });
      expect((await gettoken(sim)).errcode).toBe(0);
    });

    it('hangs until the client gives up, and close() still resolves', async () => {
      const sim = await start();
      sim.failNext('api', { kind: 'hang' });
      const accessToken = await token(sim);
      await expect(
        fetch(`${sim.baseUrl}/cgi-bin/user/get?access_token=${accessToken}&userid=lisi`, {
          signal: AbortSignal.timeout(200),
        }),
      ).rejects.toThrow();
      sim.failNext('api', { kind: 'hang' });
      const pending = fetch(`${sim.baseUrl}/cgi-bin/user/get?access_token=${accessToken}&userid=lisi`);
      const outcome = expect(pending).rejects.toThrow('fetch failed');
      await sleep(50);
      await sim.close();
      await outcome;
    });

    it('delays the answer', async () => {
      const sim = await start();
      sim.failNext('gettoken', { kind: 'delay', ms: 150 });
      const started = Date.now();
      expect((await gettoken(sim)).errcode).toBe(0);
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    });

    it('delays every gettoken with setGettokenDelay', async () => {
      const sim = await start();
      sim.setGettokenDelay(100);
      const started = Date.now();
      await gettoken(sim);
      expect(Date.now() - started).toBeGreaterThanOrEqual(90);
      sim.setGettokenDelay(0);
    });

    it('answers an nginx 502 page', async () => {
      const sim = await start();
      sim.failNext('gettoken', { kind: 'html-502' });
      const response = await fetch(`${sim.baseUrl}/cgi-bin/gettoken?corpid=${sim.corpId}&corpsecret=${sim.secretOf()}`);
      expect(response.status).toBe(502);
      expect(response.headers.get('content-type')).toBe('text/html');
      expect(await response.text()).toContain('502 Bad Gateway');
    });

    it('answers a truncated JSON body', async () => {
      const sim = await start();
      sim.failNext('gettoken', { kind: 'truncated-json' });
      const response = await fetch(`${sim.baseUrl}/cgi-bin/gettoken?corpid=${sim.corpId}&corpsecret=${sim.secretOf()}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/json; charset=UTF-8');
      const text = await response.text();
      expect(text).toBe('{"errcode":0,"errmsg":"ok","access_to');
      expect(() => JSON.parse(text) as unknown).toThrow();
    });

    it('answers errcode faults FIFO with default errmsgs, attributed to the app', async () => {
      const sim = await start({ clientIp: '203.0.113.7' });
      sim.failNext('gettoken', { errcode: -1 }, 2).failNext('gettoken', { errcode: 45009 });
      const busy = await gettoken(sim);
      expectWeComError(busy, -1, '203.0.113.7');
      expect(busy.errmsg).toMatch(/^system busy, hint/);
      expect((await gettoken(sim)).errcode).toBe(-1);
      expect((await gettoken(sim)).errmsg).toMatch(/^api freq out of limit/);
      expect(sim.pendingFaults()).toBe(0);
      expect((await gettoken(sim)).errcode).toBe(0);
      expect(sim.gettokenCalls('default')).toBe(4);
    });

    it('answers 60020 naming the client IP, on one exact path only', async () => {
      const sim = await start();
      const accessToken = await token(sim);
      sim.failNext('/cgi-bin/message/send', { errcode: 60020 });
      expect((await getJson(sim, `/cgi-bin/user/get?access_token=${accessToken}&userid=lisi`)).errcode).toBe(0);
      const body = await sendText(sim, accessToken, 1000002);
      expectWeComError(body, 60020);
      expect(body.errmsg).toMatch(/^not allow to access from your ip, hint: \[.*\], from ip: 127\.0\.0\.1, /);
      expect(sim.sentMessages).toHaveLength(0);
    });

    it('forces 40014 on a valid token, and keeps a custom errmsg', async () => {
      const sim = await start();
      const accessToken = await token(sim);
      sim.failNext('api', { errcode: 40014 }).failNext('api', { errcode: 12345, errmsg: 'custom trouble' });
      expectWeComError(await getJson(sim, `/cgi-bin/user/get?access_token=${accessToken}&userid=lisi`), 40014);
      const custom = await getJson(sim, `/cgi-bin/user/get?access_token=${accessToken}&userid=lisi`);
      expectWeComError(custom, 12345);
      expect(custom.errmsg).toMatch(/^custom trouble, hint/);
      expect((await getJson(sim, `/cgi-bin/user/get?access_token=${accessToken}&userid=lisi`)).errcode).toBe(0);
    });

    it('clearFaults drops queued faults', async () => {
      const sim = await start();
      sim.failNext('gettoken', { errcode: -1 }, 3);
      sim.clearFaults();
      expect((await gettoken(sim)).errcode).toBe(0);
    });
  });

  describe('counters', () => {
    it('counts calls per path and logs queries as sent; resetCounters keeps tokens', async () => {
      const sim = await start();
      const seen: string[] = [];
      sim.on('request', (request) => seen.push(request.path));
      const accessToken = await token(sim);
      await getJson(sim, `/cgi-bin/user/get?access_token=${accessToken}&userid=lisi`);
      await getJson(sim, `/cgi-bin/user/get?access_token=${accessToken}&userid=zhangsan`);
      expect(sim.calls()).toBe(3);
      expect(sim.calls('/cgi-bin/user/get')).toBe(2);
      expect(sim.gettokenCalls()).toBe(1);
      expect(sim.requests[0].query).toEqual({ corpid: sim.corpId, corpsecret: sim.secretOf() });
      expect(sim.requests[1]).toMatchObject({
        method: 'GET',
        path: '/cgi-bin/user/get',
        query: { access_token: accessToken, userid: 'lisi' },
        app: 'default',
        status: 200,
        errcode: 0,
      });
      expect(seen).toEqual(['/cgi-bin/gettoken', '/cgi-bin/user/get', '/cgi-bin/user/get']);

      sim.resetCounters();
      expect(sim.calls()).toBe(0);
      expect(sim.gettokenCalls('default')).toBe(0);
      expect(sim.requests).toEqual([]);
      expect(await token(sim)).toBe(accessToken);
    });

    it('answers 413 for a body over the cap', async () => {
      const sim = await start({ maxBodyBytes: 1024 });
      const accessToken = await token(sim);
      const response = await fetch(`${sim.baseUrl}/cgi-bin/message/send?access_token=${accessToken}`, {
        method: 'POST',
        body: 'x'.repeat(2048),
      });
      expect(response.status).toBe(413);
    });
  });

  it('keeps two simulators independent', async () => {
    const a = await start();
    const b = await start({ corpId: 'wwothercorp', tokenLifetimeSeconds: 60 });
    expect(a.port).not.toBe(b.port);
    const tokenA = await token(a);
    const tokenB = await token(b);
    expect(tokenA).not.toBe(tokenB);
    expectWeComError(await getJson(b, `/cgi-bin/user/get?access_token=${tokenA}&userid=lisi`), 40014);
    a.failNext('gettoken', { errcode: -1 });
    expect((await gettoken(b)).expires_in).toBeLessThanOrEqual(60);
    expect(b.gettokenCalls()).toBe(2);
    expect(a.gettokenCalls()).toBe(1);
    a.revokeTokens();
    expect(b.currentToken()).toBe(tokenB);
  });
});
