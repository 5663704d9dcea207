/**
 * The one way into a WeCom callback (suite 指令回调, app 数据回调/事件, the URL check): cheap checks first, so that a
 * body from anyone who knows the URL costs microseconds per KiB until it proves it comes from WeCom.
 *
 * Order, for a POST: size (1 MiB) → query timestamp (whole seconds, within ±300 s of now) → the `<Encrypt>` text,
 * found by a bounded scan (no XML parser) → msg_signature over it (constant time) → no markup declaration in the
 * envelope → decrypt (padding, lengths, receiveId) → only then the caller's parser, on the decrypted XML.
 * Every refusal is a WeComCallbackError with its reason; nothing is dispatched and nothing is stored before.
 *
 * `WeComCrypto` stays the pure primitive (no clock, no memory); freshness and replay belong here and to the ledger.
 */
import { createHash } from 'node:crypto';
import type { CallbackQuery } from '../crypto/callback-message.js';
import { WeComCallbackError } from '../crypto/wecom-callback.error.js';
import type { WeComCrypto } from '../crypto/wecom-crypto.js';
import { bodyTooLargeMessage, bodyTypeMessage, echoNotPlainMessage, envelopeMessage, staleTimestampMessage } from './callback.messages.js';

/** The largest body read, in bytes (a string's UTF-8 length): WeCom's callbacks are a few KB. */
export const MAX_CALLBACK_BODY_BYTES = 1024 * 1024;

/** How far the query `timestamp` may be from now, in seconds, either way. */
export const CALLBACK_WINDOW_SECONDS = 300;

/** The longest echo string a URL check may decrypt to (WeCom's are about 20 digits). */
const MAX_ECHO_CHARS = 512;

/** What `openCallback` takes: the query and body as the HTTP platform handed them. */
export interface OpenCallbackInput<T> {
  /** The crypto of this callback URL; its receiveIds are the accepted receivers (checked on decrypt). */
  readonly crypto: WeComCrypto;
  /** The query WeCom appended (`msg_signature`, `timestamp`, `nonce`); a repeated parameter (array) is refused. */
  readonly query: Partial<CallbackQuery> | undefined;
  /** The raw body: a string or a Buffer (never a parsed object). */
  readonly body: unknown;
  /** The parser of the decrypted XML, called only once everything else passed (e.g. `parseSuiteCallback`). */
  readonly parse: (xml: string) => T;
  /** Now, in ms since the epoch; `Date.now()` by default (for tests). */
  readonly now?: number;
}

/** A callback that passed every check. */
export interface OpenedCallback<T> {
  /** What `parse` returned. */
  readonly message: T;
  /** The identity of the delivery: sha256 (hex) of the decrypted content; for the {@link DeliveryLedger}. */
  readonly deliveryId: string;
  /** The query timestamp, in seconds (within the window). */
  readonly timestamp: number;
}

/**
 * Open a POSTed callback: the checks in the order of this file's header, then `parse` on the decrypted XML.
 *
 * @throws WeComCallbackError: 'length' (body over 1 MiB), 'stale' (timestamp), 'format' (no single Encrypt, a
 *   declaration, not UTF-8, or what `parse` refuses), 'signature', 'padding', 'receiver'.
 */
export function openCallback<T>(input: OpenCallbackInput<T>): OpenedCallback<T> {
  const body = boundedBody(input.body);
  const query = input.query ?? {};
  const timestamp = freshTimestamp(query.timestamp, input.now ?? Date.now());
  const encrypt = scanEncrypt(body);
  // Names the missing parameter or the mismatch, in the crypto's words; the signature is computed once.
  input.crypto.checkSignature(query.msg_signature as string, query.timestamp as string, query.nonce as string, encrypt);
  refuseDeclarations(body);
  const xml = input.crypto.decrypt(encrypt);
  return { message: input.parse(xml), deliveryId: deliveryIdOf(xml), timestamp };
}

/**
 * The URL check (GET with `echostr`): size, timestamp, signature, decrypt, and the echo must be a plain string
 * (no markup, no control characters, at most 512 characters). A POST's `Encrypt` replayed as `echostr` decrypts
 * to XML and is refused: the answer would be the decrypted callback.
 *
 * @returns the echo to answer with, as it is.
 * @throws WeComCallbackError as `openCallback`, and 'format' for an echo that is not plain.
 */
