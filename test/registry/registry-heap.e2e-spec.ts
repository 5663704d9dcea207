/**
 * Memory stays bounded however many distinct keys are asked for: a child process (node --expose-gc, the built
 * package from dist/) asks a registry with maxApps 1,000 for 20,000 known and 20,000 unknown keys.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

it('20,000 distinct keys with maxApps 1,000: the heap after GC stays at its level at the bound, has() is false for the evicted', () => {
  if (!existsSync(join(ROOT, 'dist', 'index.js'))) throw new Error('dist/ is missing: run `npm run build` before this test (npm test does)');
  const child = spawnSync(process.execPath, ['--expose-gc', join(__dirname, 'heap-child.js')], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  expect(child.stderr).toBe('');
  const result = JSON.parse(child.stdout.trim()) as { atBound: number; atEnd: number; size: number; evictedHeld: number; recentHeld: number };
  expect(result.size).toBe(1_000);
  expect(result.evictedHeld).toBe(0);
  expect(result.recentHeld).toBe(1_000);
  // Ten times the keys past the bound: the heap may not grow with them (a leak of one entry per key would add
  // well over 20 MB); 4 MB of slack for the allocator and JIT.
  expect(result.atEnd - result.atBound).toBeLessThan(4 * 1024 * 1024);
}, 150_000);
