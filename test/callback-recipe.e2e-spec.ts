/**
 * Issue 18.4: the suite callback recipe of docs/third-party.md works AS PASTED, on Express and on Fastify. The
 * controller block and each platform's bootstrap block are read from the page, transpiled as they are, and booted on
 * a real port; a signed suite_ticket POSTed as text/xml is answered 'success' and kept, the URL check answers the echo.
 */
import { Logger, Module, type INestApplication } from '@nestjs/common';
import * as nestCommon from '@nestjs/common';
import * as nestCore from '@nestjs/core';
import * as nestFastify from '@nestjs/platform-fastify';
import { readFileSync } from 'node:fs';
import { runInThisContext } from 'node:vm';
import { join } from 'node:path';
import * as ts from 'typescript';
import * as pkg from '../lib/index';
import { SuiteService, WeComSuiteModule } from '../lib/index';
import type { PermanentCodeStore } from '../lib/index';
import { WeComSimulator } from '../lib/testing';

const PAGE = join(__dirname, '..', 'docs', 'third-party.md');

/** The ```ts block of the page that contains `marker`. */
function block(marker: string): string {
  const blocks = [...readFileSync(PAGE, 'utf8').matchAll(/```ts\n([\s\S]*?)\n```/g)].map((m) => m[1] ?? '');
  const found = blocks.filter((code) => code.includes(marker));
  if (found.length !== 1) throw new Error(`docs/third-party.md: expected one ts block with '${marker}', found ${found.length}`);
  return found[0] ?? '';
}

/** A block as a module: transpiled as written, `nestjs-wecom-token` resolved to this package, free names given. */
function load(code: string, free: Record<string, unknown> = {}): Record<string, unknown> {
  const js = ts.transpileModule(code, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, experimentalDecorators: true, emitDecoratorMetadata: true },
  }).outputText;
  const exports: Record<string, unknown> = {};
  const modules: Record<string, unknown> = { 'nestjs-wecom-token': pkg, '@nestjs/common': nestCommon, '@nestjs/core': nestCore, '@nestjs/platform-fastify': nestFastify };
  const localRequire = (id: string): unknown => {
    if (!(id in modules)) throw new Error(`docs/third-party.md imports '${id}', which this test does not provide`);
    return modules[id];
  };
  const run = runInThisContext(`(function (require, exports, Reflect, ${Object.keys(free).join(', ')}) {\n${js}\n})`) as (...args: unknown[]) => void;
  // This context's Reflect (with reflect-metadata), for the decorators' design types.
  run(localRequire, exports, Reflect, ...Object.values(free));
  return exports;
}

class Codes implements PermanentCodeStore {
  async get(): Promise<string | undefined> {
    return undefined;
  }
  async set(): Promise<void> {}
  async delete(): Promise<void> {}
}

describe('the suite callback recipe of docs/third-party.md, as pasted (issue 18.4)', () => {
  let sim: WeComSimulator;
  let app: INestApplication | undefined;

  beforeAll(() => Logger.overrideLogger(false));
  afterAll(() => Logger.overrideLogger(['log', 'warn', 'error']));
  beforeEach(async () => {
    sim = await WeComSimulator.start();
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await sim.close();
  });

  it.each([
    ['Express', 'NestExpressApplication'],
    ['Fastify', 'FastifyAdapter'],
  ])('on %s: a signed suite_ticket POSTed as text/xml → success, kept', async (_platform, marker) => {
    const { SuiteCallbackController } = load(block('class SuiteCallbackController'));
    const s = sim.suite();
    @Module({
      imports: [
        WeComSuiteModule.forRoot({
          ...s, // suiteId, suiteSecret, callbackToken, encodingAESKey
          permanentCodes: new Codes(),
          baseUrl: sim.baseUrl,
        }),
      ],
      controllers: [SuiteCallbackController as new () => object],
    })
    class AppModule {}
    const { bootstrap } = load(block(marker), { AppModule });
    app = await (bootstrap as (port: number) => Promise<INestApplication>)(0);
    const { port } = app.getHttpServer().address() as { port: number };
    const url = (query: Record<string, string>) => `http://127.0.0.1:${port}/wecom/suite/callback?${new URLSearchParams(query).toString()}`;

    const check = sim.urlVerification();
    const echo = await fetch(url(check.query));
    expect(echo.status).toBe(200);
    expect(await echo.text()).toBe(check.expected);

    for (const contentType of ['text/xml', 'application/xml; charset=utf-8']) {
      const ticket = sim.suiteCallback('suite_ticket');
      const posted = await fetch(url(ticket.query), { method: 'POST', headers: { 'content-type': contentType }, body: ticket.body });
      expect({ status: posted.status, body: await posted.text() }).toEqual({ status: 200, body: 'success' });
      expect((await app.get(SuiteService).credentials.readTicket())?.ticket).toBe(ticket.suiteTicket);
    }
  });
});
