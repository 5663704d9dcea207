/*
 * Run with `node --expose-gc`: boots WeComSuiteModule from the BUILT package with an in-memory cache and asks for
 * corps that never authorised (getCorpToken and clientFor on distinct ids), then prints, as one JSON line, the heap
 * after a full GC at each checkpoint and the credentials and clients the suite still holds.
 * argv[2]: JSON { checkpoints: number[] } (cumulative numbers of distinct ids).
 */
'use strict';
require('reflect-metadata');
const { join } = require('node:path');
const { NestFactory } = require('@nestjs/core');
const { createCache } = require('cache-manager');
const { SuiteService, WeComSuiteModule } = require(join(__dirname, '..', '..', 'dist'));

const { checkpoints } = JSON.parse(process.argv[2]);

function heapAfterGc() {
  for (let i = 0; i < 3; i++) global.gc();
  return process.memoryUsage().heapUsed;
}

async function main() {
  class TenantsModule {}
  const codes = { get: async () => undefined, set: async () => undefined, delete: async () => undefined };
  const app = await NestFactory.createApplicationContext(
    {
      module: TenantsModule,
      imports: [
        WeComSuiteModule.forRoot({
          suiteId: 'wwsuitetenants0001',
          suiteSecret: 'tenants-suite-secret-0123456789',
          callbackToken: 'tenantscallbacktoken',
          encodingAESKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
          permanentCodes: codes,
          cache: createCache(),
          baseUrl: 'http://127.0.0.1:9',
        }),
      ],
    },
    { logger: false, abortOnError: false },
  );
  const suite = app.get(SuiteService);
  const reasons = new Set();
  const figures = [];
  let asked = 0;
  for (const target of checkpoints) {
    for (; asked < target; asked++) {
      const id = `wwunknown${String(asked).padStart(8, '0')}`;
      suite.clientFor(id);
      await suite.getCorpToken(id).then(
        () => reasons.add('served'),
        (error) => reasons.add(error.reason || error.name),
      );
    }
    // Let the clean-up scheduled after the last answers run.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    figures.push({ ids: asked, heapUsed: heapAfterGc(), credentials: suite.credentials.corpCount, clients: suite.clientCount });
  }
  await app.close();
  process.stdout.write(`${JSON.stringify({ figures, reasons: [...reasons] })}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error && error.stack}\n`);
  process.exitCode = 1;
});
