import { WeComApiError } from './wecom-api.error.js';
import { AppRef, ipFromErrmsg, WeComIpWhitelist } from '../wecom-token.messages.js';

export type { WeComIpWhitelist } from '../wecom-token.messages.js';

/** WeCom's errcode for "the calling IP is not trusted". */
export const TRUSTED_IP_ERRCODE = 60020;

/**
 * WeCom refused the call because of the IP it came from (errcode 60020), on any endpoint. Not a token problem: no
 * token is invalidated for it. `observedIp` is the IP WeCom saw (its `from ip:`), `whitelist` the list to add it to.
 */
export class WeComTrustedIpError extends WeComApiError {
  /** The IP WeCom saw the call come from (the `from ip:` of its errmsg), when it named a well-formed one. */
  readonly observedIp?: string;
  /**
   * Where to add it: `'app-trusted-ip'`, the self-built app's 企业可信IP in the admin console; `'provider-ip-whitelist'`,
   * the provider's IP whitelist in the provider console (suites, the provider, authorised corps, 代开发 apps).
   */
  readonly whitelist: WeComIpWhitelist;

  constructor(ref: AppRef, path: string, errmsg: string) {
    const whitelist = ref.whitelist ?? 'app-trusted-ip';
    super({ ...ref, whitelist }, path, TRUSTED_IP_ERRCODE, errmsg);
    this.name = 'WeComTrustedIpError';
    this.whitelist = whitelist;
    const ip = ipFromErrmsg(errmsg);
    if (ip !== undefined) this.observedIp = ip;
  }
}

/** The error for a non-zero errcode: `WeComTrustedIpError` for 60020, `WeComApiError` otherwise. */
export function apiErrorFor(ref: AppRef, path: string, errcode: number, errmsg: string): WeComApiError {
  return errcode === TRUSTED_IP_ERRCODE ? new WeComTrustedIpError(ref, path, errmsg) : new WeComApiError(ref, path, errcode, errmsg);
}
