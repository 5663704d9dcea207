/**
 * Every user-facing message of the module, as functions, so that wording lives in one place and no message can
 * be given a secret by accident: none of these functions takes one.
 */
import { isIP } from 'node:net';
import { quoteUntrusted } from './redaction.js';

/**
 * Which IP list WeCom checks a caller against (errcode 60020): a self-built app's 企业可信IP in the admin console, or
 * the provider's IP whitelist in the provider console (suites, the provider, authorised corps, 代开发 apps).
 */
export type WeComIpWhitelist = 'app-trusted-ip' | 'provider-ip-whitelist';

/** Who a message is about: the corp and the app (never the secret). */
export interface AppRef {
  corpId: string;
  app: string;
  /** The IP list a 60020 of this credential points at; `'app-trusted-ip'` when absent. */
  readonly whitelist?: WeComIpWhitelist;
}

/** Corp ids and app names come from callers and callbacks (AuthCorpId): quoted and cut when not plain, see quoteUntrusted. */
const subject = ({ corpId, app }: AppRef): string => `corp ${corpId ? quoteUntrusted(corpId) : '(no corpId)'}, app '${quoteUntrusted(app)}'`;

/** What to check for each errcode that has a known cause. */
const HINTS: Readonly<Record<number, string>> = {
  [-1]: 'WeCom is busy; the call was retried with backoff and can be tried again later',
  40001: 'the secret does not match the corpid, or it was reset in the admin console, or the app is disabled; check the secret of this app',
  40013: 'the corpid is not valid; check corpId (My Company > Company Information > Corp ID)',
  40014: 'the access_token is not valid (revoked, expired, or a token of another app); it was replaced and the call replayed once',
  41001: 'the access_token is missing from the URL; this is a bug in the caller, please report it',
  42001: 'the access_token expired; it was replaced and the call replayed once',
  40056: 'the agentid is not valid for this app; check agentId',
  40091: 'the secret is not valid, perhaps the secret of another corp; check the secret of this app',
  45009: 'the API call limit was exceeded; WeCom blocks further calls for 60 s or 60 min, so gettoken is paused for a while',
  45033: 'too many concurrent calls to this API; the call was retried with jittered backoff',
  48001: 'this app is not authorised for this API; grant the permission in the admin console',
  48002: 'this API is not allowed for this secret: a contacts-sync or customer-contact API needs that secret, not an app secret (or the reverse)',
  48006: 'the permission was revoked; check the app in the admin console',
  50003: 'the app is disabled; enable it in the admin console',
};

/** errcodes that say the credentials or the app's permissions are wrong: retrying cannot help. */
export const CREDENTIAL_ERRCODES: ReadonlySet<number> = new Set([40001, 40013, 40091, 40056, 48001, 48002, 48006, 50003, 60020]);

/** The IP WeCom saw, from an errmsg such as "…, from ip: 1.2.3.4, more info at …"; only a well-formed IP. */
export function ipFromErrmsg(errmsg: string): string | undefined {
  const ip = /from ip:\s*([0-9a-fA-F.:]{2,45})/.exec(errmsg)?.[1];
  return ip !== undefined && isIP(ip) !== 0 ? ip : undefined;
}

/** Where each IP list is kept, for messages. */
export const IP_WHITELIST_WHERE: Readonly<Record<WeComIpWhitelist, string>> = {
  'app-trusted-ip': "this app's 企业可信IP (admin console: 应用管理 → the app → 开发者接口 → 企业可信IP; required for self-built apps created after 2022-06-20)",
  'provider-ip-whitelist':
    "the provider's IP whitelist (provider console 服务商管理后台 → IP白名单; suites, the provider, authorised corps and 代开发 apps are checked against it, not against an app's 企业可信IP)",
};

