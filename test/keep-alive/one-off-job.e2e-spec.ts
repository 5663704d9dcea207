/**
 * Issue 18.1: a one-off job that awaits getToken() or client.post() while WeCom refuses connections, answers -1 or
 * 502 must not end with exit code 0 and nothing printed. The retry backoff is an unref'd timer (an idle application
 * must never be kept alive by it); what a caller awaits holds the process until it settles, and then it rejects.
 * Each job is a real Node process (test/keep-alive/one-off-job.js on the built package) against a real server.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { json, startServer, TestServer } from '../support/hostile';

const ROOT = join(__dirname, '..', '..');
const JOB = join(__dirname, 'one-off-job.js');

interface JobOutcome {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Whether the process had to be killed because it did not end on its own. */
  killed: boolean;
}

/** Run the job in its own process; it must end on its own within `limitMs`, or it is killed (and says so). */
function runJob(config: Record<string, unknown>, limitMs = 20_000): Promise<JobOutcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [JOB, JSON.stringify(config)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let killed = false;
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, limitMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, killed });
    });
  });
}

/** A loopback port with nothing listening on it: every connection is refused. */
function refusingPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

const HTML_502 = '<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>';

describe('a one-off job whose await fails ends with a non-zero exit code and the error printed (issue 18.1)', () => {
  const servers: TestServer[] = [];

  beforeAll(() => {
    if (!existsSync(join(ROOT, 'dist', 'index.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
  });

  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  async function serve(answer: (res: import('node:http').ServerResponse, path: string) => void): Promise<TestServer> {
    const server = await startServer((req, res) => answer(res, (req.url ?? '').split('?')[0]));
    servers.push(server);
    return server;
  }

  const gettokens = (server: TestServer) => server.seen.filter((r) => r.url.startsWith('/cgi-bin/gettoken')).length;

  describe.each(['token', 'send'] as const)('awaiting %s', (what) => {
    it('WeCom refuses connections: exit code 1, the transport error printed, nothing reported as done', async () => {
      const port = await refusingPort();
      const outcome = await runJob({ baseUrl: `http://127.0.0.1:${port}`, what });
      expect(outcome.killed).toBe(false);
      expect(outcome.stdout).toBe('');
      expect(outcome.stderr).toMatch(/^job failed: WeComTransportError: .*gettoken/m);
      expect(outcome.code).toBe(1);
    });

    it('WeCom answers 502 (an HTML page from the gateway) to everything: exit code 1 after the bounded retries', async () => {
      const server = await serve((res) => json(res, HTML_502, 502, 'text/html'));
      const outcome = await runJob({ baseUrl: server.url, what });
      expect(outcome.killed).toBe(false);
      expect(outcome.stderr).toMatch(/^job failed: WeComTransportError: .*502/m);
      expect(outcome.code).toBe(1);
      // The default retry: 3 attempts, all of them awaited by the job.
      expect(gettokens(server)).toBe(3);
    });

    it("WeCom answers -1 (system busy) to everything: exit code 1, WeCom's error printed", async () => {
      const server = await serve((res) => json(res, { errcode: -1, errmsg: 'system busy' }));
      const outcome = await runJob({ baseUrl: server.url, what });
      expect(outcome.killed).toBe(false);
      expect(outcome.stderr).toMatch(/^job failed: WeComApiError: .*-1/m);
      expect(outcome.code).toBe(1);
      expect(gettokens(server)).toBe(3);
    });
  });

  it('a job whose GET is answered -1 after its token was issued: the call is retried (backoff awaited) and then rejects, exit code 1', async () => {
    const server = await serve((res, path) => {
      if (path === '/cgi-bin/gettoken') json(res, { errcode: 0, errmsg: 'ok', access_token: 'T'.repeat(64), expires_in: 7200 });
      else json(res, { errcode: -1, errmsg: 'system busy' });
    });
    const outcome = await runJob({ baseUrl: server.url, what: 'get' });
    expect(outcome.killed).toBe(false);
    expect(outcome.stdout).toBe('');
    expect(outcome.stderr).toMatch(/^job failed: WeComApiError: .*-1/m);
    expect(outcome.code).toBe(1);
    // The default retry of a GET: 3 attempts, the backoff between them awaited by the job.
    expect(server.seen.filter((r) => r.url.startsWith('/cgi-bin/user/get')).length).toBe(3);
  });

  it('a job that succeeds and never closes the application still ends on its own, exit code 0: idle timers hold nothing', async () => {
    const server = await serve((res, path) => {
      if (path === '/cgi-bin/gettoken') json(res, { errcode: 0, errmsg: 'ok', access_token: 'T'.repeat(64), expires_in: 7200 });
      else json(res, { errcode: 0, errmsg: 'ok' });
    });
    const outcome = await runJob({ baseUrl: server.url, what: 'send', close: false }, 10_000);
    expect(outcome.killed).toBe(false);
    expect(outcome.stdout).toBe('sent\n');
    expect(outcome.code).toBe(0);
  });
});
