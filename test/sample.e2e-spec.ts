/**
 * The sample as a user runs it (`npm start`, built by `npm test` before jest): a real process, the built package,
 * the in-process simulator, real HTTP to its endpoints. What it prints holds no whole token and no secret.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { WeComSimulator } from '../lib/testing';

const root = join(__dirname, '..');

function runSample(
  args: string[],
  env: Record<string, string> = {},
): { child: ChildProcess; output: () => string; line: (pattern: RegExp, timeoutMs?: number) => Promise<RegExpExecArray> } {
  const child = spawn(process.execPath, ['dist-sample/main.js', ...args], {
    cwd: root,
    env: { ...process.env, PORT: '0', NO_COLOR: '1', WECOM_CORP_ID: '', WECOM_SECRET: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr.on('data', (d: Buffer) => (text += d.toString()));
  const line = (pattern: RegExp, timeoutMs = 20_000) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const deadline = Date.now() + timeoutMs;
      const poll = () => {
        const m = pattern.exec(text);
        if (m) {
          resolve(m);
          return;
        }
        if (Date.now() > deadline || child.exitCode !== null) {
          reject(new Error(`no line ${pattern} in:\n${text}`));
          return;
        }
        setTimeout(poll, 25);
      };
      poll();
    });
  return { child, output: () => text, line };
}

/** A JSON body, typed loosely: these are assertions on what the sample answered. */

const json = async (res: Response | Promise<Response>): Promise<any> => (await res).json();

