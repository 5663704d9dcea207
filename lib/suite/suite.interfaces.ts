/**
 * The options and public types of `WeComSuiteModule` (third-party apps, 服务商).
 */
import type { InjectionToken, ModuleMetadata, OptionalFactoryDependency, Type } from '@nestjs/common';
import type { Cache } from 'cache-manager';
import type { TokenLock } from '../common/interfaces/token-lock.interface.js';
import type { WeComAuthOptions } from '../common/interfaces/wecom-auth-options.interface.js';

/**
 * Where the application keeps each authorised corp's permanent code (a database table, a secret store). The module
 * calls `set` on create_auth and reset_permanent_code, `delete` on cancel_auth, and `get` when a corp's token is
 * fetched. A permanent code is a secret: the module never writes one to the cache, a log or an error.
 */
export interface PermanentCodeStore {
  get(authCorpId: string): Promise<string | undefined>;
  set(authCorpId: string, permanentCode: string): Promise<void>;
  delete(authCorpId: string): Promise<void>;
}

/** Options of one suite. */
export interface WeComSuiteModuleOptions {
  /** The suite's ID (`ww…` / `wx…`), from the provider console. */
  suiteId: string;
  /** The suite's secret. Never printed, never in a cache key. */
  suiteSecret: string;
  /** The Token of the suite's 指令回调 settings. */
  callbackToken: string;
  /** The 43-character EncodingAESKey of the suite's 指令回调 settings. */
  encodingAESKey: string;
  /** Where each authorised corp's permanent code is kept. */
  permanentCodes: PermanentCodeStore;
  /** The provider's corpid, for `getProviderToken()` and the URL check of the provider's callback. */
  providerCorpId?: string;
  /** The provider's secret (服务商 Secret), for `getProviderToken()`. */
  providerSecret?: string;
  /** Registers another suite beside the default one. Default `'default'`. */
  name?: string;
  /**
   * The suite is a 代开发 template (its id starts with `dk`): a corp's permanent code is that corp's app secret, so
   * its token comes from `gettoken(corpid = authCorpId, corpsecret = permanent code)` (never `get_corp_token`),
   * cached under the self-built layout `wecom:v1:{authCorpId}:{hash16(permanentCode)}:access_token`. Default false.
   */
  customDeveloped?: boolean;
  /** WeCom's API root. Default `https://qyapi.weixin.qq.com`. */
  baseUrl?: string;
  /**
   * The HTTP forward proxy every request of the suite goes through (suite, provider and corp tokens,
   * get_permanent_code, `suiteClient`, `providerClient`, `clientFor(corp)`), as `WeComTokenModule`'s `proxy`:
   * `http://[user:password@]host:port`; `false` for none; omitted, the environment's HTTPS_PROXY / NO_PROXY.
   */
  proxy?: string | false;
  /** The shared cache (Redis for a fleet). Default: the application's CACHE_MANAGER, else a private in-memory one. */
  cache?: Cache;
  /** Who may fetch (RedisTokenLock for a fleet). Default: an in-process lock. */
  lock?: TokenLock;
  /** Refresh this many seconds before expiry. Default 300. */
  refreshAheadSeconds?: number;
  /** Bound on one request to WeCom. Default 10000. */
  timeoutMs?: number;
  /** Make this suite's providers global. Default false. */
  isGlobal?: boolean;
  /** Root of WeCom's in-client OAuth2 pages. Default `https://open.weixin.qq.com`. */
  oauthBaseUrl?: string;
  /** Root of WeCom's web login. Default `https://login.work.weixin.qq.com`. */
  loginBaseUrl?: string;
  /** Session and flow settings of `WeComAuthGuard` for this suite's members (`@WeComAuth({ suite })`). */
  auth?: WeComAuthOptions;
}

/** A class that makes a suite's options, for `forRootAsync({ useClass })`. */
export interface WeComSuiteOptionsFactory {
  createWeComSuiteOptions(): Promise<WeComSuiteModuleOptions> | WeComSuiteModuleOptions;
}

/** Options of `WeComSuiteModule.forRootAsync`. */
export interface WeComSuiteModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  /** Registers another suite beside the default one. Default `'default'`. */
  name?: string;
  isGlobal?: boolean;
  useFactory?: (...args: never[]) => Promise<Omit<WeComSuiteModuleOptions, 'name' | 'isGlobal'>> | Omit<WeComSuiteModuleOptions, 'name' | 'isGlobal'>;
  inject?: Array<InjectionToken | OptionalFactoryDependency>;
  useClass?: Type<WeComSuiteOptionsFactory>;
  useExisting?: Type<WeComSuiteOptionsFactory>;
}
