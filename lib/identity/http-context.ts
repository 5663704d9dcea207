/**
 * Reading and writing HTTP on Express and Fastify alike, with no cookie or session middleware: the guard reads the
 * Cookie header itself and writes Set-Cookie through the platform's own response object.
 */
import type { IncomingHttpHeaders } from 'node:http';

/** What the flow needs of a request, whatever the platform. */
export interface RequestFacts {
  readonly method: string;
  /** Path and query as requested (`/me?code=…&state=…`). */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** `https` when the platform says the request came over TLS (directly, or by a trusted proxy's header). */
  readonly protocol: 'http' | 'https';
  /** Host and port as the platform reports them (`Host`, or the forwarded host under trust proxy). */
  readonly host: string | undefined;
  readonly cookies: ReadonlyMap<string, string>;
}

interface RequestLike {
  method?: string;
  url?: string;
  originalUrl?: string;
  headers?: IncomingHttpHeaders;
  protocol?: unknown;
  host?: unknown;
  hostname?: unknown;
  socket?: { encrypted?: boolean };
  raw?: { url?: string; socket?: { encrypted?: boolean } };
}

/** Path and query as the browser asked for them, on Express or Fastify. */
export function requestUrl(request: unknown): string {
  const req = (request ?? {}) as RequestLike;
  // Express rewrites req.url inside mounted routers; originalUrl is what the browser asked for. Fastify's url is.
  return typeof req.originalUrl === 'string' ? req.originalUrl : typeof req.url === 'string' ? req.url : (req.raw?.url ?? '/');
}

/** The Cookie header of an Express or Fastify request. */
export function requestCookieHeader(request: unknown): string | string[] | undefined {
  return ((request ?? {}) as RequestLike).headers?.cookie;
}

/** The facts of an Express or Fastify request. */
export function requestFacts(request: unknown): RequestFacts {
  const req = (request ?? {}) as RequestLike;
  const headers = req.headers ?? {};
  const url = requestUrl(req);
  const encrypted = req.socket?.encrypted === true || req.raw?.socket?.encrypted === true;
  const protocol = req.protocol === 'https' || req.protocol === 'http' ? req.protocol : encrypted ? 'https' : 'http';
  // Express 5 and Fastify 5 give `host` with its port (and honour trust proxy); older ones fall back to the header.
  const host = typeof req.host === 'string' && req.host !== '' ? req.host : typeof headers.host === 'string' ? headers.host : undefined;
  return { method: (req.method ?? 'GET').toUpperCase(), url, headers, protocol, host, cookies: parseCookies(headers.cookie) };
}

/** Longest Cookie header read; a longer one is taken as no cookies at all. */
const MAX_COOKIE_HEADER = 16_384;

/** The cookies of a Cookie header; a name that appears twice keeps its first value (the most specific path). */
export function parseCookies(header: string | string[] | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  const text = Array.isArray(header) ? header.join('; ') : header;
  if (!text || text.length > MAX_COOKIE_HEADER) return cookies;
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!name || cookies.has(name)) continue;
    cookies.set(name, cookieText(part.slice(eq + 1)));
  }
  return cookies;
}

/** One cookie's value, read as `parseCookies` would read it, without building the map (the signed-in fast path). */
export function cookieValue(header: string | string[] | undefined, name: string): string | undefined {
  const text = Array.isArray(header) ? header.join('; ') : header;
  if (!text || text.length > MAX_COOKIE_HEADER) return undefined;
  let start = 0;
  while (start < text.length) {
    const end = text.indexOf(';', start);
    const stop = end === -1 ? text.length : end;
    const eq = text.indexOf('=', start);
    if (eq > start && eq < stop && text.slice(start, eq).trim() === name) return cookieText(text.slice(eq + 1, stop));
    start = stop + 1;
  }
  return undefined;
}

function cookieText(raw: string): string {
  let value = raw.trim();
  if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** Attributes of one Set-Cookie. */
export interface CookieSpec {
  readonly name: string;
  readonly value: string;
  /** Seconds; 0 deletes the cookie. */
  readonly maxAgeSeconds: number;
  readonly secure: boolean;
}

/** One Set-Cookie value: HttpOnly, SameSite=Lax (sent on WeCom's top-level redirect back), Path=/. */
export function serializeCookie(cookie: CookieSpec): string {
  const expires = new Date(Date.now() + cookie.maxAgeSeconds * 1000).toUTCString();
  return [
    `${cookie.name}=${encodeURIComponent(cookie.value)}`,
    'Path=/',
    `Max-Age=${Math.max(0, Math.floor(cookie.maxAgeSeconds))}`,
    `Expires=${cookie.maxAgeSeconds > 0 ? expires : new Date(0).toUTCString()}`,
    'HttpOnly',
    'SameSite=Lax',
    ...(cookie.secure ? ['Secure'] : []),
  ].join('; ');
}

interface ResponseLike {
  raw?: unknown;
  header?: (name: string, value: unknown) => unknown;
  getHeader?: (name: string) => unknown;
  setHeader?: (name: string, value: unknown) => unknown;
}

/** Adds Set-Cookie values to an Express or Fastify response, keeping the ones already set. */
export function appendSetCookies(response: unknown, cookies: readonly string[]): void {
  if (cookies.length === 0) return;
  const res = response as ResponseLike;
  if (isFastifyReply(res)) {
    // Fastify's reply.header appends to Set-Cookie by itself.
    res.header('set-cookie', [...cookies]);
    return;
  }
  const existing = typeof res.getHeader === 'function' ? res.getHeader('set-cookie') : undefined;
  const all = [...(Array.isArray(existing) ? existing.map(String) : existing !== undefined && existing !== null ? [String(existing)] : []), ...cookies];
  setResponseHeader(res, 'set-cookie', all);
}

/** Sets one header on an Express or Fastify response. */
export function setResponseHeader(response: unknown, name: string, value: string | string[]): void {
  const res = response as ResponseLike;
  // Fastify's reply: headers go through reply.header so that its own serialisation keeps them.
  if (isFastifyReply(res)) {
    res.header(name, value);
    return;
  }
  if (typeof res.setHeader === 'function') res.setHeader(name, value);
}

function isFastifyReply(res: ResponseLike): res is ResponseLike & { header: (name: string, value: unknown) => unknown } {
  return res.raw !== undefined && typeof res.header === 'function';
}
