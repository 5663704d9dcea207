/**
 * Single use of a login state across a fleet: two instances in their own Node processes (the built package, a
 * Redis cache and RedisTokenLock), one browser. A callback URL used on one instance, replayed on the other, restarts
 * the flow there without an exchange; the same fresh callback sent to both at once is exchanged by exactly one.
 * Under CI=true an unreachable Redis is a failure; elsewhere these tests skip with one line.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { WeComSimulator } from '../../lib/testing';
import { expectNoneOf } from '../support/capture';
import { newApp, redisUnavailableReason, REDIS_URL } from '../fleet/fleet-harness';
import { Browser } from './identity-harness';

const onCi = process.env.CI === 'true';
const redisProblem = redisUnavailableReason();
if (redisProblem && !onCi) process.stdout.write(`[identity-fleet] skipped: ${redisProblem}. Start Redis or set REDIS_URL to run these tests (under CI=true they fail instead).\n`);
const describeIfRedis = redisProblem && !onCi ? describe.skip : describe;

interface Instance {
  readonly url: string;
  readonly child: ChildProcess;
  stop(): Promise<string[]>;
}

function startInstance(config: Record<string, unknown>): Promise<Instance> {
  const child = spawn(process.execPath, [join(__dirname, 'identity-fleet-worker.js'), JSON.stringify(config)], {
    cwd: join(__dirname, '..', '..'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`instance did not start: ${out}${err}`)), 20_000);
    const poll = setInterval(() => {
      const m = /listening (http:\/\/\S+)/.exec(out);
      if (m) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve({
          url: m[1],
          child,
          stop: async () => {
            child.kill('SIGTERM');
            await exited;
            const lines = /lines (.*)\n/.exec(out);
            return lines ? (JSON.parse(lines[1]) as string[]) : [];
          },
        });
      } else if (child.exitCode !== null) {
        clearInterval(poll);
        clearTimeout(timer);
        reject(new Error(`instance exited: ${out}${err}`));
      }
    }, 20);
  });
}

describeIfRedis('single-use login state across a fleet (Redis)', () => {
  let sim: WeComSimulator;
  let a: Instance;
  let b: Instance;
  let creds: ReturnType<typeof newApp>;

  beforeAll(async () => {
    creds = newApp('oauth');
    sim = await WeComSimulator.start({ corpId: creds.corpId, apps: [{ name: 'default', secret: creds.secret, agentId: 1000002 }] });
    const config = { corpId: creds.corpId, secret: creds.secret, agentId: 1000002, baseUrl: sim.baseUrl, redisUrl: REDIS_URL };
    [a, b] = await Promise.all([startInstance(config), startInstance(config)]);
  });

  afterAll(async () => {
    const logs = (await Promise.all([a?.stop(), b?.stop()])).flat().filter((l): l is string => typeof l === 'string');
    expectNoneOf(logs.join('\n'), [creds.secret, ...sim.issuedTokens(), ...sim.oauth.issuedUserTickets()]);
    await sim.close();
  });

  const onInstance = (url: string, instance: Instance): string => {
    const u = new URL(url);
    return `${instance.url}${u.pathname}${u.search}`;
  };

  it('a callback used on instance A and replayed on instance B restarts on B, with no exchange', async () => {
    const browser = new Browser();
    const { steps, final } = await browser.follow(`${a.url}/me`);
    expect(final.status).toBe(200);
    const callback = steps[2].url;
    expect(sim.calls('/cgi-bin/auth/getuserinfo')).toBe(1);
    browser.jar.delete('wecom_session');
    const replay = await browser.request(onInstance(callback, b));
    expect(replay.status).toBe(302);
    expect(new URL(replay.location!).pathname).toBe('/wwlogin/sso/login');
    expect(sim.calls('/cgi-bin/auth/getuserinfo')).toBe(1);
  });

  it('one fresh callback sent to A and B at the same moment is exchanged by exactly one of them', async () => {
    for (let round = 0; round < 5; round++) {
      sim.resetCounters();
      const browser = new Browser();
      const start = await browser.request(`${a.url}/me`);
      const atWeCom = await browser.request(start.location!);
      const [ra, rb] = await Promise.all([browser.clone().request(onInstance(atWeCom.location!, a)), browser.clone().request(onInstance(atWeCom.location!, b))]);
      const sessions = [ra, rb].filter((r) => r.setCookies.some((c) => c.startsWith('wecom_session=')));
      expect(sessions).toHaveLength(1);
      expect(sim.calls('/cgi-bin/auth/getuserinfo')).toBe(1);
    }
  });

  it('a session made by one instance is valid on the other (one key per app, derived from its secret)', async () => {
    const browser = new Browser();
    await browser.follow(`${a.url}/me`);
    const onB = await browser.request(`${b.url}/me`);
    expect(onB.status).toBe(200);
    expect(JSON.parse(onB.body).userId).toBe('zhangsan');
  });
});
