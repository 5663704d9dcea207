/**
 * Errors of `WeComAppRegistry` about one key. A key is chosen by whoever calls (a tenant id from a URL, say): it is
 * shown quoted and cut to 64 characters, so a newline or a megabyte in it cannot forge or flood a log line.
 */

/** The longest part of a key an error shows. */
export const SHOWN_KEY_CHARS = 64;

/** A key as errors and logs show it: JSON-quoted (newlines and quotes escaped), cut to {@link SHOWN_KEY_CHARS}. */
export function quotedKey(key: unknown): string {
  const text = typeof key === 'string' ? key : String(key);
  const cut = text.length > SHOWN_KEY_CHARS ? `${text.slice(0, SHOWN_KEY_CHARS)}…(${text.length} chars)` : text;
  return JSON.stringify(cut);
}

/** No app is registered under this key and the registry's loader knows none (or there is no loader). */
export class WeComUnknownAppError extends Error {
  /** The key, quoted and cut as in the message. */
  readonly key: string;

  constructor(key: string, hasLoader: boolean) {
    const shown = quotedKey(key);
    super(`WeCom app registry: no app under key ${shown} (${hasLoader ? 'not registered, and the loader returned none' : 'not registered, and the registry has no loader'})`);
    this.name = 'WeComUnknownAppError';
    this.key = shown;
  }
}

/** The registry's loader threw, hung past `timeoutMs`, or returned something that is not an app. */
export class WeComRegistryLoaderError extends Error {
  /** The key, quoted and cut as in the message. */
  readonly key: string;

  constructor(key: string, problem: string) {
    const shown = quotedKey(key);
    super(`WeCom app registry: the loader for key ${shown} ${problem}`);
    this.name = 'WeComRegistryLoaderError';
    this.key = shown;
  }
}
