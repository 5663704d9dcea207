/*
 * Run by registry-heap.e2e-spec.ts as `node --expose-gc`: loads the BUILT package from dist/, asks a registry with
 * maxApps 1,000 for 20,000 distinct known keys and 20,000 unknown ones, and reports the heap after GC at the bound
 * and at the end, the number held, and has() for the evicted. Prints one JSON line.
 */
'use strict';
require('reflect-metadata');
const { join } = require('node:path');
const { NestFactory } = require('@nestjs/core');
const { WeComAppRegistry, WeComTokenModule } = require(join(__dirname, '..', '..', 'dist'));

const MAX_APPS = 1_000;
const KEYS = 20_000;

function heapAfterGc() {
  global.gc();
  global.gc();
  return process.memoryUsage().heapUsed;
}

async function main() {
  class HeapModule {}
  const imports = [
    WeComTokenModule.forRegistry({
      baseUrl: 'http://127.0.0.1:9',
      maxApps: MAX_APPS,
      loader: async (key) => (key.startsWith('known-') ? { corpId: `wwheap${key}`, secret: `heap-secret-${key}-0123456789` } : undefined),
    }),
  ];
  const app = await NestFactory.createApplicationContext({ module: HeapModule, imports }, { logger: false });
  const registry = app.get(WeComAppRegistry);
  const ask = async (from, to) => {
    for (let i = from; i < to; i += 100) {
      await Promise.all(Array.from({ length: Math.min(100, to - i) }, (_, j) => registry.tokens(`known-${i + j}`)));
      await Promise.all(Array.from({ length: Math.min(100, to - i) }, (_, j) => registry.tokens(`unknown-${i + j}`).catch(() => undefined)));
    }
  };
  await ask(0, 2 * MAX_APPS);
  const atBound = heapAfterGc();
  await ask(2 * MAX_APPS, KEYS);
  const atEnd = heapAfterGc();
  let evictedHeld = 0;
  for (let i = 0; i < KEYS - MAX_APPS; i++) if (registry.has(`known-${i}`)) evictedHeld++;
  let recentHeld = 0;
  for (let i = KEYS - MAX_APPS; i < KEYS; i++) if (registry.has(`known-${i}`)) recentHeld++;
  const result = { atBound, atEnd, size: registry.size, evictedHeld, recentHeld };
  await app.close();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error && error.stack}\n`);
  process.exitCode = 1;
});
