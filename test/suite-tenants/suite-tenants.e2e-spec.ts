/**
 * Issue 18.6 and 18.7: what callers of a suite's corps can do to the suite's memory and to the other corps.
 * - Ids that never authorised leave nothing behind (no credential, no client), however many there are: measured in a
 *   child process started with --expose-gc (test/suite-tenants/unknown-corps.js, on the built package).
 * - A PermanentCodeStore that hangs for some corps: every store call is bounded by timeoutMs, with an error naming the
 *   call and the corp; a healthy corp is served; a hung corp is not asked again while its call is pending, so it
 *   holds no shared load slot; and app.close() settles every caller.
 */
import { Test } from '@nestjs/testing';
import { createCache } from 'cache-manager';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SuiteService, WeComShutdownError, WeComSuiteModule } from '../../lib/index';
import type { PermanentCodeStore } from '../../lib/index';
import { CORP_FETCH_CONCURRENCY } from '../../lib/suite/suite-credentials';
import { WeComSimulator } from '../../lib/testing';

const ROOT = join(__dirname, '..', '..');

interface Figure {
  ids: number;
  heapUsed: number;
  credentials: number;
  clients: number;
}

/** Whether `promise` settled within `ms` (a guard against a hang, never a measurement). */
async function settles(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([
      promise.then(
        () => true as const,
        () => true as const,
      ),
      expired,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

describe('corps that never authorised leave nothing behind (issue 18.6)', () => {
  it('20,000 distinct unknown ids through getCorpToken and clientFor: no credential or client held, the heap after GC stays flat', () => {
    if (!existsSync(join(ROOT, 'dist', 'index.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
    const run = spawnSync(process.execPath, ['--expose-gc', join(__dirname, 'unknown-corps.js'), JSON.stringify({ checkpoints: [2_000, 20_000] })], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const { figures, reasons } = JSON.parse(run.stdout.trim()) as { figures: Figure[]; reasons: string[] };
    const [first, last] = figures as [Figure, Figure];
    const grewBy = last.heapUsed - first.heapUsed;
    process.stdout.write(
      `[tenants] unknown ids ${first.ids} -> ${last.ids}: heap after GC ${(first.heapUsed / 1e6).toFixed(1)} MB -> ${(last.heapUsed / 1e6).toFixed(1)} MB, credentials ${last.credentials}, clients ${last.clients}\n`,
    );
    expect(reasons).toEqual(['no-permanent-code']);
    expect(figures.map((f) => [f.credentials, f.clients])).toEqual([
      [0, 0],
      [0, 0],
    ]);
    // 18,000 more ids: kept credentials would cost ~6 KB each (over 100 MB); flat means a few MB of noise at most.
    expect(grewBy).toBeLessThan(4_000_000);
  });
});

describe('a PermanentCodeStore that hangs for some corps (issue 18.7)', () => {
  class HangingCodes implements PermanentCodeStore {
    readonly codes = new Map<string, string>();
    readonly hang = new Set<string>();
    readonly gets = new Map<string, number>();
    async get(corpId: string): Promise<string | undefined> {
      this.gets.set(corpId, (this.gets.get(corpId) ?? 0) + 1);
      if (this.hang.has(corpId)) return new Promise<never>(() => undefined);
      return this.codes.get(corpId);
    }
    async set(corpId: string, code: string): Promise<void> {
      this.codes.set(corpId, code);
    }
    async delete(corpId: string): Promise<void> {
      this.codes.delete(corpId);
    }
  }

  let sim: WeComSimulator;
  let codes: HangingCodes;
  let close: (() => Promise<void>) | undefined;

  beforeEach(async () => {
    sim = await WeComSimulator.start();
    codes = new HangingCodes();
  });
  afterEach(async () => {
    await close?.();
    close = undefined;
    await sim.close();
  });

  async function boot(timeoutMs: number): Promise<SuiteService> {
    const s = sim.suite();
    const moduleRef = await Test.createTestingModule({
      imports: [
        WeComSuiteModule.forRoot({
          ...s, // suiteId, suiteSecret, callbackToken, encodingAESKey
          permanentCodes: codes,
          baseUrl: sim.baseUrl,
          cache: createCache(),
          timeoutMs,
        }),
      ],
    }).compile();
    await moduleRef.init();
    close = () => moduleRef.close();
    const suite = moduleRef.get(SuiteService);
    const ticket = sim.suiteCallback('suite_ticket');
    await suite.handleCallback(ticket.query, ticket.body);
    return suite;
  }

  async function authorise(suite: SuiteService): Promise<string> {
    const created = sim.suiteCallback('create_auth');
    await suite.handleCallback(created.query, created.body);
    return created.corpId!;
  }

  const hungIds = Array.from({ length: CORP_FETCH_CONCURRENCY }, (_, i) => `wwhung${String(i).padStart(2, '0')}\nforged`);

  it(`${CORP_FETCH_CONCURRENCY} hung corps: a healthy corp is served, the hung callers get a clear error within timeoutMs, and a hung corp is not asked again`, async () => {
    const suite = await boot(400);
    const healthy = await authorise(suite);
    for (const id of hungIds) codes.hang.add(id);
    const hung = hungIds.flatMap((id) => [suite.getCorpToken(id), suite.getCorpToken(id)]);
    for (const p of hung) p.catch(() => undefined);

    const served = suite.getCorpToken(healthy);
    expect(await settles(served, 10_000)).toBe(true);
    await expect(served).resolves.toEqual(expect.any(String));
    expect(sim.calls('/cgi-bin/service/get_corp_token')).toBe(1);

    expect(await settles(Promise.allSettled(hung), 10_000)).toBe(true);
    const outcomes = await Promise.allSettled(hung);
    expect(outcomes.every((o) => o.status === 'rejected')).toBe(true);
    const first = (outcomes[0] as PromiseRejectedResult).reason as Error;
    // The call, the corp (quoted: its newline cannot forge a log line) and the bound.
    expect(first.message).toContain('PermanentCodeStore.get("wwhung00\\nforged")');
    expect(first.message).toContain('400 ms');
    expect(first.message).not.toContain('\n');
    // One store call per hung corp (single flight), and none more while it is pending: a second round fails at once,
    // without a slot, and another healthy corp is still served.
    const again = hungIds.map((id) => suite.getCorpToken(id));
    for (const p of again) p.catch(() => undefined);
    const another = await authorise(suite);
    await expect(suite.getCorpToken(another)).resolves.toEqual(expect.any(String));
    const second = await Promise.allSettled(again);
    expect(second.every((o) => o.status === 'rejected')).toBe(true);
    expect(hungIds.map((id) => codes.gets.get(id))).toEqual(hungIds.map(() => 1));
  });

  it('app.close() settles every caller waiting on a hung store (and on the load slots behind it)', async () => {
    const suite = await boot(60_000);
    for (const id of hungIds) codes.hang.add(id);
    const healthy = await authorise(suite);
    // More callers than slots: some wait on the store, the rest for a slot.
    const waiting = [...hungIds, ...hungIds.map((id) => `${id}-more`)].map((id) => {
      codes.hang.add(id);
      return suite.getCorpToken(id);
    });
    const queued = suite.getCorpToken(healthy);
    const all = Promise.allSettled([...waiting, queued]);
    expect(await settles(all, 200)).toBe(false);
    await close!();
    close = undefined;
    expect(await settles(all, 5_000)).toBe(true);
    const outcomes = await all;
    expect(outcomes.every((o) => o.status === 'rejected')).toBe(true);
    expect(outcomes.every((o) => (o as PromiseRejectedResult).reason instanceof WeComShutdownError)).toBe(true);
  });
});
