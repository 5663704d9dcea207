/**
 * The OAuth `state`: random, signed, bound to one browser, dated, and marked with the attempt it belongs to, in
 * WeCom's alphabet (`[A-Za-z0-9]`, at most 128 characters). Layout, 81 lowercase hex characters and one digit:
 *
 *   nonce (32 hex, 16 random bytes) · issued (8 hex, epoch seconds) · attempt ('0' first, '1' after a restart)
 *   · mac (40 hex: HMAC-SHA256 over all of it and the browser's binding value, truncated to 160 bits)
 *
 * The binding value lives in an HttpOnly cookie of the browser that started the login, so a state made for one
 * browser never verifies in another (a login CSRF, a shared link), and nobody without the key can make one.
 */
import { randomBytes } from 'node:crypto';
import { mac, sameBytes } from './signing.js';

/** A state is at most this old when it comes back (WeCom's codes live 5 minutes; the login itself may take longer). */
export const STATE_MAX_AGE_MS = 10 * 60_000;

/** How far in the future an issue time may be before the state is taken for forged (clock skew across a fleet). */
const FUTURE_SKEW_MS = 60_000;

const SHAPE = /^([0-9a-f]{32})([0-9a-f]{8})([01])([0-9a-f]{40})$/;
const BINDING_SHAPE = /^[0-9a-f]{32}$/;

/** What a returning state turned out to be. */
export type OpenedState =
  | { readonly kind: 'valid'; readonly nonce: string; readonly attempt: 0 | 1 }
  | { readonly kind: 'stale'; readonly nonce: string; readonly attempt: 0 | 1 }
  | { readonly kind: 'forged' };

/** Makes and checks states under one key. */
export class StateCodec {
  constructor(private readonly key: Buffer) {}

  /** A new browser-binding value (the content of the state cookie). */
  static newBinding(): string {
    return randomBytes(16).toString('hex');
  }

  /** Whether a cookie value can be a binding value at all. */
  static isBinding(value: string | undefined): value is string {
    return value !== undefined && BINDING_SHAPE.test(value);
  }

  /** A fresh state for the browser holding `binding`. */
  issue(binding: string, attempt: 0 | 1, now = Date.now()): string {
    const nonce = randomBytes(16).toString('hex');
    const issued = Math.floor(now / 1000)
      .toString(16)
      .padStart(8, '0');
    const body = `${nonce}${issued}${attempt}`;
    return `${body}${this.sign(body, binding)}`;
  }

  /**
   * Checks a returning state against the browser's binding value. Anything not made by us for this browser is
   * `forged`; one of ours older than {@link STATE_MAX_AGE_MS} is `stale` (a restart may follow, no exchange).
   */
  open(state: string | undefined, binding: string | undefined, now = Date.now()): OpenedState {
    if (typeof state !== 'string' || !StateCodec.isBinding(binding)) return { kind: 'forged' };
    const m = SHAPE.exec(state);
    if (!m) return { kind: 'forged' };
    const [, nonce, issuedHex, attemptChar, signature] = m as unknown as [string, string, string, string, string];
    const expected = Buffer.from(this.sign(`${nonce}${issuedHex}${attemptChar}`, binding), 'latin1');
    if (!sameBytes(Buffer.from(signature, 'latin1'), expected)) return { kind: 'forged' };
    const issuedMs = parseInt(issuedHex, 16) * 1000;
    if (issuedMs > now + FUTURE_SKEW_MS) return { kind: 'forged' };
    const attempt = attemptChar === '1' ? 1 : 0;
    return now - issuedMs > STATE_MAX_AGE_MS ? { kind: 'stale', nonce, attempt } : { kind: 'valid', nonce, attempt };
  }

  private sign(body: string, binding: string): string {
    return mac(this.key, `state\u0000${body}\u0000${binding}`).subarray(0, 20).toString('hex');
  }
}
