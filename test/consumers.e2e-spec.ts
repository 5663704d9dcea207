/**
 * The consumer applications under test/consumers/, in the shapes the NestJS starters have, each installing the
 * tarball that `npm pack` makes from the current tree (never the source folder) beside the dependencies pinned by its
 * own lockfile, type-checking its tests with `tsc --noEmit`, then running its e2e against the simulator on every Node
 * version where the starter itself works. Node 22 and 24 come from test/runtimes (see support/runtimes.ts).
 * node_modules persist between runs; only the first run (or a changed lockfile) pays for `npm ci`.
 */
import { NPM, PackedTarball, packTarball, prepareConsumer, PreparedConsumer, run, RunResult } from './support/npm-package';
import { envFor, NodeRuntime, nodeRuntimes } from './support/runtimes';

const CI = process.env.CI === 'true';
const MINUTE = 60_000;

/** Every consumer runs these cases; the titles are how the driver finds them in the output. */
const CASES = [
  /loads the package from the installed tarball, its (CommonJS|ES-module) build only \(Node \d+\.\d+\.\d+\)/,
  /forRoot: getToken fetches once, then serves the held token/,
  /with ScheduleModule.forRoot\(\), the refresh timer is registered in the application's SchedulerRegistry/,
  /forRootAsync with @nestjs\/config: a WeComClient call, replayed once after the token is revoked/,
  /a named app lives beside the default one, with its own token/,
];
const REDIS_CASE = /shares the token through CACHE_MANAGER backed by Redis/;

/** One row of issue 10's table: a starter, and the Node majors where the starter's own tests work. */
interface Row {
  consumer: string;
  label: string;
  runner: 'jest' | 'vitest';
  /** The build the application must load. */
  build: 'CommonJS' | 'ES-module';
  nodes: number[];
  /** Whether it also runs the Redis case (CACHE_MANAGER on @keyv/redis, RedisTokenLock). */
  redis: boolean;
  /** Why some Node majors are left out. */
  note?: string;
}

const ROWS: Row[] = [
  {
    consumer: 'nest12-cjs',
    label: 'NestJS 12 default starter (CommonJS, jest 30 --experimental-vm-modules, ts-jest, TypeScript 6)',
    runner: 'jest',
    build: 'CommonJS',
    nodes: [24],
    redis: false,
    note: "on Node 20/22 the starter's own tests fail without this package too (jest require()s ES modules only on Node >= 24.9)",
  },
  { consumer: 'nest12-esm', label: 'NestJS 12 ES-module starter (vitest 4, TypeScript 6)', runner: 'vitest', build: 'ES-module', nodes: [20, 22, 24], redis: true },
  { consumer: 'nest11-cjs', label: 'NestJS 11 starter (jest 30, ts-jest, CommonJS)', runner: 'jest', build: 'CommonJS', nodes: [20, 22, 24], redis: true },
  {
    consumer: 'nest12-jest-esm',
    label: 'jest 30 in ES-module mode (extensionsToTreatAsEsm, ts-jest useESM), NestJS 12',
    runner: 'jest',
    build: 'ES-module',
    nodes: [20, 22, 24],
    redis: false,
  },
];
const MAJORS = [20, 22, 24];

interface Counts {
  total: number;
  passed: number;
  failed: number;
  skipped: number;
}

/** The test lines and summary of a run, for the log. */
function testLines(result: RunResult): string[] {
  return result.output.split('\n').filter((line) => /^\s*[✓✔✕✖×↓○]|^\s*(Tests|Test Suites|Test Files):?\s/.test(line));
}

/** `Tests: 1 skipped, 4 passed, 5 total` (jest) or `Tests  1 failed | 4 passed | 1 skipped (6)` (vitest). */
function counts(runner: Row['runner'], output: string): Counts {
  const line = (runner === 'jest' ? /^Tests:\s+(.*)$/m : /^\s*Tests\s+(.*)$/m).exec(output)?.[1] ?? '';
  const count = (word: string) => Number(new RegExp(`(\\d+) ${word}`).exec(line)?.[1] ?? 0);
  const total = runner === 'jest' ? count('total') : Number(/\((\d+)\)/.exec(line)?.[1] ?? 0);
  return { total, passed: count('passed'), failed: count('failed'), skipped: count('skipped') };
}

