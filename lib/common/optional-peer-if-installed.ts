/**
 * Ground floor: an optional peer, or undefined when the application does not have it installed. Built on
 * `optional-peer.js`, which each build (CommonJS, ES module) provides in its own way.
 */
import { loadOptionalPeer, type OptionalPeer } from './optional-peer.js';

/**
 * The module `name`, or undefined when it is not installed. Any other failure while loading it (a broken install, a
 * syntax error in it) is thrown: hiding it would make "not installed" and "broken" look the same.
 */
export function loadIfInstalled<T>(name: OptionalPeer): T | undefined {
  try {
    return loadOptionalPeer(name) as T;
  } catch (error) {
    if (isNotFound(error, name)) return undefined;
    throw error;
  }
}

/** `MODULE_NOT_FOUND` / `ERR_MODULE_NOT_FOUND` for `name` itself (not for something `name` requires: a broken install). */
function isNotFound(error: unknown, name: string): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (code !== 'MODULE_NOT_FOUND' && code !== 'ERR_MODULE_NOT_FOUND') return false;
  return typeof message === 'string' && message.includes(`'${name}'`);
}
