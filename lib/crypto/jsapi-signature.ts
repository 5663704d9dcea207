/**
 * The JS-SDK signature (doc 96909) and the small helpers `JsapiTicketService.sign*` builds it from. Pure functions
 * (apart from `nonce()`'s randomness and `timestampSeconds()`'s clock), so that the rule can be tested against
 * WeCom's published example and reused by anyone who holds a ticket.
 */
import { createHash, randomInt } from 'node:crypto';
import { unsignableUrlMessage } from './crypto.messages.js';

/** What `jsapiSignature` signs: the same four values the page passes to `wx.config` / `ww.register`. */
export interface JsapiSignatureInput {
  /** The corp ticket (for `wx.config`) or the agent ticket (for `wx.agentConfig`). */
  ticket: string;
  /** The nonce the page also receives, as `nonceStr` (capital S). */
  nonceStr: string;
  /** Seconds since the epoch, as the page also receives it. */
  timestamp: number | string;
  /** The page's URL, without `#fragment` (see `signableUrl`). */
  url: string;
}

/**
 * `sha1("jsapi_ticket=" + ticket + "&noncestr=" + nonceStr + "&timestamp=" + timestamp + "&url=" + url)`, hex.
 *
 * Nothing is URL-encoded or decoded, and the keys are in this order and in lower case (`noncestr`, although the page
 * says `nonceStr`), because that is what WeCom's page-side check recomputes. The url is signed exactly as given:
 * a URL in which an anti-XSS filter or a template turned `&` into `&amp;` is signed with the `&amp;`, and the page
 * (whose location.href has a plain `&`) then reports "invalid signature". Send the URL from the page's own
 * `location.href`, not through HTML; `hasHtmlEscapes()` spots the mistake.
 */
export function jsapiSignature({ ticket, nonceStr, timestamp, url }: JsapiSignatureInput): string {
  const plain = `jsapi_ticket=${ticket}&noncestr=${nonceStr}&timestamp=${timestamp}&url=${url}`;
  return createHash('sha1').update(plain, 'utf8').digest('hex');
}

/**
 * The part of a page URL that is signed: the URL as given, up to (not including) the first `#`.
 *
 * It is deliberately not normalised (no `new URL(url).href`): WeCom signs the page's location.href string, and
 * normalising would add a `/` to `http://host?x=1` or re-encode characters, which changes the signature.
 *
 * @throws TypeError when `url` is not an absolute http(s) URL: empty, relative, another scheme, no host, or
 *   containing whitespace or control characters (location.href never does). A TypeError rather than
 *   `WeComConfigError`, because a bad URL is a bad argument from the caller at run time, not a wrong module option;
 *   `new URL()` throws a TypeError too. The message never repeats the URL (its query may carry a code or a token).
 */
export function signableUrl(url: string): string {
  if (typeof url !== 'string' || url.length === 0) throw new TypeError(unsignableUrlMessage('is empty or not a string'));
  // eslint-disable-next-line no-control-regex -- control characters are what this check looks for
  if (/[\s\u0000-\u001f\u007f]/.test(url)) throw new TypeError(unsignableUrlMessage('contains whitespace or control characters'));
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1];
  if (scheme === undefined) throw new TypeError(unsignableUrlMessage('is relative'));
  if (!/^https?$/i.test(scheme)) throw new TypeError(unsignableUrlMessage(`has scheme '${scheme.slice(0, 16)}:', not http or https`));
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(unsignableUrlMessage('is not a valid URL'));
  }
  // new URL accepts 'http:host' and 'http:/host' as if '//' were there; a page URL always has it.
  if (!/^https?:\/\/[^/?#]/i.test(url) || parsed.hostname === '') throw new TypeError(unsignableUrlMessage('has no host'));
  const hash = url.indexOf('#');
  return hash === -1 ? url : url.slice(0, hash);
}

/**
 * Whether a URL holds HTML character references (`&amp;`, `&#38;`, `&#x26;`): the classic cause of "invalid
 * signature" (a URL passed through HTML escaping before it reached the server). A hint for logs, not an error:
 * a URL may legitimately contain such text.
 */
export function hasHtmlEscapes(url: string): boolean {
  return /&(?:amp|lt|gt|quot|#0*38|#x0*26);/i.test(url);
}

const NONCE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * A random 16-character alphanumeric nonce from the operating system's CSPRNG. `randomInt` draws without modulo
 * bias; alphanumeric, because the nonce is pasted into the page's JavaScript and signed unencoded.
 */
export function nonce(): string {
  let out = '';
  for (let i = 0; i < 16; i += 1) out += NONCE_ALPHABET[randomInt(NONCE_ALPHABET.length)];
  return out;
}

/** Whole seconds since the epoch, as the JS-SDK signature wants them (not milliseconds). */
export function timestampSeconds(nowMs: number = Date.now()): number {
  return Math.floor(nowMs / 1000);
}
