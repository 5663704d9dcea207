/**
 * WeComHealthIndicator on @nestjs/terminus 12. Terminus 12 is an ES-module-only package, which jest (CommonJS mode)
 * cannot load, so a plain Node process runs test/health/terminus12-app.cjs against the built dist/ (`npm test`
 * builds it first) with `@nestjs/terminus` pointed at the devDependency alias `@nestjs/terminus-12`, over HTTP.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expectNoneOf } from './support/capture';
import { childEnv, ROOT, run } from './support/npm-package';

describe('WeComHealthIndicator (terminus 12, over HTTP, from dist/)', () => {
  it('is up, then down with 40001 for crm, and polling it costs no further gettoken', async () => {
    if (!existsSync(join(ROOT, 'dist', 'health', 'index.js'))) throw new Error('dist/ is not built: run `npm run build` (npm test does) first');
    const result = await run(process.execPath, [join(ROOT, 'test', 'health', 'terminus12-app.cjs')], { cwd: ROOT, env: childEnv(), timeoutMs: 60_000 });
    expect({ code: result.code, stderr: result.code === 0 ? '' : result.stderr }).toEqual({ code: 0, stderr: '' });
    const seen = JSON.parse(result.stdout.trim().split('\n').pop()!) as {
      terminusVersion: string;
      up: { status: number; body: Record<string, any> };
      down: { status: number; body: Record<string, any> };
      polls: number[];
      gettokenCrm: number;
      issuedTokens: string[];
    };
    expect(seen.terminusVersion).toMatch(/^12\./);
    expect(seen.up.status).toBe(200);
    expect(seen.up.body.info.wecom).toEqual({
      status: 'up',
      apps: { default: { status: 'up', validForSeconds: expect.any(Number) }, crm: { status: 'up', validForSeconds: expect.any(Number) } },
    });
    expect(seen.down.status).toBe(503);
    expect(seen.down.body.error.wecom.apps.crm).toEqual({ status: 'down', errcode: 40001, hint: expect.stringContaining('the secret does not match the corpid') });
    expect(seen.down.body.error.wecom.message).toContain("app 'crm': 40001");
    expect(seen.polls).toEqual(Array(10).fill(503));
    // One gettoken for the first check, one refused: the polls were answered from memory.
    expect(seen.gettokenCrm).toBe(2);
    expectNoneOf(result.output.replace(/"issuedTokens":\[[^\]]*\]/, ''), [...seen.issuedTokens, 'sim-secret-default-0123456789', 'sim-secret-crm-5555555555']);
  });
});