/** What to do about a 60020: which IP to add, to which list. */
export function trustedIpHint(whitelist: WeComIpWhitelist, ip: string | undefined): string {
  const seen = ip ? `WeCom saw the call from ${ip}` : 'WeCom did not name the IP it saw';
  return `the calling IP is not trusted (${seen}): add ${ip ?? "this machine's public (egress) IP"} to ${IP_WHITELIST_WHERE[whitelist]}. Not a token problem: no token is replaced for it`;
}

/** The hint for an errcode, with the IP WeCom saw and the list to fix for 60020. */
export function hintFor(errcode: number, errmsg: string, whitelist: WeComIpWhitelist = 'app-trusted-ip'): string {
  if (errcode === 60020) return trustedIpHint(whitelist, ipFromErrmsg(errmsg));
  return HINTS[errcode] ?? 'see https://developer.work.weixin.qq.com/document/path/90313 for this errcode';
}

/** How much of an errmsg a message shows; WeCom's are under 200 characters, a gateway's page or an echo may be 64 KB. */
const MAX_ERRMSG_IN_MESSAGE = 300;

/** Message of `WeComApiError`. */
export function apiErrorMessage(ref: AppRef, path: string, errcode: number, errmsg: string): string {
  return `WeCom ${path} failed with errcode ${errcode} for ${subject(ref)}: ${hintFor(errcode, errmsg, ref.whitelist)} (errmsg: ${quoteUntrusted(errmsg, MAX_ERRMSG_IN_MESSAGE)})`;
}

/** A failure at the app's forward proxy (reached through `via`, for messages). */
export function proxyProblemMessage(problem: string): string {
  return `${problem}; check option 'proxy' (or HTTPS_PROXY / HTTP_PROXY / NO_PROXY when it is not set) and that the proxy allows CONNECT to WeCom`;
}

/** Message of `WeComTransportError`. */
export function transportErrorMessage(ref: AppRef, method: string, path: string, problem: string): string {
  return `WeCom ${method.toUpperCase()} ${path} for ${subject(ref)} failed: ${problem}`;
}

/** A missing or invalid option found at start-up. */
export function invalidOptionMessage(app: string, option: string, problem: string): string {
  return `WeComTokenModule: option '${option}' of app '${app}' ${problem}`;
}

/** Two registrations with one name. */
export function duplicateAppMessage(app: string, count: number): string {
  return `WeComTokenModule: app '${app}' is registered ${count} times; give each forRoot/forRootAsync a distinct 'name'`;
}

/** forRootAsync without a way to make the options. */
export function missingAsyncFactoryMessage(app: string): string {
  return `WeComTokenModule.forRootAsync for app '${app}' needs useFactory, useClass or useExisting`;
}

/** Background refresh is on, but the application has no ScheduleModule to set its timer. */
export function onDemandRefreshMessage(app: string): string {
  return `app '${app}': no ScheduleModule.forRoot() in the application, tokens are refreshed on demand`;
}

/** The shared cache stopped answering in time. */
export function cacheUnavailableMessage(ref: AppRef, operation: string, error: string): string {
  return `shared token cache unavailable for ${subject(ref)} (${operation}: ${error}); serving from the in-process copy with in-process coordination until it answers again`;
}

/** The shared cache answers again. */
export function cacheRecoveredMessage(ref: AppRef): string {
  return `shared token cache answers again for ${subject(ref)}; using it again`;
}

/** The lock stopped answering in time. */
export function lockUnavailableMessage(ref: AppRef, error: string): string {
  return `token lock unavailable for ${subject(ref)} (${error}); coordinating within this process only until it answers again`;
}

/** The fetch budget of a credential is spent. */
export function cooldownMessage(ref: AppRef, kind: string, retryAfterMs: number): string {
  return `no ${kind} request sent for ${subject(ref)}: the fetch budget (10 requests in 60 s per process) is spent; next request allowed in ${Math.ceil(retryAfterMs / 1000)} s. Something keeps asking for a new ${kind} (a loop of refresh()/invalidate(), or answers WeCom keeps rejecting)`;
}

