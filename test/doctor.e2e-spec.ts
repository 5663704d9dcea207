/**
 * The doctor as users run it: the built bin (dist/cli/main.js, `npm test` builds it first) in its own Node process,
 * against the simulator with each failure injected, and a private redis-server. No run's output may contain the
 * secret, the Redis password, or any token or ticket the simulator issued.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { WeComSimulator } from '../lib/testing';
import { OwnRedis, redisServerUnavailableReason } from './fleet/fleet-harness';
import { expectNoneOf } from './support/capture';
import { ForwardProxy } from './support/forward-proxy';
import { childEnv, ROOT, run, RunResult } from './support/npm-package';

const MAIN = join(ROOT, 'dist', 'cli', 'main.js');
const SECRET = 'doctor-secret-0123456789abcdefghij';
const CONTACTS_SECRET = 'doctor-contacts-secret-9876543210';
const AGENT_ID = 1000002;
const SEEN_IP = '203.0.113.7';
const REDIS_PASSWORD = 'doctor-redis-password-42';
const PROXY_PASSWORD = 'doctor-proxy-Pa55word-7';
const PROXY_BASIC = Buffer.from(`doctor:${PROXY_PASSWORD}`).toString('base64');
const noRedisServer = redisServerUnavailableReason();

interface Check {
  check: string;
  status: 'pass' | 'fail' | 'skip';
  message: string;
  errcode?: number;
  ip?: string;
}

describe('nestjs-wecom-token doctor (the built bin)', () => {
  let sim: WeComSimulator;
  const tickets: string[] = [];
  const outputs: string[] = [];

  beforeAll(() => {
    if (!existsSync(MAIN)) throw new Error('dist/ is not built: run `npm run build` (npm test does) first');
  });

  /** A simulator with the endpoints the doctor calls; `clientIp` as if behind a NAT (omitted: the peer's address). */
  async function startSimulator(clientIp: string | undefined): Promise<WeComSimulator> {
    const started = await WeComSimulator.start({
      ...(clientIp ? { clientIp } : {}),
      apps: [
        { name: 'default', secret: SECRET, agentId: AGENT_ID },
        { name: 'contacts', secret: CONTACTS_SECRET, kind: 'contacts' },
      ],
    });
    // Endpoints the simulator does not have yet (another change adds them): agent/get and both tickets.
    const ticket = () => {
      const value = `ticket-${randomBytes(24).toString('base64url')}`;
      tickets.push(value);
      return { errcode: 0, errmsg: 'ok', ticket: value, expires_in: 7200 };
    };
    const sim = started;
    sim.addApi(
      '/cgi-bin/agent/get',
      ({ query, app }) => (Number(query.agentid) === app.agentId ? { errcode: 0, errmsg: 'ok', agentid: app.agentId, name: 'Doctor Demo', close: 0 } : { errcode: 40056 }),
      { method: 'GET', kinds: ['app'] },
    );
    sim.addApi('/cgi-bin/get_jsapi_ticket', ticket, { method: 'GET', kinds: ['app'] });
    sim.addApi('/cgi-bin/ticket/get', ({ query }) => (query.type === 'agent_config' ? ticket() : { errcode: 40097 }), { method: 'GET', kinds: ['app'] });
    return started;
  }

  beforeEach(async () => {
    sim = await startSimulator(SEEN_IP);
  });

  afterEach(async () => {
    await sim.close();
  });

  afterAll(() => {
    // Every run's output, scanned once more against every token and ticket issued in this file.
    expectNoneOf(outputs.join('\n'), [SECRET, CONTACTS_SECRET, REDIS_PASSWORD, PROXY_PASSWORD, PROXY_BASIC, ...tickets]);
  });

  /** Run the bin with only the given variables of ours set (the outer environment's WECOM_* and REDIS_URL removed). */
  async function doctor(vars: Record<string, string>, args: string[] = ['doctor', '--json']): Promise<RunResult> {
    const env = childEnv();
    for (const key of [
      'WECOM_CORP_ID',
      'WECOM_SECRET',
      'WECOM_AGENT_ID',
      'WECOM_BASE_URL',
      'WECOM_PROXY',
      'REDIS_URL',
      'HTTPS_PROXY',
      'https_proxy',
      'HTTP_PROXY',
      'http_proxy',
      'NO_PROXY',
      'no_proxy',
      'ALL_PROXY',
      'all_proxy',
    ])
      delete env[key];
    const result = await run(process.execPath, [MAIN, ...args], { cwd: ROOT, env: { ...env, WECOM_DOCTOR_TIMEOUT_MS: '3000', ...vars }, timeoutMs: 30_000 });
    outputs.push(result.output);
    expectNoneOf(result.output, [SECRET, CONTACTS_SECRET, REDIS_PASSWORD, PROXY_PASSWORD, PROXY_BASIC, ...sim.issuedTokens(), ...tickets]);
    return result;
  }

  const base = (): Record<string, string> => ({ WECOM_CORP_ID: sim.corpId, WECOM_SECRET: SECRET, WECOM_AGENT_ID: String(AGENT_ID), WECOM_BASE_URL: sim.baseUrl });
  const parse = (result: RunResult): Record<string, Check> => Object.fromEntries((JSON.parse(result.stdout) as Check[]).map((c) => [c.check, c]));

  (noRedisServer ? it.skip : it)('passes every check, Redis and the lock included, and exits 0', async () => {
    const redis = await OwnRedis.start();
    try {
      const result = await doctor({ ...base(), REDIS_URL: redis.url });
      expect(result.code).toBe(0);
      const checks = JSON.parse(result.stdout) as Check[];
      expect(checks.map((c) => [c.check, c.status])).toEqual([
        ['config', 'pass'],
        ['egress', 'pass'],
        ['gettoken', 'pass'],
        ['trusted-ip', 'pass'],
        ['agent', 'pass'],
        ['jsapi-ticket', 'pass'],
        ['agent-ticket', 'pass'],
        ['redis', 'pass'],
        ['lock', 'pass'],
      ]);
      expect(checks.find((c) => c.check === 'agent')!.message).toContain("'Doctor Demo'");
      expect(sim.gettokenCalls()).toBe(1);
    } finally {
      await redis.stop();
    }
  });

  it('prints one line per check, and skipped optional checks (no agent id, no Redis) do not fail it', async () => {
    const { WECOM_AGENT_ID: _unused, ...vars } = base();
    const result = await doctor(vars, ['doctor']);
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines.slice(0, 9).map((l) => l.split(/\s+/, 2).join(' '))).toEqual([
      'PASS config',
      'PASS egress',
      'PASS gettoken',
      'PASS trusted-ip',
      'SKIP agent',
      'PASS jsapi-ticket',
      'SKIP agent-ticket',
      'SKIP redis',
      'SKIP lock',
    ]);
    expect(lines.at(-1)).toBe('All 5 checks passed (4 skipped).');
    expect(result.stdout).toMatch(/SKIP {2}agent {9}WECOM_AGENT_ID is not set/);
    expect(result.stdout).toContain(`PASS  egress        WeCom sees this machine as ${SEEN_IP} (going out directly); the trusted-IP rule passes`);
  });

  it.each([
    [40001, /^40001 \(invalid credential.*\): WECOM_SECRET does not match WECOM_CORP_ID.*应用管理 → the app → Secret/],
    [40013, /^40013 \(invalid corpid\): WECOM_CORP_ID is not a valid corpid: copy 企业ID from 我的企业 → 企业信息/],
    [40091, /^40091 \(secret is invalid\): WECOM_SECRET is not a valid secret/],
  ])('explains gettoken %s and skips what needs a token', async (errcode, explained) => {
    sim.failNext('gettoken', { errcode });
    const result = await doctor(base());
    expect(result.code).toBe(1);
    const checks = parse(result);
    expect(checks.gettoken).toEqual({ check: 'gettoken', status: 'fail', errcode, message: expect.stringMatching(explained) });
    for (const check of ['trusted-ip', 'agent', 'jsapi-ticket', 'agent-ticket']) expect(checks[check].status).toBe('skip');
    expect(sim.gettokenCalls()).toBe(1);
    expect(checks.egress).toMatchObject({ status: 'pass', ip: SEEN_IP, message: expect.stringContaining('needs an access_token (see gettoken)') });
  });

  it('names the IP WeCom saw when the trusted-IP rule refuses the calls (60020), and where to add it', async () => {
    sim.failNext('api', { errcode: 60020 }, 3);
    const result = await doctor(base());
    expect(result.code).toBe(1);
    const checks = parse(result);
    expect(checks['trusted-ip']).toEqual({
      check: 'trusted-ip',
      status: 'fail',
      errcode: 60020,
      ip: SEEN_IP,
      message: expect.stringContaining(`WeCom refused API calls from ${SEEN_IP} (60020, agent, jsapi-ticket, agent-ticket): add ${SEEN_IP} in 应用管理 → the app → 企业可信IP`),
    });
    expect(checks.agent).toMatchObject({ status: 'fail', errcode: 60020, message: 'blocked by the trusted-IP rule (60020): see trusted-ip' });
    expect(checks.gettoken.status).toBe('pass');
    // Reported right after gettoken.
    expect((JSON.parse(result.stdout) as Check[]).map((c) => c.check).slice(0, 4)).toEqual(['config', 'egress', 'gettoken', 'trusted-ip']);
    expect(checks.egress).toMatchObject({
      status: 'pass',
      ip: SEEN_IP,
      message: expect.stringContaining(`the trusted-IP rule refuses it (60020): add ${SEEN_IP} in 应用管理 → the app → 企业可信IP`),
    });
  });

  it('explains a secret that is not an app secret (48002 on agent/get, contacts-sync secret)', async () => {
    const result = await doctor({ ...base(), WECOM_SECRET: CONTACTS_SECRET });
    expect(result.code).toBe(1);
    const checks = parse(result);
    expect(checks.gettoken.status).toBe('pass');
    expect(checks.agent).toMatchObject({ status: 'fail', errcode: 48002, message: expect.stringContaining("it is not a self-built app's Secret") });
    expect(checks['jsapi-ticket']).toMatchObject({ status: 'fail', errcode: 48002 });
    expect(checks['trusted-ip'].status).toBe('pass');
  });

  it('explains an agent id of another app (40056) and a disabled app', async () => {
    const wrong = await doctor({ ...base(), WECOM_AGENT_ID: '1000999' });
    expect(parse(wrong).agent).toMatchObject({ status: 'fail', errcode: 40056, message: expect.stringContaining('WECOM_AGENT_ID is not an app of this corp') });

    sim.addApi('/cgi-bin/agent/get', ({ app }) => ({ errcode: 0, errmsg: 'ok', agentid: app.agentId, name: 'Doctor Demo', close: 1 }), { method: 'GET' });
    const disabled = await doctor(base());
    expect(disabled.code).toBe(1);
    expect(parse(disabled).agent).toMatchObject({ status: 'fail', message: expect.stringContaining('disabled (已停用)') });
  });

  it('reports a ticket failure on its own line', async () => {
    sim.failNext('/cgi-bin/get_jsapi_ticket', { errcode: 45009 });
    const result = await doctor(base());
    expect(result.code).toBe(1);
    const checks = parse(result);
    expect(checks['jsapi-ticket']).toMatchObject({ status: 'fail', errcode: 45009, message: expect.stringContaining('100 per app per hour') });
    expect(checks['agent-ticket'].status).toBe('pass');
  });

  it('fails Redis that cannot be reached, without its password, and skips the lock', async () => {
    const result = await doctor({ ...base(), REDIS_URL: `redis://:${REDIS_PASSWORD}@127.0.0.1:1/0` });
    expect(result.code).toBe(1);
    const checks = parse(result);
    expect(checks.redis).toMatchObject({ status: 'fail', message: expect.stringMatching(/^redis:\/\/127\.0\.0\.1:1\/0: .*check REDIS_URL/) });
    expect(checks.lock).toMatchObject({ status: 'skip', message: 'needs a working Redis (see redis)' });
    expect(checks.config.message).toContain('Redis at redis://127.0.0.1:1/0');
  });

  it('fails WeCom that cannot be reached, or that redirects, without following it', async () => {
    let redirected = 0;
    const server: Server = createServer((req, res) => {
      if (req.url?.startsWith('/elsewhere')) redirected++;
      res.writeHead(302, { Location: '/elsewhere' }).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const result = await doctor({ ...base(), WECOM_BASE_URL: `http://127.0.0.1:${port}` });
      expect(parse(result).gettoken).toMatchObject({ status: 'fail', message: expect.stringContaining('answered with a redirect (HTTP 302); WeCom calls never follow redirects') });
      expect(redirected).toBe(0);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    // A port nobody listens on (port 1 would be refused by fetch itself, as a "bad port").
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const down = await doctor({ ...base(), WECOM_BASE_URL: `http://127.0.0.1:${closedPort}` });
    expect(parse(down).gettoken).toMatchObject({ status: 'fail', message: expect.stringContaining('/cgi-bin/gettoken could not be reached (ECONNREFUSED)') });
  });

  it('refuses a secret on the command line, without echoing it', async () => {
    for (const args of [
      ['doctor', `--secret=${SECRET}`],
      ['doctor', '--corpsecret', SECRET],
      ['doctor', `--redis-url=redis://:${REDIS_PASSWORD}@h:6379`],
    ]) {
      const result = await doctor(base(), args);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/^refused: --[a-z-]+ would put a secret on the command line, where every user of this machine sees it \(ps/);
    }
    expect(sim.gettokenCalls()).toBe(0);
  });

  it('prints no piece of a secret: not of one given as a bare argument, nor of one in an errmsg that echoes the URL (redacted before the cut)', async () => {
    const bare = await doctor(base(), ['doctor', SECRET]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain(`an argument of ${SECRET.length} characters, not shown`);
    const asCommand = await doctor(base(), [SECRET]);
    expect(asCommand.code).toBe(2);
    sim.failNext('gettoken', { kind: 'echo' });
    const echoed = await doctor(base());
    expect(parse(echoed).gettoken).toMatchObject({ status: 'fail', errcode: 40001, message: expect.stringContaining('corpsecret=[redacted]') });
    for (const output of [bare.output, asCommand.output, echoed.output]) {
      for (let i = 0; i + 8 <= SECRET.length; i++) expect(output).not.toContain(SECRET.slice(i, i + 8));
    }
  });

  it('reads the variables from --dotenv, and answers usage errors with exit code 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wecom-doctor-'));
    try {
      const file = join(dir, '.env');
      writeFileSync(
        file,
        Object.entries(base())
          .map(([key, value]) => `${key}=${value}`)
          .join('\n'),
      );
      const result = await doctor({}, ['doctor', '--json', '--dotenv', file]);
      expect(result.code).toBe(0);
      expect(parse(result).agent.status).toBe('pass');
      expect((await doctor({}, ['doctor', '--dotenv', join(dir, 'missing.env')])).code).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect((await doctor({}, [])).code).toBe(2);
    expect((await doctor({}, ['doctr'])).code).toBe(2);
    expect((await doctor({}, ['doctor', '--corp-id=ww1'])).code).toBe(2);
    const help = await doctor({}, ['doctor', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: nestjs-wecom-token doctor');
  });

  it('egress: the IP WeCom sees through WECOM_PROXY (Basic auth), for one request without any credential; every check goes through the proxy', async () => {
    await sim.close();
    sim = await startSimulator(undefined);
    const proxy = await ForwardProxy.start({ auth: { user: 'doctor', password: PROXY_PASSWORD } });
    try {
      sim.setTrustedIps({ app: 'default' }, ['127.0.0.2']);
      const result = await doctor({ ...base(), WECOM_PROXY: proxy.url({ user: 'doctor', password: PROXY_PASSWORD }) });
      expect(result.code).toBe(0);
      const checks = parse(result);
      expect(checks.egress).toMatchObject({
        status: 'pass',
        ip: '127.0.0.2',
        message: expect.stringContaining(`(going out through the proxy http://${proxy.label} (WECOM_PROXY)); the trusted-IP rule passes`),
      });
      expect(checks.config.message).toContain(`through the proxy http://${proxy.label} (WECOM_PROXY)`);
      // Every request of the doctor went through the proxy; the egress probe is one of them and carries no credential.
      expect(new Set(sim.requests.map((r) => r.peer))).toEqual(new Set(['127.0.0.2']));
      expect(proxy.forwarded()).toBe(sim.requests.length);
      const probes = sim.requests.filter((r) => r.path === '/cgi-bin/get_api_domain_ip');
      expect(probes).toHaveLength(1);
      expect(probes[0].query).toEqual({});
      expect(probes[0].errcode).toBe(41001);

      // Without the proxy the same machine is refused, and the egress line says which IP to add.
      sim.resetCounters();
      const direct = await doctor(base());
      expect(direct.code).toBe(1);
      expect(parse(direct).egress).toMatchObject({ status: 'pass', ip: '127.0.0.1', message: expect.stringContaining('the trusted-IP rule refuses it (60020): add 127.0.0.1') });
      expect(parse(direct)['trusted-ip']).toMatchObject({ status: 'fail', ip: '127.0.0.1' });
      // The egress check costs exactly one request more than the checks that need a token.
      expect(sim.requests.filter((r) => r.path === '/cgi-bin/get_api_domain_ip')).toHaveLength(1);
    } finally {
      await proxy.close();
    }
  });

  it("egress: a proxy that refuses the doctor's credentials, or cannot be reached, fails egress naming host and port, never the password", async () => {
    const proxy = await ForwardProxy.start({ auth: { user: 'doctor', password: 'another-one' } });
    const label = proxy.label;
    try {
      const refused = await doctor({ ...base(), WECOM_PROXY: proxy.url({ user: 'doctor', password: PROXY_PASSWORD }) });
      expect(refused.code).toBe(1);
      expect(parse(refused).egress).toMatchObject({ status: 'fail', message: expect.stringContaining('HTTP 407') });
      expect(parse(refused).gettoken).toMatchObject({ status: 'fail', message: expect.stringContaining('WECOM_PROXY') });
      expect(sim.requests).toHaveLength(0);
    } finally {
      await proxy.close();
    }
    const gone = await doctor({ ...base(), WECOM_PROXY: `http://doctor:${PROXY_PASSWORD}@${label}` });
    expect(parse(gone).egress).toMatchObject({ status: 'fail', message: expect.stringContaining(`the proxy ${label} refused the connection (ECONNREFUSED)`) });
    const bad = await doctor({ ...base(), WECOM_PROXY: `socks5://doctor:${PROXY_PASSWORD}@${label}` });
    expect(parse(bad).config).toMatchObject({ status: 'fail', message: expect.stringContaining('WECOM_PROXY uses socks5://') });
  });

  it('fails config with what to set when the variables are missing', async () => {
    const result = await doctor({});
    expect(result.code).toBe(1);
    const checks = parse(result);
    expect(checks.config.message).toContain('set WECOM_CORP_ID');
    expect(checks.config.message).toContain('set WECOM_SECRET');
    expect(checks.gettoken.status).toBe('skip');
  });
});
