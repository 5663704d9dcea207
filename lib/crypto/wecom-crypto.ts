/**
 * WeCom's callback encryption (WXBizMsgCrypt, doc 91144), written strictly: the published libraries accept any
 * padding, never check the receiveId and compare signatures in variable time. This one interoperates with them on
 * every message WeCom sends, and refuses what WeCom never sends.
 */
import { isUtf8 } from 'node:buffer';
import { createCipheriv, createDecipheriv, createHash, createSecretKey, randomBytes, timingSafeEqual } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { inspect } from 'node:util';
import { WeComConfigError } from '../common/errors/wecom-config.error.js';
import {
  badPaddingMessage,
  ciphertextLengthMessage,
  invalidCryptoOptionMessage,
  notBase64Message,
  notUtf8Message,
  plaintextLengthMessage,
  randomPrefixMessage,
  signatureInputMessage,
  signatureMismatchMessage,
  wrongReceiverMessage,
} from './crypto.messages.js';
import { WeComCallbackError } from './wecom-callback.error.js';

/** The settings of one callback URL, as shown in WeCom's admin or provider console. */
export interface WeComCryptoOptions {
  /** The callback Token (signs every callback). */
  token: string;
  /** The 43-character EncodingAESKey (the AES key, base64 without its trailing '='). */
  encodingAESKey: string;
  /**
   * Whose messages these are: the suiteId for a suite's 指令回调, the authorising corpId for 数据回调, the corpId
   * for an in-house app. Give several when one URL serves several (a suite's URL check accepts the suiteId and the
   * providerCorpId). `encrypt()` uses the first.
   */
  receiveId: string | readonly string[];
}

/** WeCom pads the plaintext to 32-byte blocks (not AES's 16). */
const BLOCK = 32;
/** 16 random bytes and the 4-byte big-endian msg_len come before the message. */
const HEADER = 20;
/**
 * The longest ciphertext accepted (decoded bytes). WeCom's callbacks are a few KB; the bound only stops a caller from
 * making us decode and decrypt an arbitrarily large body.
 */
export const MAX_CIPHERTEXT_BYTES = 4 * 1024 * 1024;

/** Canonical-alphabet base64 with its padding (the length is checked apart). */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Signs, verifies, encrypts and decrypts WeCom callbacks for one Token / EncodingAESKey / receiveId.
 *
 * The token and the key are held in private fields: `util.inspect`, `JSON.stringify` and error messages show
 * neither. Every method is synchronous and keeps no state between calls, so one instance serves concurrent callbacks.
 */
export class WeComCrypto {
  /** The accepted receiveIds; the first is the one `encrypt()` writes. */
  readonly receiveIds: readonly string[];
  readonly #token: string;
  readonly #key: Buffer;
  /** The key as a KeyObject, made once: a Buffer key is copied into a new one by every createDecipheriv. */
  readonly #keyObject: KeyObject;
  readonly #iv: Buffer;
  readonly #receiveIdBytes: readonly Buffer[];

  /** @throws WeComConfigError naming the option that is missing or malformed (never its value). */
  constructor(options: WeComCryptoOptions) {
    const { token, encodingAESKey, receiveId } = options ?? ({} as Partial<WeComCryptoOptions>);
    if (typeof token !== 'string' || token.length === 0) {
      throw new WeComConfigError(invalidCryptoOptionMessage('token', 'is missing; copy the Token from the callback settings'));
    }
    if (token.trim() !== token) {
      // An env file's stray newline makes every signature fail, with nothing in the message to say why.
      throw new WeComConfigError(invalidCryptoOptionMessage('token', 'starts or ends with whitespace; remove it'));
    }
    this.#token = token;
    this.#key = decodeEncodingAESKey(encodingAESKey);
    this.#keyObject = createSecretKey(this.#key);
    // The IV is the key's first 16 bytes: WeCom's choice, not ours (the message's random prefix stands in for a real IV).
    this.#iv = this.#key.subarray(0, 16);
    const ids = typeof receiveId === 'string' ? [receiveId] : Array.isArray(receiveId) ? [...(receiveId as readonly unknown[])] : [];
    if (ids.length === 0 || !ids.every((id): id is string => typeof id === 'string' && id.length > 0)) {
      throw new WeComConfigError(invalidCryptoOptionMessage('receiveId', 'must be a non-empty string or a non-empty list of them (suiteId, corpId)'));
    }
    this.receiveIds = Object.freeze(ids);
    this.#receiveIdBytes = ids.map((id) => Buffer.from(id, 'utf8'));
  }