export function openUrlCheck(input: { crypto: WeComCrypto; query: Partial<CallbackQuery> | undefined; now?: number }): string {
  const query = input.query ?? {};
  if (typeof query.echostr === 'string') boundedBody(query.echostr);
  freshTimestamp(query.timestamp, input.now ?? Date.now());
  const echo = input.crypto.decryptVerified(query.msg_signature as string, query.timestamp as string, query.nonce as string, query.echostr as string);
  // eslint-disable-next-line no-control-regex
  if (echo.length === 0 || echo.length > MAX_ECHO_CHARS || /[<>&\u0000-\u001f\u007f]/.test(echo)) {
    throw new WeComCallbackError('format', echoNotPlainMessage());
  }
  return echo;
}

/** The identity of a delivery: sha256 (hex) of its decrypted content. WeCom's retries carry the same content. */
export function deliveryIdOf(decrypted: string): string {
  return createHash('sha256').update(decrypted, 'utf8').digest('hex');
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** The body as a string, refused above 1 MiB before anything else is done with it. */
function boundedBody(body: unknown): string {
  if (Buffer.isBuffer(body) || body instanceof Uint8Array) {
    if (body.byteLength > MAX_CALLBACK_BODY_BYTES) throw new WeComCallbackError('length', bodyTooLargeMessage(MAX_CALLBACK_BODY_BYTES));
    try {
      return utf8.decode(body);
    } catch {
      throw new WeComCallbackError('format', envelopeMessage('utf8'));
    }
  }
  if (typeof body !== 'string') throw new WeComCallbackError('format', bodyTypeMessage());
  // A UTF-16 unit is at least one UTF-8 byte: the length refuses most without counting; byteLength is exact.
  if (body.length > MAX_CALLBACK_BODY_BYTES || Buffer.byteLength(body, 'utf8') > MAX_CALLBACK_BODY_BYTES) {
    throw new WeComCallbackError('length', bodyTooLargeMessage(MAX_CALLBACK_BODY_BYTES));
  }
  return body;
}

/** The query timestamp in seconds: 1 to 12 digits, within the window of `nowMs`. */
function freshTimestamp(timestamp: unknown, nowMs: number): number {
  if (typeof timestamp !== 'string' || timestamp.length === 0) throw new WeComCallbackError('stale', staleTimestampMessage('missing', CALLBACK_WINDOW_SECONDS));
  if (!/^\d{1,12}$/.test(timestamp)) throw new WeComCallbackError('stale', staleTimestampMessage('not-seconds', CALLBACK_WINDOW_SECONDS));
  const seconds = Number(timestamp);
  if (Math.abs(seconds - nowMs / 1000) > CALLBACK_WINDOW_SECONDS) {
    throw new WeComCallbackError('stale', staleTimestampMessage('outside', CALLBACK_WINDOW_SECONDS));
  }
  return seconds;
}

const OPEN = '<Encrypt>';
const CLOSE = '</Encrypt>';

/**
 * The text of the one `<Encrypt>` element, plain or in one CDATA section, by indexOf (linear, no backtracking, no
 * parser). What it returns is only ever compared with a signature and then decoded as strict base64.
 */
function scanEncrypt(body: string): string {
  const start = body.indexOf(OPEN);
  if (start < 0) throw new WeComCallbackError('format', envelopeMessage('no-encrypt'));
  const end = body.indexOf(CLOSE, start + OPEN.length);
  if (end < 0) throw new WeComCallbackError('format', envelopeMessage('no-encrypt'));
  if (body.indexOf(OPEN, end) >= 0 || body.lastIndexOf(OPEN, start - 1) >= 0) throw new WeComCallbackError('format', envelopeMessage('repeated'));
  let text = body.slice(start + OPEN.length, end).trim();
  if (text.startsWith('<![CDATA[') && text.endsWith(']]>')) text = text.slice('<![CDATA['.length, -']]>'.length);
  if (text.length === 0) throw new WeComCallbackError('format', envelopeMessage('no-encrypt'));
  return text;
}

/** `<!` outside CDATA sections: a DOCTYPE or an ENTITY, which WeCom never sends (one linear scan). */
function refuseDeclarations(body: string): void {
  let at = body.indexOf('<!');
  while (at >= 0) {
    if (!body.startsWith('<![CDATA[', at)) throw new WeComCallbackError('format', envelopeMessage('declaration'));
    const end = body.indexOf(']]>', at);
    if (end < 0) throw new WeComCallbackError('format', envelopeMessage('declaration'));
    at = body.indexOf('<!', end + 3);
  }
}
