/**
 * Where a credential may go and how it travels: the scope of one `baseUrl` (decided on the URL exactly as axios
 * will resolve it, and on the path as a server may read it), and the query parameter that carries it.
 */

/** The credential's query parameter in a URL: set (replacing any earlier one), read back. */
export class CredentialParam {
  private readonly key: string;

  constructor(readonly name: string) {
    this.key = `${name}=`;
  }

  /** `url` without its fragment, with `name=token` as its only `name` parameter (a replay replaces the rejected one). */
  attach(url: string, token: string): string {
    const hash = url.indexOf('#');
    const value = `${this.key}${encodeURIComponent(token)}`;
    // An earlier copy (a replay's rejected one, or the caller's) is removed first, and empty pairs with it.
    const base = this.remove(hash >= 0 ? url.slice(0, hash) : url);
    const query = base.indexOf('?');
    if (query < 0) return `${base}?${value}`;
    const last = base.charCodeAt(base.length - 1);
    // '?' (63) or '&' (38) already ends the query: no empty pair.
    return `${base}${last === 63 || last === 38 ? '' : '&'}${value}`;
  }

  /** The value of the first `name` parameter of a URL, if any (decoded; a malformed escape is kept as is). */
  read(url: string): string | undefined {
    const query = url.indexOf('?');
    if (query < 0) return undefined;
    for (const pair of url
      .slice(query + 1)
      .split('#', 1)[0]
      .split('&')) {
      if (pair.startsWith(this.key)) return decodeLeniently(pair.slice(this.key.length));
    }
    return undefined;
  }

  /** `url` without any `name` parameter (its fragment kept). */
  remove(url: string): string {
    const query = url.indexOf('?');
    if (query < 0 || !url.includes(this.key, query)) return url;
    const hash = url.indexOf('#', query);
    const end = hash >= 0 ? hash : url.length;
    const kept = url
      .slice(query + 1, end)
      .split('&')
      .filter((pair) => pair !== '' && !pair.startsWith(this.key));
    return `${url.slice(0, query)}${kept.length > 0 ? `?${kept.join('&')}` : ''}${url.slice(end)}`;
  }

  /** `params` without the `name` key (axios would serialize a second copy after ours). */
  strip(params: Record<string, unknown>): Record<string, unknown> {
    if (!(this.name in params)) return params;
    const rest = { ...params };
    delete rest[this.name];
    return rest;
  }
}

/**
 * Percent-escapes decoded where they form valid UTF-8; anything else (`100%.png`, `%E6%8A`, `%zz`) is kept as it
 * is. Never throws, unlike `decodeURIComponent`.
 */
export function decodeLeniently(text: string): string {
  if (!text.includes('%')) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    return text.replace(/(?:%[0-9a-fA-F]{2})+/g, (run) => {
      try {
        return decodeURIComponent(run);
      } catch {
        return run;
      }
    });
  }
}

/** axios' `isAbsoluteURL`: a scheme followed by `//`, or a protocol-relative `//`. */
const AXIOS_ABSOLUTE = /^([a-z][a-z\d+\-.]*:)?\/\//i;

/**
 * The URL axios will request for `config`, as its `buildFullPath(baseURL, url, allowAbsoluteUrls)` builds it:
 * an absolute or protocol-relative `url` wins unless `allowAbsoluteUrls` is false; otherwise `url` is joined to
 * `baseURL` with one slash.
 */
export function axiosFullPath(baseURL: string | undefined, url: string, allowAbsoluteUrls: boolean | undefined): string {
  if (baseURL && (allowAbsoluteUrls === false || !AXIOS_ABSOLUTE.test(url))) {
    if (!url) return baseURL;
    let end = baseURL.length;
    while (end > 0 && baseURL.charCodeAt(end - 1) === 47) end--;
    return `${baseURL.slice(0, end)}/${url.replace(/^\/+/, '')}`;
  }
  return url;
}

/**
 * A plain path relative to the base: segments of unreserved and sub-delim characters, none starting with a dot,
 * no '%', '\\', whitespace or control characters, then a query or fragment or the end. Such a path cannot leave the
 * base path however it is parsed or decoded, so it needs no URL parsing.
 */
const PLAIN_PATH = /^(?:\/[\w~!$&'()*+,;=:@-][\w.~!$&'()*+,;=:@-]*)+\/?(?:[?#]|$)/;

/** The origin and base path a credential may be sent to. */
export class CredentialScope {
  private readonly origin: string;
  private readonly basePath: string;

  constructor(readonly baseUrl: string) {
    const base = new URL(baseUrl);
    this.origin = base.origin;
    this.basePath = base.pathname.replace(/\/+$/, '');
  }

  /**
   * Whether axios will send `config` to this origin under this base path. The common case, a plain path relative to
   * this very baseUrl, is a string check; anything else is resolved as axios and then the WHATWG parser resolve it
   * (protocol-relative, dot segments and their encoded forms), and the path must also stay under the base path once
   * percent-escapes and backslashes are read the way a lenient server may read them.
   */
  contains(config: { baseURL?: string | undefined; url?: string | undefined; allowAbsoluteUrls?: boolean | undefined }): boolean {
    const url = config.url ?? '';
    if (typeof url !== 'string') return false;
    if (config.baseURL === this.baseUrl && PLAIN_PATH.test(url)) return true;
    let target: URL;
    try {
      target = new URL(axiosFullPath(config.baseURL, url, config.allowAbsoluteUrls));
    } catch {
      return false;
    }
    // Userinfo would be sent along (as Basic auth) to a host that only looks like ours to a reader.
    if (target.origin !== this.origin || target.username !== '' || target.password !== '') return false;
    return this.under(target.pathname) && this.under(serverPath(target.pathname));
  }

  private under(path: string): boolean {
    return this.basePath === '' || path === this.basePath || path.startsWith(`${this.basePath}/`);
  }
}

/**
 * A path as a lenient server may read it: percent-escapes decoded (repeatedly, for double encoding), backslashes as
 * slashes, path parameters ignored in dot segments, then dot segments resolved.
 */
function serverPath(pathname: string): string {
  let path = pathname;
  for (let i = 0; i < 3 && path.includes('%'); i++) {
    const decoded = decodeLeniently(path);
    if (decoded === path) break;
    path = decoded;
  }
  path = path.replace(/\\/g, '/');
  if (!path.includes('.')) return path;
  const out: string[] = [];
  for (const segment of path.split('/')) {
    // `..;x` is `..` to servers that drop path parameters (Tomcat, Jetty).
    const name = segment.split(';', 1)[0];
    if (name === '..') out.pop();
    else if (name !== '.') out.push(segment);
  }
  const resolved = out.join('/');
  return resolved.startsWith('/') ? resolved : `/${resolved}`;
}
