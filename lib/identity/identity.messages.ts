/**
 * Every user-facing message of identity, as functions; none takes a code, a state, a user_ticket or a token.
 */
import { quoteUntrusted } from '../common/redaction.js';

/** A state that WeCom would refuse. */
export function invalidStateMessage(app: string, length: number): string {
  return `WeComOAuthService of app '${app}': state must be 1 to 128 characters of [A-Za-z0-9] (WeCom's rule); got ${length} characters that do not match. Use a random alphanumeric value and keep it to check the return`;
}

/** A redirect URI that is not absolute http(s). */
export function invalidRedirectUriMessage(app: string): string {
  return `WeComOAuthService of app '${app}': redirectUri must be an absolute http(s) URL (WeCom returns the member there with code and state); relative and other schemes are refused`;
}

/** A URL option that is not an http(s) root. */
export function invalidBaseUrlMessage(app: string, option: string, value: string): string {
  return `WeComTokenModule: option '${option}' of app '${app}' must be an http(s) URL without query string or fragment, got '${value}'`;
}

/** An auth option out of range. */
export function invalidAuthOptionMessage(app: string, option: string, problem: string): string {
  return `WeComTokenModule: option 'auth.${option}' of app '${app}' ${problem}`;
}

/** snsapi_privateinfo or the web login without an agentid. */
export function noAgentIdForLoginMessage(app: string, what: string): string {
  return `WeComOAuthService of app '${app}': ${what} needs the app's agentid; set the option agentId`;
}

/** 40029 on the code exchange. */
export function oauthCodeMessage(app: string, corpId: string, path: string): string {
  return `WeCom ${path} answered 40029 for corp ${quoteUntrusted(corpId)}, app '${quoteUntrusted(app)}': the code was already used or is older than 5 minutes (a reload, the back button, a shared link). Send the user through authorizeUrl/loginUrl again for a new code`;
}

/** An exchange answer without any identity in it. */
export function noIdentityMessage(app: string, path: string): string {
  return `WeCom ${path} for app '${app}' answered without userid or openid; the user cannot be identified`;
}

/** Why the guard refused a return from WeCom (the text of the 401). */
export const denied = {
  forgedState: 'The login answer does not belong to this browser (its state is not one we issued here). Open the page again to sign in.',
  missingBinding: 'The login answer came to a browser that did not start the login (or cookies are blocked). Open the page again in the same browser, with cookies allowed.',
  loop: 'Signing in with WeCom did not succeed twice in a row (the code was refused or the login took longer than 10 minutes). Open the page again to retry.',
  noCode: 'WeCom returned without a code (the member declined or cancelled). Open the page again to sign in.',
  notGet: 'Sign in first: this request needs a WeCom session, and only a GET page can be sent to WeCom to get one.',
  badHost: 'The request has no usable Host to return to; set the option auth.publicOrigin.',
  upstream: 'WeCom could not identify the user just now. Try again in a moment.',
  noIdentity: 'WeCom answered without identifying the user.',
  noWebLogin: 'Open this page inside the WeCom client to sign in: signing in from another browser (the web login) is not set up for this app.',
} as const;

/** Said once, at the first browser outside the WeCom client that the guard of an app without agentId turns away (401). */
export function noWebLoginMessage(app: string): string {
  return `WeComAuthGuard of app '${app}': the app has no agentId, so browsers outside the WeCom client cannot use the web login (login_type=CorpApp needs the agentid) and get 401; set the option agentId to offer it`;
}

/** The guard found no OAuth service for its target. */
export function noOAuthServiceMessage(target: string): string {
  return `WeComAuthGuard: no WeComOAuthService is registered for ${target}; import WeComTokenModule.forRoot(...) (or WeComSuiteModule for a suite) with that name, isGlobal or in this module`;
}

/** An exchange failed upstream; logged at warn, without the code. */
export function exchangeFailedMessage(app: string, reason: string): string {
  return `WeComAuthGuard of app '${app}': the code exchange failed (${reason}); the user got 502 and may retry`;
}

/** A flow restarted (log at debug). */
export function restartMessage(app: string, why: string): string {
  return `WeComAuthGuard of app '${app}': ${why}; the login starts once more`;
}