  /**
   * `msg_signature` of a callback: sha1 of the token, timestamp, nonce and ciphertext, sorted and concatenated, hex.
   * The sort is JavaScript's default (UTF-16 code units), which for these ASCII values is WeCom's byte order.
   */
  signature(timestamp: string | number, nonce: string | number, encrypt: string): string {
    const hash = createHash('sha1');
    // The same bytes as hashing the joined UTF-8 string, without building it: an ASCII part (every part WeCom
    // sends; byteLength equals length only then) is hashed from its one-byte form, the cheaper conversion.
    for (const part of [this.#token, String(timestamp), String(nonce), encrypt].sort()) hash.update(part, Buffer.byteLength(part, 'utf8') === part.length ? 'latin1' : 'utf8');
    return hash.digest('hex');
  }

  /**
   * Whether `msgSignature` is the signature of this timestamp, nonce and ciphertext, compared in constant time.
   * Returns false (never throws) for anything that is not a single string, such as the array a repeated query
   * parameter becomes; the comparison is exact (WeCom sends lower-case hex).
   */
  verify(msgSignature: string, timestamp: string, nonce: string, encrypt: string): boolean {
    if (typeof msgSignature !== 'string' || typeof timestamp !== 'string' || typeof nonce !== 'string' || typeof encrypt !== 'string') return false;
    const expected = Buffer.from(this.signature(timestamp, nonce, encrypt), 'latin1');
    const given = Buffer.from(msgSignature, 'utf8');
    if (given.length !== expected.length) {
      // timingSafeEqual needs equal lengths. A sha1 hex's length is public, so refusing early leaks nothing; the
      // comparison still runs so that both paths cost about the same.
      timingSafeEqual(expected, expected);
      return false;
    }
    return timingSafeEqual(given, expected);
  }

  /**
   * Verify the signature, then decrypt: what a callback handler should call, because decrypting only what carries a
   * valid signature leaves no padding oracle to probe.
   *
   * @throws WeComCallbackError with reason 'signature' when the signature does not match, else as `decrypt()`.
   */
  decryptVerified(msgSignature: string, timestamp: string, nonce: string, encrypt: string): string {
    this.checkSignature(msgSignature, timestamp, nonce, encrypt);
    return this.decrypt(encrypt);
  }

  /**
   * The check of `decryptVerified` alone: returns when the signature matches.
   *
   * @throws WeComCallbackError with reason 'signature', naming the missing parameter or the mismatch.
   */
  checkSignature(msgSignature: string, timestamp: string, nonce: string, encrypt: string): void {
    requireText('msg_signature', msgSignature);
    requireText('timestamp', timestamp);
    requireText('nonce', nonce);
    requireText('Encrypt', encrypt);
    if (!this.verify(msgSignature, timestamp, nonce, encrypt)) {
      throw new WeComCallbackError('signature', signatureMismatchMessage(encrypt.includes(' ')));
    }
  }

  /**
   * Decrypt a callback's `Encrypt` (or the URL check's `echostr`) and return the message.
   *
   * Checks, in order: canonical base64 ('format'); a ciphertext of 1 to 4 MiB that is a whole number of 32-byte blocks
   * ('length'); PKCS#7 padding to 32-byte blocks, pad value 1..32 and every pad byte equal ('padding'); a 20-byte
   * header and a msg_len that fits ('length'); a receiveId that is one of ours ('receiver'); UTF-8 ('format').
   * Does not check the signature: use `decryptVerified()` on callbacks.
   *
   * @throws WeComCallbackError whose message carries neither key, token nor any decrypted byte.
   */
  decrypt(encrypt: string): string {
    if (typeof encrypt !== 'string') throw new WeComCallbackError('format', notBase64Message(false));
    // 4 base64 characters per 3 bytes: refuse an oversized string before decoding it.
    if (encrypt.length > Math.ceil(MAX_CIPHERTEXT_BYTES / 3) * 4) {
      throw new WeComCallbackError('length', ciphertextLengthMessage(MAX_CIPHERTEXT_BYTES + 1, MAX_CIPHERTEXT_BYTES));
    }
    // Buffer.from(…, 'base64') skips what it does not understand; a ciphertext WeCom sent never needs that. What
    // encodes back to itself is base64 (the cheap proof, WeCom's case); anything else must pass the pattern.
    const ciphertext = Buffer.from(encrypt, 'base64');
    if (encrypt.length % 4 !== 0 || (ciphertext.toString('base64') !== encrypt && !BASE64.test(encrypt))) {
      throw new WeComCallbackError('format', notBase64Message(encrypt.includes(' ')));
    }
    // WeCom pads to 32 bytes and CBC keeps the length, so any other length was cut short or is not from WeCom.
    if (ciphertext.length === 0 || ciphertext.length % BLOCK !== 0 || ciphertext.length > MAX_CIPHERTEXT_BYTES) {
      throw new WeComCallbackError('length', ciphertextLengthMessage(ciphertext.length, MAX_CIPHERTEXT_BYTES));
    }
    const decipher = createDecipheriv('aes-256-cbc', this.#keyObject, this.#iv);
    decipher.setAutoPadding(false);
    // Whole blocks and no auto padding: update() returns every byte and final() none (joined if it ever did).
    const head = decipher.update(ciphertext);
    const tail = decipher.final();
    const padded = tail.length === 0 ? head : Buffer.concat([head, tail]);

    const pad = padded[padded.length - 1] ?? 0;
    let mismatch = pad < 1 || pad > BLOCK ? 1 : 0;
    const checked = Math.min(Math.max(pad, 1), BLOCK);
    for (let i = padded.length - checked; i < padded.length; i += 1) mismatch |= (padded[i] ?? 0) ^ pad;
    if (mismatch !== 0) throw new WeComCallbackError('padding', badPaddingMessage());

    const plain = padded.subarray(0, padded.length - pad);
    if (plain.length < HEADER) throw new WeComCallbackError('length', plaintextLengthMessage('too-short'));
    const msgLength = plain.readUInt32BE(16);
    if (msgLength > plain.length - HEADER) throw new WeComCallbackError('length', plaintextLengthMessage('msg-len'));
    const message = plain.subarray(HEADER, HEADER + msgLength);
    const receiver = plain.subarray(HEADER + msgLength);
    // receiveIds are public (suiteId, corpId), so a plain comparison leaks nothing worth a constant-time one.
    if (!this.#accepts(receiver)) throw new WeComCallbackError('receiver', wrongReceiverMessage(this.receiveIds));
    // Well-formed UTF-8 only (no overlong form, surrogate or unpaired byte), decoded as it is (a BOM is kept).
    if (!isUtf8(message)) throw new WeComCallbackError('format', notUtf8Message());
    return message.toString('utf8');
  }

  #accepts(receiver: Buffer): boolean {
    for (const id of this.#receiveIdBytes) if (id.equals(receiver)) return true;
    return false;
  }

  /**
   * Encrypt a message as WeCom does, for the first receiveId: base64(AES-256-CBC(random16 | msg_len | msg |
   * receiveId, PKCS#7 to 32 bytes)). `random16` is for reproducible tests; leave it out otherwise.
   *
   * @throws TypeError when `random16` is given and is not 16 bytes.
   */
  encrypt(message: string, random16?: Uint8Array): string {
    const random = random16 === undefined ? randomBytes(16) : Buffer.from(random16);
    if (random.length !== 16) throw new TypeError(randomPrefixMessage(random.length));
    const body = Buffer.from(message, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(body.length, 0);
    const unpadded = Buffer.concat([random, length, body, this.#receiveIdBytes[0]]);
    const pad = BLOCK - (unpadded.length % BLOCK);
    const cipher = createCipheriv('aes-256-cbc', this.#key, this.#iv);
    cipher.setAutoPadding(false);
    return Buffer.concat([cipher.update(unpadded), cipher.update(Buffer.alloc(pad, pad)), cipher.final()]).toString('base64');
  }

  /** For `JSON.stringify`: the receiveIds, never the token or the key. */
  toJSON(): { receiveIds: readonly string[]; token: string; encodingAESKey: string } {
    return { receiveIds: this.receiveIds, token: '[secret]', encodingAESKey: '[secret]' };
  }

  /** For `util.inspect` and `console.log`: the receiveIds, never the token or the key. */
  [inspect.custom](): string {
    return `WeComCrypto { receiveIds: ${inspect(this.receiveIds)}, token: [secret], encodingAESKey: [secret] }`;
  }
}

/** A signature input must be a non-empty string (a repeated query parameter is an array). */
function requireText(name: 'msg_signature' | 'timestamp' | 'nonce' | 'Encrypt', value: unknown): void {
  if (typeof value !== 'string' || value.length === 0) throw new WeComCallbackError('signature', signatureInputMessage(name));
}

/**
 * The 32-byte AES key from a 43-character EncodingAESKey: base64(EncodingAESKey + '=').
 *
 * The 43rd character carries 2 bits more than the key needs; WeCom's console sets them (its published example ends
 * in 'C'), and Node's decoder ignores them as the reference implementations do, so they are not checked.
 */
function decodeEncodingAESKey(encodingAESKey: unknown): Buffer {
  const fail = (problem: string): never => {
    throw new WeComConfigError(invalidCryptoOptionMessage('encodingAESKey', problem));
  };
  if (typeof encodingAESKey !== 'string' || encodingAESKey.length === 0) {
    return fail('is missing; copy the EncodingAESKey from the callback settings');
  }
  if (encodingAESKey.length !== 43) {
    return fail(`must be 43 characters, got ${encodingAESKey.length}${encodingAESKey.trim() !== encodingAESKey ? ' (with whitespace around it)' : ''}`);
  }
  if (!/^[A-Za-z0-9+/]{43}$/.test(encodingAESKey)) return fail('must hold only base64 characters (A-Z, a-z, 0-9, + and /)');
  const key = Buffer.from(`${encodingAESKey}=`, 'base64');
  return key.length === 32 ? key : fail('does not decode to a 32-byte key');
}
