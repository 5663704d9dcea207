/**
 * HTTPS targets through CONNECT tunnels of a real forward proxy: the simulator behind a TLS front with a certificate
 * made at test time (test/support/tls-front.ts), the application in its own Node process on the built package
 * (test/egress/egress-worker.js) trusting it through NODE_EXTRA_CA_CERTS. Tunnels are counted at the proxy; the
 * simulator sees every request from the proxy's outbound address (127.0.0.2), so none went around the proxy.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { WeComSimulator } from '../lib/testing';
import { expectNoneOf } from './support/capture';
import { ForwardProxy } from './support/forward-proxy';
import { childEnv, ROOT, run } from './support/npm-package';
import { makeCertificate, opensslUnavailableReason, TestCertificate, TlsFront } from './support/tls-front';

const WORKER = join(ROOT, 'test', 'egress', 'egress-worker.js');
const PROXY_USER = 'tunnel-user';
const PROXY_PASSWORD = 'tunnel-Pa55word-never-shown';
const PROXY_BASIC = Buffer.from(`${PROXY_USER}:${PROXY_PASSWORD}`).toString('base64');
const noOpenssl = opensslUnavailableReason();
if (noOpenssl && process.env.CI !== 'true') process.stdout.write(`egress-https: skipped, ${noOpenssl}\n`);
const describeTls = noOpenssl && process.env.CI !== 'true' ? describe.skip : describe;

interface WorkerError {
  name: string;
  failure?: string;
  status?: number;
  code?: string;
  proxy?: string;
  message: string;
  rendered: string;
}

interface WorkerResult {
  ok: number;
  errors: WorkerError[];
  download?: string;
  inspected?: string;
  logs: string;
  crashed?: WorkerError;
}

describeTls('egress to HTTPS targets through CONNECT tunnels (built package, own process)', () => {
  let certificate: TestCertificate;
  let sim: WeComSimulator;
  let front: TlsFront;
  let proxy: ForwardProxy;

  beforeAll(() => {
    if (!existsSync(join(ROOT, 'dist', 'index.js'))) throw new Error('dist/ is not built: run `npm run build` (npm test does) first');
    certificate = makeCertificate();
  });
  afterAll(() => certificate?.remove());

  beforeEach(async () => {
    sim = await WeComSimulator.start();
    front = await TlsFront.start(sim.port, certificate);
    proxy = await ForwardProxy.start({ auth: { user: PROXY_USER, password: PROXY_PASSWORD } });
  });
  afterEach(async () => {
    await proxy.close();
    await front.close();
    await sim.close();
  });

  async function worker(config: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): Promise<{ result: WorkerResult; output: string }> {
    const base = childEnv({ NODE_EXTRA_CA_CERTS: certificate.certPath, ...env });
    for (const key of ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy']) if (!(key in env)) delete base[key];
    // NODE_EXTRA_CA_CERTS: '' asks for a process that does not trust the test certificate.
    if (env.NODE_EXTRA_CA_CERTS === '') delete base.NODE_EXTRA_CA_CERTS;
    const payload = { corpId: sim.corpId, secret: sim.secretOf(), baseUrl: front.baseUrl, ...config };
    const run_ = await run(process.execPath, [WORKER, JSON.stringify(payload)], { cwd: ROOT, env: base, timeoutMs: 60_000 });
    const line = run_.stdout.trim().split('\n').pop() ?? '';
    let result: WorkerResult;
    try {
      result = JSON.parse(line) as WorkerResult;
    } catch {
      throw new Error(`the worker printed no result: ${run_.output.slice(-2000)}`);
    }
    if (result.crashed) throw new Error(`the worker crashed: ${result.crashed.message}`);
    // The password, whole or as the Basic credentials, appears in nothing the process printed or logged.
    expectNoneOf(run_.output, [PROXY_PASSWORD, PROXY_BASIC, encodeURIComponent(PROXY_PASSWORD)]);
    return { result, output: run_.output };
  }

  it('1,000 sequential calls and every kind of request go through a handful of tunnels, all through the proxy', async () => {
    const { result } = await worker({ scenario: 'every-kind', calls: 1000, proxy: proxy.url({ user: PROXY_USER, password: PROXY_PASSWORD }) });
    expect(result.ok).toBe(1000);
    expect(result.download).toBe('through a tunnel');
    // gettoken, both tickets, message/send, upload, download, the HttpService, and the 1,000 calls.
    expect(sim.calls('/cgi-bin/gettoken')).toBe(1);
    expect(sim.calls('/cgi-bin/get_jsapi_ticket')).toBe(1);
    expect(sim.calls('/cgi-bin/ticket/get')).toBe(1);
    expect(sim.calls('/cgi-bin/message/send')).toBe(1);
    expect(sim.calls('/cgi-bin/media/upload')).toBe(1);
    expect(sim.calls('/cgi-bin/media/get')).toBe(1);
    expect(sim.calls('/cgi-bin/department/list')).toBe(1001);
    // Every request reached the simulator from the proxy's outbound address: none went around it.
    expect(new Set(sim.requests.map((r) => r.peer))).toEqual(new Set(['127.0.0.2']));
    // A handful of tunnels, each one TLS connection to the target: kept alive and reused, not one per request.
    expect(proxy.tunnels).toBeGreaterThanOrEqual(1);
    expect(proxy.tunnels).toBeLessThanOrEqual(3);
    expect(front.connections).toBe(proxy.tunnels);
    expect(proxy.connects.every((c) => c.target === front.baseUrl.replace('https://', ''))).toBe(true);
    expect(proxy.forwarded()).toBe(0);
    // The credentials went to the proxy, on the CONNECT only.
    expect(proxy.headerBlocks.every((h) => h.includes(`Proxy-Authorization: Basic ${PROXY_BASIC}`))).toBe(true);
    expect(result.inspected).toContain(proxy.label);
  });

  it('a certificate Node does not trust (no NODE_EXTRA_CA_CERTS, as with a TLS-inspecting proxy) fails the call as a WeComTransportError; nothing reaches WeCom', async () => {
    const { result } = await worker({ scenario: 'one-call', proxy: proxy.url({ user: PROXY_USER, password: PROXY_PASSWORD }) }, { NODE_EXTRA_CA_CERTS: '' });
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0].name).toBe('WeComTransportError');
    expect(result.errors[0].message).toContain(
      'the TLS certificate is not trusted (behind a TLS-inspecting proxy, give Node its CA with NODE_EXTRA_CA_CERTS) (DEPTH_ZERO_SELF_SIGNED_CERT)',
    );
    expect(proxy.tunnels).toBeGreaterThanOrEqual(1);
    expect(sim.requests).toHaveLength(0);
  });

  it("omitted option: the environment's HTTPS_PROXY tunnels too; `proxy: false` ignores it", async () => {
    const env = { HTTPS_PROXY: proxy.url({ user: PROXY_USER, password: PROXY_PASSWORD }) };
    const viaEnv = await worker({ scenario: 'one-call' }, env);
    expect(viaEnv.result.errors).toEqual([]);
    expect(proxy.tunnels).toBe(1);
    expect(new Set(sim.requests.map((r) => r.peer))).toEqual(new Set(['127.0.0.2']));

    proxy.reset();
    sim.resetCounters();
    const direct = await worker({ scenario: 'one-call', proxy: false }, env);
    expect(direct.result.errors).toEqual([]);
    expect(proxy.connects).toHaveLength(0);
    expect(proxy.connections).toBe(0);
    expect(new Set(sim.requests.map((r) => r.peer))).toEqual(new Set(['127.0.0.1']));
  });

  it("a wrong password (407 on CONNECT) and a refused CONNECT (403) are failure 'proxy', naming host and port", async () => {
    const wrong = await worker({ scenario: 'one-call', proxy: proxy.url({ user: PROXY_USER, password: 'not-the-password' }) });
    expect(wrong.result.errors).toHaveLength(1);
    expect(wrong.result.errors[0]).toMatchObject({ name: 'WeComTransportError', failure: 'proxy', status: 407, proxy: proxy.label });
    expect(wrong.result.errors[0].message).toContain(proxy.label);
    expect(wrong.result.errors[0].rendered).not.toContain('not-the-password');
    expect(sim.requests).toHaveLength(0);

    await proxy.close();
    proxy = await ForwardProxy.start({ refuseConnect: () => 403 });
    const refused = await worker({ scenario: 'one-call', proxy: proxy.url() });
    expect(refused.result.errors[0]).toMatchObject({ name: 'WeComTransportError', failure: 'proxy', status: 403, proxy: proxy.label });
    expect(refused.result.errors[0].message).toMatch(/refused the CONNECT/);
    // A refused CONNECT is not retried (the proxy would answer the same): one, not a loop.
    expect(proxy.connects.length).toBe(1);
    expect(sim.requests).toHaveLength(0);
  });
});
