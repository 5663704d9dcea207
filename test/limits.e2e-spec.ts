/**
 * Limits that hold whatever WeCom, the network or a caller sends (the engine's side): the fetch budget, cool-downs
 * for callers, the deadline of a credential request, no redirects, option bounds, custom locks that misbehave,
 * and a clean shutdown in the middle of a fetch. Hostile answers come from a real node:http server on loopback.
 */
import { INestApplicationContext } from '@nestjs/common';
import { CacheModule } from '@nestjs/cache-manager';
import { ScheduleModule } from '@nestjs/schedule';
import { createCache } from 'cache-manager';
import { createHash } from 'node:crypto';
import { inspect } from 'node:util';
import { AccessTokenService, TokenLock, WeComConfigError, WeComShutdownError, WeComTokenModule, WeComTransportError } from '../lib';
import { WeComSimulator } from '../lib/testing';
import { bootContext } from './support/app';
import { CapturingLogger, expectNoneOf } from './support/capture';
import { countOf, json, startServer, TestServer, trickle } from './support/hostile';

const CORP = 'wwlimits0000000001';
const SECRET = 'limits-secret-0123456789abcdef';
const GETTOKEN = '/cgi-bin/gettoken';

/** 20 callers asking in a loop for `ms`; resolves the outcomes. */
async function hammer(tokens: AccessTokenService, ms: number): Promise<{ ok: number; failed: number }> {
  const until = Date.now() + ms;
  let ok = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      while (Date.now() < until) {
        await tokens.getToken().then(
          () => ok++,
          () => failed++,
        );
        await new Promise((r) => setTimeout(r, 5));
      }
    }),
  );
  return { ok, failed };
}

