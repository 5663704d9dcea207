/**
 * The agents requests leave through when a forward proxy is in play. They come from the proxy-agents family
 * (`https-proxy-agent` speaks CONNECT, `http-proxy-agent` the absolute form); what is ours is around them: keep-alive
 * (one tunnel serves a stream of calls), failures at the proxy turned into {@link ProxyFailure}, the credentials kept
 * in a closure (the agents' own `proxy` URL has none, so neither `util.inspect`, JSON nor a debug log can show them),
 * and a router that applies the environment's HTTPS_PROXY / HTTP_PROXY / NO_PROXY per target.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { Socket } from 'node:net';
import { inspect } from 'node:util';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { getProxyForUrl } from 'proxy-from-env';
import { PROXY_LABEL, ProxyFailure, ProxyUrl } from '../common/proxy-url.js';

/**
 * How long an idle tunnel (or proxy connection) is kept for the next call. Shorter than the idle limit of common
 * proxies (squid: 2 min), so a connection is not reused just as the proxy closes it.
 */
export const EGRESS_IDLE_TIMEOUT_MS = 15_000;

const KEEP_ALIVE = { keepAlive: true, keepAliveMsecs: 1000, scheduling: 'lifo', timeout: EGRESS_IDLE_TIMEOUT_MS } as const;

/** Why the proxy could not be used, from the error of the connection to it (its code, never its message). */
function unreachable(proxy: ProxyUrl, error: unknown): ProxyFailure {
  if (error instanceof ProxyFailure) return error;
  const code = typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : undefined;
  const what: Record<string, string> = {
    ECONNREFUSED: 'refused the connection',
    ECONNRESET: 'reset the connection',
    ENOTFOUND: 'could not be found (DNS)',
    EAI_AGAIN: 'could not be resolved (DNS)',
    EHOSTUNREACH: 'is unreachable',
    ENETUNREACH: 'is on an unreachable network',
    ETIMEDOUT: 'did not accept the connection in time',
  };
  const problem = code
    ? `the proxy ${proxy.label} ${what[code] ?? 'could not be used'} (${code})`
    : `the proxy ${proxy.label} closed the connection before it answered the CONNECT`;
  return new ProxyFailure(proxy.label, problem, code);
}

/** A refused CONNECT, by status. */
function refused(proxy: ProxyUrl, status: number, target: string): ProxyFailure {
  const why =
    status === 407
      ? `answered HTTP 407 (Proxy Authentication Required) to the CONNECT to ${target}: its user or password is ${proxy.hasCredentials ? 'wrong' : 'missing from the proxy URL'}`
      : `refused the CONNECT to ${target} with HTTP ${status}${status === 403 ? ' (forbidden: its rules must allow CONNECT to this host and port)' : ''}`;
  return new ProxyFailure(proxy.label, `the proxy ${proxy.label} ${why}`, undefined, status);
}

/** The headers sent to the proxy: the credentials, read from the sealed URL when a connection is made. */
function proxyHeaders(proxy: ProxyUrl): (() => http.OutgoingHttpHeaders) | undefined {
  if (!proxy.hasCredentials) return undefined;
  return () => ({ 'Proxy-Authorization': proxy.authorization() });
}

/** A request through one of these agents names the proxy, and is shown without its headers (credentials included). */
function mark(req: http.ClientRequest, proxy: ProxyUrl): void {
  Object.defineProperty(req, PROXY_LABEL, { value: proxy.label, configurable: true });
  Object.defineProperty(req, inspect.custom, {
    value: () => `ClientRequest { method: '${req.method}', via: '${proxy.label}' }`,
    configurable: true,
  });
}

/** HTTPS through a CONNECT tunnel of `proxy`, kept alive and reused for the next call to the same host. */
export class ProxyTunnelAgent extends HttpsProxyAgent<string> {
  constructor(private readonly via: ProxyUrl) {
    const headers = proxyHeaders(via);
    super(via.href, { ...KEEP_ALIVE, ...(headers ? { headers } : {}) });
  }

  /** Counts tunnels opened, for diagnostics and tests. */
  tunnelsOpened = 0;

  /**
   * This agent serves HTTPS targets only (it is an app's `httpsAgent`). agent-base asks on every request, and when
   * the options carry neither `secureEndpoint` nor `protocol` it answers by capturing and searching a stack trace:
   * ~130 µs of CPU per call, measured (bench/egress.js).
   */
  override isSecureEndpoint(): boolean {
    return true;
  }

  override async connect(req: http.ClientRequest, opts: Parameters<HttpsProxyAgent<string>['connect']>[1]): Promise<Socket> {
    let status = 0;
    const onConnect = (answer: { statusCode: number }): void => {
      status = answer.statusCode;
    };
    req.once('proxyConnect', onConnect);
    mark(req, this.via);
    let socket: Socket;
    try {
      socket = await super.connect(req, opts);
    } catch (error) {
      throw unreachable(this.via, error);
    } finally {
      req.off('proxyConnect', onConnect);
    }
    if (status !== 200) {
      // The proxy's answer is not handed to the HTTP layer as if it were WeCom's: it is the proxy's failure.
      socket.destroy();
      throw refused(this.via, status, `${opts.host}:${opts.port}`);
    }
    this.tunnelsOpened += 1;
    return socket;
  }

  toJSON(): Record<string, unknown> {
    return { proxy: this.via.toString(), mode: 'CONNECT', keepAlive: true };
  }

  [inspect.custom](): string {
    return `ProxyTunnelAgent { proxy: '${this.via.toString()}' }`;
  }
}

type ForwardRequest = Parameters<HttpProxyAgent<string>['addRequest']>[0];

