/**
 * Unknown keys are caller-chosen (a tenant id in a URL): asking for ever new ones must not grow memory. A child
 * process (node --expose-gc, the built package from dist/) asks a registry with the default maxApps for 30,000
 * distinct unknown keys once each; the memory of unknown keys stays at its bound and the heap after GC stays flat.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

it('30,000 distinct unknown keys: at most 1,000 remembered, the heap after GC flat from 5,000 on, the latest still answered without the loader', () => {
  if (!existsSync(join(ROOT, 'dist', 'index.js'))) throw new Error('dist/ is missing: run `npm run build` before this test (npm test does)');
  const child = spawnSync(process.execPath, ['--expose-gc', join(__dirname, 'unknown-child.js')], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  expect(child.stderr).toBe('');
  const result = JSON.parse(child.stdout.trim()) as {
    early: { heapUsed: number; remembered: number };
    late: { heapUsed: number; remembered: number };
    size: number;
    loaderCalls: number;
    recentAskedAgain: number;
  };
  expect(result.size).toBe(0);
  expect(result.loaderCalls).toBe(30_000);
  expect(result.early.remembered).toBe(1_000);
  expect(result.late.remembered).toBe(1_000);
  expect(result.recentAskedAgain).toBe(0);
  // 25,000 more keys: one entry kept per key would add megabytes; 1 MiB of slack for the allocator and JIT.
  expect(result.late.heapUsed - result.early.heapUsed).toBeLessThan(1024 * 1024);
}, 150_000);