/**
 * The fetch budget is spent because WeCom rejected new values at once (40014, 40082 … on the first call that used
 * them): a failure of its own, not a rejection wave, so each refetch counted against the budget.
 */
export function freshRejectionsMessage(ref: AppRef, kind: string, rejected: number, retryAfterMs: number): string {
  return `no ${kind} request sent for ${subject(ref)}: WeCom rejected ${rejected} freshly fetched ${kind} value(s) at once within 60 s, so every refetch counted against the fetch budget (10 requests in 60 s per process), which is spent; next request allowed in ${Math.ceil(retryAfterMs / 1000)} s. A new ${kind} that is refused on first use is not fixed by fetching another: check that baseUrl points to WeCom (not a gateway that rewrites or drops the token), that calls go to the corp the token is for, and that nothing replaces the token on the way`;
}

/** The application is shutting down: a fetch was aborted or refused. */
export function shutDownMessage(ref: AppRef, kind: string): string {
  return `${kind} of ${subject(ref)} is not available: the application is shutting down`;
}

/** A credential of any kind was fetched. */
export function credentialFetchedMessage(ref: AppRef, kind: string, masked: string, expiresAt: number): string {
  return `fetched ${kind} ${masked} for ${subject(ref)}, expires at ${new Date(expiresAt).toISOString()}`;
}

/** A refresh failed but the held credential is still valid. */
export function refreshFailedKeepingCredentialMessage(ref: AppRef, kind: string, error: string, masked: string, validForMs: number): string {
  return `${kind} refresh failed for ${subject(ref)}; keeping ${masked}, valid for ${Math.round(validForMs / 1000)} s more: ${error}`;
}

/** WeCom's frequency limit was hit on a credential endpoint. */
export function credentialRateLimitedMessage(ref: AppRef, kind: string, pauseMs: number): string {
  return `${kind} request hit WeCom's frequency limit (45009) for ${subject(ref)}; no ${kind} request for ${Math.round(pauseMs / 1000)} s. Check for a cache that is not shared or a loop asking for a new ${kind}`;
}

/** A custom TokenLock answered something other than a release function or null. */
export function malformedLockMessage(ref: AppRef, got: string): string {
  return `the TokenLock of ${subject(ref)} is malformed: acquire() resolved ${got}, expected a release function or null; coordinating within this process`;
}

/** Whitespace around a credential option was trimmed. */
export function trimmedOptionMessage(app: string, option: string): string {
  return `WeComTokenModule: option '${option}' of app '${app}' had whitespace around it (a trailing newline from an env file?); it was trimmed`;
}

/** An agent ticket was asked of an app registered without agentId. */
export function noAgentIdMessage(app: string): string {
  return `WeComTokenModule: app '${app}' has no agentId: the agent ticket (wx.agentConfig) needs the agentid of the app whose secret is configured; set option 'agentId'`;
}

/** A URL to sign holds HTML character references. */
export function htmlEscapedUrlMessage(app: string): string {
  return `app '${app}': the URL to sign contains HTML character references such as '&amp;'; the page signs location.href, which has a plain '&': unescape the URL before signing, or the page will see "invalid signature"`;
}

/** Both builds of the package were loaded into one process (see single-copy.ts). */
export function bothBuildsLoadedMessage(first: string, second: string): string {
  return (
    `nestjs-wecom-token is loaded twice in this process: its ${first} build first, then its ${second} build ` +
    `(CommonJS through require(), ES module through import). Each build has its own copy of every class, so a module, ` +
    `service or injection token from one does not match the other (Nest cannot resolve AccessTokenService, WeComClient, …). ` +
    `Load it one way only: import it everywhere in an ES-module application (including ESM test runners: vitest, jest with ` +
    `--experimental-vm-modules), or require it everywhere in a CommonJS one; look for a require() of nestjs-wecom-token ` +
    `or a CommonJS setup file beside the imports`
  );
}
