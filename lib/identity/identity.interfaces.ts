/**
 * The public types of user identity: who a member (or a visitor) is, their user_ticket fields, and the URL options.
 */
export type { WeComAuthOptions, WeComOAuthScope } from '../common/interfaces/wecom-auth-options.interface.js';
import type { WeComOAuthScope } from '../common/interfaces/wecom-auth-options.interface.js';

/**
 * Who came back from WeCom with a code. A member has `userId`; a visitor who is not a member of the corp has
 * `openId` (and `externalUserId` when they are one of the corp's external contacts). `userTicket` is there only for
 * `snsapi_privateinfo` (and third-party logins); it is not enumerable, so `JSON.stringify`, spreading and
 * `util.inspect` never show it.
 */
export interface WeComIdentity {
  /** The member's corp (the app's corp; for a suite, the authorised corp the member belongs to). */
  corpId: string;
  /** The member's userid, for a member of the corp. */
  userId?: string;
  /** The visitor's openid, for someone who is not a member. */
  openId?: string;
  /** The external contact's id, when the visitor is one. */
  externalUserId?: string;
  /** Third-party apps: the member's open_userid (stable across the provider's suites). */
  openUserId?: string;
  /** For `userDetail()`: valid 1800 s. Never stored in the session, never logged. */
  userTicket?: string;
  /** When `userTicket` expires, epoch ms. */
  userTicketExpiresAt?: number;
}

/** What `auth/getuserdetail` gives for a user_ticket: the fields `user/get` no longer returns since 2022. */
export interface WeComUserDetail {
  /** The member's userid. */
  userId: string;
  /** The member's corp, where WeCom names it (third-party apps). */
  corpId?: string;
  /** '0' unknown, '1' male, '2' female, as WeCom sends it. */
  gender?: string;
  /** The avatar's URL. */
  avatar?: string;
  /** The member's QR code URL. */
  qrCode?: string;
  /** The mobile number (only with the member's consent, snsapi_privateinfo). */
  mobile?: string;
  /** The personal email. */
  email?: string;
  /** The corp email. */
  bizMail?: string;
  /** The address. */
  address?: string;
}

/** Options of `authorizeUrl` (in the WeCom client). */
export interface WeComAuthorizeUrlOptions {
  /** Absolute http(s) URL WeCom returns to with `code` and `state`. */
  redirectUri: string;
  /** 1 to 128 characters of `[A-Za-z0-9]` (WeCom's rule). */
  state: string;
  /** Default: the app's `auth.scope`, else `'snsapi_base'`. */
  scope?: WeComOAuthScope;
}

/** Options of `loginUrl` (web login outside the client: QR code or SSO). */
export interface WeComLoginUrlOptions {
  /** Absolute http(s) URL WeCom returns to with `code` and `state`. */
  redirectUri: string;
  /** 1 to 128 characters of `[A-Za-z0-9]` (WeCom's rule). */
  state: string;
}

/** Which registration `@WeComAuth()` identifies users for: an app (default `'default'`) or a suite. */
export type WeComAuthTarget = { app?: string; suite?: undefined } | { suite: string; app?: undefined };
