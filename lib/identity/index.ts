/** The public names of identity, re-exported by the package's barrel. */
export { WeComOAuthService } from './wecom-oauth.service.js';
export { WeComOAuthCodeError } from './wecom-oauth-code.error.js';
export { WeComAuthGuard } from './wecom-auth.guard.js';
export { WeComUser } from './wecom-user.decorator.js';
export { WeComAuth } from './wecom-auth.decorator.js';
export { getWeComOAuthServiceToken, InjectWeComOAuthService } from './identity.tokens.js';
export { STATE_PATTERN } from './oauth-urls.js';
export { DEFAULT_LOGIN_BASE_URL, DEFAULT_OAUTH_BASE_URL } from './identity.config.js';
export type { WeComAuthorizeUrlOptions, WeComAuthTarget, WeComIdentity, WeComLoginUrlOptions, WeComUserDetail } from './identity.interfaces.js';
