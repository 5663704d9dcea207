import type { ModuleMetadata, Type, InjectionToken, OptionalFactoryDependency } from '@nestjs/common';
import type { Cache } from 'cache-manager';
import type { TokenLock } from './token-lock.interface.js';
import type { WeComAuthOptions } from './wecom-auth-options.interface.js';

/** Bounded retry of transient failures (errcode -1 and 45033, network errors, timeouts, 5xx). */
export interface WeComRetryOptions {
  /** Attempts in all, the first included. Default 3. */
  attempts?: number;
  /** First backoff; each next one doubles, with jitter. Default 200 ms. */
  baseDelayMs?: number;
  /** Upper bound of one backoff. Default 3000 ms. */
  maxDelayMs?: number;
}

/** The app's 接收消息 settings (its callback URL's Token and EncodingAESKey), for `WeComCallbackService`. */
export interface WeComCallbackOptions {
  /** The callback Token. Never logged. */
  token: string;
  /** The 43-character EncodingAESKey. Never logged. */
  encodingAESKey: string;
  /** A handler still running after this long is acknowledged (200) and finishes in the background. Default 4000. */
  ackTimeoutMs?: number;
}

/** Options of one WeCom app (one secret). */
export interface WeComTokenModuleOptions {
  /** The corp's ID (`ww…`). Required. */
  corpId: string;
  /** The secret of ONE app: a self-built app, contacts sync, customer contact, … Required. Never logged. */
  secret: string;
  /** Registers another app beside the default one. Default `'default'`. */
  name?: string;
  /** The app's agentid, where it has one. */
  agentId?: number | string;
  /** WeCom's API root: a proxy, a private deployment, or the simulator. Default `https://qyapi.weixin.qq.com`. */
  baseUrl?: string;
  /**
   * The HTTP forward proxy every request of this app goes through (`http://[user:password@]host:port`, or
   * `https://…` for a TLS proxy): HTTPS through CONNECT tunnels kept alive and reused, plain HTTP in absolute form.
   * `false`: never a proxy, whatever the environment says. Omitted: the environment's `HTTPS_PROXY` / `https_proxy`,
   * `HTTP_PROXY` / `http_proxy` and `NO_PROXY` / `no_proxy`. The password never appears in any output.
   */
  proxy?: string | false;
  /** Refresh this long before expiry; the refresh point is never earlier than half the lifetime. Default 300. */
  refreshAheadSeconds?: number;
  /**
   * Where the token is kept. Default: the application's global `CACHE_MANAGER` when it provides one, else a private
   * in-memory cache. A Redis-backed cache shares the token across instances.
   */
  cache?: Cache;
  /** Who may fetch. Default: in-process. `RedisTokenLock` makes one instance of a fleet fetch at a time. */
  lock?: TokenLock;
  /**
   * Refresh ahead of expiry off the request path, on a timer registered with `SchedulerRegistry` when the
   * application imports `ScheduleModule.forRoot()`. Without it, refresh happens on demand only. Default true.
   */
  backgroundRefresh?: boolean;
  /** HTTP timeout of one call to WeCom. Default 10000. */
  timeoutMs?: number;
  /** Make this app's providers global. Default false. */
  isGlobal?: boolean;
  /** Bounded retry of transient failures. */
  retry?: WeComRetryOptions;
  /**
   * How long a credential or permission error of gettoken (40001, 40013, 40091, 48002, 60020, …) is remembered and
   * answered without calling WeCom again, so that a crowd of callers cannot get the server's IP blocked. Default 30000.
   */
  errorCooldownMs?: number;
  /**
   * How long gettoken is paused after WeCom's frequency limit (45009) answered it: WeCom's blocks last 60 s or
   * 60 min, and every call during a block extends nothing but the damage. Default 60000.
   */
  rateLimitCooldownMs?: number;
  /**
   * First cool-down after a credential request failed for another reason (an HTML page, 5xx, a dropped connection,
   * an invalid answer): callers during it get that failure at once; it doubles with each further failure, up to
   * 30 s, and ends with a success. Default 1000.
   */
  failureCooldownMs?: number;
  /** Bound on every shared-cache and lock operation. Default 1000. */
  cacheTimeoutMs?: number;
  /** Root of WeCom's in-client OAuth2 pages (`/connect/oauth2/authorize`). Default `https://open.weixin.qq.com`. */
  oauthBaseUrl?: string;
  /** Root of WeCom's web login (`/wwlogin/sso/login`). Default `https://login.work.weixin.qq.com`. */
  loginBaseUrl?: string;
  /** Session and flow settings of `WeComAuthGuard` for this app. */
  auth?: WeComAuthOptions;
  /** Receive this app's messages and events (`WeComCallbackService`, `@OnWeComCallback`). */
  callback?: WeComCallbackOptions;
}

/** A class that makes the options of one app, for `forRootAsync({ useClass })` / `useExisting`. */
export interface WeComTokenOptionsFactory {
  /** Make the options; `name` and `isGlobal` given here are ignored (they are read from `forRootAsync`). */
  createWeComTokenOptions(): Promise<WeComTokenModuleOptions> | WeComTokenModuleOptions;
}

/** Options of `WeComTokenModule.forRootAsync`. */
export interface WeComTokenModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  /** Registers another app beside the default one. Default `'default'`. */
  name?: string;
  /** Make this app's providers global. Default false. */
  isGlobal?: boolean;
  /** A factory of the options. */
  useFactory?: (...args: never[]) => Promise<WeComTokenModuleOptions> | WeComTokenModuleOptions;
  /** What `useFactory` is given. */
  inject?: Array<InjectionToken | OptionalFactoryDependency>;
  /** A class to instantiate in this module that makes the options. */
  useClass?: Type<WeComTokenOptionsFactory>;
  /** An existing provider (from `imports`) that makes the options. */
  useExisting?: Type<WeComTokenOptionsFactory>;
}
