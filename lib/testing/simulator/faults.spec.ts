import { spawn } from 'node:child_process';
import { request } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { WeComSimulator } from '../wecom-simulator.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A GET over node:http, so that headers, chunks and the end of the body can be watched one by one. */
function get(url: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(url, resolve);
    req.on('error', reject);
    req.end();
  });
}

/** Collects the body until it ends, fails, or `ms` pass; says which. */
function collect(res: IncomingMessage, ms: number): Promise<{ text: string; outcome: 'end' | 'error' | 'timeout' }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const done = (outcome: 'end' | 'error' | 'timeout'): void => {
      clearTimeout(timer);
      resolve({ text: Buffer.concat(chunks).toString('utf8'), outcome });
    };
    const timer = setTimeout(() => done('timeout'), ms);
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.on('end', () => done('end'));
    res.on('error', () => done('error'));
    res.on('aborted', () => done('error'));
  });
}

describe('WeComSimulator hostile faults', () => {
  const opened: WeComSimulator[] = [];

  async function start(): Promise<WeComSimulator> {
    const simulator = await WeComSimulator.start();
    opened.push(simulator);
    return simulator;
  }

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((simulator) => simulator.close()));
  });

  const gettokenUrl = (sim: WeComSimulator): string => `${sim.baseUrl}/cgi-bin/gettoken?corpid=${sim.corpId}&corpsecret=${sim.secretOf()}`;

  describe('echo', () => {
    it('answers an errmsg holding the URL with its query string and the body, with the errcode asked for', async () => {
      const sim = await start();
      sim.failNext('gettoken', { kind: 'echo' });
      const res = await get(gettokenUrl(sim));
      const body = JSON.parse((await collect(res, 2000)).text) as { errcode: number; errmsg: string };
      expect(body.errcode).toBe(40001);
      expect(body.errmsg).toContain(`corpsecret=${sim.secretOf()}`);
      expect(sim.requests[0].fault).toEqual({ kind: 'echo' });
      expect(() => sim.failNext('api', { kind: 'echo', errcode: 0 })).toThrow(/non-zero integer errcode/);
    });
  });

  describe('trickle', () => {
    it('sends the headers at once, then one byte per interval, then spaces, never ending', async () => {
      const sim = await start();
      sim.failNext('gettoken', { kind: 'trickle', intervalMs: 20 });
      const started = Date.now();
      const res = await get(gettokenUrl(sim));
      expect(Date.now() - started).toBeLessThan(200);
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-length']).toBeUndefined();
      expect(res.headers['transfer-encoding']).toBe('chunked');
      const { text, outcome } = await collect(res, 300);
      expect(outcome).toBe('timeout');
      expect(text.length).toBeGreaterThanOrEqual(5);
      expect(text.length).toBeLessThan(20);
      expect('{"errcode":0,"errmsg":"ok","access_token":"').toContain(text);
      // The request was handled: the token exists, as it would when WeCom's answer is slow on the way back.
      expect(sim.issuedTokens()).toHaveLength(1);
      expect(sim.requests[0]).toMatchObject({ status: 200, errcode: 0, fault: { kind: 'trickle', intervalMs: 20 } });
      res.destroy();
    });

    it('ends after `bytes`: a slow truncated body, or a slow whole one followed by spaces', async () => {
      const sim = await start();
      sim.failNext('gettoken', { kind: 'trickle', intervalMs: 5, bytes: 12 });
      const short = await collect(await get(gettokenUrl(sim)), 2000);
      expect(short).toEqual({ text: '{"errcode":0', outcome: 'end' });

      const whole = await (await fetch(gettokenUrl(sim))).text();
      sim.failNext('gettoken', { kind: 'trickle', intervalMs: 1, bytes: whole.length + 3 });
      const long = await collect(await get(gettokenUrl(sim)), 5000);
      expect(long).toEqual({ text: `${whole}   `, outcome: 'end' });
      expect(JSON.parse(long.text)).toMatchObject({ errcode: 0, access_token: sim.currentToken() });
    });

    it('applies to ticket paths and business APIs like any fault', async () => {
      const sim = await start();
      const accessToken = (await (await fetch(gettokenUrl(sim))).json()) as { access_token: string };
      sim.failNext('/cgi-bin/get_jsapi_ticket', { kind: 'trickle', intervalMs: 1, bytes: 10 });
      const res = await get(`${sim.baseUrl}/cgi-bin/get_jsapi_ticket?access_token=${accessToken.access_token}`);
      expect(await collect(res, 2000)).toEqual({ text: '{"errcode"', outcome: 'end' });
      expect(sim.issuedTickets('corp')).toHaveLength(1);
    });
  });

  describe('redirect, status, body', () => {
    it('redirects with a 302 by default and any 3xx on request, issuing nothing', async () => {
      const sim = await start();
      sim.failNext('gettoken', { kind: 'redirect', location: 'http://127.0.0.1:9/steal' });
      sim.failNext('gettoken', { kind: 'redirect', location: '/cgi-bin/gettoken?again=1', status: 307 });
      const first = await fetch(gettokenUrl(sim), { redirect: 'manual' });
      expect(first.status).toBe(302);
      expect(first.headers.get('location')).toBe('http://127.0.0.1:9/steal');
      expect(await first.text()).toContain('302 Found');
      const second = await fetch(gettokenUrl(sim), { redirect: 'manual' });
      expect(second.status).toBe(307);
      expect(second.headers.get('location')).toBe('/cgi-bin/gettoken?again=1');
      expect(sim.issuedTokens()).toEqual([]);
      expect(sim.requests.map((r) => r.status)).toEqual([302, 307]);
    });

    it('answers any status with any body', async () => {
      const sim = await start();
      const page = '<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>';
      sim.failNext('gettoken', { kind: 'status', status: 503, body: page, contentType: 'text/html' });
      sim.failNext('gettoken', { kind: 'status', status: 429 });
      const unavailable = await fetch(gettokenUrl(sim));
      expect(unavailable.status).toBe(503);
      expect(unavailable.headers.get('content-type')).toBe('text/html');
      expect(await unavailable.text()).toBe(page);
      const limited = await fetch(gettokenUrl(sim));
      expect(limited.status).toBe(429);
      expect(limited.headers.get('content-type')).toBe('text/plain; charset=UTF-8');
      expect(await limited.text()).toBe('');
      expect(sim.issuedTokens()).toEqual([]);
    });

    it.each([
      ['an absurd lifetime', '{"errcode":0,"errmsg":"ok","access_token":"x","expires_in":1e12}', 0],
      ['a string errcode', '{"errcode":"0","errmsg":"ok","access_token":"x","expires_in":7200}', undefined],
      ['no expires_in', '{"errcode":0,"errmsg":"ok","access_token":"x"}', 0],
      ['a negative lifetime', '{"errcode":0,"errmsg":"ok","access_token":"x","expires_in":-5}', 0],
      ['not JSON at all', 'ok', undefined],
    ])('answers HTTP 200 with a raw body: %s', async (_name, body, errcode) => {
      const sim = await start();
      sim.failNext('gettoken', { kind: 'body', body });
      const response = await fetch(gettokenUrl(sim));
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/json; charset=UTF-8');
      expect(await response.text()).toBe(body);
      expect(sim.requests[0].errcode).toBe(errcode);
      expect(sim.issuedTokens()).toEqual([]);
    });

    it('sends raw bytes with the content type asked for', async () => {
      const sim = await start();
      const bytes = new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d]);
      sim.failNext('api', { kind: 'body', body: bytes, contentType: 'text/plain' });
      const response = await fetch(`${sim.baseUrl}/cgi-bin/user/get`);
      expect(response.headers.get('content-type')).toBe('text/plain');
      expect([...new Uint8Array(await response.arrayBuffer())]).toEqual([0xef, 0xbb, 0xbf, 0x7b, 0x7d]);
    });

    it('rejects malformed faults where they are queued', async () => {
      const sim = await start();
      expect(() => sim.failNext('gettoken', { kind: 'trickle', intervalMs: 0 })).toThrow(/intervalMs > 0/);
      expect(() => sim.failNext('gettoken', { kind: 'trickle', intervalMs: 5, bytes: 1.5 })).toThrow(/bytes/);
      expect(() => sim.failNext('gettoken', { kind: 'redirect', location: '' })).toThrow(/location/);
      expect(() => sim.failNext('gettoken', { kind: 'redirect', location: '/x', status: 200 })).toThrow(/3xx/);
      expect(() => sim.failNext('gettoken', { kind: 'status', status: 102 })).toThrow(/200 to 599/);
      expect(() => sim.failNext('gettoken', { kind: 'status', status: 600 })).toThrow(/200 to 599/);
      expect(() => sim.failNext('gettoken', { kind: 'body', body: 5 as unknown as string })).toThrow(/body/);
      expect(sim.pendingFaults()).toBe(0);
    });
  });

  describe('close()', () => {
    it('ends trickling, hung and delayed responses promptly', async () => {
      const sim = await start();
      sim.failNext('gettoken', { kind: 'trickle', intervalMs: 10 });
      sim.failNext('gettoken', { kind: 'hang' });
      sim.failNext('gettoken', { kind: 'delay', ms: 60_000 });
      const trickling = await get(gettokenUrl(sim));
      const trickled = collect(trickling, 5000);
      const hung = fetch(gettokenUrl(sim)).then(
        () => 'answered',
        () => 'failed',
      );
      const delayed = fetch(gettokenUrl(sim)).then(
        () => 'answered',
        () => 'failed',
      );
      await sleep(100);
      const closing = Date.now();
      await sim.close();
      expect(Date.now() - closing).toBeLessThan(500);
      const result = await trickled;
      expect(result.outcome).toBe('error');
      expect(result.text.length).toBeGreaterThan(0);
      expect(await hung).toBe('failed');
      expect(await delayed).toBe('failed');
    });

    it('leaves nothing that keeps a process alive', async () => {
      // A separate Node process: it exits on its own only if close() left no socket, server or timer behind.
      // The built simulator (npm test builds dist/ first), as a user's test process loads it.
      const dir = join(__dirname, '../../../dist/testing');
      {
        const script = `
          const http = require('node:http');
          const { WeComSimulator } = require('./index.js');
          (async () => {
            const sim = await WeComSimulator.start();
            const url = sim.baseUrl + '/cgi-bin/gettoken?corpid=' + sim.corpId + '&corpsecret=' + sim.secretOf();
            sim.failNext('gettoken', { kind: 'trickle', intervalMs: 5 });
            sim.failNext('gettoken', { kind: 'hang' });
            sim.failNext('gettoken', { kind: 'delay', ms: 600000 });
            for (let i = 0; i < 3; i += 1) {
              const req = http.get(url, { agent: new http.Agent({ keepAlive: true }) }, (res) => res.resume());
              req.on('error', () => {});
            }
            await new Promise((resolve) => setTimeout(resolve, 100));
            await sim.close();
            console.log('closed');
          })();
        `;
        const child = spawn(process.execPath, ['-e', script], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
        let output = '';
        child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
        const exited = await new Promise<number | 'alive'>((resolve) => {
          const timer = setTimeout(() => {
            child.kill('SIGKILL');
            resolve('alive');
          }, 5000);
          child.on('exit', (code) => {
            clearTimeout(timer);
            resolve(code ?? -1);
          });
        });
        expect({ exited, output: output.trim() }).toEqual({ exited: 0, output: 'closed' });
      }
    });
  });
});
