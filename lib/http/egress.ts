/**
 * How the requests of one app (or suite, or registry app) leave the process: through its forward proxy, through the
 * environment's HTTPS_PROXY / HTTP_PROXY / NO_PROXY, or directly. {@link resolveEgress} is the one place that decides,
 * from the `proxy` option and the `baseUrl`; everything that builds an axios instance for the app spreads
 * `egress.axios` into it, which also turns off axios' own environment-proxy handling (it does not tunnel HTTPS).
 */
import type { Agent as HttpAgent } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import { inspect } from 'node:util';
import type { EgressAxiosConfig } from '../common/credential-request.js';
import { WeComConfigError } from '../common/errors/wecom-config.error.js';
import { ProxyFailure, ProxyUrl } from '../common/proxy-url.js';
import { EnvironmentProxyRouter, environmentHasProxy, proxyAgents, ProxyAgents } from './egress-agents.js';

export type { EgressAxiosConfig } from '../common/credential-request.js';

/** The `proxy` option: a URL (or an already parsed one), `false` for never, `undefined` for the environment's. */
export type WeComProxyOption = string | ProxyUrl | false | undefined;

/** How one app's requests leave the process. */
export interface WeComEgress {
  /** `'proxy'`: the app's own proxy; `'environment'`: HTTPS_PROXY / HTTP_PROXY / NO_PROXY; `'direct'`: none. */
  readonly mode: 'proxy' | 'environment' | 'direct';
  /** The proxy requests to `baseUrl` go through (`http://host:port`, never credentials), or undefined when direct. */
  readonly via?: string;
  /** To spread into `axios.create(…)` or a request config: the agents, and `proxy: false`. */
  readonly axios: EgressAxiosConfig;
  /** Closes the tunnels and connections it holds (idle or not); a no-op for pooled and direct egress. */
  close(): void;
}

class Egress implements WeComEgress {
  constructor(
    readonly mode: WeComEgress['mode'],
    readonly axios: EgressAxiosConfig,
    readonly via: string | undefined,
    private readonly owned: ReadonlyArray<HttpAgent | HttpsAgent>,
  ) {}

  close(): void {
    for (const agent of this.owned) agent.destroy();
  }

  toJSON(): Record<string, unknown> {
    return { mode: this.mode, via: this.via ?? null };
  }

  [inspect.custom](): string {
    return `WeComEgress { mode: '${this.mode}'${this.via ? `, via: '${this.via}'` : ''} }`;
  }
}

const DIRECT: EgressAxiosConfig = Object.freeze({ proxy: false as const });
/** The direct egress owns nothing and never changes: every app without a proxy shares it. */
const DIRECT_EGRESS = Object.freeze(new Egress('direct', DIRECT, undefined, []));

function parse(proxy: string | ProxyUrl): ProxyUrl {
  if (proxy instanceof ProxyUrl) return proxy;
  try {
    return ProxyUrl.parse(proxy);
  } catch (error) {
    throw new WeComConfigError(`WeCom egress: the proxy URL ${(error as Error).message}`);
  }
}

function protocolOf(baseUrl: string): 'http:' | 'https:' {
  return new URL(baseUrl).protocol === 'http:' ? 'http:' : 'https:';
}

/**
 * Agents shared by every app of one owner (a registry of thousands of apps, say) that use the same proxy: one
 * keep-alive pool per distinct proxy rather than per app, so apps calling the same WeCom host share tunnels. The
 * owner closes the pool once, when it shuts down; egress taken from a pool does not close anything itself.
 */
export class EgressPool {
  private readonly byProxy: ProxyAgents[] = [];
  private readonly routers: { http?: EnvironmentProxyRouter; https?: EnvironmentProxyRouter } = {};

  /** The egress of an app with option `proxy` and `baseUrl`; see {@link resolveEgress}. */
  egressFor(proxy: WeComProxyOption, baseUrl: string): WeComEgress {
    return this.resolve(proxy, baseUrl, false);
  }

  /** Closes every tunnel and connection of the pool. */
  close(): void {
    for (const agents of this.byProxy.splice(0)) {
      agents.tunnel.destroy();
      agents.forward.destroy();
    }
    this.routers.http?.destroy();
    this.routers.https?.destroy();
    delete this.routers.http;
    delete this.routers.https;
  }

  /** @internal */
  resolve(proxy: WeComProxyOption, baseUrl: string, own: boolean): WeComEgress {
    if (proxy === false) return DIRECT_EGRESS;
    if (proxy !== undefined) {
      const url = parse(proxy);
      let agents = this.byProxy.find((a) => a.proxy.sameAs(url));
      if (!agents) {
        agents = proxyAgents(url);
        this.byProxy.push(agents);
      }
      return new Egress('proxy', { proxy: false, httpAgent: agents.forward, httpsAgent: agents.tunnel }, url.href, own ? [agents.forward, agents.tunnel] : []);
    }
    // The environment: nothing to route when it names no proxy (the common case costs nothing per request).
    if (!environmentHasProxy()) return DIRECT_EGRESS;
    const http = (this.routers.http ??= new EnvironmentProxyRouter(false));
    const https = (this.routers.https ??= new EnvironmentProxyRouter(true));
    let via: string | undefined;
    try {
      via = (protocolOf(baseUrl) === 'https:' ? https : http).agentsFor(baseUrl)?.proxy.href;
    } catch (error) {
      // A proxy variable that is not a usable URL fails at start-up, naming the variable, not at the first call.
      throw new WeComConfigError(
        `WeCom egress for ${baseUrl}: ${error instanceof ProxyFailure ? error.problem : 'the environment names no usable proxy'}; fix the variable, or set option 'proxy' (false for none)`,
      );
    }
    return new Egress('environment', { proxy: false, httpAgent: http, httpsAgent: https }, via, own ? [http, https] : []);
  }

  toJSON(): Record<string, unknown> {
    return { proxies: this.byProxy.map((a) => a.proxy.toString()) };
  }

  [inspect.custom](): string {
    return `EgressPool { proxies: ${this.byProxy.length} }`;
  }
}

/**
 * The egress of one app: with `proxy` a URL, every request through that proxy (HTTPS in CONNECT tunnels kept alive
 * and reused, plain HTTP in absolute form); with `false`, directly, whatever the environment says; omitted, the
 * environment's HTTPS_PROXY / HTTP_PROXY / NO_PROXY, decided per target. The agents are this egress' own (one
 * keep-alive pool per app): `close()` ends them. Many apps of one owner share agents with {@link EgressPool}.
 *
 * @throws WeComConfigError for a proxy URL (option or environment) that is not `http(s)://[user:pass@]host:port`,
 * with a message that never contains the value.
 */
export function resolveEgress(proxy: WeComProxyOption, baseUrl: string): WeComEgress {
  return new EgressPool().resolve(proxy, baseUrl, true);
}
