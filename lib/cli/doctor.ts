/**
 * `nestjs-wecom-token doctor`: checks an app's WeCom settings from the machine it runs on, one line per check with
 * what to do. Reads everything from the environment (a command line is visible to every user in `ps`); prints no
 * secret, token, ticket or Redis password, whole or in part.
 */
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { bounded, describeError } from '../common/bounded.js';
import { loadIfInstalled as loadOptionalPeer } from '../common/optional-peer-if-installed.js';
import { RedisTokenLock } from '../redis/redis-token-lock.js';
import { redisUrlWithoutPassword } from '../common/redaction.js';
import { ipFromErrmsg } from '../common/wecom-token.messages.js';
import { DEFAULT_BASE_URL } from '../common/wecom-token.constants.js';
import { ProxyUrl } from '../common/proxy-url.js';
import { call, type Answer } from './doctor-http.js';
import { resolveEgress, type WeComEgress } from '../http/egress.js';
import { gettokenAdvice, agentAdvice, ticketAdvice, TRUSTED_IP_WHERE, egressMessage, EGRESS_PROBE_PATH } from './doctor.messages.js';

/** The outcome of one check; `skip` is not a failure (an optional check without its setting, or a prerequisite). */
export type DoctorStatus = 'pass' | 'fail' | 'skip';

/** One line of the report, and one element of `--json`'s array. */
export interface DoctorCheck {
  /** `config`, `egress`, `gettoken`, `trusted-ip`, `agent`, `jsapi-ticket`, `agent-ticket`, `redis`, `lock`. */
  check: string;
  status: DoctorStatus;
  /** What was found and, unless it passed, what to do. */
  message: string;
  /** WeCom's errcode, when it answered one. */
  errcode?: number;
  /** The IP WeCom saw (`egress`; 60020). */
  ip?: string;
}

/** The environment variables the doctor reads. */
export interface DoctorEnv {
  WECOM_CORP_ID?: string;
  WECOM_SECRET?: string;
  WECOM_AGENT_ID?: string;
  WECOM_BASE_URL?: string;
  /** The forward proxy the app uses (`http://[user:password@]host:port`), `false` for none; unset: HTTPS_PROXY / NO_PROXY. */
  WECOM_PROXY?: string;
  REDIS_URL?: string;
}

/** Options of {@link runDoctor}. */
export interface DoctorOptions {
  /** Bound on each call to WeCom or Redis. Default 10000 ms. */
  timeoutMs?: number;
}

const REDIS_URL_PATTERN = /^rediss?:\/\/[^/]/;

interface Settings {
  corpId: string;
  secret: string;
  agentId?: string;
  baseUrl: string;
  /** How the doctor's requests leave: through WECOM_PROXY when set, as the module's `proxy` option would. */
  egress: WeComEgress;
  /** Where the proxy came from, for messages. */
  proxySource: string;
}

/** Runs every check in order; one result per check, `config` first. */
export async function runDoctor(env: DoctorEnv, options: DoctorOptions = {}): Promise<DoctorCheck[]> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const results: DoctorCheck[] = [];
  /** The token and tickets received: redacted from every message, should one ever carry them. */
  const received = new Set<string>();
  const { settings, config } = readSettings(env);
  results.push(config);
  if (!settings) {
    const why = 'needs the settings fixed first (see config)';
    for (const check of ['egress', 'gettoken', 'trusted-ip', 'agent', 'jsapi-ticket', 'agent-ticket']) results.push({ check, status: 'skip', message: why });
  } else {
    try {
      const checks = await wecomChecks(settings, timeoutMs, received);
      // The egress probe runs last (it must not take a fault or a limit meant for the checks above), shown first.
      results.push(
        await egressCheck(
          settings,
          timeoutMs,
          checks.find((c) => c.check === 'trusted-ip')!,
        ),
        ...checks,
      );
    } finally {
      settings.egress.close();
    }
  }
  // Redis is checked whatever WeCom's settings are: a fleet needs both, and each has its own fix.
  const redisUrl = env.REDIS_URL?.trim() || undefined;
  if (redisUrl !== undefined && !REDIS_URL_PATTERN.test(redisUrl)) {
    for (const check of ['redis', 'lock']) results.push({ check, status: 'skip', message: 'REDIS_URL is not a redis:// URL (see config)' });
  } else {
    results.push(...(await redisChecks(redisUrl, timeoutMs)));
  }
  return results.map((result) => ({ ...result, message: redact(result.message, env, received) }));
}

