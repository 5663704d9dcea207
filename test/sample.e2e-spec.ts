/**
 * The sample as a user runs it (`npm start`, built by `npm test` before jest): a real process, the built package,
 * the in-process simulator, real HTTP to its endpoints. What it prints holds no whole token and no secret.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '..');

function runSample(args: string[]): { child: ChildProcess; output: () => string; line: (pattern: RegExp, timeoutMs?: number) => Promise<RegExpExecArray> } {
  const child = spawn(process.execPath, ['dist-sample/main.js', ...args], {
    cwd: root,
    env: { ...process.env, PORT: '0', NO_COLOR: '1', WECOM_CORP_ID: '', WECOM_SECRET: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  const line = (pattern: RegExp, timeoutMs = 20_000) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const deadline = Date.now() + timeoutMs;
      const poll = () => {
        const m = pattern.exec(text);
        if (m) return resolve(m);
        if (Date.now() > deadline || child.exitCode !== null) return reject(new Error(`no line ${pattern} in:\n${text}`));
        setTimeout(poll, 25);
      };
      poll();
    });
  return { child, output: () => text, line };
}

/** A JSON body, typed loosely: these are assertions on what the sample answered. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
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
});
