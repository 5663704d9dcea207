/**
 * Who is this user: the URLs that send a member to WeCom, and the exchange of the code WeCom returns, with the
 * app's (or the suite's) credential through its WeComClient, so an exchange costs no gettoken of its own.
 */
import { inspect } from 'node:util';
import { WeComApiError } from '../common/errors/wecom-api.error.js';
import type { WeComClient } from '../http/wecom.client.js';
import type { AppRef } from '../common/wecom-token.messages.js';
import { AuthFlow } from './auth-flow.js';
import type { IdentitySettings } from './identity.config.js';
import type { WeComAuthorizeUrlOptions, WeComIdentity, WeComLoginUrlOptions, WeComUserDetail } from './identity.interfaces.js';
import { noIdentityMessage } from './identity.messages.js';
import { buildAuthorizeUrl, buildLoginUrl } from './oauth-urls.js';
import { OAUTH_CODE_ERRCODE, WeComOAuthCodeError } from './wecom-oauth-code.error.js';

/** WeCom's codes are at most 512 bytes (notes §8); anything longer is refused before a request. */
const MAX_CODE_LENGTH = 512;
const MAX_TICKET_LENGTH = 1_024;
const MAX_FIELD_LENGTH = 256;

/** The endpoints one registration exchanges with: an app's `auth/*`, a suite's `service/auth/*3rd`. */
export interface OAuthEndpoints {
  readonly userInfo: string;
  readonly userDetail: string;
  /** The query parameter the code travels in. */
  readonly codeParam: 'code';
}

/** A self-built app's endpoints. */
export const APP_OAUTH_ENDPOINTS: OAuthEndpoints = Object.freeze({ userInfo: '/cgi-bin/auth/getuserinfo', userDetail: '/cgi-bin/auth/getuserdetail', codeParam: 'code' });
/** A third-party suite's endpoints (suite_access_token). */
export const SUITE_OAUTH_ENDPOINTS: OAuthEndpoints = Object.freeze({
  userInfo: '/cgi-bin/service/auth/getuserinfo3rd',
  userDetail: '/cgi-bin/service/auth/getuserdetail3rd',
  codeParam: 'code',
});

/**
 * OAuth2 in the WeCom client and web login outside it, for one app. Injected as `WeComOAuthService` for the
 * default app, `@InjectWeComOAuthService(name)` for a named one; `SuiteService.oauth` for a third-party app.
 */
export class WeComOAuthService {
  /** @internal What `WeComAuthGuard` runs for this registration. */
  readonly flow: AuthFlow;
  private readonly ref: AppRef;

  /** @internal Built by `WeComTokenModule` / `WeComSuiteModule`. */
  constructor(
    private readonly settings: IdentitySettings,
    private readonly client: WeComClient,
    private readonly endpoints: OAuthEndpoints = APP_OAUTH_ENDPOINTS,
  ) {
    this.ref = { corpId: settings.corpId ?? settings.appId, app: settings.app };
    this.flow = new AuthFlow(settings, this);
  }

  /** The registered app (or suite) name. */
  get appName(): string {
    return this.settings.app;
  }

  /**
   * The in-client OAuth2 URL (`/connect/oauth2/authorize?…#wechat_redirect`). `state` must be 1-128 characters of
   * `[A-Za-z0-9]`, `redirectUri` absolute http(s): otherwise a `WeComConfigError`, before any redirect.
   */
  authorizeUrl(o: WeComAuthorizeUrlOptions): string {
    return buildAuthorizeUrl(this.settings, { redirectUri: o?.redirectUri, state: o?.state, scope: o?.scope ?? this.settings.scope });
  }

  /** The web login URL outside the client (`/wwlogin/sso/login?login_type=CorpApp&…`), same rules as {@link authorizeUrl}. */
  loginUrl(o: WeComLoginUrlOptions): string {
    return buildLoginUrl(this.settings, { redirectUri: o?.redirectUri, state: o?.state });
  }