describe('limits', () => {
  let app: INestApplicationContext | undefined;
  let logger: CapturingLogger;
  let server: TestServer | undefined;

  afterEach(async () => {
    await app?.close();
    app = undefined;
    await server?.close();
    server = undefined;
  });

  async function boot(options: Record<string, unknown>, imports: Parameters<typeof bootContext>[0] = []): Promise<AccessTokenService> {
    ({ app, logger } = await bootContext([...imports, WeComTokenModule.forRoot({ corpId: CORP, secret: SECRET, timeoutMs: 500, ...options })]));
    return app.get(AccessTokenService);
  }

  describe('the fetch budget: at most 10 gettoken requests in 60 s per app and process, whatever comes back', () => {
    const answers: Array<[string, (res: Parameters<typeof json>[0]) => void]> = [
      ['expires_in 0.001', (res) => json(res, { errcode: 0, access_token: 'tok-tiny-lifetime-000000000000', expires_in: 0.001 })],
      ['expires_in 0', (res) => json(res, { errcode: 0, access_token: 'tok-zero-lifetime-000000000000', expires_in: 0 })],
      ['expires_in -5', (res) => json(res, { errcode: 0, access_token: 'tok-negative-lifetime-00000000', expires_in: -5 })],
      ['expires_in "7200" (a string)', (res) => json(res, { errcode: 0, access_token: 'tok-string-lifetime-0000000000', expires_in: '7200' })],
      ['expires_in missing', (res) => json(res, { errcode: 0, access_token: 'tok-no-lifetime-00000000000000' })],
      ['access_token missing', (res) => json(res, { errcode: 0, expires_in: 7200 })],
      ['errcode "40001" (a string)', (res) => json(res, { errcode: '40001', errmsg: 'weird' })],
      [
        'an HTML page with 200',
        (res) => {
          res.writeHead(200, { 'content-type': 'text/html' });
          res.end('<html><body>portal login</body></html>');
        },
      ],
      [
        'HTML 502',
        (res) => {
          res.writeHead(502, { 'content-type': 'text/html' });
          res.end('<html>bad gateway</html>');
        },
      ],
      ['503 JSON', (res) => json(res, { message: 'maintenance' }, 503)],
      ['a dropped connection', (res) => res.socket?.destroy()],
      ['a JSON array', (res) => json(res, '[1,2,3]')],
      ['errcode -1 (busy) forever', (res) => json(res, { errcode: -1, errmsg: 'system busy' })],
    ];
    it.each(answers)('%s: 20 callers in a loop for 1.5 s with background refresh on', async (_label, answer) => {
      server = await startServer((_req, res) => answer(res));
      const tokens = await boot({ baseUrl: server.url, retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 10 } }, [ScheduleModule.forRoot()]);
      const { ok, failed } = await hammer(tokens, 1_500);
      expect(ok).toBe(0);
      expect(failed).toBeGreaterThan(20);
      expect(countOf(server, GETTOKEN)).toBeGreaterThan(0);
      expect(countOf(server, GETTOKEN)).toBeLessThanOrEqual(10);
    });

    it('expires_in 1e12 counts as a day: one gettoken, no timer overflow, refresh point within a day', async () => {
      server = await startServer((_req, res) => json(res, { errcode: 0, access_token: 'tok-eternal-00000000000000000', expires_in: 1e12 }));
      const warnings: string[] = [];
      const onWarning = (w: Error) => warnings.push(w.name);
      process.on('warning', onWarning);
      try {
        const tokens = await boot({ baseUrl: server.url }, [ScheduleModule.forRoot()]);
        await hammer(tokens, 500);
        const held = tokens.peek()!;
        expect(held.expiresAt - held.fetchedAt).toBe(86_400_000);
        expect(countOf(server, GETTOKEN)).toBe(1);
        await new Promise((r) => setTimeout(r, 50));
        expect(warnings).not.toContain('TimeoutOverflowWarning');
      } finally {
        process.off('warning', onWarning);
      }
    });

    it('a one-second lifetime stays legal: one fetch per lifetime, callers always served', async () => {
      const sim = await WeComSimulator.start({ tokenLifetimeSeconds: 1, repeatedGettoken: 'new-token' });
      try {
        const tokens = await boot({ corpId: sim.corpId, secret: sim.secretOf(), baseUrl: sim.baseUrl }, [ScheduleModule.forRoot()]);
        const { failed } = await hammer(tokens, 3_000);
        expect(failed).toBe(0);
        // One per lifetime at its refresh point (half of a second): about 6 in 3 s, never a storm.
        expect(sim.gettokenCalls()).toBeGreaterThanOrEqual(3);
        expect(sim.gettokenCalls()).toBeLessThanOrEqual(10);
      } finally {
        await app?.close();
        app = undefined;
        await sim.close();
      }
    });

    it('refresh() in a loop: the budget holds, and a valid held token keeps being served by getToken()', async () => {
      const sim = await WeComSimulator.start({ repeatedGettoken: 'new-token' });
      try {
        const tokens = await boot({ corpId: sim.corpId, secret: sim.secretOf(), baseUrl: sim.baseUrl });
        let refused = 0;
        for (let i = 0; i < 30; i++) await tokens.refresh().catch(() => refused++);
        expect(sim.gettokenCalls()).toBeLessThanOrEqual(11);
        expect(refused).toBeGreaterThan(0);
        expect(await tokens.getToken()).toBe(sim.currentToken());
        expect(logger.matching(/^error .*fetch budget/).length).toBeGreaterThan(0);
      } finally {
        await app?.close();
        app = undefined;
        await sim.close();
      }
    });
  });

  describe('cool-downs for callers after a failed fetch', () => {
    it('callers during the cool-down get the last cause at once, with no request; it grows and ends with a success', async () => {
      let healthy = false;
      server = await startServer((_req, res) => (healthy ? json(res, { errcode: 0, access_token: 'tok-after-recovery-000000000', expires_in: 7200 }) : json(res, { x: 1 }, 502)));
      const tokens = await boot({ baseUrl: server.url, retry: { attempts: 1 }, failureCooldownMs: 200 });
      const first = await tokens.getToken().catch((e: unknown) => e);
      expect(first).toBeInstanceOf(WeComTransportError);
      for (let i = 0; i < 50; i++) expect(await tokens.getToken().catch((e: unknown) => e)).toBe(first);
      expect(countOf(server, GETTOKEN)).toBe(1);
      expect(tokens.lastFailure()).toBe(first);
      await new Promise((r) => setTimeout(r, 220));
      await tokens.getToken().catch(() => undefined);
      expect(countOf(server, GETTOKEN)).toBe(2);
      // The second cool-down is twice as long: at 220 ms it still holds.
      await new Promise((r) => setTimeout(r, 220));
      await tokens.getToken().catch(() => undefined);
      expect(countOf(server, GETTOKEN)).toBe(2);
      healthy = true;
      await new Promise((r) => setTimeout(r, 220));
      expect(await tokens.getToken()).toBe('tok-after-recovery-000000000');
      expect(tokens.lastFailure()).toBeUndefined();
    });
  });

  describe('the deadline of a credential request', () => {
    it('headers then one byte every 100 ms: gettoken fails as a timeout, never hangs', async () => {
      server = await startServer((_req, res) => trickle(res, 100));
      const tokens = await boot({ baseUrl: server.url, timeoutMs: 400, retry: { attempts: 1 } });
      const error = await tokens.getToken().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WeComTransportError);
      expect(error).toMatchObject({ failure: 'timeout', path: GETTOKEN });
      expectNoneOf(inspect(error, { showHidden: true, depth: Infinity }), [SECRET]);
    });
  });

  describe('no redirects for credential requests', () => {
    it('a 302 from gettoken is a WeComTransportError and the Location host receives nothing', async () => {
      const elsewhere = await startServer((_req, res) => json(res, { errcode: 0, access_token: 'stolen-0000000000000000000', expires_in: 7200 }));
      try {
        server = await startServer((req, res) => {
          res.writeHead(302, { location: `${elsewhere.url}${req.url}` });
          res.end();
        });
        const tokens = await boot({ baseUrl: server.url, retry: { attempts: 1 } });
        const error = await tokens.getToken().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(WeComTransportError);
        expect((error as Error).message).toMatch(/302.*never redirects/);
        expect(elsewhere.seen).toEqual([]);
      } finally {
        await elsewhere.close();
      }
    });
  });

  describe('option bounds', () => {
    it.each([
      ['timeoutMs', 2 ** 31],
      ['cacheTimeoutMs', 1e12],
      ['errorCooldownMs', 2 ** 31],
      ['rateLimitCooldownMs', Infinity],
      ['failureCooldownMs', -1],
      ['refreshAheadSeconds', 86_401],
    ])('%s = %s is refused at start-up with WeComConfigError naming it', async (option, value) => {
      await expect(bootContext([WeComTokenModule.forRoot({ corpId: CORP, secret: SECRET, [option]: value })])).rejects.toThrow(WeComConfigError);
      await expect(bootContext([WeComTokenModule.forRoot({ corpId: CORP, secret: SECRET, [option]: value })])).rejects.toThrow(new RegExp(`option '${option}'`));
    });

    it('a secret with a trailing newline (from an env file) is trimmed like corpId, with a warning naming the option, never the value', async () => {
      const sim = await WeComSimulator.start();
      try {
        const tokens = await boot({ corpId: ` ${sim.corpId}\n`, secret: `${sim.secretOf()}\n`, baseUrl: sim.baseUrl });
        expect(await tokens.getToken()).toBe(sim.currentToken());
        expect(logger.matching(/^warn .*option 'secret' of app 'default' had whitespace/).length).toBe(1);
        expect(logger.matching(/^warn .*option 'corpId' of app 'default' had whitespace/).length).toBe(1);
        expectNoneOf(logger.lines.join('\n'), [sim.secretOf()]);
      } finally {
        await app?.close();
        app = undefined;
        await sim.close();
      }
    });
  });

  describe('custom TokenLocks that misbehave', () => {
    let sim: WeComSimulator;
    beforeEach(async () => {
      sim = await WeComSimulator.start();
    });
    afterEach(async () => {
      await app?.close();
      app = undefined;
      await sim.close();
    });

    it('a release that never settles does not hang getToken(): the token was fetched', async () => {
      const lock: TokenLock = { acquire: async () => () => new Promise<void>(() => undefined) };
      const tokens = await boot({ corpId: sim.corpId, secret: sim.secretOf(), baseUrl: sim.baseUrl, lock, cacheTimeoutMs: 200 });
      expect(await tokens.getToken()).toBe(sim.currentToken());
      expect(sim.gettokenCalls()).toBe(1);
    });

    it.each([42, 'yes', {}, undefined])('an acquire that resolves %p: the token is fetched anyway, and the lock is named malformed', async (answer) => {
      const lock = { acquire: async () => answer } as unknown as TokenLock;
      const tokens = await boot({ corpId: sim.corpId, secret: sim.secretOf(), baseUrl: sim.baseUrl, lock });
      expect(await tokens.getToken()).toBe(sim.currentToken());
      expect(logger.matching(/^error .*TokenLock of corp .* is malformed: acquire\(\) resolved/).length).toBe(1);
    });

    it('an acquire that never settles is bounded like the rest', async () => {
      const lock: TokenLock = { acquire: () => new Promise(() => undefined) };
      const tokens = await boot({ corpId: sim.corpId, secret: sim.secretOf(), baseUrl: sim.baseUrl, lock, cacheTimeoutMs: 100 });
      expect(await tokens.getToken()).toBe(sim.currentToken());
    });
  });

  describe('app.close() in the middle of a fetch', () => {
    it('aborts the request, rejects the callers, writes nothing to the shared cache afterwards', async () => {
      const sim = await WeComSimulator.start();
      const cache = createCache();
      try {
        sim.setGettokenDelay(1_000);
        const tokens = await boot({ corpId: sim.corpId, secret: sim.secretOf(), baseUrl: sim.baseUrl, cache, timeoutMs: 5_000 });
        const pending = tokens.getToken().catch((e: unknown) => e);
        await new Promise((r) => setTimeout(r, 100));
        expect(sim.gettokenCalls()).toBe(1);
        await app!.close();
        app = undefined;
        const error = await pending;
        expect(error).toBeInstanceOf(WeComShutdownError);
        expect((error as Error).message).toMatch(/shutting down/);
        await new Promise((r) => setTimeout(r, 1_100));
        const key = `wecom:v1:${sim.corpId}:${createHash('sha256').update(sim.secretOf()).digest('hex').slice(0, 16)}:access_token`;
        expect(await cache.get(key)).toBeUndefined();
        await expect(tokens.getToken()).rejects.toThrow(/shutting down/);
        expect(sim.gettokenCalls()).toBe(1);
      } finally {
        await sim.close();
      }
    });
  });

  describe("util.inspect and JSON of the module's objects", () => {
    it('AccessTokenService shows a masked token only', async () => {
      const sim = await WeComSimulator.start();
      try {
        const tokens = await boot({ corpId: sim.corpId, secret: sim.secretOf(), baseUrl: sim.baseUrl }, [CacheModule.register({ isGlobal: true })]);
        await tokens.getToken();
        const printed = inspect(tokens, { depth: Infinity, showHidden: true }) + JSON.stringify(tokens) + String(tokens);
        expectNoneOf(printed, [sim.secretOf(), ...sim.issuedTokens()]);
        expect(printed).toContain('…');
      } finally {
        await app?.close();
        app = undefined;
        await sim.close();
      }
    });
  });
});