function readSettings(env: DoctorEnv): { settings?: Settings; config: DoctorCheck } {
  const problems: string[] = [];
  const corpId = env.WECOM_CORP_ID?.trim() ?? '';
  const secret = env.WECOM_SECRET?.trim() ?? '';
  if (!corpId) problems.push('set WECOM_CORP_ID (我的企业 → 企业信息 → 企业ID)');
  if (!secret) problems.push("set WECOM_SECRET to the app's Secret (应用管理 → the app → Secret), in the environment, never on the command line");
  const agentId = env.WECOM_AGENT_ID?.trim() || undefined;
  if (agentId !== undefined && !/^\d+$/.test(agentId)) problems.push(`WECOM_AGENT_ID must be the app's numeric AgentId, got '${agentId.slice(0, 20)}'`);
  const baseUrl = (env.WECOM_BASE_URL?.trim() || DEFAULT_BASE_URL).replace(/\/+$/, '');
  if (!isHttpUrl(baseUrl)) problems.push('WECOM_BASE_URL must be an http(s) URL such as https://qyapi.weixin.qq.com');
  const redisUrl = env.REDIS_URL?.trim() || undefined;
  if (redisUrl !== undefined && !REDIS_URL_PATTERN.test(redisUrl)) problems.push('REDIS_URL must be a redis:// or rediss:// URL');
  const proxyText = env.WECOM_PROXY?.trim() || undefined;
  let proxy: ProxyUrl | false | undefined;
  if (proxyText !== undefined && /^(false|none|off|direct)$/i.test(proxyText)) proxy = false;
  else if (proxyText !== undefined) {
    try {
      proxy = ProxyUrl.parse(proxyText);
    } catch (error) {
      problems.push(`WECOM_PROXY ${(error as Error).message}`);
    }
  }
  let egress: WeComEgress | undefined;
  if (problems.length === 0) {
    try {
      egress = resolveEgress(proxy, baseUrl);
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  if (problems.length > 0 || !egress) return { config: { check: 'config', status: 'fail', message: problems.join('; ') } };
  const proxySource = proxy === false ? 'WECOM_PROXY=false' : proxy ? 'WECOM_PROXY' : 'HTTPS_PROXY / HTTP_PROXY';

  const fingerprint = createHash('sha256').update(secret, 'utf8').digest('hex').slice(0, 16);
  const route = egress.via ? `through the proxy ${egress.via} (${proxySource})` : proxy === false ? 'directly (WECOM_PROXY=false)' : 'directly';
  const parts = [
    `corp ${corpId}`,
    `secret set (sha256 ${fingerprint}…, as in the cache key)`,
    agentId ? `agentid ${agentId}` : 'no WECOM_AGENT_ID',
    `WeCom at ${baseUrl} ${route}`,
  ];
  if (redisUrl) parts.push(`Redis at ${redisUrlWithoutPassword(redisUrl, 'the Redis of REDIS_URL')}`);
  return {
    settings: { corpId, secret, baseUrl, egress, proxySource, ...(agentId ? { agentId } : {}) },
    config: { check: 'config', status: 'pass', message: parts.join(', ') },
  };
}

async function wecomChecks(settings: Settings, timeoutMs: number, received: Set<string>): Promise<DoctorCheck[]> {
  const results: DoctorCheck[] = [];
  const got = await call(settings, '/cgi-bin/gettoken', { corpid: settings.corpId, corpsecret: settings.secret }, timeoutMs);
  const token = got.kind === 'ok' && typeof got.body.access_token === 'string' && got.body.access_token !== '' ? got.body.access_token : undefined;
  if (token) received.add(token);
  if (token) {
    results.push({ check: 'gettoken', status: 'pass', message: `got an access_token valid for ${String(got.kind === 'ok' ? got.body.expires_in : '?')} s` });
  } else if (got.kind === 'ok') {
    results.push({ check: 'gettoken', status: 'fail', message: 'WeCom answered without an access_token: check WECOM_BASE_URL (is it WeCom, or a proxy that forwards to it?)' });
  } else {
    results.push(failure('gettoken', got, gettokenAdvice));
  }

  const blocked: string[] = [];
  let ip: string | undefined;
  const withToken = async (
    check: string,
    path: string,
    query: Record<string, string>,
    advise: (errcode: number, errmsg: string) => string,
    pass: (body: Record<string, unknown>) => DoctorCheck,
  ): Promise<void> => {
    const answer = await call(settings, path, { access_token: token!, ...query }, timeoutMs);
    if (answer.kind === 'ok') {
      if (typeof answer.body.ticket === 'string' && answer.body.ticket !== '') received.add(answer.body.ticket);
      results.push(pass(answer.body));
    } else if (answer.kind === 'errcode' && answer.errcode === 60020) {
      blocked.push(check);
      ip ??= ipFromErrmsg(answer.errmsg);
      results.push({ check, status: 'fail', errcode: 60020, message: 'blocked by the trusted-IP rule (60020): see trusted-ip' });
    } else {
      results.push(failure(check, answer, advise));
    }
  };

  const needsToken = 'needs an access_token (see gettoken)';
  const needsAgent = (what: string) => `WECOM_AGENT_ID is not set: set it to the app's AgentId (应用管理 → the app) to check ${what}`;
  if (!token) {
    for (const check of ['agent', 'jsapi-ticket', 'agent-ticket']) results.push({ check, status: 'skip', message: needsToken });
  } else {
    if (settings.agentId) {
      await withToken('agent', '/cgi-bin/agent/get', { agentid: settings.agentId }, agentAdvice, (body) => {
        const name = typeof body.name === 'string' ? `'${body.name}'` : 'the app';
        if (Number(body.close) === 1)
          return { check: 'agent', status: 'fail', message: `agentid ${settings.agentId} is ${name}, which is disabled (已停用): enable it in 应用管理 → the app` };
        return { check: 'agent', status: 'pass', message: `agentid ${settings.agentId} is ${name}, enabled, and this secret may manage it` };
      });
    } else {
      results.push({ check: 'agent', status: 'skip', message: needsAgent('the app (agent/get)') });
    }
    await withToken('jsapi-ticket', '/cgi-bin/get_jsapi_ticket', {}, ticketAdvice, (body) => ticketResult('jsapi-ticket', 'corp ticket (wx.config / ww.register)', body));
    if (settings.agentId) {
      await withToken('agent-ticket', '/cgi-bin/ticket/get', { type: 'agent_config' }, ticketAdvice, (body) => ticketResult('agent-ticket', 'agent ticket (wx.agentConfig)', body));
    } else {
      results.push({ check: 'agent-ticket', status: 'skip', message: needsAgent('the agent ticket (wx.agentConfig)') });
    }
  }

  const trusted: DoctorCheck = !token
    ? { check: 'trusted-ip', status: 'skip', message: needsToken }
    : blocked.length > 0
      ? {
          check: 'trusted-ip',
          status: 'fail',
          errcode: 60020,
          ...(ip ? { ip } : {}),
          message: `WeCom refused API calls from ${ip ?? 'this machine (it did not name the IP)'} (60020, ${blocked.join(', ')}): add ${ip ?? "this machine's public IP"} in ${TRUSTED_IP_WHERE}`,
        }
      : { check: 'trusted-ip', status: 'pass', message: "WeCom accepts API calls from this machine's IP" };
  // Reported right after gettoken: it decides whether any API call of the app can work from here.
  results.splice(1, 0, trusted);
  return results;
}

function ticketResult(check: string, what: string, body: Record<string, unknown>): DoctorCheck {
  if (typeof body.ticket !== 'string' || body.ticket === '') return { check, status: 'fail', message: `WeCom answered without a ticket: check WECOM_BASE_URL` };
  return { check, status: 'pass', message: `got the ${what}, valid for ${String(body.expires_in)} s (tickets are limited to 100 fetches per app per hour: cache and share them)` };
}

function failure(check: string, answer: Exclude<Answer, { kind: 'ok' }>, advise: (errcode: number, errmsg: string) => string): DoctorCheck {
  if (answer.kind === 'transport') return { check, status: 'fail', message: answer.problem };
  const said = answer.errmsg.split(/, hint: \[/)[0].slice(0, 120);
  const ip = answer.errcode === 60020 ? ipFromErrmsg(answer.errmsg) : undefined;
  return { check, status: 'fail', errcode: answer.errcode, ...(ip ? { ip } : {}), message: `${answer.errcode} (${said}): ${advise(answer.errcode, answer.errmsg)}` };
}

/**
 * The IP WeCom sees for this machine (through WECOM_PROXY when set), at the cost of one request that carries no
 * credential: any API path without an access_token answers 41001 with the `from ip:` hint every error body ends with.
 * Whether the trusted-IP rule passes comes from the checks that called the API with a token.
 */
async function egressCheck(settings: Settings, timeoutMs: number, trusted: DoctorCheck): Promise<DoctorCheck> {
  const answer = await call(settings, EGRESS_PROBE_PATH, {}, timeoutMs);
  const route = settings.egress.via ? `through the proxy ${settings.egress.via} (${settings.proxySource})` : 'directly';
  if (answer.kind === 'transport') return { check: 'egress', status: 'fail', message: `going out ${route}: ${answer.problem}` };
  const ip = answer.kind === 'errcode' ? ipFromErrmsg(answer.errmsg) : undefined;
  if (!ip) {
    return {
      check: 'egress',
      status: 'fail',
      message: `WeCom (${settings.baseUrl}, reached ${route}) did not name the IP it sees: is WECOM_BASE_URL WeCom, or a gateway that rewrites its answers?`,
    };
  }
  return { check: 'egress', status: 'pass', ip, message: egressMessage(ip, route, trusted.status) };
}

/** The Redis round trip (SET / GET / DEL of a doctor key with a short PX) and the lock (acquire + release). */
async function redisChecks(redisUrl: string | undefined, timeoutMs: number): Promise<DoctorCheck[]> {
  if (!redisUrl) {
    const message = 'REDIS_URL is not set: needed only when a fleet shares tokens through Redis (set it to check the round trip and RedisTokenLock)';
    return [
      { check: 'redis', status: 'skip', message },
      { check: 'lock', status: 'skip', message },
    ];
  }
  const where = redisUrlWithoutPassword(redisUrl, 'the Redis of REDIS_URL');
  const redis = loadOptionalPeer<{ createClient(options: object): RedisClient }>('@redis/client');
  if (!redis) {
    const message = 'REDIS_URL is set but @redis/client is not installed: npm install @redis/client';
    return [
      { check: 'redis', status: 'fail', message },
      { check: 'lock', status: 'skip', message: 'needs @redis/client (see redis)' },
    ];
  }
  const suffix = `${hostname()}:${process.pid}:${randomBytes(6).toString('hex')}`;
  const client = redis.createClient({ url: redisUrl, disableOfflineQueue: true, socket: { connectTimeout: timeoutMs, reconnectStrategy: false } });
  client.on('error', () => undefined);
  let roundTrip: DoctorCheck;
  try {
    await bounded(client.connect(), timeoutMs, `Redis at ${where}: connect`);
    const key = `wecom:v1:doctor:${suffix}`;
    const value = randomBytes(8).toString('hex');
    const started = Date.now();
    await bounded(client.set(key, value, { PX: 10_000 }), timeoutMs, `Redis at ${where}: SET`);
    const read = await bounded(client.get(key), timeoutMs, `Redis at ${where}: GET`);
    await bounded(client.del(key), timeoutMs, `Redis at ${where}: DEL`);
    roundTrip =
      read === value
        ? { check: 'redis', status: 'pass', message: `SET/GET/DEL round trip on ${where} in ${Date.now() - started} ms` }
        : { check: 'redis', status: 'fail', message: `${where} gave back another value than it was given: is REDIS_URL a real Redis (not a proxy that caches)?` };
  } catch (error) {
    roundTrip = {
      check: 'redis',
      status: 'fail',
      message: `${where}: ${describeError(error)}: check REDIS_URL (host, port, password, rediss:// for TLS) and that Redis is reachable from this machine`,
    };
  } finally {
    try {
      client.destroy();
    } catch {
      // already closed
    }
  }
  if (roundTrip.status !== 'pass') return [roundTrip, { check: 'lock', status: 'skip', message: 'needs a working Redis (see redis)' }];

  const lock = new RedisTokenLock({ url: redisUrl, commandTimeoutMs: timeoutMs });
  try {
    const release = await lock.acquire(`wecom:v1:doctor:lock:${suffix}`, 10_000);
    if (!release) return [roundTrip, { check: 'lock', status: 'fail', message: `${where} refused a new lease (SET NX): is another tool using the wecom:v1:doctor: keys?` }];
    await release();
    return [roundTrip, { check: 'lock', status: 'pass', message: `RedisTokenLock took and released a lease on ${where}` }];
  } catch (error) {
    return [roundTrip, { check: 'lock', status: 'fail', message: `RedisTokenLock on ${where}: ${describeError(error)}: scripts (EVAL) must be allowed on this Redis` }];
  } finally {
    await lock.close().catch(() => undefined);
  }
}

/** The part of a `@redis/client` v5 client the doctor uses. */
interface RedisClient {
  on(event: 'error', listener: (error: unknown) => void): unknown;
  connect(): Promise<unknown>;
  set(key: string, value: string, options: { PX: number }): Promise<unknown>;
  get(key: string): Promise<string | null>;
  del(key: string): Promise<unknown>;
  destroy(): void;
}

function isHttpUrl(value: string): boolean {
  try {
    return ['http:', 'https:'].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

/** Last line of defence: the secret, the Redis password, the token and the tickets never leave, even inside a message from elsewhere. */
function redact(message: string, env: DoctorEnv, received: ReadonlySet<string>): string {
  let out = message;
  const secrets = [env.WECOM_SECRET?.trim(), redisPassword(env.REDIS_URL), ...proxySecrets(env.WECOM_PROXY), ...received].filter((s): s is string => !!s && s.length >= 4);
  for (const secret of secrets) out = out.split(secret).join('[redacted]');
  return out;
}

/** WECOM_PROXY's password, as typed and decoded, and its Basic credentials. */
function proxySecrets(value: string | undefined): string[] {
  if (!value) return [];
  try {
    const url = new URL(value.trim());
    if (!url.password) return [];
    const decoded = decodeURIComponent(url.password);
    return [url.password, decoded, Buffer.from(`${decodeURIComponent(url.username)}:${decoded}`).toString('base64')];
  } catch {
    return [];
  }
}

function redisPassword(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return decodeURIComponent(new URL(url).password) || undefined;
  } catch {
    return undefined;
  }
}