describe('the sample application', () => {
  it('--once shows the token masked with its expiry and real calls, then exits 0', async () => {
    const run = runSample(['--once']);
    const code = await new Promise<number | null>((resolve) => run.child.on('exit', resolve));
    const out = run.output();
    expect(code).toBe(0);
    expect(out).toMatch(/started the built-in WeCom simulator at http:\/\/127\.0\.0\.1:\d+/);
    expect(out).toMatch(/access_token \S{4}…\S{4}, expires at \d{4}-\d\d-\d\dT[\d:.]+Z \(in 7200 s\)/);
    expect(out).toMatch(/department\/list: 1 广州研发中心/);
    expect(out).toMatch(/user\/get zhangsan: 张三/);
    expect(out).toMatch(/message\/send to zhangsan: msgid \S+/);
    expect(out).toMatch(/media\/get MEDIA_SAMPLE: \S+, image\/png, \d+ bytes/);
    expect(out).not.toMatch(/sim-secret/);
  });

  it('serves its HTTP endpoints, each making a WeCom call', async () => {
    const run = runSample([]);
    try {
      const [, url] = await run.line(/listening on (http:\/\/\S+);/);
      const token = await json(fetch(`${url}/token`));
      expect(token.token).toMatch(/^\S{4}…\S{4}$/);
      expect(await json(fetch(`${url}/departments`))).toEqual(expect.arrayContaining([expect.objectContaining({ id: 1, name: '广州研发中心' })]));
      expect((await json(fetch(`${url}/users/lisi`))).userid).toBe('lisi');
      const sent = await fetch(`${url}/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ touser: 'lisi', content: 'hi' }) });
      expect((await json(sent)).msgid).toEqual(expect.any(String));
      const media = await fetch(`${url}/media/MEDIA_SAMPLE`);
      expect(media.headers.get('content-type')).toBe('image/png');
      expect((await media.arrayBuffer()).byteLength).toBeGreaterThan(0);
      const missing = await fetch(`${url}/users/nobody`);
      expect(missing.status).toBe(502);
      expect((await json(missing)).errcode).toBe(60111);
    } finally {
      run.child.kill('SIGTERM');
      await new Promise((resolve) => run.child.on('exit', resolve));
    }
    expect(run.output()).not.toMatch(/sim-secret/);
  });

  /** Run the serving sample, hand its URL to `body`, and stop it (SIGTERM) whatever happens. */
  async function serving(body: (url: string) => Promise<void>, env: Record<string, string> = {}): Promise<string> {
    const run = runSample([], env);
    try {
      const [, url] = await run.line(/listening on (http:\/\/\S+);/);
      await body(url);
    } finally {
      run.child.kill('SIGTERM');
      await new Promise((resolve) => run.child.on('exit', resolve));
    }
    return run.output();
  }

  it('many tenants: /tenants/:key/… through WeComAppRegistry; an unknown tenant is a 404 naming the key, quoted', async () => {
    const out = await serving(async (url) => {
      expect((await json(fetch(`${url}/tenants/demo/departments`))).department).toEqual(expect.arrayContaining([expect.objectContaining({ id: 1 })]));
      const token = await json(fetch(`${url}/tenants/demo/token`));
      expect(token).toEqual({ token: expect.stringMatching(/^\S{4}…\S{4}$/), held: true });
      const unknown = await fetch(`${url}/tenants/${encodeURIComponent('nobody\nforged')}/token`);
      expect(unknown.status).toBe(404);
      expect((await json(unknown)).message).toContain('"nobody\\nforged"');
    });
    expect(out).not.toMatch(/sim-secret/);
  });

  it('signs JS-SDK configs that the simulator verifies, refuses a bad url with 400, and serves the ww.register page', async () => {
    const out = await serving(async (url) => {
      const page = 'https://app.example.com/h5/index.html?from=menu&x=1#/detail';
      const corp = await json(fetch(`${url}/jssdk/config?url=${encodeURIComponent(page)}`));
      expect(corp).toEqual({
        corpId: expect.stringMatching(/^ww/),
        timestamp: expect.any(Number),
        nonceStr: expect.stringMatching(/^\S{16}$/),
        signature: expect.stringMatching(/^[0-9a-f]{40}$/),
      });
      expect(Math.abs(corp.timestamp - Date.now() / 1000)).toBeLessThan(60);
      const agent = await json(fetch(`${url}/jssdk/agent-config?url=${encodeURIComponent(page)}`));
      expect(agent).toEqual({
        corpId: corp.corpId,
        agentId: expect.stringMatching(/^\d+$/),
        timestamp: expect.any(Number),
        nonceStr: expect.stringMatching(/^\S{16}$/),
        signature: expect.stringMatching(/^[0-9a-f]{40}$/),
      });
      expect(agent.signature).not.toBe(corp.signature);

      const verify = (kind: string, signed: { nonceStr: string; timestamp: number; signature: string }, signedUrl = page) =>
        json(
          fetch(
            `${url}/simulator/verify-signature?${new URLSearchParams({ kind, url: signedUrl, nonceStr: signed.nonceStr, timestamp: String(signed.timestamp), signature: signed.signature }).toString()}`,
          ),
        );
      expect(await verify('corp', corp)).toEqual({ valid: true });
      expect(await verify('agent', agent)).toEqual({ valid: true });
      // The other kind's ticket, or another page, does not verify: the check is not a rubber stamp.
      expect((await verify('agent', corp)).valid).toBe(false);
      expect((await verify('corp', corp, 'https://app.example.com/other')).valid).toBe(false);

      for (const bad of ['/h5/index.html', 'ftp://app.example.com/x', 'javascript:alert(1)']) {
        const res = await fetch(`${url}/jssdk/config?url=${encodeURIComponent(bad)}`);
        expect(res.status).toBe(400);
        expect((await json(res)).message).toMatch(/url/i);
      }
      const missing = await fetch(`${url}/jssdk/agent-config`);
      expect(missing.status).toBe(400);
      expect((await json(missing)).message).toMatch(/'url' is required/);

      const html = await fetch(`${url}/jssdk/`);
      expect(html.status).toBe(200);
      expect(html.headers.get('content-type')).toMatch(/^text\/html/);
      const text = await html.text();
      for (const part of ['ww.register', 'getConfigSignature', 'getAgentConfigSignature', "'/jssdk/config'", "'/jssdk/agent-config'", '@wecom/jssdk']) expect(text).toContain(part);
      expect(text).toContain('Open this page inside WeCom to use the JS-SDK; the signatures below were computed by the server');
    });
    expect(out).toMatch(/jssdk\/config\?url=/);
    expect(out).not.toMatch(/sim-secret/);
  });

  it('against a WeCom without agentId, agent-config says so in JSON, and neither simulator-only nor suite endpoints exist', async () => {
    // The sample's "real WeCom" mode, pointed at a simulator of this test process: no WECOM_AGENT_ID.
    const sim = await WeComSimulator.start();
    try {
      await serving(
        async (url) => {
          const corp = await json(fetch(`${url}/jssdk/config?url=${encodeURIComponent('https://app.example.com/')}`));
          expect(sim.verifySignature({ kind: 'corp', url: 'https://app.example.com/', ...corp }).valid).toBe(true);
          const agent = await fetch(`${url}/jssdk/agent-config?url=${encodeURIComponent('https://app.example.com/')}`);
          expect(agent.status).toBe(500);
          expect(await json(agent)).toEqual(expect.objectContaining({ error: 'WeComConfigError', message: expect.stringMatching(/has no agentId.*'agentId'/) }));
          expect((await fetch(`${url}/simulator/verify-signature?kind=corp`)).status).toBe(404);
          // No WECOM_SUITE_* either: no suite callback is mounted.
          expect((await fetch(`${url}/wecom/suite/callback`)).status).toBe(404);
        },
        { WECOM_CORP_ID: sim.corpId, WECOM_SECRET: sim.secretOf(), WECOM_BASE_URL: sim.baseUrl, WECOM_AGENT_ID: '' },
      );
    } finally {
      await sim.close();
    }
  });

  it('answers GET /health through terminus and GET /metrics with the wecom.credential.* metrics it recorded', async () => {
    await serving(async (url) => {
      const health = await fetch(`${url}/health`);
      expect(health.status).toBe(200);
      const report = await json(health);
      expect(report.status).toBe('ok');
      expect(report.details.wecom).toEqual(
        expect.objectContaining({ status: 'up', apps: { default: expect.objectContaining({ status: 'up', validForSeconds: expect.any(Number) }) } }),
      );

      await json(fetch(`${url}/token`));
      const { metrics } = await json(fetch(`${url}/metrics`));
      const named = (name: string) => (metrics as Array<{ name: string; points: Array<{ attributes: Record<string, unknown>; value: unknown }> }>).find((m) => m.name === name);
      // Recorded by the module itself once WeComTokenModule starts its metrics (WeComMetricsRecorder among its providers).
      const fetches = named('wecom.credential.fetches');
      expect(fetches).toBeDefined();
      const tokenFetches = fetches!.points
        .filter((p) => p.attributes['wecom.kind'] === 'access_token' && p.attributes['wecom.app'] === 'default' && p.attributes['wecom.outcome'] === 'ok')
        .reduce((sum, p) => sum + Number(p.value), 0);
      expect(tokenFetches).toBeGreaterThanOrEqual(1);
      expect(named('wecom.credential.fetch.duration')?.points[0]?.value).toEqual(expect.objectContaining({ count: expect.any(Number), sum: expect.any(Number) }));
    });
  });

  it("mounts the app's callback URL: a text message gets an encrypted passive reply, a tampered one is 400", async () => {
    await serving(async (url) => {
      const message = await json(
        fetch(`${url}/simulator/app-callback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ content: 'hi' }) }),
      );
      const post = (query: Record<string, string>) =>
        fetch(`${url}/wecom/callback?${new URLSearchParams(query).toString()}`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: message.body as string });
      const answer = await post(message.query);
      expect(answer.status).toBe(200);
      expect(await answer.text()).toMatch(/^<xml><Encrypt><!\[CDATA\[[A-Za-z0-9+/=]+\]\]><\/Encrypt><MsgSignature>/);
      const sig = message.query.msg_signature as string;
      const tampered = await post({ ...message.query, msg_signature: (sig[0] === 'a' ? 'b' : 'a') + sig.slice(1) });
      expect(tampered.status).toBe(400);
    });
  });

  it('mounts a third-party suite callback: URL check, suite_ticket and create_auth over HTTP, then a corp call; a tampered callback is 400 and stores nothing', async () => {
    const out = await serving(async (url) => {
      const callback = `${url}/wecom/suite/callback`;
      const post = (query: Record<string, string>, body: string) =>
        fetch(`${callback}?${new URLSearchParams(query).toString()}`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body });
      const simulated = async (event: string, corpId?: string): Promise<{ query: Record<string, string>; body: string; corpId?: string }> =>
        json(
          fetch(`${url}/simulator/suite-callback/${event}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(corpId ? { corpId } : {}) }),
        );

      // The URL check WeCom makes when the callback URL is saved: the decrypted echostr, as the whole body.
      const check = await json(fetch(`${url}/simulator/suite-url-verification`));
      const echo = await fetch(`${callback}?${new URLSearchParams(check.query).toString()}`);
      expect(echo.status).toBe(200);
      expect(await echo.text()).toBe(check.expected);

      // No corp has authorised the suite yet.
      expect((await json(fetch(`${url}/suite/corps`))).corps).toEqual([]);

      const ticket = await simulated('suite_ticket');
      const ticketAnswer = await post(ticket.query, ticket.body);
      expect(ticketAnswer.status).toBe(200);
      expect(await ticketAnswer.text()).toBe('success');

      const auth = await simulated('create_auth');
      expect(auth.corpId).toEqual(expect.any(String));
      const authAnswer = await post(auth.query, auth.body);
      expect(authAnswer.status).toBe(200);
      expect(await authAnswer.text()).toBe('success');
      expect((await json(fetch(`${url}/suite/corps`))).corps).toEqual([auth.corpId]);

      const user = await json(fetch(`${url}/suite/corps/${auth.corpId}/users/zhangsan`));
      expect(user).toEqual(expect.objectContaining({ userid: 'zhangsan', name: '张三' }));

      // A create_auth for another corp with a tampered signature: 400, and that corp is not authorised.
      const forged = await simulated('create_auth');
      const sig = forged.query.msg_signature;
      const tampered = await post({ ...forged.query, msg_signature: (sig[0] === 'a' ? 'b' : 'a') + sig.slice(1) }, forged.body);
      expect(tampered.status).toBe(400);
      expect(await json(tampered)).toEqual(expect.objectContaining({ error: 'WeComCallbackError', reason: 'signature', message: expect.any(String) }));
      // The ciphertext changed under a valid signature is refused too.
      const swapped = await post(
        forged.query,
        forged.body.replace(/<Encrypt><!\[CDATA\[(.)/, (_m, c: string) => `<Encrypt><![CDATA[${c === 'A' ? 'B' : 'A'}`),
      );
      expect(swapped.status).toBe(400);
      expect((await json(fetch(`${url}/suite/corps`))).corps).toEqual([auth.corpId]);
      const notAuthorised = await fetch(`${url}/suite/corps/${forged.corpId}/users/zhangsan`);
      expect(notAuthorised.status).toBe(404);
      expect(await json(notAuthorised)).toEqual(expect.objectContaining({ reason: 'no-permanent-code' }));
    });
    expect(out).toMatch(/wecom\/suite\/callback/);
    expect(out).not.toMatch(/sim-secret|sim-suite-secret|sim-provider-secret/);
  });
});
