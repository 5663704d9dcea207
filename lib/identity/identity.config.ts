/**
 * Validation and defaults of the identity options of one app or suite, run when the module starts (the provider
 * factory), so a wrong option fails start-up with a message that names it, never its value.
 */
import type { Cache } from 'cache-manager';
import { WeComConfigError } from '../common/errors/wecom-config.error.js';
import type { WeComAuthOptions, WeComOAuthScope } from '../common/interfaces/wecom-auth-options.interface.js';
import type { TokenLock } from '../common/interfaces/token-lock.interface.js';
import { DEFAULT_APP_NAME } from '../common/wecom-token.constants.js';
import { invalidAuthOptionMessage, invalidBaseUrlMessage } from './identity.messages.js';
import type { OAuthUrlSettings } from './oauth-urls.js';
import { deriveKey } from './signing.js';

/** WeCom's in-client OAuth2 root. */
export const DEFAULT_OAUTH_BASE_URL = 'https://open.weixin.qq.com';
/** WeCom's web login root. */
export const DEFAULT_LOGIN_BASE_URL = 'https://login.work.weixin.qq.com';
/** Default lifetime of a session. */
export const DEFAULT_SESSION_TTL_SECONDS = 8 * 3600;
const MAX_SESSION_TTL_SECONDS = 30 * 86_400;
const MIN_SESSION_SECRET_LENGTH = 32;

/** What identity needs to know of one app or suite, resolved. */
export interface IdentitySettings extends OAuthUrlSettings {
  /** The corp an app's members belong to (for a suite: unknown until the exchange names it). */
  readonly corpId?: string;
  readonly scope: WeComOAuthScope;
  readonly sessionTtlMs: number;
  readonly cookieName: string;
  readonly stateCookieName: string;
  readonly publicOrigin?: string;
  readonly stateKey: Buffer;
  readonly sessionKey: Buffer;
  /** Where used state nonces are remembered across a fleet. */
  readonly store: { readonly keyPrefix: string; readonly cache?: Cache; readonly lock?: TokenLock; readonly timeoutMs: number };
}

/** The raw identity options of an app or suite, as given to forRoot. */
export interface RawIdentityOptions {
  readonly oauthBaseUrl?: unknown;
  readonly loginBaseUrl?: unknown;
  readonly auth?: WeComAuthOptions;
}

/** What the registration contributes besides the raw options. */
export interface IdentityContext {
  readonly app: string;
  readonly appId: string;
  readonly corpId?: string;
  readonly agentId?: string;
  readonly loginType: 'CorpApp' | 'ServiceApp';
  /** The app's (or suite's) secret: key material when `auth.sessionSecret` is not given; only HKDF reads it. */
  readonly secret: { reveal(): string };
  readonly keyPrefix: string;
  readonly cache?: Cache;
  readonly lock?: TokenLock;
  readonly timeoutMs: number;
}

function baseUrl(app: string, option: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  const text = typeof value === 'string' ? value : String(value);
  try {
    const url = new URL(text);
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash || url.username || url.password) throw new Error('shape');
    return url.toString().replace(/\/+$/, '');
  } catch {
    throw new WeComConfigError(invalidBaseUrlMessage(app, option, text.slice(0, 200)));
  }
}

/** Validate and default the identity options of one registration. */
export function resolveIdentitySettings(raw: RawIdentityOptions | undefined, context: IdentityContext): IdentitySettings {
  const { app } = context;
  const auth: WeComAuthOptions = raw?.auth ?? {};
  if (typeof auth !== 'object' || auth === null) throw new WeComConfigError(invalidAuthOptionMessage(app, '', 'must be an object'));

  let material: string;
  if (auth.sessionSecret !== undefined) {
    if (typeof auth.sessionSecret !== 'string' || auth.sessionSecret.length < MIN_SESSION_SECRET_LENGTH) {
      throw new WeComConfigError(
        invalidAuthOptionMessage(app, 'sessionSecret', `must be a string of at least ${MIN_SESSION_SECRET_LENGTH} characters (random, kept like a password)`),
      );
    }
    material = `session-secret\u0000${auth.sessionSecret}`;
  } else {
    material = `app-secret\u0000${context.secret.reveal()}`;
  }

  const ttl = auth.sessionTtlSeconds ?? DEFAULT_SESSION_TTL_SECONDS;
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 60 || ttl > MAX_SESSION_TTL_SECONDS) {
    throw new WeComConfigError(invalidAuthOptionMessage(app, 'sessionTtlSeconds', `must be an integer from 60 to ${MAX_SESSION_TTL_SECONDS}, got ${String(ttl)}`));
  }
  const scope = auth.scope ?? 'snsapi_base';
  if (scope !== 'snsapi_base' && scope !== 'snsapi_privateinfo') {
    throw new WeComConfigError(invalidAuthOptionMessage(app, 'scope', `must be 'snsapi_base' or 'snsapi_privateinfo', got '${String(scope).slice(0, 40)}'`));
  }
  const cookieName = auth.cookieName ?? defaultCookieName(app);
  if (typeof cookieName !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(cookieName)) {
    throw new WeComConfigError(invalidAuthOptionMessage(app, 'cookieName', 'must be 1 to 64 letters, digits, _ or -'));
  }
  let publicOrigin: string | undefined;
  if (auth.publicOrigin !== undefined) {
    const origin = baseUrl(app, 'auth.publicOrigin', auth.publicOrigin, '');
    if (new URL(origin).pathname !== '/') {
      throw new WeComConfigError(invalidAuthOptionMessage(app, 'publicOrigin', 'must be an origin (scheme, host and port), without a path'));
    }
    publicOrigin = new URL(origin).origin;
  }
  // One context label per registration: a session of one app never opens in another, even with one sessionSecret.
  const label = `${context.loginType}:${context.appId}:${context.agentId ?? ''}:${app}`;
  return {
    app,
    appId: context.appId,
    ...(context.corpId !== undefined ? { corpId: context.corpId } : {}),
    ...(context.agentId !== undefined ? { agentId: context.agentId } : {}),
    loginType: context.loginType,
    oauthBaseUrl: baseUrl(app, 'oauthBaseUrl', raw?.oauthBaseUrl, DEFAULT_OAUTH_BASE_URL),
    loginBaseUrl: baseUrl(app, 'loginBaseUrl', raw?.loginBaseUrl, DEFAULT_LOGIN_BASE_URL),
    scope,
    sessionTtlMs: ttl * 1000,
    cookieName,
    stateCookieName: `${cookieName}_state`,
    ...(publicOrigin !== undefined ? { publicOrigin } : {}),
    stateKey: deriveKey(material, `state\u0000${label}`),
    sessionKey: deriveKey(material, `session\u0000${label}`),
    store: {
      keyPrefix: context.keyPrefix,
      ...(context.cache ? { cache: context.cache } : {}),
      ...(context.lock ? { lock: context.lock } : {}),
      timeoutMs: context.timeoutMs,
    },
  };
}

/** `wecom_session` for the default app, `wecom_session_{name}` otherwise (unsafe characters become `_`). */
export function defaultCookieName(app: string): string {
  if (app === DEFAULT_APP_NAME) return 'wecom_session';
  const safe = app.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 40);
  return `wecom_session_${safe}`;
}
