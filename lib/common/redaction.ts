/**
 * Ground floor: the redaction rules that every log line and error of the module goes through.
 */
import { createHash } from 'node:crypto';
import { inspect } from 'node:util';

/** A token as it may appear in a log or a message: `abcd…wxyz`; short values are hidden whole. */
export function maskToken(token: string | undefined): string {
  if (!token) return '(none)';
  if (token.length < 16) return '****';
  return `${token.slice(0, 4)}…${token.slice(-4)}`;
}

/** The path of a URL without origin and query string (`/cgi-bin/message/send`). */
export function pathOf(url: string | undefined): string {
  if (!url) return '/';
  const noQuery = url.split(/[?#]/, 1)[0] ?? '';
  const match = /^[a-z][a-z0-9+.-]*:\/\/[^/]*(\/.*)?$/i.exec(noQuery);
  return match ? match[1] || '/' : noQuery || '/';
}

/**
 * The first 16 hex characters of sha256(value): names a secret in a cache key, or a token in a fleet-wide
 * invalidation message, without revealing it.
 */
export function fingerprint(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex').slice(0, 16);
}

/**
 * A secret that cannot leak by accident: not enumerable, not shown by `util.inspect`, `JSON.stringify` or string
 * conversion. Only `reveal()` gives the value, and only the gettoken request calls it.
 */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  /** The value, for the gettoken request only. */
  reveal(): string {
    return this.#value;
  }
  /** sha256 fingerprint for the cache key. */
  fingerprint(): string {
    return fingerprint(this.#value);
  }
  toString(): string {
    return '[secret]';
  }
  toJSON(): string {
    return '[secret]';
  }
  [inspect.custom](): string {
    return '[secret]';
  }
}

/** `redis://host:port/db` of a Redis URL, without user or password, for messages; `fallback` when it is no URL. */
export function redisUrlWithoutPassword(url: string, fallback: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`;
  } catch {
    return fallback;
  }
}
