/**
 * The session cookie's value: who the user is, when the session ends, signed. It holds no user_ticket and no token:
 * only the fields of `WeComIdentity` that name the user. Signed, not encrypted: it tells the browser nothing the
 * user does not know (their own userid).
 */
import { mac, sameBytes } from './signing.js';
import type { WeComIdentity } from './identity.interfaces.js';

/** Longest cookie value accepted; browsers keep about 4 KB per cookie. */
const MAX_VALUE_LENGTH = 3_000;
/** Longest identity field kept (WeCom's ids are far shorter). */
const MAX_FIELD_LENGTH = 256;
/** Cookie values already verified, kept with what they open to: a signed-in browser's next request costs a lookup. */
const VERIFIED_KEPT = 1_024;

interface Payload {
  v: 1;
  c: string;
  u?: string;
  o?: string;
  x?: string;
  ou?: string;
  iat: number;
  exp: number;
}

/** Seals and opens session cookie values under one key. */
export class SessionCodec {
  /** Verified values → their identity and end (ms); bounded, oldest first out. Holds nothing a cookie does not. */
  private readonly verified = new Map<string, { readonly identity: WeComIdentity; readonly expMs: number }>();

  constructor(
    private readonly key: Buffer,
    private readonly ttlMs: number,
  ) {}

  /** The cookie value for `identity`, valid for the session's lifetime from `now`. */
  seal(identity: WeComIdentity, now = Date.now()): string {
    const payload: Payload = {
      v: 1,
      c: identity.corpId,
      ...(identity.userId !== undefined ? { u: identity.userId } : {}),
      ...(identity.openId !== undefined ? { o: identity.openId } : {}),
      ...(identity.externalUserId !== undefined ? { x: identity.externalUserId } : {}),
      ...(identity.openUserId !== undefined ? { ou: identity.openUserId } : {}),
      iat: Math.floor(now / 1000),
      exp: Math.floor((now + this.ttlMs) / 1000),
    };
    const body = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
    return `${body}.${this.sign(body)}`;
  }

  /** The identity in a cookie value, or undefined when it is absent, altered, expired or malformed. */
  open(value: string | undefined, now = Date.now()): WeComIdentity | undefined {
    if (typeof value !== 'string' || value.length > MAX_VALUE_LENGTH) return undefined;
    const known = this.verified.get(value);
    if (known !== undefined) {
      if (known.expMs > now) return known.identity;
      this.verified.delete(value);
      return undefined;
    }
    const opened = this.verify(value, now);
    if (opened !== undefined) {
      if (this.verified.size >= VERIFIED_KEPT) this.verified.delete(this.verified.keys().next().value as string);
      this.verified.set(value, opened);
    }
    return opened?.identity;
  }

  private verify(value: string, now: number): { identity: WeComIdentity; expMs: number } | undefined {
    const dot = value.indexOf('.');
    if (dot <= 0 || dot !== value.lastIndexOf('.')) return undefined;
    const body = value.slice(0, dot);
    const signature = value.slice(dot + 1);
    if (!/^[A-Za-z0-9_-]+$/.test(body) || !sameBytes(Buffer.from(signature, 'latin1'), Buffer.from(this.sign(body), 'latin1'))) return undefined;
    let payload: Partial<Payload>;
    try {
      payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Partial<Payload>;
    } catch {
      return undefined;
    }
    if (payload === null || typeof payload !== 'object' || payload.v !== 1 || !field(payload.c)) return undefined;
    if (typeof payload.exp !== 'number' || payload.exp * 1000 <= now) return undefined;
    if (!field(payload.u) && !field(payload.o)) return undefined;
    const identity: WeComIdentity = Object.freeze({
      corpId: payload.c,
      ...(field(payload.u) ? { userId: payload.u } : {}),
      ...(field(payload.o) ? { openId: payload.o } : {}),
      ...(field(payload.x) ? { externalUserId: payload.x } : {}),
      ...(field(payload.ou) ? { openUserId: payload.ou } : {}),
    });
    return { identity, expMs: payload.exp * 1000 };
  }

  private sign(body: string): string {
    return mac(this.key, `session\u0000${body}`).toString('base64url');
  }
}

function field(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_FIELD_LENGTH;
}
