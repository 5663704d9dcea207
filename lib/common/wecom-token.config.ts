/**
 * Validation and defaults of one app's options, run when the module starts.
 */
import { Logger } from '@nestjs/common';
import type { Cache } from 'cache-manager';
import { WeComConfigError } from './errors/wecom-config.error.js';
import type { TokenLock } from './interfaces/token-lock.interface.js';
import type { WeComTokenModuleOptions } from './interfaces/wecom-token-options.interface.js';
import {
  CACHE_KEY_PREFIX,
  DEFAULT_BASE_URL,
  DEFAULT_CACHE_TIMEOUT_MS,
  DEFAULT_ERROR_COOLDOWN_MS,
  DEFAULT_FAILURE_COOLDOWN_MS,
  MAX_TIMER_MS,
  MAX_LIFETIME_SECONDS,
  FETCH_BUDGET,
  DEFAULT_RATE_LIMIT_COOLDOWN_MS,
  DEFAULT_REFRESH_AHEAD_SECONDS,
  DEFAULT_RETRY,
  DEFAULT_TIMEOUT_MS,
} from './wecom-token.constants.js';
import { AppRef, invalidOptionMessage, trimmedOptionMessage } from './wecom-token.messages.js';
import { Secret } from './redaction.js';
import { ProxyUrl } from './proxy-url.js';
import { classifyFailure, errcodeOf } from './credential-request.js';

/** The validated configuration of one app, defaults applied. The secret is wrapped so it cannot be printed. */
export interface WeComTokenConfig extends AppRef {
  secret: Secret;
  agentId?: string;
  baseUrl: string;
  refreshAheadMs: number;
  timeoutMs: number;
  backgroundRefresh: boolean;
  retry: { attempts: number; baseDelayMs: number; maxDelayMs: number };
  errorCooldownMs: number;
  rateLimitCooldownMs: number;
  failureCooldownMs: number;
  cacheTimeoutMs: number;
  cache?: Cache;
  lock?: TokenLock;
  /** The forward proxy (its credentials sealed in), `false` for none, absent for the environment's convention. */
  proxy?: ProxyUrl | false;
  /** `wecom:v1:{corpId}:{sha256(secret)[0..16]}:access_token` */
  cacheKey: string;
}

function nonEmptyString(app: string, option: string, value: unknown): string {
  if (value === undefined || value === null) throw new WeComConfigError(invalidOptionMessage(app, option, 'is missing'));
  if (typeof value !== 'string') throw new WeComConfigError(invalidOptionMessage(app, option, `must be a string, got ${typeof value}`));
  if (value.trim() === '') throw new WeComConfigError(invalidOptionMessage(app, option, 'is empty'));
  return value;
}

/**
 * A number option within [min, max]. Durations are bounded by what Node's timers can hold (2^31-1 ms): a longer
 * timer fires at once, which would turn a cool-down or a timeout into a loop.
 */
function number(app: string, option: string, value: unknown, fallback: number, min: number, integer = false, max = MAX_TIMER_MS): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new WeComConfigError(invalidOptionMessage(app, option, `must be a finite ${integer ? 'integer' : 'number'} from ${min} to ${max}, got ${String(value)}`));
  }
  return value;
}

/**
 * One rule for every credential option: whitespace around it is trimmed (a trailing newline from an env file would
 * otherwise mean 40001), with a warning that names the option, never the value.
 */
export function trimmed(app: string, option: string, value: string): string {
  const clean = value.trim();
  if (clean !== value) new Logger('WeComTokenModule').warn(trimmedOptionMessage(app, option));
  return clean;
}

/**
 * The `proxy` option: a proxy URL, `false` (never a proxy), or absent (the environment's HTTPS_PROXY / HTTP_PROXY /
 * NO_PROXY). A wrong value fails at start-up with a message that never repeats it (it may hold a password).
 */
export function resolveProxyOption(app: string, value: unknown): ProxyUrl | false | undefined {
  if (value === undefined || value === false) return value;
  if (typeof value !== 'string' || value.trim() === '') {
    throw new WeComConfigError(
      invalidOptionMessage(
        app,
        'proxy',
        `must be a proxy URL (http://[user:password@]host:port) or false, got ${value === null ? 'null' : typeof value === 'string' ? 'an empty string' : typeof value}`,
      ),
    );
  }
  try {
    return ProxyUrl.parse(value);
  } catch (error) {
    throw new WeComConfigError(invalidOptionMessage(app, 'proxy', (error as Error).message));
  }
}

