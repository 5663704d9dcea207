/**
 * The other credentials of a fleet: JS-SDK tickets (issue 11.3) and a third-party suite (issue 13), shared by 4 real
 * Node processes through Redis (a Redis-backed cache and RedisTokenLock), against one WeCom simulator in this
 * process. The workers are test/fleet/fleet-worker.js, which load the BUILT package from dist/. Each test has its
 * own corpId / suiteId, so its own keys, and removes them afterwards.
 *
 * Under CI=true an unreachable Redis fails the suite; elsewhere the suite is skipped with one line saying why.
 */
import { createHash, randomBytes } from 'node:crypto';
import { WeComSimulator } from '../../lib/testing';
import { expectNoneOf } from '../support/capture';
import { connectRedis, deleteCorpKeys, FleetWorker, newApp, REDIS_URL, redisUnavailableReason, report, scanKeys, startFleet, TestRedis, waitFor } from './fleet-harness';

const onCi = process.env.CI === 'true';
const redisProblem = redisUnavailableReason();
if (redisProblem && !onCi) process.stdout.write(`[fleet] skipped: ${redisProblem}. Start Redis or set REDIS_URL to run these tests (under CI=true they fail instead).\n`);
const describeIfRedis = redisProblem && !onCi ? describe.skip : describe;
// Booting 4 processes, 1,000 callers and closing them again, on a machine whose 2 cores are shared.
jest.setTimeout(90_000);

const AGENT_ID = 1000002;
/** 4 processes booting at once on a busy 2-core machine can take longer than the harness' default 15 s. */
const BOOT_TIMEOUT_MS = 30_000;
const SUITE_TOKEN_PATH = '/cgi-bin/service/get_suite_token';
const CORP_TOKEN_PATH = '/cgi-bin/service/get_corp_token';
const PERMANENT_CODE_PATH = '/cgi-bin/service/get_permanent_code';

const hash16 = (value: string) => createHash('sha256').update(value).digest('hex').slice(0, 16);

interface TicketsResult {
  tickets: string[];
  ms: number;
}
interface TicketEntry {
  ticket?: string;
  token?: string;
  expiresAt: number;
  fetchedAt: number;
}
interface ErrorInfo {
  name?: string;
  message?: string;
  reason?: string;
  errcode?: number;
}
interface SuiteTokensResult {
  tokens: string[];
  errors: ErrorInfo[];
  failed: number;
  ms: number;
}
interface CorpTokensResult {
  corps: Record<string, { tokens: string[]; errors: ErrorInfo[]; failed: number }>;
  ms: number;
}

/** A value of the shared cache as the workers' Keyv store writes it: the entry inside `{"value":…,"expires":…}`. */
async function readEntry<T>(redis: TestRedis, key: string): Promise<{ raw: string; value: T } | undefined> {
  const raw = await redis.get(key);
  if (raw === null) return undefined;
  return { raw, value: (JSON.parse(raw) as { value: T }).value };
}

