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
  // 16 hex digits of their own (a slice of the whole digest would keep all 64 alive, in every cache key).
  return createHash('sha256').update(value, 'utf8').digest().toString('hex', 0, 8);
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

/** What a value the module sent is replaced with in what it received. */
export const REDACTED = '[redacted]';

/** A part of a sent secret this long or longer is redacted wherever it appears, so no cut can leave a piece of one. */
const REDACTED_FRAGMENT = 8;
/** Sent values shorter than this (`type=jsapi`, flags) are not secrets and are left alone. */
const MIN_SENT_LENGTH = 6;
/** Request fields whose values are credentials: secrets, tickets, tokens, codes, keys. */
const SECRET_FIELD = /secret|ticket|token|code|key|password/i;

/**
 * `received` (an errmsg, a body) with every value in `sent` redacted: whole, URL-encoded or JSON-escaped, and any
 * piece of one of at least 8 characters, so neither a gateway's cut nor a later one of an echoed request shows any of
 * it. A text longer than `max` characters (WeCom's errmsgs are under 200) is cut there, after its redaction: a value
 * that crosses the cut is redacted as a whole, so the cut leaves no piece of it.
 */
export function redactSent(received: string, sent: readonly string[], max = 4096): string {
  const values = sent.filter((value) => value.length >= MIN_SENT_LENGTH);
  // Enough past the cut to see whole any value (in its longest form, JSON-escaped) that starts before it.
  const reach = Math.max(0, ...values.map((value) => JSON.stringify(value).length + encodeURIComponent(value).length));
  const text = received.length > max ? received.slice(0, max + reach) : received;
  const end = Math.min(text.length, max);
  const cut = received.length > max ? '…' : '';
  if (!text || values.length === 0) return text.slice(0, end) + cut;
  let marks: Uint8Array | undefined;
  const mark = (from: number, length: number): void => {
    marks ??= new Uint8Array(text.length);
    marks.fill(1, from, from + length);
  };
  for (const value of values) {
    for (const form of new Set([value, encodeURIComponent(value), JSON.stringify(value).slice(1, -1)])) {
      const size = Math.min(REDACTED_FRAGMENT, form.length);
      for (let start = 0; start + size <= form.length; start++) {
        const piece = form.slice(start, start + size);
        for (let at = text.indexOf(piece); at >= 0; at = text.indexOf(piece, at + 1)) mark(at, size);
      }
    }
  }
  if (!marks) return text.slice(0, end) + cut;
  const found = marks;
  let out = '';
  for (let i = 0; i < end; i++) {
    if (!found[i]) out += text[i];
    else if (i === 0 || !found[i - 1]) out += REDACTED;
  }
  return out + cut;
}

/**
 * The credentials a request sent, to redact from its answer: the values of its secret, ticket, token, code and key
 * fields in the URL's query, in `params` and in a JSON (or form) body, nested ones included. Ids are left out.
 */
export function sentSecretsOf(request: { url?: string; params?: unknown; data?: unknown }): string[] {
  const found: string[] = [];
  const walk = (value: unknown, key: string, depth: number): void => {
    if (value instanceof Secret) value = value.reveal();
    if (typeof value === 'string') {
      if (SECRET_FIELD.test(key) && value.length >= MIN_SENT_LENGTH) found.push(value);
    } else if (value && typeof value === 'object' && depth < 4 && !Buffer.isBuffer(value) && !ArrayBuffer.isView(value)) {
      if (value instanceof URLSearchParams) value.forEach((v, k) => walk(v, k, depth + 1));
      else for (const [k, v] of Object.entries(value)) walk(v, Array.isArray(value) ? key : k, depth + 1);
    }
  };
  const query = request.url?.split('#', 1)[0].split('?')[1];
  if (query) walk(new URLSearchParams(query), '', 0);
  walk(request.params, '', 0);
  const { data } = request;
  if (typeof data === 'string') {
    const text = data.trimStart();
    if (text.startsWith('{')) {
      try {
        walk(JSON.parse(text), '', 0);
      } catch {
        // Not JSON: a form body, perhaps.
      }
    } else if (text.includes('=')) walk(new URLSearchParams(text), '', 0);
  } else walk(data, '', 0);
  return found;
}

/** Characters that could forge or hide a log line: controls (newlines included), quotes, line separators, bidi marks. */
// eslint-disable-next-line no-control-regex -- control characters are what this finds
const UNSAFE_IN_MESSAGE = /[\u0000-\u001f\u007f-\u009f"\\\u00ad\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff]/;

/**
 * An untrusted value (a corp id or AuthCorpId from a callback or a caller, a key, an errmsg) as it may enter a log
 * line or an error message: unchanged when it is at most `max` characters of plain text; otherwise JSON-quoted, with
 * newlines, controls and bidi marks escaped, cut at `max` characters and its full length said. `always`: quoted even
 * when plain. Never produces a line break, and never more than about `max` × 6 + 40 characters.
 */
export function quoteUntrusted(value: unknown, max = 64, always = false): string {
  const text = typeof value === 'string' ? value : String(value);
  if (!always && text.length <= max && !UNSAFE_IN_MESSAGE.test(text)) return text;
  const cut = text.length > max ? text.slice(0, max) : text;
  const quoted = JSON.stringify(cut).replace(
    /[\u007f-\u009f\u00ad\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return text.length > max ? `${quoted}…(${text.length} characters)` : quoted;
}
