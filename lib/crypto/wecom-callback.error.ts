/** Why a WeCom callback was refused. */
export type WeComCallbackFailure =
  /** `msg_signature` does not match the token, timestamp, nonce and ciphertext (or is missing / malformed). */
  | 'signature'
  /** The decrypted bytes do not end in PKCS#7 padding to 32-byte blocks (wrong key, or tampered ciphertext). */
  | 'padding'
  /** A length is out of bounds: the ciphertext's, the message's, or the `msg_len` field inside the plaintext. */
  | 'length'
  /** The message was encrypted for another receiveId (another suite, another corp). */
  | 'receiver'
  /** The input is not what WeCom sends: bad base64, XML that is malformed or has a DOCTYPE, a missing field. */
  | 'format'
  /** The query `timestamp` is not whole seconds within 5 minutes of now: a replayed or forged delivery. */
  | 'stale'
  /** The same delivery (same decrypted content) is being handled right now; WeCom's retry will come again. */
  | 'duplicate';

/**
 * A WeCom callback (指令回调, 数据回调, the URL check) was refused: its signature, padding, lengths, receiver or
 * format is wrong,
 * or the delivery is stale or already in hand. The message says which and what to check, and never carries the EncodingAESKey, the token or
 * any of the decrypted text, so the error can be logged and returned as it is.
 */
export class WeComCallbackError extends Error {
  /** What was wrong, for callers that answer differently (e.g. log a wrong receiver louder than a bad signature). */
  readonly reason: WeComCallbackFailure;

  constructor(reason: WeComCallbackFailure, message: string) {
    super(message);
    this.name = 'WeComCallbackError';
    this.reason = reason;
  }
}
