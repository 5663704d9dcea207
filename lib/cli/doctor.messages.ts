/**
 * What the doctor says about each errcode: what it means for this check, and where to fix it in the admin console
 * (管理后台, https://work.weixin.qq.com/wework_admin). Falls back on the module's own hints.
 */
import { hintFor } from '../common/wecom-token.messages.js';

/** Where a trusted IP is added. */
export const TRUSTED_IP_WHERE = '应用管理 → the app → 企业可信IP (开发者接口); required for self-built apps created after 2022-06-20';

/** An API path asked without any credential: WeCom answers 41001 with the `from ip:` hint, spending nothing. */
export const EGRESS_PROBE_PATH = '/cgi-bin/get_api_domain_ip';

/** The egress check's line: the IP WeCom sees, how the doctor got there, and what the trusted-IP rule said. */
export function egressMessage(ip: string, route: string, trustedIp: 'pass' | 'fail' | 'skip'): string {
  const rule =
    trustedIp === 'pass'
      ? 'the trusted-IP rule passes: WeCom accepts API calls from it'
      : trustedIp === 'fail'
        ? `the trusted-IP rule refuses it (60020): add ${ip} in ${TRUSTED_IP_WHERE} (for a suite or 代开发 app: the provider's IP whitelist)`
        : 'whether the trusted-IP rule passes needs an access_token (see gettoken)';
  return `WeCom sees this machine as ${ip} (going out ${route}); ${rule}. Every instance must leave from a trusted IP: behind NAT or in Kubernetes, use a fixed egress (option proxy, or a reverse proxy as baseUrl)`;
}

const FREQUENCY_LIMIT = "WeCom's frequency limit blocks this call from this IP for 60 s to 60 min: wait, and look for a process that calls it in a loop or without a shared cache";

/** gettoken's errcodes. */
export function gettokenAdvice(errcode: number, errmsg: string): string {
  switch (errcode) {
    case 40001:
      return "WECOM_SECRET does not match WECOM_CORP_ID, or it was reset, or the app is disabled: copy the app's Secret again (应用管理 → the app → Secret; 通讯录同步 and 客户联系 have secrets of their own)";
    case 40013:
      return 'WECOM_CORP_ID is not a valid corpid: copy 企业ID from 我的企业 → 企业信息';
    case 40091:
      return "WECOM_SECRET is not a valid secret (perhaps another corp's): copy the app's Secret from 应用管理 → the app → Secret";
    case 45009:
      return FREQUENCY_LIMIT;
    case 60020:
      return `WeCom refused the call from this IP: add it in ${TRUSTED_IP_WHERE}`;
    case -1:
      return 'WeCom is busy: run the doctor again in a minute';
    default:
      return hintFor(errcode, errmsg);
  }
}

/** agent/get's errcodes. */
export function agentAdvice(errcode: number, errmsg: string): string {
  switch (errcode) {
    case 40056:
      return 'WECOM_AGENT_ID is not an app of this corp: copy AgentId from 应用管理 → the app';
    case 48002:
      return "this secret may not call agent/get: it is not a self-built app's Secret (通讯录同步 and 客户联系 secrets have no agent): use the app's Secret, or unset WECOM_AGENT_ID";
    case 60011:
    case 301002:
      return 'WECOM_SECRET belongs to another app than WECOM_AGENT_ID: use the Secret and the AgentId of the same app (应用管理 → the app)';
    case 50003:
      return 'the app is disabled: enable it in 应用管理 → the app';
    default:
      return hintFor(errcode, errmsg);
  }
}

/** The tickets' errcodes. */
export function ticketAdvice(errcode: number, errmsg: string): string {
  switch (errcode) {
    case 45009:
      return `${FREQUENCY_LIMIT}; tickets are limited to 400 fetches per corp and 100 per app per hour, so a server must cache and share them`;
    case 48002:
    case 48001:
      return "this secret may not fetch JS-SDK tickets: use a self-built app's Secret (not 通讯录同步 or 客户联系)";
    case 40056:
      return "WECOM_AGENT_ID is not valid for this secret's app: use the AgentId of the same app";
    default:
      return hintFor(errcode, errmsg);
  }
}
