/*
 * Run by registry-unknown.e2e-spec.ts as `node --expose-gc`: loads the BUILT package from dist/, asks a registry
 * with the default maxApps (10,000) and a loader that knows no key for 30,000 distinct keys, once each, and prints
 * as one JSON line the heap after GC after 5,000 and after 30,000 keys, and the unknown keys remembered then.
 */
'use strict';
require('reflect-metadata');
const { join } = require('node:path');
const { NestFactory } = require('@nestjs/core');
const { WeComAppRegistry, WeComTokenModule } = require(join(__dirname, '..', '..', 'dist'));

function heapAfterGc() {
  for (let i = 0; i < 3; i++) global.gc();
  return process.memoryUsage().heapUsed;
}

async function main() {
  class UnknownModule {}
  let loaderCalls = 0;
  const imports = [
    WeComTokenModule.forRegistry({
      baseUrl: 'http://127.0.0.1:9',
      loader: async () => {
        loaderCalls++;
        return undefined;
      },
    }),
  ];
  const app = await NestFactory.createApplicationContext({ module: UnknownModule, imports }, { logger: false });
  const registry = app.get(WeComAppRegistry);
  const ask = async (from, to) => {
    for (let i = from; i < to; i += 500) {
      await Promise.all(Array.from({ length: Math.min(500, to - i) }, (_, j) => registry.tokens(`unknown-${i + j}`).catch((e) => e.name)));
    }
  };
  await ask(0, 5_000);
  const early = { heapUsed: heapAfterGc(), remembered: registry.unknownRemembered };
  await ask(5_000, 30_000);
  const late = { heapUsed: heapAfterGc(), remembered: registry.unknownRemembered };
  // The most recent unknown key is still remembered: asking again costs no loader call.
  const before = loaderCalls;
  await registry.tokens('unknown-29999').catch(() => undefined);
  const result = { early, late, size: registry.size, loaderCalls, recentAskedAgain: loaderCalls - before };
  await app.close();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error && error.stack}\n`);
  process.exitCode = 1;
});
