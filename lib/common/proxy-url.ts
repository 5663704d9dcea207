/**
 * Ground floor: a forward proxy's URL with its credentials sealed in, and the failure a proxy causes. The agents that
 * speak to the proxy live in `http/egress*`; errors and messages on this floor only need to name the proxy (host and
 * port), never its user or password.
 */
import { inspect } from 'node:util';

/** A proxy URL as it may be shown: `http://host:port`, `(with credentials)` when it has some. Never the password. */
export class ProxyUrl {
  /** `http:` or `https:` (the protocol spoken to the proxy itself, not to WeCom). */
  readonly protocol: 'http:' | 'https:';
  /** Host name or IP, IPv6 without brackets. */
  readonly hostname: string;
  /** The proxy's port (80 / 443 by default). */
  readonly port: number;
  /** `host:port`, for messages (IPv6 bracketed). */
  readonly label: string;
  /** The URL without user and password: what the agents are given. */
  readonly href: string;
  readonly #authorization: string | undefined;

  private constructor(url: URL, authorization: string | undefined) {
    this.protocol = url.protocol as 'http:' | 'https:';
    this.hostname = url.hostname.replace(/^\[|\]$/g, '');
    this.port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
    this.label = `${url.hostname}:${this.port}`;
    this.href = `${url.protocol}//${this.label}`;
    this.#authorization = authorization;
  }

  /**
   * Parse `http://[user:pass@]host:port` (or `https://`). Throws a plain `Error` whose message never holds the
   * value: the caller words it for the option or variable it came from.
   */
  static parse(value: string): ProxyUrl {
    let url: URL;
    try {
      url = new URL(value.trim());
    } catch {
      throw new Error('is not a URL (expected http://[user:password@]host:port)');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(`uses ${url.protocol.replace(/[^a-z0-9+.-]/gi, '').slice(0, 10)}://, only http:// and https:// proxies are supported`);
    }
    if (!url.hostname) throw new Error('has no host');
    if ((url.pathname && url.pathname !== '/') || url.search || url.hash) throw new Error('must be only scheme, host and port (no path or query)');
    let authorization: string | undefined;
    if (url.username || url.password) {
      let user: string;
      let password: string;
      try {
        user = decodeURIComponent(url.username);
        password = decodeURIComponent(url.password);
      } catch {
        throw new Error('has a user or password that is not valid percent-encoding');
      }
      authorization = `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
    }
    return new ProxyUrl(url, authorization);
  }

  /** Whether the URL carried a user or password. */
  get hasCredentials(): boolean {
    return this.#authorization !== undefined;
  }

  /** The `Proxy-Authorization` header value, for the agents only. */
  authorization(): string | undefined {
    return this.#authorization;
  }

  /** Whether `other` is the same proxy with the same credentials (compared here, never shown): agents may be shared. */
  sameAs(other: ProxyUrl): boolean {
    return this.href === other.href && this.#authorization === other.#authorization;
  }

  toString(): string {
    return this.hasCredentials ? `${this.href} (with credentials)` : this.href;
  }

  toJSON(): string {
    return this.toString();
  }

  [inspect.custom](): string {
    return `ProxyUrl ${this.toString()}`;
  }
}

/** Property under which a request through one of the module's proxy agents names that proxy (`host:port`). */
export const PROXY_LABEL = 'wecomProxy';

/**
 * A request failed at the proxy rather than at WeCom: the proxy could not be reached, refused the CONNECT (403, 407,
 * 5xx), or closed the connection before answering. Thrown by the module's proxy agents, turned into a
 * `WeComTransportError` with `failure: 'proxy'` on this floor.
 */
export class ProxyFailure extends Error {
  constructor(
    /** `host:port` of the proxy. */
    readonly proxy: string,
    /** What went wrong, without any credential. */
    readonly problem: string,
    /** The network error code, when there was one. */
    readonly code?: string,
    /** The proxy's HTTP status (407, 403, …), when it answered one. */
    readonly status?: number,
  ) {
    super(problem);
    this.name = 'ProxyFailure';
  }
}

/** The proxy failure behind an error (itself or along its `cause` chain: axios wraps what the agent threw). */
export function proxyFailureOf(error: unknown): ProxyFailure | undefined {
  let current: unknown = error;
  for (let depth = 0; current && typeof current === 'object' && depth < 5; depth++) {
    if (current instanceof ProxyFailure) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The proxy a response came through (an absolute-form request names it on its ClientRequest), if one. */
export function proxyLabelOf(response: unknown): string | undefined {
  const request = (response as { request?: Record<string, unknown> } | undefined)?.request;
  const label = request && typeof request === 'object' ? request[PROXY_LABEL] : undefined;
  return typeof label === 'string' ? label : undefined;
}
