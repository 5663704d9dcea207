/**
 * Every user-facing message of lib/crypto, as functions, so that wording lives in one place. None of these
 * functions takes a token, an EncodingAESKey, a ticket or decrypted text: what a message may show is decided here,
 * by the parameters, and not at each throw site.
 */

/** A `WeComCrypto` option is missing or malformed; names the option and the problem, never the value. */
export function invalidCryptoOptionMessage(option: 'token' | 'encodingAESKey' | 'receiveId', problem: string): string {
  return `WeComCrypto: option '${option}' ${problem}`;
}

/** Appended when a ciphertext holds spaces: a query parser turned its '+' into ' ' (form decoding of `echostr`). */
const SPACE_HINT = "; the ciphertext contains spaces, so something decoded its '+' as ' ' (form-style query decoding): pass the value WeCom sent";

/** `msg_signature` does not match. */
export function signatureMismatchMessage(ciphertextHasSpaces: boolean): string {
  return (
    'WeCom callback refused: msg_signature does not match; check that the callback Token is the one in the callback ' +
    'settings (suite or app) and that timestamp, nonce and Encrypt/echostr reach the handler unchanged' +
    (ciphertextHasSpaces ? SPACE_HINT : '')
  );
}

/** A query parameter that the signature needs is missing or not a single string. */
export function signatureInputMessage(parameter: string): string {
  return `WeCom callback refused: '${parameter}' is missing or not a single string`;
}

/** The ciphertext is not canonical base64. */
export function notBase64Message(ciphertextHasSpaces: boolean): string {
  return 'WeCom callback refused: the ciphertext is not base64' + (ciphertextHasSpaces ? SPACE_HINT : '');
}

/** The ciphertext is empty, too long, or not a whole number of 32-byte blocks. */
export function ciphertextLengthMessage(bytes: number, maxBytes: number): string {
  if (bytes === 0) return 'WeCom callback refused: the ciphertext is empty';
  if (bytes > maxBytes) return `WeCom callback refused: the ciphertext is longer than ${maxBytes} bytes`;
  return `WeCom callback refused: a ciphertext of ${bytes} bytes is not a whole number of 32-byte blocks ` + '(WeCom pads to 32 bytes); it was truncated or is not from WeCom';
}

/** The decrypted bytes do not end in strict PKCS#7 padding. */
export function badPaddingMessage(): string {
  return (
    'WeCom callback refused: the decrypted message is not padded as WeCom pads (PKCS#7, 32-byte blocks); ' +
    'the EncodingAESKey is not the one the message was encrypted with, or the ciphertext was altered'
  );
}

/** The plaintext is too short to hold the random prefix and `msg_len`, or `msg_len` points past its end. */
export function plaintextLengthMessage(kind: 'too-short' | 'msg-len'): string {
  return kind === 'too-short'
    ? 'WeCom callback refused: the decrypted message is shorter than its 20-byte header (random and msg_len)'
    : 'WeCom callback refused: msg_len in the decrypted message points past its end';
}

/** The message was encrypted for another receiveId. Lists the accepted ids (configuration), never the one found. */
export function wrongReceiverMessage(accepted: readonly string[]): string {
  const list = accepted.map((id) => `'${id}'`).join(' or ');
  return (
    `WeCom callback refused: the message was encrypted for another receiver, not ${list}; check the receiveId ` +
    '(the suiteId for 指令回调, the authorising corpId for 数据回调, the corpId for an in-house app)'
  );
}

/** The message or receiveId bytes are not UTF-8. */
export function notUtf8Message(): string {
  return 'WeCom callback refused: the decrypted message is not UTF-8';
}

/** `encrypt()` was given a random prefix that is not 16 bytes. */
export function randomPrefixMessage(length: number): string {
  return `WeComCrypto.encrypt: the random prefix must be 16 bytes, got ${length}`;
}

/** Why a URL cannot be signed for the JS-SDK; never repeats the URL (its query may carry a code or a token). */
export function unsignableUrlMessage(problem: string): string {
  return `JS-SDK signature: the url ${problem}; pass the page's full location.href (absolute http or https URL, ` + 'the #fragment may stay: it is removed before signing)';
}

/** Callback XML that cannot be read: names the problem, never the content. */
export function callbackXmlMessage(problem: string): string {
  return `WeCom callback refused: the XML ${problem}`;
}

/**
 * A field that a callback must carry is missing, empty or repeated. `where` is 'the envelope', 'the callback' or
 * "the 'suite_ticket' callback": one of the InfoTypes the module knows, never text from the message.
 */
export function callbackFieldMessage(where: string, field: string, problem: 'missing' | 'repeated' | 'not-text' | 'not-timestamp'): string {
  const what = {
    missing: 'is missing or empty',
    repeated: 'appears more than once',
    'not-text': 'is not a text value',
    'not-timestamp': 'is not a timestamp in seconds',
  }[problem];
  return `WeCom callback refused: <${field}> in ${where} ${what}`;
}
