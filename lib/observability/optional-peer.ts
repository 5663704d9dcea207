/**
 * Ground floor: loading an optional peer dependency (`@opentelemetry/api`, `@nestjs/event-emitter`, `@redis/client`)
 * only when it is needed, and carrying on without it when it is not installed.
 *
 * SWAP-ME: a shared helper that loads optional peers in both the CommonJS and the ES-module build is on its way; this
 * local function is the one place of the observability and doctor code that calls `require`, so replacing it (or
 * re-exporting the shared helper under this name) is the whole change.
 */

/**
 * The module `name`, or undefined when it is not installed. Any other failure while loading it (a broken install, a
 * syntax error in it) is thrown: hiding it would make "not installed" and "broken" look the same.
 */
export function loadOptionalPeer<T>(name: string): T | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(name) as T;
  } catch (error) {
    if (isNotFound(error, name)) return undefined;
    throw error;
  }
}

/** `MODULE_NOT_FOUND` for `name` itself (not for something `name` requires, which is a broken install). */
function isNotFound(error: unknown, name: string): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (code !== 'MODULE_NOT_FOUND' && code !== 'ERR_MODULE_NOT_FOUND') return false;
  return typeof message === 'string' && message.includes(`'${name}'`);
}
