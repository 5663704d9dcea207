/**
 * One copy of every class per process. The package ships a CommonJS build (for `require`) and an ES-module build
 * (for `import`); an application that loads both gets two `WeComTokenModule`s, two `AccessTokenService`s, … whose
 * injection tokens do not match. Each build's entry points import this file, which records its build in a
 * process-wide registry (a global symbol, so that the two builds find each other) and, when the other build is
 * already there, says so once, by name, with what to change.
 */
import { MODULE_SYSTEM } from './optional-peer.js';
import { bothBuildsLoadedMessage } from './wecom-token.messages.js';

/** The `code` of the warning, for `process.on('warning')` and `--disable-warning`. */
export const DUAL_PACKAGE_WARNING_CODE = 'NESTJS_WECOM_TOKEN_CJS_AND_ESM';

const LOADED = Symbol.for('nestjs-wecom-token.loaded');

interface LoadedBuilds {
  /** The module systems whose build has been loaded, in order. */
  systems: string[];
  warned: boolean;
}

/** Record that this build is loaded; warn once per process when both are. */
export function recordLoadedBuild(system: string = MODULE_SYSTEM): void {
  const registry = globalThis as typeof globalThis & { [LOADED]?: LoadedBuilds };
  const loaded = (registry[LOADED] ??= { systems: [], warned: false });
  if (!loaded.systems.includes(system)) loaded.systems.push(system);
  if (loaded.systems.length < 2 || loaded.warned) return;
  loaded.warned = true;
  process.emitWarning(bothBuildsLoadedMessage(loaded.systems[0], loaded.systems[1]), { code: DUAL_PACKAGE_WARNING_CODE });
}

recordLoadedBuild();
