import { inspect } from 'node:util';
import { WeComConfigError } from '../common/errors/wecom-config.error.js';
import { ProxyUrl } from '../common/proxy-url.js';
import { resolveConfig } from '../common/wecom-token.config.js';
import { EgressPool, resolveEgress } from './egress.js';
import { ProxyForwardAgent, ProxyTunnelAgent } from './egress-agents.js';

const PASSWORD = 'sp3cial/pa:ss@word';
const URL_WITH_PASSWORD = `http://alice:${encodeURIComponent(PASSWORD)}@proxy.corp.example:3128`;
const BASIC = Buffer.from(`alice:${PASSWORD}`).toString('base64');
const ENV_KEYS = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy'];

function shown(value: unknown): string {
  return `${inspect(value, { depth: 8, showHidden: true })}\n${JSON.stringify(value)}\n${String(value)}`;
}

describe('egress resolution', () => {
  const saved: Record<string, string | undefined> = {};
  beforeEach(() => {
    for (const key of ENV_KEYS) {
      saved[key] = process.env[key];
      delete process.env[key];
    }
  });
  afterEach(() => {
    for (const key of ENV_KEYS) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  });

  it('a proxy URL: CONNECT agent for https targets, absolute-form agent for http ones, axios proxying off', () => {
    const egress = resolveEgress(URL_WITH_PASSWORD, 'https://qyapi.weixin.qq.com');
    expect(egress.mode).toBe('proxy');
    expect(egress.via).toBe('http://proxy.corp.example:3128');
    expect(egress.axios.proxy).toBe(false);
    expect(egress.axios.httpsAgent).toBeInstanceOf(ProxyTunnelAgent);
    expect(egress.axios.httpAgent).toBeInstanceOf(ProxyForwardAgent);
    expect((egress.axios.httpsAgent as ProxyTunnelAgent).keepAlive).toBe(true);
    egress.close();
  });

  it('the password is in no inspect, JSON or string of the URL, the egress or its agents', () => {
    const egress = resolveEgress(URL_WITH_PASSWORD, 'https://qyapi.weixin.qq.com');
    const config = resolveConfig({ corpId: 'ww1', secret: 'a-secret-of-an-app', proxy: URL_WITH_PASSWORD }, 'default');
    const text = [egress, egress.axios, egress.axios.httpsAgent, egress.axios.httpAgent, config, config.proxy, ProxyUrl.parse(URL_WITH_PASSWORD)].map(shown).join('\n');
    for (const secret of [PASSWORD, encodeURIComponent(PASSWORD), BASIC]) expect(text).not.toContain(secret);
    expect(text).toContain('proxy.corp.example:3128');
    expect(String(config.proxy)).toBe('http://proxy.corp.example:3128 (with credentials)');
    egress.close();
  });

  it('`false`: direct, whatever HTTPS_PROXY says', () => {
    process.env.HTTPS_PROXY = 'http://proxy.corp.example:3128';
    const egress = resolveEgress(false, 'https://qyapi.weixin.qq.com');
    expect(egress).toMatchObject({ mode: 'direct', axios: { proxy: false } });
    expect(egress.axios.httpsAgent).toBeUndefined();
    expect(egress.via).toBeUndefined();
  });

  it('omitted: direct when the environment names no proxy, else the environment per target with NO_PROXY', () => {
    expect(resolveEgress(undefined, 'https://qyapi.weixin.qq.com')).toMatchObject({ mode: 'direct', axios: { proxy: false } });
    process.env.https_proxy = 'http://lower.example:8080';
    process.env.HTTPS_PROXY = 'http://upper.example:8080';
    const viaEnv = resolveEgress(undefined, 'https://qyapi.weixin.qq.com');
    expect(viaEnv).toMatchObject({ mode: 'environment', via: 'http://lower.example:8080' });
    // HTTP_PROXY is not used for an https target, nor HTTPS_PROXY for an http one.
    expect(resolveEgress(undefined, 'http://127.0.0.1:9999').via).toBeUndefined();
    process.env.NO_PROXY = '.weixin.qq.com';
    expect(resolveEgress(undefined, 'https://qyapi.weixin.qq.com').via).toBeUndefined();
    expect(resolveEgress(undefined, 'https://api.example.com').via).toBe('http://lower.example:8080');
    viaEnv.close();
  });

  it('an environment proxy that is not http(s) fails at start-up naming the variable, never its value', () => {
    process.env.ALL_PROXY = `socks5://alice:${encodeURIComponent(PASSWORD)}@127.0.0.1:1080`;
    let error: unknown;
    try {
      resolveEgress(undefined, 'https://qyapi.weixin.qq.com');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(WeComConfigError);
    expect(String(error)).toMatch(/ALL_PROXY uses socks5:\/\//);
    expect(shown(error)).not.toContain(encodeURIComponent(PASSWORD));
  });

  it.each([
    ['ftp://proxy:21', /uses ftp:\/\//],
    ['http://proxy:3128/path', /no path or query/],
    ['http://proxy:3128?x=1', /no path or query/],
    ['not a url', /is not a URL/],
    ['http://al%ZZice:pw@proxy:3128', /percent-encoding/],
  ])('option proxy %s is refused at start-up, naming the option', (value, reason) => {
    expect(() => resolveConfig({ corpId: 'ww1', secret: 'a-secret-of-an-app', proxy: value }, 'crm')).toThrow(reason);
    expect(() => resolveConfig({ corpId: 'ww1', secret: 'a-secret-of-an-app', proxy: value }, 'crm')).toThrow(/option 'proxy' of app 'crm'/);
  });

  it('non-string proxy options are refused, false and undefined accepted', () => {
    for (const value of [null, 0, true, '', '   ', {}]) {
      expect(() => resolveConfig({ corpId: 'ww1', secret: 'a-secret-of-an-app', proxy: value as unknown as string }, 'crm')).toThrow(
        /option 'proxy' of app 'crm' must be a proxy URL/,
      );
    }
    expect(resolveConfig({ corpId: 'ww1', secret: 'a-secret-of-an-app', proxy: false }, 'crm').proxy).toBe(false);
    expect(resolveConfig({ corpId: 'ww1', secret: 'a-secret-of-an-app' }, 'crm').proxy).toBeUndefined();
  });

  it('a pool shares the agents of one proxy between apps, and keeps another password apart', () => {
    const pool = new EgressPool();
    const a = pool.egressFor(URL_WITH_PASSWORD, 'https://qyapi.weixin.qq.com');
    const b = pool.egressFor(ProxyUrl.parse(URL_WITH_PASSWORD), 'https://qyapi.weixin.qq.com');
    const c = pool.egressFor('http://bob:other@proxy.corp.example:3128', 'https://qyapi.weixin.qq.com');
    expect(b.axios.httpsAgent).toBe(a.axios.httpsAgent);
    expect(c.axios.httpsAgent).not.toBe(a.axios.httpsAgent);
    const destroyed = jest.spyOn(a.axios.httpsAgent as ProxyTunnelAgent, 'destroy');
    a.close(); // pooled: the pool owns the agents
    expect(destroyed).not.toHaveBeenCalled();
    pool.close();
    expect(destroyed).toHaveBeenCalledTimes(1);
    expect(shown(pool)).not.toContain(PASSWORD);
  });
});
