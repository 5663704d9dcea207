/**
 * Ground floor: the identity options an app (or a suite) takes. The types live here, beside the other options, so
 * that `WeComTokenModuleOptions` can name them without importing `lib/identity/` (which sits above the options).
 */

/** What WeCom's in-client OAuth2 asks for: `snsapi_base` (who, silently) or `snsapi_privateinfo` (consent, user_ticket). */
export type WeComOAuthScope = 'snsapi_base' | 'snsapi_privateinfo';

/** The session and flow settings of `WeComAuthGuard` for one app or suite. */
export interface WeComAuthOptions {
  /**
   * Key material of the session cookie and the state (at least 32 characters). Without it, a key is derived from the
   * app's secret by HKDF (never the secret itself); rotating the secret then ends every session.
   */
  sessionSecret?: string;
  /** How long a session cookie is valid, in seconds. Default 28800 (8 hours). */
  sessionTtlSeconds?: number;
  /** The scope the guard asks for inside the WeCom client. Default `'snsapi_base'`. */
  scope?: WeComOAuthScope;
  /**
   * The session cookie's name (letters, digits, `_` and `-`). Default `wecom_session` for the default app,
   * `wecom_session_{name}` otherwise; the browser-binding cookie of the state is this name with `_state` appended.
   */
  cookieName?: string;
  /**
   * The public origin of the application (`https://app.example.com`), used for the `redirect_uri` WeCom returns to.
   * Default: the request's protocol and Host (as the platform reports them, so behind a proxy set trust proxy).
   */
  publicOrigin?: string;
}
