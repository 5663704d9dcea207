/**
 * The benchmarks cannot rot: `node bench/run.js --smoke` runs every part with tiny sizes against the built dist/
 * (built by `npm test` before jest) in a child process. This asserts behaviour, never timings: it exits 0, prints
 * every section and the summary table, fails no part, and does not write bench/RESULTS.md.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..');
const results = join(root, 'bench', 'RESULTS.md');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runSmoke(): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(root, 'bench', 'run.js'), '--smoke'],
      { cwd: root, timeout: 150_000, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, env: { ...process.env, BENCH_SMOKE: '1' } },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The parts of bench/run.js, by their section titles. */
const PARTS = [
  '1. hot path',
  '2. herd',
  '3. interceptor overhead',
  '4. refresh boundary',
  '5. fleet',
  '6. scale',
  '7. tickets',
  '8. tenants',
  '9. callbacks',
  '10. identity',
  '11. egress',
];

describe('bench smoke run', () => {
  let run: Run;
  let resultsBefore: string | undefined;

  beforeAll(async () => {
    resultsBefore = existsSync(results) ? readFileSync(results, 'utf8') : undefined;
    run = await runSmoke();
  }, 170_000);

  it('exits 0', () => {
    if (run.code !== 0) throw new Error(`bench/run.js --smoke exited ${run.code}\n${run.stdout.slice(-4000)}\n${run.stderr.slice(-4000)}`);
  });

  it.each([...PARTS, 'summary'])('prints the section %s', (title) => {
    expect(run.stdout).toContain(`== ${title} ==`);
  });

  it('prints a row of the summary table for every part, and no part failed', () => {
    const table = run.stdout.slice(run.stdout.indexOf('== summary =='));
    for (const part of PARTS) expect(table).toContain(part);
    expect(run.stdout).not.toContain('FAILED');
  });

  it('runs the fleet part or says why it was skipped', () => {
    const fleet = run.stdout.slice(run.stdout.indexOf('== 5. fleet =='), run.stdout.indexOf('== 6. scale =='));
    expect(fleet).toMatch(/P=1 × \d+: RedisTokenLock|SKIPPED: /);
  });

  it('does not write bench/RESULTS.md in smoke mode', () => {
    expect(run.stdout).toContain('smoke run: bench/RESULTS.md not written');
    expect(existsSync(results) ? readFileSync(results, 'utf8') : undefined).toBe(resultsBefore);
  });
});
