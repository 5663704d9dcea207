/**
 * Validation and defaults of one suite's options, run when the module starts. The engine settings (baseUrl,
 * timeouts, cache, lock) follow the app's rules exactly: they are validated by the same function.
 */
import { resolveConfig, trimmed } from '../common/wecom-token.config.js';
import type { WeComTokenConfig } from '../common/wecom-token.config.js';
import { WeComConfigError } from '../common/errors/wecom-config.error.js';
import { Secret } from '../common/redaction.js';
import { CACHE_KEY_PREFIX } from '../common/wecom-token.constants.js';
import type { PermanentCodeStore, WeComSuiteModuleOptions } from './suite.interfaces.js';
import type { RawIdentityOptions } from '../identity/identity.config.js';

/** The validated configuration of one suite; secrets wrapped so that they cannot be printed. */
export interface SuiteConfig {
  readonly name: string;
  readonly suiteId: string;
  readonly suiteSecret: Secret;
  readonly callbackToken: Secret;
  readonly encodingAESKey: Secret;
  readonly permanentCodes: PermanentCodeStore;
  /** A 代开发 template: corp tokens from gettoken with the permanent code as secret. */
  readonly customDeveloped: boolean;
  readonly provider?: { readonly corpId: string; readonly secret: Secret };
  /** Engine settings (timeouts, cool-downs, retry, baseUrl, cache, lock), as an app's. */
  readonly engine: WeComTokenConfig;
  /** The identity options (oauthBaseUrl, loginBaseUrl, auth), validated by identity when SuiteService is built. */
  readonly identity: RawIdentityOptions;
  readonly keys: {
    readonly suiteTicket: string;
    readonly suiteToken: string;
    readonly providerToken?: string;
    corpToken(authCorpId: string): string;
    corpCancelled(authCorpId: string): string;
    /** The agentid of the app a corp authorised (from get_permanent_code's auth_info): not a secret. */
    corpAgent(authCorpId: string): string;
  };
}

function message(name: string, option: string, problem: string): string {
  return `WeComSuiteModule: option '${option}' of suite '${name}' ${problem}`;
}

function str(name: string, option: string, value: unknown, required = true): string | undefined {
  if (value === undefined || value === null) {
    if (!required) return undefined;
    throw new WeComConfigError(message(name, option, 'is missing'));
  }
  if (typeof value !== 'string') throw new WeComConfigError(message(name, option, `must be a string, got ${typeof value}`));
  if (value.trim() === '') throw new WeComConfigError(message(name, option, 'is empty'));
  return trimmed(name, option, value);
}

/** Validate and default the options of suite `name`; every message names the option and the suite, never a value. */
export function resolveSuiteConfig(raw: WeComSuiteModuleOptions | undefined | null, name: string): SuiteConfig {
  if (!raw || typeof raw !== 'object') throw new WeComConfigError(message(name, 'options', 'must be an object'));
  const suiteId = str(name, 'suiteId', raw.suiteId)!;
  const suiteSecret = new Secret(str(name, 'suiteSecret', raw.suiteSecret)!);
  const callbackToken = new Secret(str(name, 'callbackToken', raw.callbackToken)!);
  const aesKey = str(name, 'encodingAESKey', raw.encodingAESKey)!;
  if (!/^[A-Za-z0-9+/]{43}$/.test(aesKey)) throw new WeComConfigError(message(name, 'encodingAESKey', 'must be 43 base64 characters'));
  const store = raw.permanentCodes;
  if (!store || typeof store !== 'object' || typeof store.get !== 'function' || typeof store.set !== 'function' || typeof store.delete !== 'function') {
    throw new WeComConfigError(message(name, 'permanentCodes', 'must be a PermanentCodeStore (get, set, delete)'));
  }
  if (raw.customDeveloped !== undefined && typeof raw.customDeveloped !== 'boolean') throw new WeComConfigError(message(name, 'customDeveloped', 'must be true or false'));
  const customDeveloped = raw.customDeveloped === true;
  if (customDeveloped && !suiteId.startsWith('dk'))
    throw new WeComConfigError(message(name, 'customDeveloped', `is true, but suiteId '${suiteId}' is no 代开发 template id (those start with 'dk')`));
  const providerCorpId = str(name, 'providerCorpId', raw.providerCorpId, false);
  const providerSecret = str(name, 'providerSecret', raw.providerSecret, false);
  if ((providerCorpId === undefined) !== (providerSecret === undefined)) {
    throw new WeComConfigError(message(name, providerCorpId === undefined ? 'providerCorpId' : 'providerSecret', 'is missing: providerCorpId and providerSecret go together'));
  }
  let engine: WeComTokenConfig;
  try {
    engine = resolveConfig(
      {
        corpId: suiteId,
        secret: suiteSecret.reveal(),
        backgroundRefresh: false,
        ...pick(raw, ['baseUrl', 'cache', 'lock', 'refreshAheadSeconds', 'timeoutMs', 'proxy']),
      },
      name,
    );
  } catch (error) {
    if (!(error instanceof WeComConfigError)) throw error;
    throw new WeComConfigError(error.message.replace(/^WeComTokenModule: (option '[^']*') of app '[^']*'/, `WeComSuiteModule: $1 of suite '${name}'`));
  }
  const provider = providerCorpId !== undefined ? { corpId: providerCorpId, secret: new Secret(providerSecret!) } : undefined;
  const suitePrefix = `${CACHE_KEY_PREFIX}:suite:${suiteId}`;
  return {
    name,
    suiteId,
    suiteSecret,
    callbackToken,
    encodingAESKey: new Secret(aesKey),
    permanentCodes: store,
    customDeveloped,
    ...(provider ? { provider } : {}),
    engine,
    identity: pick(raw, ['oauthBaseUrl', 'loginBaseUrl', 'auth']),
    keys: {
      suiteTicket: `${suitePrefix}:suite_ticket`,
      suiteToken: `${suitePrefix}:${suiteSecret.fingerprint()}:suite_access_token`,
      ...(provider ? { providerToken: `${CACHE_KEY_PREFIX}:provider:${provider.corpId}:${provider.secret.fingerprint()}:provider_access_token` } : {}),
      corpToken: (authCorpId) => `${suitePrefix}:corp:${authCorpId}:access_token`,
      corpCancelled: (authCorpId) => `${suitePrefix}:corp:${authCorpId}:cancelled`,
      corpAgent: (authCorpId) => `${suitePrefix}:corp:${authCorpId}:agentid`,
    },
  };
}

function pick<T extends object, K extends keyof T>(value: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (value[k] !== undefined) out[k] = value[k];
  return out;
}
