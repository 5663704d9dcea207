import { WeComApiError } from '../common/errors/wecom-api.error.js';
import type { AppRef } from '../common/wecom-token.messages.js';
import { oauthCodeMessage } from './identity.messages.js';

/** errcode WeCom answers for a code that was already used or is older than 5 minutes. */
export const OAUTH_CODE_ERRCODE = 40029;

/**
 * WeCom answered 40029 to a code exchange: the code was used already (a reload, the back button) or expired (5
 * minutes). Not a server error: send the user through `authorizeUrl` / `loginUrl` again. `WeComAuthGuard` does this
 * by itself, once.
 */
export class WeComOAuthCodeError extends WeComApiError {
  constructor(ref: AppRef, path: string, errmsg: string) {
    super(ref, path, OAUTH_CODE_ERRCODE, errmsg);
    this.name = 'WeComOAuthCodeError';
    this.message = oauthCodeMessage(ref.app, ref.corpId, path);
  }
}