/** Plain HTTP in absolute form through `proxy` (for plain-HTTP targets such as a simulator), connections kept alive. */
export class ProxyForwardAgent extends HttpProxyAgent<string> {
  constructor(private readonly via: ProxyUrl) {
    const headers = proxyHeaders(via);
    super(via.href, { ...KEEP_ALIVE, ...(headers ? { headers } : {}) });
  }

  /** Plain-HTTP targets only (an app's `httpAgent`): no stack trace captured per request to find that out. */
  override isSecureEndpoint(): boolean {
    return false;
  }

  override addRequest(req: ForwardRequest, opts: Parameters<HttpProxyAgent<string>['addRequest']>[1]): void {
    mark(req, this.via);
    super.addRequest(req, opts);
  }

  override async connect(req: ForwardRequest, opts: Parameters<HttpProxyAgent<string>['connect']>[1]): Promise<Socket> {
    try {
      return await super.connect(req, opts);
    } catch (error) {
      throw unreachable(this.via, error);
    }
  }

  toJSON(): Record<string, unknown> {
    return { proxy: this.via.toString(), mode: 'absolute-form', keepAlive: true };
  }

  [inspect.custom](): string {
    return `ProxyForwardAgent { proxy: '${this.via.toString()}' }`;
  }
}

/** Both agents of one proxy. */
export interface ProxyAgents {
  readonly proxy: ProxyUrl;
  readonly tunnel: ProxyTunnelAgent;
  readonly forward: ProxyForwardAgent;
}

/** The agents of one proxy: a tunnel agent for HTTPS targets, a forward agent for plain-HTTP ones. */
export function proxyAgents(proxy: ProxyUrl): ProxyAgents {
  return { proxy, tunnel: new ProxyTunnelAgent(proxy), forward: new ProxyForwardAgent(proxy) };
}

/** Which variable gives the proxy of a target, for messages: proxy-from-env reads lower case first, then upper. */
export function proxyVariableFor(protocol: 'http:' | 'https:', env: NodeJS.ProcessEnv = process.env): string {
  const name = protocol === 'https:' ? 'https_proxy' : 'http_proxy';
  if (env[name]) return name;
  if (env[name.toUpperCase()]) return name.toUpperCase();
  return env.all_proxy ? 'all_proxy' : 'ALL_PROXY';
}

/** Whether the environment names any proxy at all (else the router is not worth its cost). */
export function environmentHasProxy(env: NodeJS.ProcessEnv = process.env): boolean {
  return ['https_proxy', 'HTTPS_PROXY', 'http_proxy', 'HTTP_PROXY', 'all_proxy', 'ALL_PROXY'].some((name) => !!env[name]);
}

/**
 * The environment's convention, decided per target: `getProxyForUrl` (HTTPS_PROXY for https targets, HTTP_PROXY for
 * http ones, NO_PROXY honoured), then the agents of that proxy (kept, so tunnels are reused) or a direct keep-alive
 * agent. Requests are handed to the chosen agent whole, the way `proxy-agent` does.
 */
export class EnvironmentProxyRouter extends http.Agent {
  private readonly byProxy = new Map<string, ProxyAgents>();
  private readonly direct: http.Agent;

  constructor(private readonly secure: boolean) {
    super(KEEP_ALIVE);
    this.direct = secure ? new https.Agent(KEEP_ALIVE) : new http.Agent(KEEP_ALIVE);
    if (secure) {
      // Node checks `agent.protocol` against the request's; this router serves https: requests.
      (this as unknown as { protocol: string; defaultPort: number }).protocol = 'https:';
      (this as unknown as { protocol: string; defaultPort: number }).defaultPort = 443;
    }
  }

  /** The proxy agents for `url` under the environment's rules, or undefined for a direct connection. */
  agentsFor(url: string): ProxyAgents | undefined {
    const raw = getProxyForUrl(url);
    if (!raw) return undefined;
    let agents = this.byProxy.get(raw);
    if (!agents) {
      let proxy: ProxyUrl;
      try {
        proxy = ProxyUrl.parse(raw);
      } catch (error) {
        const variable = proxyVariableFor(this.secure ? 'https:' : 'http:');
        throw new ProxyFailure('(environment)', `the environment's ${variable} ${(error as Error).message}`);
      }
      agents = proxyAgents(proxy);
      // Bounded: one entry per distinct proxy value seen (the environment rarely has more than two).
      if (this.byProxy.size >= 16) this.clear();
      this.byProxy.set(raw, agents);
    }
    return agents;
  }

  /** @internal Called by Node's ClientRequest: hands the request to the agent the environment's rules pick. */
  addRequest(req: http.ClientRequest, options: http.RequestOptions): void {
    const host = options.host ?? options.hostname ?? 'localhost';
    const port = options.port ?? (this.secure ? 443 : 80);
    const target = `${this.secure ? 'https' : 'http'}://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`;
    const agents = this.agentsFor(target);
    const chosen: http.Agent = agents ? (this.secure ? agents.tunnel : agents.forward) : this.direct;
    (chosen as unknown as { addRequest(r: http.ClientRequest, o: object): void }).addRequest(req, { ...options, secureEndpoint: this.secure });
  }

  override destroy(): void {
    this.clear();
    this.direct.destroy();
    super.destroy();
  }

  toJSON(): Record<string, unknown> {
    return { proxy: 'environment', proxies: [...this.byProxy.values()].map((a) => a.proxy.toString()) };
  }

  [inspect.custom](): string {
    return `EnvironmentProxyRouter { ${this.secure ? 'https' : 'http'}, proxies: [${[...this.byProxy.values()].map((a) => `'${a.proxy.toString()}'`).join(', ')}] }`;
  }

  private clear(): void {
    for (const agents of this.byProxy.values()) {
      agents.tunnel.destroy();
      agents.forward.destroy();
    }
    this.byProxy.clear();
  }
}