/** Validate and default the options of app `name`; every message names the option and the app, never a secret. */
export function resolveConfig(raw: WeComTokenModuleOptions | undefined | null, name: string): WeComTokenConfig {
  if (!raw || typeof raw !== 'object') throw new WeComConfigError(invalidOptionMessage(name, 'options', `must be an object, got ${raw === null ? 'null' : typeof raw}`));
  const corpId = trimmed(name, 'corpId', nonEmptyString(name, 'corpId', raw.corpId));
  const secret = new Secret(trimmed(name, 'secret', nonEmptyString(name, 'secret', raw.secret)));

  const baseUrlRaw = raw.baseUrl === undefined ? DEFAULT_BASE_URL : nonEmptyString(name, 'baseUrl', raw.baseUrl);
  let baseUrl: string;
  try {
    const url = new URL(baseUrlRaw);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('protocol');
    if (url.search || url.hash) throw new Error('query');
    const normal = url.toString().replace(/\/+$/, '');
    // The registry's apps share their root: keep the caller's string when it is already the normal form.
    baseUrl = normal === baseUrlRaw ? baseUrlRaw : normal;
  } catch {
    throw new WeComConfigError(invalidOptionMessage(name, 'baseUrl', `must be an http(s) URL without query string, got '${baseUrlRaw}'`));
  }

  let agentId: string | undefined;
  if (raw.agentId !== undefined && raw.agentId !== null) {
    agentId = String(raw.agentId).trim();
    if (!/^\d+$/.test(agentId)) throw new WeComConfigError(invalidOptionMessage(name, 'agentId', `must be a number, got '${agentId}'`));
  }

  const retry = raw.retry ?? {};
  const cache = raw.cache;
  if (
    cache !== undefined &&
    (typeof cache !== 'object' || cache === null || typeof cache.get !== 'function' || typeof cache.set !== 'function' || typeof cache.del !== 'function')
  ) {
    throw new WeComConfigError(invalidOptionMessage(name, 'cache', 'must be a cache-manager Cache (get, set, del)'));
  }
  const lock = raw.lock;
  if (lock !== undefined && (typeof lock !== 'object' || lock === null || typeof lock.acquire !== 'function')) {
    throw new WeComConfigError(invalidOptionMessage(name, 'lock', 'must be a TokenLock (acquire)'));
  }
  if (raw.backgroundRefresh !== undefined && typeof raw.backgroundRefresh !== 'boolean') {
    throw new WeComConfigError(invalidOptionMessage(name, 'backgroundRefresh', 'must be true or false'));
  }

  const proxy = resolveProxyOption(name, raw.proxy);

  // One literal with every property: conditional spreads would leave a dictionary-mode object (hundreds of bytes
  // more for each app of a registry).
  const config: WeComTokenConfig = {
    app: name,
    corpId,
    secret,
    baseUrl,
    refreshAheadMs: number(name, 'refreshAheadSeconds', raw.refreshAheadSeconds, DEFAULT_REFRESH_AHEAD_SECONDS, 0, false, MAX_LIFETIME_SECONDS) * 1000,
    timeoutMs: number(name, 'timeoutMs', raw.timeoutMs, DEFAULT_TIMEOUT_MS, 1, true),
    backgroundRefresh: raw.backgroundRefresh ?? true,
    retry: sharedIfDefault({
      attempts: number(name, 'retry.attempts', retry.attempts, DEFAULT_RETRY.attempts, 1, true, FETCH_BUDGET),
      baseDelayMs: number(name, 'retry.baseDelayMs', retry.baseDelayMs, DEFAULT_RETRY.baseDelayMs, 0),
      maxDelayMs: number(name, 'retry.maxDelayMs', retry.maxDelayMs, DEFAULT_RETRY.maxDelayMs, 0),
    }),
    errorCooldownMs: number(name, 'errorCooldownMs', raw.errorCooldownMs, DEFAULT_ERROR_COOLDOWN_MS, 0),
    rateLimitCooldownMs: number(name, 'rateLimitCooldownMs', raw.rateLimitCooldownMs, DEFAULT_RATE_LIMIT_COOLDOWN_MS, 0),
    failureCooldownMs: number(name, 'failureCooldownMs', raw.failureCooldownMs, DEFAULT_FAILURE_COOLDOWN_MS, 0),
    cacheTimeoutMs: number(name, 'cacheTimeoutMs', raw.cacheTimeoutMs, DEFAULT_CACHE_TIMEOUT_MS, 1),
    // Joined, not a template: one flat string rather than a tree of parts (every registry app holds its key).
    cacheKey: [CACHE_KEY_PREFIX, corpId, secret.fingerprint(), 'access_token'].join(':'),
    // Present (undefined when not given) so that every config has one shape, with no property storage of its own.
    agentId,
    cache: cache ?? undefined,
    lock: lock ?? undefined,
    proxy,
  };
  return config;
}

/** The default retry policy, one object for every app that keeps it (a registry holds thousands of apps). */
const DEFAULT_RETRY_POLICY: WeComTokenConfig['retry'] = Object.freeze({ ...DEFAULT_RETRY });

function sharedIfDefault(retry: WeComTokenConfig['retry']): WeComTokenConfig['retry'] {
  const d = DEFAULT_RETRY_POLICY;
  return retry.attempts === d.attempts && retry.baseDelayMs === d.baseDelayMs && retry.maxDelayMs === d.maxDelayMs ? d : retry;
}

/** The engine's settings shared by every credential of one app. */
export function settingsOf(config: WeComTokenConfig, ref: AppRef) {
  return {
    ref,
    refreshAheadMs: config.refreshAheadMs,
    timeoutMs: config.timeoutMs,
    cacheTimeoutMs: config.cacheTimeoutMs,
    errorCooldownMs: config.errorCooldownMs,
    rateLimitCooldownMs: config.rateLimitCooldownMs,
    failureCooldownMs: config.failureCooldownMs,
    retry: config.retry,
    classify: classifyFailure,
    errcodeOf,
  };
}