function expectGreen(row: Row, runtime: NodeRuntime, result: RunResult): void {
  if (result.code !== 0) throw new Error(`${row.consumer} on Node ${runtime.version} failed (exit ${result.code ?? result.signal}):\n${result.output}`);
  const { total, passed, failed, skipped } = counts(row.runner, result.output);
  expect(failed).toBe(0);
  expect(total).toBe(CASES.length + (row.redis ? 1 : 0));
  expect(passed + skipped).toBe(total);
  // Only the Redis case may be skipped, and never under CI.
  expect(skipped).toBeLessThanOrEqual(row.redis && !CI ? 1 : 0);
  const passedLines = result.output.split('\n').filter((line) => /^\s*[✓✔]/.test(line));
  for (const title of CASES) expect({ title: String(title), passed: passedLines.some((line) => title.test(line)) }).toEqual({ title: String(title), passed: true });
  // It ran on the Node it was given, and loaded the build it should.
  expect(passedLines.find((line) => CASES[0].test(line))).toContain(`its ${row.build} build only (Node ${runtime.version})`);
  if (row.redis && skipped === 0) expect(passedLines.some((line) => REDIS_CASE.test(line))).toBe(true);
}

/** What the table at the end shows per cell. */
const cells = new Map<string, string>();
const cellKey = (row: Row, major: number) => `${row.consumer} ${major}`;

function table(runtimes: Map<number, NodeRuntime> | undefined, totalMs: number): string {
  const head = MAJORS.map((major) => `Node ${runtimes?.get(major)?.version ?? major}`);
  const rows = ROWS.map((row) => {
    const label = `${row.label} [${row.consumer}]`;
    return [
      label,
      cells.get(`${row.consumer} tsc`) ?? 'not run',
      ...MAJORS.map((major) => (row.nodes.includes(major) ? (cells.get(cellKey(row, major)) ?? 'not run') : 'not a row')),
    ];
  });
  const all = [['consumer', 'tsc --noEmit', ...head], ...rows];
  const widths = all[0].map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  const notes = ROWS.filter((row) => row.note).map((row) => `${row.consumer}: ${row.note}`);
  return [line(all[0]), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line), ...notes, `consumers: ${(totalMs / 1000).toFixed(1)} s in all`].join('\n');
}

describe('consumer applications, installed from the npm tarball, on Node 20, 22 and 24', () => {
  let packed: PackedTarball;
  let runtimes: Map<number, NodeRuntime> | undefined;
  const started = Date.now();

  beforeAll(async () => {
    packed = await packTarball();
    runtimes = await nodeRuntimes(MAJORS);
  }, 10 * MINUTE);

  afterAll(() => {
    packed?.remove();
    console.log(table(runtimes, Date.now() - started));
  });

  describe.each(ROWS)('$label [$consumer]', (row) => {
    let prepared: PreparedConsumer | undefined;

    beforeAll(async () => {
      prepared = await prepareConsumer(row.consumer, packed);
    }, 12 * MINUTE);

    afterAll(() => prepared?.release());

    it(
      'type-checks its application and tests with tsc --noEmit',
      async () => {
        const result = await run(NPM, ['run', 'typecheck'], { cwd: prepared!.dir, timeoutMs: 5 * MINUTE });
        cells.set(`${row.consumer} tsc`, result.code === 0 ? `pass ${(result.ms / 1000).toFixed(1)} s` : 'FAIL');
        if (result.code !== 0) throw new Error(`tsc --noEmit in ${row.consumer} failed:\n${result.output}`);
      },
      6 * MINUTE,
    );

    it.each(row.nodes)(
      'runs its e2e on Node %s: forRoot, ScheduleModule, forRootAsync, WeComClient after a revocation, a named app',
      async (major) => {
        const runtime = runtimes!.get(major)!;
        cells.set(cellKey(row, major), 'FAIL');
        const args = ['run', 'test:e2e', ...(row.runner === 'vitest' ? ['--', '--reporter=verbose'] : [])];
        const result = await run(NPM, args, { cwd: prepared!.dir, env: envFor(runtime), timeoutMs: 5 * MINUTE });
        console.log(
          `${row.consumer} on Node ${runtime.version} (${runtime.source}): exit ${result.code}, ${result.ms} ms (dependencies ${prepared!.dependencies})\n${testLines(result).join('\n')}`,
        );
        expectGreen(row, runtime, result);
        const { passed, total } = counts(row.runner, result.output);
        cells.set(cellKey(row, major), `pass ${passed}/${total} ${(result.ms / 1000).toFixed(1)} s`);
      },
      6 * MINUTE,
    );
  });
});
