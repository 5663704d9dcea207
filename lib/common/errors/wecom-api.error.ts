import { AppRef, apiErrorMessage, hintFor } from '../wecom-token.messages.js';

/**
 * WeCom answered with a non-zero `errcode`. Carries what the caller needs to act on it and nothing it must not
 * see: no URL with a query string, no secret, no token.
 */
export class WeComApiError extends Error {
  /** WeCom's errcode (see https://developer.work.weixin.qq.com/document/path/90313). */
  readonly errcode: number;
  /**
   * WeCom's errmsg as received, except that every credential the request sent (secret, suite_ticket, code, token)
   * is replaced by `[redacted]`, and one over 4 KB is cut. Don't match on it: WeCom changes the wording.
   */
  readonly errmsg: string;
  /** The API path, without query string, e.g. `/cgi-bin/message/send`. */
  readonly path: string;
  /** The corp the call was made for. */
  readonly corpId: string;
  /** The registered app name (`'default'` unless `name` was given). */
  readonly app: string;
  /** What to check or do about this errcode. */
  readonly hint: string;

  constructor(ref: AppRef, path: string, errcode: number, errmsg: string) {
    super(apiErrorMessage(ref, path, errcode, errmsg));
    this.name = 'WeComApiError';
    this.errcode = errcode;
    this.errmsg = errmsg;
    this.path = path;
    this.corpId = ref.corpId;
    this.app = ref.app;
    this.hint = hintFor(errcode, errmsg, ref.whitelist);
  }
}
