/**
 * How the simulator words its answers: WeCom's error bodies (HTTP 200, errmsg with the hint suffix) and raw replies.
 * Every role file builds its answers here, so the wording of an error is the same whatever produced it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes, randomInt } from 'node:crypto';

/** An answer before it is written: the server writes it at once or after a delay. */
export interface Reply {
  status: number;
  headers: Record<string, string | number>;
  body: Buffer;
  /** The `errcode` of a JSON body, for the request log. */
  errcode?: number;
}

/**
 * What the server does with one request: write a reply (at once or after `delayMs`), destroy the socket, or never
 * answer until the simulator closes.
 */
export type Answer = { readonly kind: 'reply'; readonly reply: Reply; readonly delayMs?: number } | { readonly kind: 'drop' } | { readonly kind: 'hang' } | Trickle;

/** Write the reply's status and headers, then its body one byte per `intervalMs`, then spaces; end after `bytes`. */
export interface Trickle {
  readonly kind: 'trickle';
  readonly reply: Reply;
  readonly intervalMs: number;
  readonly bytes?: number;
  readonly delayMs?: number;
}

/** The Content-Type WeCom sends with JSON bodies (spelled as WeCom spells it). */
export const JSON_CONTENT_TYPE = 'application/json; charset=UTF-8';

const MORE_INFO_URL = 'https://open.work.weixin.qq.com/devtool/query?e=';

/** errmsg texts as WeCom words them (it changes them now and then: clients must not match on them). */
export const DEFAULT_ERRMSG: Readonly<Record<number, string>> = Object.freeze({
  [-1]: 'system busy',
  40001: 'invalid credential, access_token is invalid or not latest',
  40004: 'invalid media type',
  40005: 'invalid file type',
  40006: 'invalid file size',
  40007: 'invalid media_id',
  40013: 'invalid corpid',
  40014: 'invalid access_token',
  40056: 'invalid agentid',
  40058: 'invalid parameter',
  40091: 'secret is invalid',
  41001: 'access_token missing',
  41006: 'media_id missing',
  41009: 'missing userid',
  42001: 'access_token expired',
  43001: 'require GET method',
  43002: 'require POST method',
  44001: 'empty media data',
  45009: 'api freq out of limit',
  45033: 'api concurrent out of limit',
  47001: 'data format error',
  48001: 'api unauthorized',
  48002: 'api forbidden',
  48006: 'api forbidden',
  50003: 'application is disabled',
  60020: 'not allow to access from your ip',
  60111: 'userid not found',
  60123: 'invalid party id',
});

/** A reply with a string body and one Content-Type. */
export function reply(status: number, contentType: string, body: string | Uint8Array): Reply {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body);
  return { status, headers: { 'Content-Type': contentType }, body: bytes };
}

/** The address of the peer whose request is being answered (set by the server around each request). */
export const peerContext = new AsyncLocalStorage<string>();

/** A socket's remote address as WeCom would name it: IPv4-mapped IPv6 (`::ffff:1.2.3.4`) as plain IPv4. */
export function peerAddress(remote: string | undefined): string {
  if (!remote) return '127.0.0.1';
  return remote.startsWith('::ffff:') && remote.includes('.') ? remote.slice(7) : remote;
}

/**
 * Builds WeCom-shaped JSON answers; every hint names the caller's IP: the configured `clientIp` (as if behind a
 * NAT), else the address of the peer that sent the request (a proxy's, when one is in between).
 */
export class Replies {
  constructor(private readonly clientIp?: string) {}

  /** A WeCom error: HTTP 200, `{errcode, errmsg}` with the default errmsg unless one is given, hint appended. */
  error(errcode: number, errmsg?: string, fromIp?: string): Reply {
    const text = errmsg ?? DEFAULT_ERRMSG[errcode] ?? 'simulated error';
    return this.json({ errcode, errmsg: this.withHint(errcode, text, fromIp) });
  }

  /** The IP the hints name for the request being answered. */
  callerIp(): string {
    return this.clientIp ?? peerContext.getStore() ?? '127.0.0.1';
  }

  /** A JSON answer; a non-zero errcode without an errmsg gets the default one with the hint suffix. */
  json(body: Record<string, unknown>, status = 200): Reply {
    const errcode = body.errcode;
    let payload = body;
    if (typeof errcode === 'number' && errcode !== 0 && body.errmsg === undefined) {
      payload = { ...body, errmsg: this.withHint(errcode, DEFAULT_ERRMSG[errcode] ?? 'simulated error') };
    }
    const result = reply(status, JSON_CONTENT_TYPE, JSON.stringify(payload));
    if (typeof errcode === 'number') result.errcode = errcode;
    return result;
  }

  private withHint(errcode: number, errmsg: string, fromIp?: string): string {
    if (errmsg.includes(', hint: [')) return errmsg;
    const hint = `${Math.floor(Date.now() / 1000)}_${randomInt(10, 100)}_${randomBytes(16).toString('hex')}`;
    return `${errmsg}, hint: [${hint}], from ip: ${fromIp ?? this.callerIp()}, more info at ${MORE_INFO_URL}${errcode}`;
  }
}

/** A plain object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The body parsed as JSON; undefined when empty or not JSON. */
export function parseJson(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}
