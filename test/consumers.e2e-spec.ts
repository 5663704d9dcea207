/**
 * The consumer applications under test/consumers/, each installing the tarball that `npm pack` makes from the
 * current tree (never the source folder) beside the dependencies pinned by its own lockfile, then running its e2e
 * against the simulator: a NestJS 11 CommonJS app under jest, a NestJS 12 ES-module app under node:test.
 * Their node_modules persist between runs; only the first run (or a changed lockfile) pays for `npm ci`.
 */
import { NPM, PackedTarball, packTarball, prepareConsumer, run, RunResult } from './support/npm-package';

const CI = process.env.CI === 'true';
const MINUTE = 60_000;

/** Every consumer runs these cases; the titles are how the driver finds them in the output. */
const CASES = [
  /(loads|imports) the (package|CommonJS build) from the installed tarball/,
  /forRoot: getToken fetches once, then serves the held token/,
  /with ScheduleModule.forRoot\(\), the refresh timer is registered in the application's SchedulerRegistry/,
  /forRootAsync with @nestjs\/config: a WeComClient call, replayed once after the token is revoked/,
  /a named app lives beside the default one, with its own token/,
];
const REDIS_CASE = /shares the token through CACHE_MANAGER backed by Redis/;

interface Counts {
  total: number;
  passed: number;
  failed: number;
  skipped: number;
}

/** What a consumer's test run printed that a reader needs: the test lines and the summary. */
function summary(name: string, dependencies: string, result: RunResult): string {
  const lines = result.output.split('\n').filter((line) => /[✓✔✕✖○﹣]|^(Tests|Test Suites):|^ℹ (tests|pass|fail|skipped|cancelled)/.test(line.trim()));
  return `${name}: exit ${result.code}, ${result.ms} ms (dependencies ${dependencies})\n${lines.join('\n')}`;
}

/** `Tests: 1 skipped, 4 passed, 5 total` (jest). */
function jestCounts(output: string): Counts {
  const line = /^Tests:\s+(.*)$/m.exec(output)?.[1] ?? '';
  const count = (word: string) => Number(new RegExp(`(\\d+) ${word}`).exec(line)?.[1] ?? 0);
  return { total: count('total'), passed: count('passed'), failed: count('failed'), skipped: count('skipped') };
}

/** `ℹ tests 5` / `ℹ pass 5` / `ℹ fail 0` / `ℹ skipped 0` (node:test spec reporter). */
function nodeTestCounts(output: string): Counts {
  const count = (word: string) => Number(new RegExp(`^ℹ ${word} (\\d+)$`, 'm').exec(output)?.[1] ?? NaN);
  return { total: count('tests'), passed: count('pass'), failed: count('fail'), skipped: count('skipped') };
}

function expectGreen(result: RunResult, counts: Counts, passMark: string): void {
  if (result.code !== 0) throw new Error(`consumer tests failed (exit ${result.code ?? result.signal}):\n${result.output}`);
  expect(counts.failed).toBe(0);
  expect(counts.total).toBe(CASES.length + 1);
  expect(counts.passed + counts.skipped).toBe(counts.total);
  // Only the Redis case may be skipped, and never under CI.
  expect(counts.skipped).toBeLessThanOrEqual(CI ? 0 : 1);
  const passedLines = result.output.split('\n').filter((line) => line.trim().startsWith(passMark));
  for (const title of CASES) expect(passedLines.some((line) => title.test(line))).toBe(true);
  if (counts.skipped === 0) expect(passedLines.some((line) => REDIS_CASE.test(line))).toBe(true);
}

describe('consumer applications, installed from the npm tarball', () => {
  let packed: PackedTarball;

  beforeAll(async () => {
    packed = await packTarball();
  }, 2 * MINUTE);

  afterAll(() => packed?.remove());

  it(
    'NestJS 11, CommonJS, jest + ts-jest: forRoot, ScheduleModule, forRootAsync, WeComClient with a revocation replayed, a named app, the shared Redis cache',
    async () => {
      const { dir, dependencies, release } = await prepareConsumer('nest11-cjs', packed);
      const result = await run(NPM, ['test'], { cwd: dir, timeoutMs: 5 * MINUTE }).finally(release);
      console.log(summary('nest11-cjs', dependencies, result));
      expectGreen(result, jestCounts(result.output), '✓');
    },
    12 * MINUTE,
  );

  it(
    'NestJS 12, ES modules ("type": "module", tsc), node:test: the same cases, one copy of each class between import and require',
    async () => {
      const { dir, dependencies, release } = await prepareConsumer('nest12-esm', packed);
      const result = await run(NPM, ['test'], { cwd: dir, timeoutMs: 5 * MINUTE }).finally(release);
      console.log(summary('nest12-esm', dependencies, result));
      expectGreen(result, nodeTestCounts(result.output), '✔');
    },
    12 * MINUTE,
  );
});