describeIfRedis('a fleet of processes sharing tickets and suite credentials through Redis', () => {
  let redis: TestRedis;
  let sim: WeComSimulator | undefined;
  let workers: FleetWorker[] = [];
  let corpIds: string[] = [];
  let suiteIds: string[] = [];

  beforeAll(async () => {
    if (redisProblem) throw new Error(`CI=true and ${redisProblem}: the fleet tests need a reachable Redis (REDIS_URL)`);
    redis = await connectRedis();
  });

  afterAll(async () => {
    if (redis?.isOpen) redis.destroy();
  });

  afterEach(async () => {
    await Promise.all(workers.map((worker) => worker.close()));
    workers = [];
    await sim?.close();
    sim = undefined;
    for (const corpId of corpIds) await deleteCorpKeys(redis, corpId);
    corpIds = [];
    for (const suiteId of suiteIds) {
      const keys = await scanKeys(redis, `wecom:v1:suite:${suiteId}:*`);
      await redis.del([...keys, `test:permanent-codes:${suiteId}`]);
    }
    suiteIds = [];
  });

  /** No log line of any worker holds one of `secrets`. */
  async function expectNoLeaks(secrets: readonly string[]): Promise<void> {
    const alive = workers.filter((worker) => worker.alive);
    const logs = (await Promise.all(alive.map((worker) => worker.request<string[]>('logs')))).flat();
    expectNoneOf(logs.join('\n'), secrets);
  }

  describe('JS-SDK tickets (issue 11.3)', () => {
    /** A simulator with an app that has an agentid, and `n` workers booting WeComTokenModule with that agentId. */
    async function setUp(label: string, n: number) {
      const app = newApp(label);
      corpIds.push(app.corpId);
      sim = await WeComSimulator.start({ corpId: app.corpId, apps: [{ name: 'default', secret: app.secret, agentId: AGENT_ID }] });
      workers = await startFleet(n, { corpId: app.corpId, secret: app.secret, baseUrl: sim.baseUrl, redisUrl: REDIS_URL, agentId: AGENT_ID }, BOOT_TIMEOUT_MS);
      const prefix = `wecom:v1:${app.corpId}:${app.fingerprint}`;
      return { app, sim, workers, prefix };
    }

    function secretsOf(app: { secret: string }, s: WeComSimulator): string[] {
      return [app.secret, ...s.issuedTokens(), ...s.issuedTickets('corp'), ...s.issuedTickets('agent')];
    }

    it.each([
      ['corp', 'get_jsapi_ticket', 'jsapi_ticket'],
      ['agent', 'ticket/get?type=agent_config', 'agent_ticket'],
    ] as const)('4 processes x 250 concurrent callers of the %s ticket on a cold cache: one gettoken and one %s for the fleet, one ticket', async (kind, endpoint, suffix) => {
      const { app, sim, workers, prefix } = await setUp(`tk${kind}`, 4);
      sim.setGettokenDelay(50);
      const results = await Promise.all(workers.map((worker) => worker.request<TicketsResult>('tickets', { n: 250, kind })));
      const distinct = new Set(results.flatMap((result) => result.tickets));
      report(
        `${kind} ticket, cold cache, 4 processes x 250 callers: ${sim.gettokenCalls()} gettoken call(s), ` +
          `${sim.ticketCalls(kind)} ${endpoint} call(s), ${distinct.size} distinct ticket(s), slowest process ${Math.max(...results.map((r) => r.ms))} ms`,
      );
      expect(sim.gettokenCalls()).toBe(1);
      expect(sim.ticketCalls(kind)).toBe(1);
      expect(sim.ticketCalls(kind === 'corp' ? 'agent' : 'corp')).toBe(0);
      expect([...distinct]).toEqual([sim.currentTicket(kind)]);
      // The shared entry: the documented key and value, inside Keyv's wrapper.
      const stored = await readEntry<TicketEntry>(redis, `${prefix}:${suffix}`);
      expect(stored?.value).toEqual({ ticket: sim.currentTicket(kind), expiresAt: expect.any(Number), fetchedAt: expect.any(Number) });
      await expectNoLeaks(secretsOf(app, sim));
    });

    it('a ticket invalidated by one process (page reported "invalid signature"): one refetch for the fleet, every process then serves the new ticket', async () => {
      const { app, sim, workers } = await setUp('tkinval', 4);
      const first = await Promise.all(workers.map((worker) => worker.request<TicketsResult>('tickets', { n: 5, kind: 'corp' })));
      expect(new Set(first.flatMap((r) => r.tickets)).size).toBe(1);
      expect(sim.ticketCalls('corp')).toBe(1);
      const [old] = first[0].tickets as [string];
      const revoked = sim.revokeTickets('corp');
      expect(revoked).toEqual([old]);

      const started = Date.now();
      await workers[0].request('invalidateTicket', { kind: 'corp', ticket: old });
      // The others hear of it through Redis: their in-process copies are dropped.
      const dropped = await waitFor(async () => {
        const held = await Promise.all(workers.slice(1).map((worker) => worker.request<TicketEntry | null>('peekTicket', { kind: 'corp' })));
        return held.every((entry) => entry?.token !== old && entry?.ticket !== old);
      }, 3_000);
      const feedMs = Date.now() - started;
      expect(dropped).toBe(true);

      const results = await Promise.all(workers.map((worker) => worker.request<TicketsResult>('tickets', { n: 50, kind: 'corp' })));
      const distinct = new Set(results.flatMap((r) => r.tickets));
      // A second invalidation of the old ticket (another page, late) must not cause another fetch.
      await workers[2].request('invalidateTicket', { kind: 'corp', ticket: old });
      const again = await Promise.all(workers.map((worker) => worker.request<TicketsResult>('tickets', { n: 5, kind: 'corp' })));
      report(
        `corp ticket invalidated by 1 of 4 processes: ${sim.ticketCalls('corp') - 1} refetch(es) for 4 x 50 callers, ` +
          `${distinct.size} distinct ticket(s) afterwards, other copies dropped within ${feedMs} ms, ${sim.gettokenCalls()} gettoken call(s) in all`,
      );
      expect(sim.ticketCalls('corp')).toBe(2);
      expect([...distinct]).toEqual([sim.currentTicket('corp')]);
      expect(distinct.has(old)).toBe(false);
      expect(new Set(again.flatMap((r) => r.tickets))).toEqual(distinct);
      expect(sim.gettokenCalls()).toBe(1);
      await expectNoLeaks(secretsOf(app, sim));
    });

    it('the key layout of the tickets in Redis is the documented one, and no key or value holds the secret', async () => {
      const { app, sim, workers, prefix } = await setUp('tklayout', 2);
      await Promise.all(
        workers.flatMap((worker) => [worker.request<TicketsResult>('tickets', { n: 5, kind: 'corp' }), worker.request<TicketsResult>('tickets', { n: 5, kind: 'agent' })]),
      );
      const keys = (await scanKeys(redis, `wecom:v1:${app.corpId}:*`)).sort();
      const expected = [`${prefix}:access_token`, `${prefix}:agent_ticket`, `${prefix}:jsapi_ticket`];
      expect(keys).toEqual(expected);
      const corp = (await readEntry<TicketEntry>(redis, `${prefix}:jsapi_ticket`))!;
      const agent = (await readEntry<TicketEntry>(redis, `${prefix}:agent_ticket`))!;
      expect(corp.value).toEqual({ ticket: sim.currentTicket('corp'), expiresAt: expect.any(Number), fetchedAt: expect.any(Number) });
      expect(agent.value).toEqual({ ticket: sim.currentTicket('agent'), expiresAt: expect.any(Number), fetchedAt: expect.any(Number) });
      expect(corp.value.expiresAt - corp.value.fetchedAt).toBe(7_200_000);
      expect(agent.value.ticket).not.toBe(corp.value.ticket);
      for (const key of keys) expect(key).not.toContain(app.secret);
      for (const key of keys) expect(await redis.get(key)).not.toContain(app.secret);
      expect(await scanKeys(redis, `*${app.secret}*`)).toEqual([]);
      report(
        `ticket key layout, 2 processes: ${keys.length} keys under wecom:v1:${app.corpId}:{hash16}: (${keys.map((k) => k.slice(prefix.length + 1)).join(', ')}), secret in none`,
      );
      await expectNoLeaks(secretsOf(app, sim));
    });
  });

  describe('a third-party suite (issue 13)', () => {
    /** A simulator with a suite of this test's own, and `n` workers booting WeComSuiteModule for it. */
    async function setUp(n: number) {
      const suiteSettings = {
        suiteId: `wwfleetsuite${randomBytes(4).toString('hex')}`,
        suiteSecret: `fleet-suite-secret-${randomBytes(12).toString('hex')}`,
        callbackToken: `fleetcb${randomBytes(6).toString('hex')}`,
        encodingAESKey: randomBytes(32)
          .toString('base64')
          .replace(/[^A-Za-z0-9]/g, 'A')
          .slice(0, 43),
      };
      suiteIds.push(suiteSettings.suiteId);
      sim = await WeComSimulator.start({ suites: [suiteSettings] });
      workers = await startFleet(
        n,
        { mode: 'suite', suite: suiteSettings, corpId: suiteSettings.suiteId, secret: 'unused', baseUrl: sim.baseUrl, redisUrl: REDIS_URL },
        BOOT_TIMEOUT_MS,
      );
      return { s: suiteSettings, sim, workers };
    }

    /** Every secret-like value: the suite's secrets and everything the simulator issued. */
    function secretsOf(s: { suiteSecret: string; encodingAESKey: string }, sim: WeComSimulator): string[] {
      const issued = sim.issuedSuiteValues();
      return [s.suiteSecret, s.encodingAESKey, ...issued.suiteTickets, ...issued.suiteTokens, ...issued.corpTokens, ...issued.authCodes, ...issued.permanentCodes];
    }

    /** Deliver a callback to one worker, as a load balancer would. */
    async function deliver(worker: FleetWorker, event: Parameters<WeComSimulator['suiteCallback']>[0], options?: Parameters<WeComSimulator['suiteCallback']>[1]) {
      const cb = sim!.suiteCallback(event, options);
      expect(await worker.request<string>('suiteCallback', { query: cb.query, body: cb.body })).toBe('success');
      return cb;
    }

    /** Authorise `n` corps through create_auth callbacks, delivered round-robin to the workers. */
    async function authorise(n: number): Promise<string[]> {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const { corpId } = await deliver(workers[i % workers.length], 'create_auth');
        ids.push(corpId!);
      }
      return ids;
    }

    it('getSuiteToken asked before the first suite_ticket: a fast clear error everywhere; once ONE process receives a suite_ticket, every process serves the suite token', async () => {
      const { s, sim, workers } = await setUp(4);
      // As in a fleet just deployed (or after Redis lost its keys): something asks before WeCom's next push, twice.
      for (let round = 0; round < 2; round++) {
        const before = await Promise.all(workers.map((worker) => worker.request<SuiteTokensResult>('suiteTokens', { n: 1 })));
        expect(before.map((r) => r.errors[0]?.reason)).toEqual(['no-suite-ticket', 'no-suite-ticket', 'no-suite-ticket', 'no-suite-ticket']);
        expect(before[0].errors[0].message).toContain('suite_ticket');
      }
      expect(sim.calls()).toBe(0);

      await deliver(workers[1], 'suite_ticket');
      const delivered = Date.now();
      const first = await Promise.all(workers.map((worker) => worker.request<SuiteTokensResult>('suiteTokens', { n: 1 })));
      const refused = first.map((r, i) => (r.failed > 0 ? `#${i}:${r.errors[0]?.reason ?? r.errors[0]?.name}` : undefined)).filter(Boolean);
      // How long until every process serves it (for the report; bounded).
      const servedByAll = await waitFor(
        async () => {
          const again = await Promise.all(workers.map((worker) => worker.request<SuiteTokensResult>('suiteTokens', { n: 1 })));
          return again.every((r) => r.failed === 0);
        },
        10_000,
        100,
      );
      report(
        `getSuiteToken before the first suite_ticket (2 rounds), then a suite_ticket delivered to process #1: ${4 - refused.length}/4 processes served at once` +
          `${refused.length ? ` (refused: ${refused.join(', ')})` : ''}; all 4 serving ${servedByAll ? `after ${Date.now() - delivered} ms` : 'not within 10 s'}; ` +
          `${sim.calls(SUITE_TOKEN_PATH)} get_suite_token call(s)`,
      );
      expect(refused).toEqual([]);
      expect(sim.calls(SUITE_TOKEN_PATH)).toBe(1);
      await expectNoLeaks(secretsOf(s, sim));
    });

    it('a suite_ticket delivered to ONE process: every process gets the same suite token, one get_suite_token for the fleet', async () => {
      const { s, sim, workers } = await setUp(4);
      const cb = await deliver(workers[1], 'suite_ticket');
      sim.setServiceDelay(50);
      const results = await Promise.all(workers.map((worker) => worker.request<SuiteTokensResult>('suiteTokens', { n: 250 })));
      const distinct = new Set(results.flatMap((r) => r.tokens));
      report(
        `suite_ticket delivered to 1 of 4 processes, 4 x 250 getSuiteToken callers: ${sim.calls(SUITE_TOKEN_PATH)} get_suite_token call(s), ` +
          `${distinct.size} distinct suite token(s), ${results.reduce((sum, r) => sum + r.failed, 0)} failure(s)`,
      );
      expect(results.flatMap((r) => r.errors)).toEqual([]);
      expect(sim.calls(SUITE_TOKEN_PATH)).toBe(1);
      expect([...distinct]).toEqual(sim.issuedSuiteValues().suiteTokens);

      // The documented keys; neither the suite secret nor the suite_ticket in a key, nor the secret in a value.
      const prefix = `wecom:v1:suite:${s.suiteId}`;
      const keys = (await scanKeys(redis, `${prefix}:*`)).sort();
      expect(keys).toEqual([`${prefix}:suite_ticket`, `${prefix}:${hash16(s.suiteSecret)}:suite_access_token`].sort());
      expect((await readEntry(redis, `${prefix}:suite_ticket`))!.value).toEqual({ ticket: cb.suiteTicket, timeStamp: expect.any(Number) });
      const token = (await readEntry<TicketEntry>(redis, `${prefix}:${hash16(s.suiteSecret)}:suite_access_token`))!;
      expect(token.value).toEqual({ token: [...distinct][0], expiresAt: expect.any(Number), fetchedAt: expect.any(Number) });
      for (const key of keys) {
        expect(key).not.toContain(s.suiteSecret);
        expect(key).not.toContain(cb.suiteTicket!);
        expect(await redis.get(key)).not.toContain(s.suiteSecret);
      }
      await expectNoLeaks(secretsOf(s, sim));
    });

    it('20 corps authorised through callbacks spread over 4 processes; all 4 processes ask for every corp at once: one get_corp_token per corp for the fleet', async () => {
      const { s, sim, workers } = await setUp(4);
      await deliver(workers[0], 'suite_ticket');
      const corps = await authorise(20);
      // The permanent codes are in the application's shared store (one Redis hash), whoever handled create_auth.
      const stored = await redis.hGetAll(`test:permanent-codes:${s.suiteId}`);
      expect(Object.keys(stored).sort()).toEqual([...corps].sort());
      expect(Object.values(stored).sort()).toEqual([...sim.issuedSuiteValues().permanentCodes].sort());
      expect(sim.calls(PERMANENT_CODE_PATH)).toBe(20);

      sim.setServiceDelay(50);
      const results = await Promise.all(workers.map((worker) => worker.request<CorpTokensResult>('corpTokens', { corpIds: corps, perCorp: 5 })));
      const perCorp = corps.map((corpId) => new Set(results.flatMap((r) => r.corps[corpId].tokens)));
      const failures = results.flatMap((r) => Object.values(r.corps).flatMap((c) => c.errors));
      const getCorpTokenCalls = sim.calls(CORP_TOKEN_PATH);
      report(
        `20 corps x 4 processes x 5 callers: ${getCorpTokenCalls} get_corp_token call(s), ${sim.calls(SUITE_TOKEN_PATH)} get_suite_token call(s), ` +
          `${perCorp.filter((set) => set.size === 1).length}/20 corps with exactly one token, ${new Set(perCorp.flatMap((set) => [...set])).size} distinct tokens, ${failures.length} failure(s)`,
      );
      expect(failures).toEqual([]);
      expect(getCorpTokenCalls).toBe(20);
      // Every corp needed at least one get_corp_token and there were 20 in all: exactly one per corp.
      expect(perCorp.map((set) => set.size)).toEqual(corps.map(() => 1));
      expect(new Set(perCorp.flatMap((set) => [...set])).size).toBe(20);
      expect(sim.calls(SUITE_TOKEN_PATH)).toBe(1);

      // The documented corp keys; no permanent code in any key or value of the module.
      const keys = await scanKeys(redis, `wecom:v1:suite:${s.suiteId}:corp:*`);
      // Per corp: its access_token and the agentid it authorised (kept from get_permanent_code, not a secret).
      expect(keys.sort()).toEqual(
        corps.flatMap((corpId) => [`wecom:v1:suite:${s.suiteId}:corp:${corpId}:access_token`, `wecom:v1:suite:${s.suiteId}:corp:${corpId}:agentid`]).sort(),
      );
      const everything = await scanKeys(redis, `wecom:v1:suite:${s.suiteId}:*`);
      const values = (await Promise.all(everything.map((key) => redis.get(key)))).join('\n');
      expectNoneOf(`${everything.join('\n')}\n${values}`, [s.suiteSecret, ...Object.values(stored)]);
      await expectNoLeaks(secretsOf(s, sim));
    });

    it('cancel_auth delivered to one process: every process refuses that corp at once (no get_corp_token, a clear error), the others are unaffected', async () => {
      const { s, sim, workers } = await setUp(4);
      await deliver(workers[0], 'suite_ticket');
      const corps = await authorise(5);
      const before = await Promise.all(workers.map((worker) => worker.request<CorpTokensResult>('corpTokens', { corpIds: corps, perCorp: 2 })));
      expect(before.flatMap((r) => Object.values(r.corps).flatMap((c) => c.errors))).toEqual([]);
      expect(sim.calls(CORP_TOKEN_PATH)).toBe(5);
      const [gone, ...kept] = corps as [string, ...string[]];

      await deliver(workers[2], 'cancel_auth', { corpId: gone });
      expect(Number(await redis.hExists(`test:permanent-codes:${s.suiteId}`, gone))).toBe(0);
      const callsBefore = sim.calls(CORP_TOKEN_PATH);
      // Asked right after the callback was acknowledged, every process (each held that corp's token in memory).
      const after = await Promise.all(workers.map((worker) => worker.request<CorpTokensResult>('corpTokens', { corpIds: [gone], perCorp: 3 })));
      const served = after.map((r) => r.corps[gone].tokens.length);
      const reasons = after.flatMap((r) => r.corps[gone].errors.map((e) => e.reason));
      // A little later, and again: still refused (never served again).
      const later = await Promise.all(workers.map((worker) => worker.request<CorpTokensResult>('corpTokens', { corpIds: [gone], perCorp: 1 })));
      const others = await Promise.all(workers.map((worker) => worker.request<CorpTokensResult>('corpTokens', { corpIds: kept, perCorp: 2 })));
      report(
        `cancel_auth delivered to 1 of 4 processes: ${served.filter((n) => n === 0).length}/4 processes refused the cancelled corp at once ` +
          `(reasons ${[...new Set(reasons)].join(', ') || 'none'}), ${sim.calls(CORP_TOKEN_PATH) - callsBefore} further get_corp_token call(s), ` +
          `${kept.length} other corps served by 4/4 processes from their held tokens`,
      );
      expect(served).toEqual([0, 0, 0, 0]);
      for (const result of [...after, ...later]) {
        const { errors, failed } = result.corps[gone];
        expect(failed).toBeGreaterThan(0);
        expect(errors[0]).toMatchObject({ name: 'WeComSuiteStateError', reason: 'cancelled' });
        expect(errors[0].message).toContain(gone);
        expect(errors[0].message).toContain('cancel');
      }
      expect(sim.calls(CORP_TOKEN_PATH)).toBe(callsBefore);
      // The others: the same token as before in every process, no fetch.
      for (const corpId of kept) {
        const was = new Set(before.flatMap((r) => r.corps[corpId].tokens));
        const now = new Set(others.flatMap((r) => r.corps[corpId].tokens));
        expect(others.flatMap((r) => r.corps[corpId].errors)).toEqual([]);
        expect(now).toEqual(was);
        expect(now.size).toBe(1);
      }
      expect(sim.calls(CORP_TOKEN_PATH)).toBe(callsBefore);
      expect(await redis.get(`wecom:v1:suite:${s.suiteId}:corp:${gone}:access_token`)).toBeNull();
      await expectNoLeaks(secretsOf(s, sim));
    });
  });
});
