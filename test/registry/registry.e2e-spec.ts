/**
 * WeComAppRegistry against the simulator over loopback HTTP: apps that arrive at run time, loaded through a loader
 * that plays the application's database.
 */
import { CacheModule } from '@nestjs/cache-manager';
import { INestApplicationContext } from '@nestjs/common';
import { Cache } from 'cache-manager';
import { createHash } from 'node:crypto';
import { inspect } from 'node:util';
import { AccessTokenService, WeComApiError, WeComAppRegistry, WeComRegistryApp, WeComRegistryLoaderError, WeComTokenModule, WeComUnknownAppError } from '../../lib';
import { WeComSimulator } from '../../lib/testing';
import { bootContext, FAST_RETRY } from '../support/app';
import { renderError } from '../support/capture';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('WeComAppRegistry', () => {
  let sim: WeComSimulator;
  let app: INestApplicationContext | undefined;

  beforeEach(async () => {
    sim = await WeComSimulator.start({
      apps: [
        { name: 'default', secret: 'registry-secret-a-0123456789', agentId: 1000002 },
        { name: 'b', secret: 'registry-secret-b-0123456789', agentId: 1000003 },
      ],
    });
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await sim.close();
  });

  /** A database of tenants, counting the loader's calls. */
  function table(rows: Record<string, WeComRegistryApp> = {}, delayMs = 20) {
    const db = {
      rows,
      calls: [] as string[],
      loader: async (key: string) => {
        db.calls.push(key);
        await sleep(delayMs);
        return db.rows[key];
      },
    };
    return db;
  }

  async function boot(options: Parameters<typeof WeComTokenModule.forRegistry>[0] = {}, more: Parameters<typeof bootContext>[0] = []): Promise<WeComAppRegistry> {
    const booted = await bootContext([WeComTokenModule.forRegistry({ baseUrl: sim.baseUrl, retry: FAST_RETRY, ...options }), ...more]);
    app = booted.app;
    return app.get(WeComAppRegistry);
  }

  const tenantA = (): WeComRegistryApp => ({ corpId: sim.corpId, secret: sim.secretOf('default'), agentId: 1000002 });
  const tenantB = (): WeComRegistryApp => ({ corpId: sim.corpId, secret: sim.secretOf('b') });

  it('500 concurrent first asks for one key cost one loader call and one gettoken', async () => {
    const db = table({ acme: tenantA() });
    const registry = await boot({ loader: db.loader });
    sim.setGettokenDelay(30);
    const tokens = await Promise.all(Array.from({ length: 500 }, async () => (await registry.tokens('acme')).getToken()));
    expect(new Set(tokens)).toEqual(new Set([sim.currentToken('default')]));
    expect(db.calls).toEqual(['acme']);
    expect(sim.gettokenCalls()).toBe(1);
    expect(registry.has('acme')).toBe(true);
  });

  it('100 asks for an unknown key within 10 s cost one loader call, each rejecting with WeComUnknownAppError', async () => {
    const db = table();
    const registry = await boot({ loader: db.loader });
    const concurrent = await Promise.allSettled(Array.from({ length: 50 }, () => registry.tokens('nobody')));
    const errors: unknown[] = concurrent.map((r) => (r.status === 'rejected' ? (r.reason as unknown) : undefined));
    for (let i = 0; i < 50; i++)
      errors.push(
        await registry.tokens('nobody').then(
          () => undefined,
          (e: unknown) => e,
        ),
      );
    expect(errors).toHaveLength(100);
    for (const error of errors) {
      expect(error).toBeInstanceOf(WeComUnknownAppError);
      expect((error as Error).message).toContain('"nobody"');
    }
    expect(db.calls).toEqual(['nobody']);
    expect(sim.gettokenCalls()).toBe(0);
    expect(registry.has('nobody')).toBe(false);
  });

  it('without a loader, an unregistered key rejects with WeComUnknownAppError; register() makes it known at once', async () => {
    const registry = await boot();
    await expect(registry.client('later')).rejects.toThrow(WeComUnknownAppError);
    registry.register('later', tenantA());
    expect(await (await registry.tokens('later')).getToken()).toBe(sim.currentToken('default'));
  });

  it('a new secret registered: the old token is never served again, not even by a service a caller kept', async () => {
    const registry = await boot();
    registry.register('acme', tenantA());
    const kept = await registry.tokens('acme');
    const oldToken = await kept.getToken();
    expect(oldToken).toBe(sim.currentToken('default'));
    registry.register('acme', tenantB());
    const newToken = sim.currentToken('b');
    expect(newToken).toBeUndefined();
    const served = [await (await registry.tokens('acme')).getToken(), await kept.getToken()];
    for (const token of served) expect(token).toBe(sim.currentToken('b'));
    expect(served).not.toContain(oldToken);
    // Registering the same app again changes nothing: no new gettoken.
    const calls = sim.gettokenCalls();
    registry.register('acme', tenantB());
    await (await registry.tokens('acme')).getToken();
    expect(sim.gettokenCalls()).toBe(calls);
  });

  it('tickets(key): JS-SDK signatures of a registry app, verified by the simulator', async () => {
    const registry = await boot();
    registry.register('acme', tenantA());
    const tickets = await registry.tickets('acme');
    const url = 'https://tenant.example.com/page?x=1';
    expect(sim.verifySignature({ kind: 'corp', url, ...(await tickets.signConfig(url)) }).valid).toBe(true);
    expect(sim.verifySignature({ kind: 'agent', url, ...(await tickets.signAgentConfig(url)) }).valid).toBe(true);
    expect(await registry.tickets('acme')).toBe(tickets);
  });

  it('a 40001 asks the loader once more and picks up a rotated secret', async () => {
    const db = table({ acme: { corpId: sim.corpId, secret: 'registry-secret-rotated-away-000' } });
    const registry = await boot({ loader: db.loader });
    const tokens = await registry.tokens('acme');
    db.rows.acme = tenantB();
    const results = await Promise.all(Array.from({ length: 20 }, () => tokens.getToken()));
    expect(new Set(results)).toEqual(new Set([sim.currentToken('b')]));
    expect(db.calls).toEqual(['acme', 'acme']);
    // The client of the app now sends the new token too.
    await expect((await registry.client('acme')).get('/cgi-bin/user/get', { userid: 'zhangsan' })).resolves.toBeDefined();
  });

  it('a 40001 with the same secret still in the database fails after exactly one more loader call', async () => {
    const db = table({ acme: { corpId: sim.corpId, secret: 'registry-secret-wrong-000000' } });
    const registry = await boot({ loader: db.loader });
    const error = await (await registry.tokens('acme')).getToken().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WeComApiError);
    expect((error as WeComApiError).errcode).toBe(40001);
    expect(db.calls).toEqual(['acme', 'acme']);
  });

  it('a hanging loader is bounded by timeoutMs, named in the error; concurrent asks share its one call', async () => {
    const calls: string[] = [];
    const registry = await boot({ timeoutMs: 200, loader: (key) => (calls.push(key), new Promise<never>(() => undefined)) });
    const errors = await Promise.all(Array.from({ length: 10 }, () => registry.tokens('stuck').catch((e: unknown) => e)));
    for (const error of errors) {
      expect(error).toBeInstanceOf(WeComRegistryLoaderError);
      expect((error as Error).message).toMatch(/loader for key "stuck" did not answer within 200 ms \(timeoutMs\)/);
    }
    expect(calls).toEqual(['stuck']);
  });

  it('a loader that throws is named in the error with the key; a failure is not remembered as unknown', async () => {
    let calls = 0;
    const registry = await boot({
      loader: async () => {
        calls++;
        if (calls === 1) throw new Error('connection refused');
        return tenantA();
      },
    });
    await expect(registry.tokens('acme')).rejects.toThrow('WeCom app registry: the loader for key "acme" failed: connection refused');
    expect(await (await registry.tokens('acme')).getToken()).toBe(sim.currentToken('default'));
  });

  it('at most 16 loads are in flight at once', async () => {
    let active = 0;
    let peak = 0;
    const registry = await boot({
      loader: async (key) => {
        active++;
        peak = Math.max(peak, active);
        await sleep(10);
        active--;
        return key.startsWith('t') ? tenantA() : undefined;
      },
    });
    await Promise.all(Array.from({ length: 100 }, (_, i) => registry.tokens(`t${i}`)));
    expect(peak).toBe(16);
    expect(registry.size).toBe(100);
  });

  it('attacker-chosen keys (huge, with newlines) are quoted and cut in errors', async () => {
    const registry = await boot({ loader: async () => undefined });
    const huge = 'x'.repeat(1_000_000);
    const forged = 'evil\nWeCom app registry: all good\r\n';
    for (const key of [huge, forged]) {
      const error = await registry.tokens(key).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WeComUnknownAppError);
      const shown = renderError(error);
      expect(shown).not.toContain('\nWeCom app registry: all good');
      expect((error as Error).message.length).toBeLessThan(300);
    }
    expect(((await registry.tokens(huge).catch((e: unknown) => e)) as Error).message).toContain('…(1000000 chars)');
  });

  it('a registry app and a static app with one corpId and secret share one entry, under the static layout', async () => {
    const booted = await bootContext([
      CacheModule.register({ isGlobal: true }),
      WeComTokenModule.forRoot({ corpId: sim.corpId, secret: sim.secretOf('default'), baseUrl: sim.baseUrl }),
      WeComTokenModule.forRegistry({ baseUrl: sim.baseUrl }),
    ]);
    app = booted.app;
    const staticToken = await app.get(AccessTokenService).getToken();
    const registry = app.get(WeComAppRegistry);
    registry.register('acme', tenantA());
    expect(await (await registry.tokens('acme')).getToken()).toBe(staticToken);
    expect(sim.gettokenCalls()).toBe(1);
    const cache = app.get<Cache>('CACHE_MANAGER');
    const fingerprint = createHash('sha256').update(sim.secretOf('default')).digest('hex').slice(0, 16);
    expect(await cache.get<{ token: string }>(`wecom:v1:${sim.corpId}:${fingerprint}:access_token`)).toMatchObject({ token: staticToken });
  });

  it('maxApps: the least recently used app leaves memory (has() false) and comes back through the loader from the cache', async () => {
    const db = table({ a: tenantA(), b: tenantB() }, 0);
    const registry = await boot({ loader: db.loader, maxApps: 1 });
    const first = await (await registry.tokens('a')).getToken();
    await (await registry.tokens('b')).getToken();
    expect(registry.has('a')).toBe(false);
    expect(registry.has('b')).toBe(true);
    expect(await (await registry.tokens('a')).getToken()).toBe(first);
    expect(sim.gettokenCalls()).toBe(2);
    expect(db.calls).toEqual(['a', 'b', 'a']);
  });

  it('idleTtlSeconds: an app unused that long leaves memory', async () => {
    const registry = await boot({ idleTtlSeconds: 1 });
    registry.register('acme', tenantA());
    await (await registry.tokens('acme')).getToken();
    const deadline = Date.now() + 5_000;
    while (registry.has('acme') && Date.now() < deadline) await sleep(50);
    expect(registry.has('acme')).toBe(false);
  });

  it('unregister(): the key is forgotten here; a call in flight finishes', async () => {
    const registry = await boot();
    registry.register('acme', tenantA());
    sim.setGettokenDelay(100);
    const inFlight = (await registry.tokens('acme')).getToken();
    await registry.unregister('acme');
    expect(registry.has('acme')).toBe(false);
    expect(await inFlight).toBe(sim.currentToken('default'));
    await expect(registry.tokens('acme')).rejects.toThrow(WeComUnknownAppError);
  });

  it('app.close() mid-load: nothing is left hanging, later asks reject', async () => {
    const registry = await boot({ loader: () => new Promise<never>(() => undefined), timeoutMs: 60_000 });
    const pending = registry.tokens('acme').catch((e: unknown) => e);
    await app!.close();
    app = undefined;
    expect(await pending).toBeInstanceOf(Error);
    await expect(registry.tokens('acme')).rejects.toThrow(/shutting down/);
  });

  it('no secret and no whole token in inspect, JSON or errors of registry apps; a loader answer without secret names the option', async () => {
    const secret = 'registry-secret-wrong-leakcheck-000';
    const registry = await boot({ loader: async (key) => (key === 'bad' ? ({ corpId: sim.corpId } as WeComRegistryApp) : { corpId: sim.corpId, secret }) });
    const tokens = await registry.tokens('acme');
    const error = await tokens.getToken().catch((e: unknown) => e);
    registry.register('good', tenantA());
    const good = await registry.tokens('good');
    const token = await good.getToken();
    const shown = [renderError(error), inspect(registry), inspect(tokens), JSON.stringify(good), inspect(good), JSON.stringify(registry)].join('\n');
    expect(shown).not.toContain(secret);
    expect(shown).not.toContain(sim.secretOf('default'));
    expect(shown).not.toContain(token);
    await expect(registry.tokens('bad')).rejects.toThrow(/option 'secret' of app 'registry:"bad"' is missing/);
  });

  it('wrong registry options fail at start-up, naming the option', () => {
    expect(() => WeComTokenModule.forRegistry({ maxApps: 0 })).not.toThrow();
    return expect(bootContext([WeComTokenModule.forRegistry({ maxApps: 0 })])).rejects.toThrow(/maxApps/);
  });
});