  /**
   * Exchanges a code WeCom returned for the user's identity (`GET /cgi-bin/auth/getuserinfo` with the app's token;
   * a suite: `service/auth/getuserinfo3rd` with the suite token). A code is single use and lives 5 minutes.
   *
   * @throws WeComOAuthCodeError (40029) for a used, expired or malformed code.
   */
  async exchange(code: string): Promise<WeComIdentity> {
    const path = this.endpoints.userInfo;
    if (typeof code !== 'string' || code.length === 0 || code.length > MAX_CODE_LENGTH || !/^[\x21-\x7e]+$/.test(code)) {
      throw new WeComOAuthCodeError(this.ref, path, 'the code is empty, too long or not printable ASCII (refused before any request)');
    }
    const requestedAt = Date.now();
    let body: Record<string, unknown>;
    try {
      body = await this.client.get<Record<string, unknown>>(path, { [this.endpoints.codeParam]: code });
    } catch (error) {
      if (error instanceof WeComApiError && error.errcode === OAUTH_CODE_ERRCODE) throw new WeComOAuthCodeError(this.ref, path, error.errmsg);
      throw error;
    }
    return identityOf(body, this.settings.corpId, requestedAt, () => noIdentityMessage(this.settings.app, path));
  }

  /**
   * The member's fields behind a user_ticket (`POST /cgi-bin/auth/getuserdetail`; a suite: `getuserdetail3rd`):
   * mobile, email, avatar, … , which `user/get` no longer returns to apps created after June 2022.
   */
  async userDetail(userTicket: string): Promise<WeComUserDetail> {
    const path = this.endpoints.userDetail;
    if (typeof userTicket !== 'string' || userTicket.length === 0 || userTicket.length > MAX_TICKET_LENGTH) {
      throw new WeComApiError(this.ref, path, 40029, 'the user_ticket is empty or too long (refused before any request)');
    }
    const body = await this.client.post<Record<string, unknown>>(path, { user_ticket: userTicket });
    const userId = text(body.userid) ?? text(body.UserId);
    if (userId === undefined) throw new Error(noIdentityMessage(this.settings.app, path));
    const detail: WeComUserDetail = { userId };
    const fields: Array<[keyof WeComUserDetail, unknown]> = [
      ['corpId', body.corpid],
      ['gender', typeof body.gender === 'number' ? String(body.gender) : body.gender],
      ['avatar', body.avatar],
      ['qrCode', body.qr_code],
      ['mobile', body.mobile],
      ['email', body.email],
      ['bizMail', body.biz_mail],
      ['address', body.address],
    ];
    for (const [name, value] of fields) {
      const v = text(value, 2_048);
      if (v !== undefined) (detail as unknown as Record<string, string>)[name] = v;
    }
    return detail;
  }

  /** @internal Shows the registration, never a key. */
  [inspect.custom](): string {
    return `WeComOAuthService { app: '${this.settings.app}', appId: '${this.settings.appId}' }`;
  }

  /** @internal */
  toJSON(): Record<string, string> {
    return { app: this.settings.app, appId: this.settings.appId };
  }
}

function text(value: unknown, max = MAX_FIELD_LENGTH): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= max ? value : undefined;
}

/**
 * The identity in an exchange's answer. The user_ticket is kept off the enumerable fields (a getter that is not
 * enumerable), so that a session, a log line, `JSON.stringify` or a spread never carries it by accident.
 */
function identityOf(body: Record<string, unknown>, corpId: string | undefined, requestedAt: number, missing: () => string): WeComIdentity {
  const userId = text(body.userid) ?? text(body.UserId);
  const openId = text(body.openid) ?? text(body.OpenId);
  if (userId === undefined && openId === undefined) throw new Error(missing());
  const identity: WeComIdentity = {
    corpId: text(body.corpid) ?? text(body.CorpId) ?? corpId ?? '',
    ...(userId !== undefined ? { userId } : {}),
    ...(openId !== undefined ? { openId } : {}),
    ...(text(body.external_userid) !== undefined ? { externalUserId: text(body.external_userid) } : {}),
    ...(text(body.open_userid) !== undefined ? { openUserId: text(body.open_userid) } : {}),
  };
  const ticket = text(body.user_ticket, MAX_TICKET_LENGTH);
  if (ticket !== undefined) {
    const expiresIn = typeof body.expires_in === 'number' && Number.isFinite(body.expires_in) && body.expires_in > 0 ? Math.min(body.expires_in, 1800) : 1800;
    Object.defineProperty(identity, 'userTicket', { get: () => ticket, enumerable: false, configurable: false });
    identity.userTicketExpiresAt = requestedAt + expiresIn * 1000;
  }
  return identity;
}
