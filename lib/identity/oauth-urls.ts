/**
 * The two URLs that send a user to WeCom (notes §8): the in-client OAuth2 page and the web login (QR code / SSO),
 * with WeCom's rules checked before any redirect.
 */
import { WeComConfigError } from '../common/errors/wecom-config.error.js';
import { invalidRedirectUriMessage, invalidStateMessage, noAgentIdForLoginMessage } from './identity.messages.js';
import type { WeComOAuthScope } from './identity.interfaces.js';

/** WeCom's rule for `state`: 1 to 128 characters of [A-Za-z0-9]. */
export const STATE_PATTERN = /^[A-Za-z0-9]{1,128}$/;

/** Who the URLs are for. */
export interface OAuthUrlSettings {
  /** The registration's name, for messages. */
  readonly app: string;
  /** `appid`: the corpId of a self-built app, the suiteId of a third-party app. */
  readonly appId: string;
  readonly agentId?: string;
  /** `CorpApp` for a corp's own app, `ServiceApp` for a suite. */
  readonly loginType: 'CorpApp' | 'ServiceApp';
  readonly oauthBaseUrl: string;
  readonly loginBaseUrl: string;
}

function checked(settings: OAuthUrlSettings, redirectUri: unknown, state: unknown): { redirectUri: string; state: string } {
  if (typeof state !== 'string' || !STATE_PATTERN.test(state)) {
    throw new WeComConfigError(invalidStateMessage(settings.app, typeof state === 'string' ? state.length : 0));
  }
  let url: URL;
  try {
    url = new URL(String(redirectUri));
  } catch {
    throw new WeComConfigError(invalidRedirectUriMessage(settings.app));
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || typeof redirectUri !== 'string' || !/^https?:\/\//i.test(redirectUri) || url.username || url.password) {
    throw new WeComConfigError(invalidRedirectUriMessage(settings.app));
  }
  return { redirectUri, state };
}

/** `{oauthBaseUrl}/connect/oauth2/authorize?appid=…&redirect_uri=…&response_type=code&scope=…&state=…&agentid=…#wechat_redirect` */
export function buildAuthorizeUrl(settings: OAuthUrlSettings, o: { redirectUri: string; state: string; scope: WeComOAuthScope }): string {
  const { redirectUri, state } = checked(settings, o.redirectUri, o.state);
  if (o.scope !== 'snsapi_base' && o.scope !== 'snsapi_privateinfo') {
    throw new WeComConfigError(`WeComOAuthService of app '${settings.app}': scope must be 'snsapi_base' or 'snsapi_privateinfo'`);
  }
  // A corp app's snsapi_privateinfo needs its agentid (WeCom shows whose consent it asks); suites have none.
  if (o.scope === 'snsapi_privateinfo' && settings.loginType === 'CorpApp' && settings.agentId === undefined) {
    throw new WeComConfigError(noAgentIdForLoginMessage(settings.app, "scope 'snsapi_privateinfo'"));
  }
  const query = [
    `appid=${encodeURIComponent(settings.appId)}`,
    `redirect_uri=${encodeURIComponent(redirectUri)}`,
    'response_type=code',
    `scope=${o.scope}`,
    `state=${state}`,
    ...(settings.agentId !== undefined && settings.loginType === 'CorpApp' ? [`agentid=${settings.agentId}`] : []),
  ].join('&');
  return `${settings.oauthBaseUrl}/connect/oauth2/authorize?${query}#wechat_redirect`;
}

/** `{loginBaseUrl}/wwlogin/sso/login?login_type=CorpApp&appid=…&agentid=…&redirect_uri=…&state=…` (ServiceApp for a suite). */
export function buildLoginUrl(settings: OAuthUrlSettings, o: { redirectUri: string; state: string }): string {
  const { redirectUri, state } = checked(settings, o.redirectUri, o.state);
  if (settings.loginType === 'CorpApp' && settings.agentId === undefined) {
    throw new WeComConfigError(noAgentIdForLoginMessage(settings.app, 'the web login (login_type=CorpApp)'));
  }
  const query = [
    `login_type=${settings.loginType}`,
    `appid=${encodeURIComponent(settings.appId)}`,
    ...(settings.loginType === 'CorpApp' ? [`agentid=${settings.agentId!}`] : []),
    `redirect_uri=${encodeURIComponent(redirectUri)}`,
    `state=${state}`,
  ].join('&');
  return `${settings.loginBaseUrl}/wwlogin/sso/login?${query}`;
}
