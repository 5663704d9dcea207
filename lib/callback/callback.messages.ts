/**
 * Every message of lib/callback, as functions. None takes a token, a key, a ciphertext or decrypted text: only
 * sizes, bounds and public names.
 */

/** The body is over the size bound. */
export function bodyTooLargeMessage(maxBytes: number): string {
  return `WeCom callback refused: the body is longer than ${maxBytes} bytes; WeCom's callbacks are a few KB`;
}

/** The body is neither a string nor a Buffer (no body parser for text/xml, or a JSON parser ran). */
export function bodyTypeMessage(): string {
  return (
    'WeCom callback refused: the body is not a string or a Buffer; give the handler the raw body ' +
    "(e.g. app.useBodyParser('text', { type: ['text/xml', 'application/xml'] }) on Express)"
  );
}

/** The query timestamp is malformed or outside the window. */
export function staleTimestampMessage(problem: 'missing' | 'not-seconds' | 'outside', windowSeconds: number): string {
  if (problem === 'missing') return "WeCom callback refused: 'timestamp' is missing or not a single string";
  if (problem === 'not-seconds') return "WeCom callback refused: 'timestamp' is not whole seconds";
  return `WeCom callback refused: 'timestamp' is more than ${windowSeconds} s from this server's clock ` + '(a replayed delivery, or a clock to fix with NTP)';
}

/** The envelope's Encrypt field could not be found with the bounded scan. */
export function envelopeMessage(problem: 'no-encrypt' | 'repeated' | 'declaration' | 'utf8'): string {
  switch (problem) {
    case 'no-encrypt':
      return 'WeCom callback refused: the body has no <Encrypt> element';
    case 'repeated':
      return 'WeCom callback refused: the body has more than one <Encrypt> element';
    case 'declaration':
      return 'WeCom callback refused: the body holds a DOCTYPE or another markup declaration, which WeCom never sends';
    case 'utf8':
      return 'WeCom callback refused: the body is not UTF-8';
  }
}

/** The URL check's echostr decrypted to something that is not an echo string. */
export function echoNotPlainMessage(): string {
  return (
    "WeCom callback refused: the URL check's echostr does not decrypt to a plain echo string " +
    "(it looks like a POSTed callback's Encrypt, replayed as a URL check); nothing is answered"
  );
}

/** The same delivery is in hand elsewhere. */
export function deliveryRunningMessage(): string {
  return 'WeCom callback refused for now: the same delivery is being handled (here or by another instance); WeCom retries it';
}
