/**
 * What `WeComAuthGuard` decides for one request, independent of Nest and of the platform:
 *
 * - a valid session cookie: pass, with the identity;
 * - no session, a GET: 302 to WeCom (authorizeUrl inside the WeCom client, recognised by `wxwork` in the user agent;
 *   loginUrl elsewhere, or 401 for a corp app without agentId, which has no web login) with a fresh state, the
 *   browser bound by the state cookie; other methods get 401;
 * - the return (`code` and `state` in the query): the state is checked (ours, for this browser, at most 10 minutes
 *   old, first use), the code exchanged, the session cookie set, and 302 to the same URL without code and state.
 *   A forged or foreign state is 401 and exchanges nothing; a stale or used state, or a code WeCom refuses (40029),
 *   restarts the flow once (the state carries the attempt, so a second failure is a 401, never a loop or a 500).
 */
import { Logger } from '@nestjs/common';
import { describeError } from '../common/bounded.js';
import type { IdentitySettings } from './identity.config.js';
import type { WeComAuthorizeUrlOptions, WeComIdentity, WeComLoginUrlOptions } from './identity.interfaces.js';
import { denied, exchangeFailedMessage, noWebLoginMessage, restartMessage } from './identity.messages.js';
import { cookieValue, serializeCookie, type RequestFacts } from './http-context.js';
import { SessionCodec } from './session.js';
import { STATE_MAX_AGE_MS, StateCodec } from './state.js';
import { UsedStates } from './used-states.js';
import { WeComOAuthCodeError } from './wecom-oauth-code.error.js';

/** What the guard does with a request. */
export type FlowDecision =
  | { readonly kind: 'pass'; readonly identity: WeComIdentity }
  | { readonly kind: 'redirect'; readonly location: string; readonly cookies: readonly string[] }
  | { readonly kind: 'deny'; readonly status: 400 | 401 | 502; readonly message: string; readonly cookies: readonly string[] };

/** What the flow needs of the OAuth service. */
export interface OAuthOperations {
  authorizeUrl(o: WeComAuthorizeUrlOptions): string;
  loginUrl(o: WeComLoginUrlOptions): string;
  exchange(code: string): Promise<WeComIdentity>;
}

/** The browser-binding cookie lives a day: long enough to tell a stale state from a foreign one. */
const BINDING_TTL_SECONDS = 86_400;
const HOST_SHAPE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** The guard's logic for one registration. */
export class AuthFlow {
  private readonly states: StateCodec;
  private readonly sessions: SessionCodec;
  private readonly used: UsedStates;
  private readonly logger = new Logger('WeComAuthGuard');
  private toldNoWebLogin = false;

  constructor(
    private readonly settings: IdentitySettings,
    private readonly oauth: OAuthOperations,
  ) {
    this.states = new StateCodec(settings.stateKey);
    this.sessions = new SessionCodec(settings.sessionKey, settings.sessionTtlMs);
    this.used = new UsedStates({ ...settings.store, owner: `app '${settings.app}'` });
  }

  /** Whether a browser outside the WeCom client can be sent to the web login (a corp app needs its agentid). */
  private get webLogin(): boolean {
    return this.settings.loginType !== 'CorpApp' || this.settings.agentId !== undefined;
  }

  /** The identity in the request's session cookie, if it holds a valid one (no I/O). */
  session(facts: RequestFacts): WeComIdentity | undefined {
    return this.sessionFrom(facts.cookies.get(this.settings.cookieName));
  }

  private sessionFrom(value: string | undefined): WeComIdentity | undefined {
    const identity = this.sessions.open(value);
    if (!identity) return undefined;
    // An app's session names its corp; one sealed for another corp (same key material) is not this app's.
    if (this.settings.corpId !== undefined && identity.corpId !== this.settings.corpId) return undefined;
    return identity;
  }

  /**
   * The signed-in fast path, for most requests behind the guard: the identity when the URL is not a return from
   * WeCom (no `code` or `state` in the query) and the Cookie header holds a valid session; otherwise undefined, and
   * `decide` has the last word. It reads one cookie and builds no request facts.
   */
  pass(url: string, cookieHeader: string | string[] | undefined): WeComIdentity | undefined {
    const q = url.indexOf('?');
    if (q !== -1) {
      const query = new URLSearchParams(url.slice(q + 1).split('#', 1)[0]);
      if (query.has('code') || query.has('state')) return undefined;
    }
    return this.sessionFrom(cookieValue(cookieHeader, this.settings.cookieName));
  }

  /** The decision for one request. */
  async decide(facts: RequestFacts): Promise<FlowDecision> {
    const { path, query } = splitUrl(facts.url);
    const isReturn = query.has('code') || query.has('state');
    query.delete('code');
    query.delete('state');
    const rest = query.toString();
    const clean = rest ? `${path}?${rest}` : path;
    const session = this.session(facts);

    if (!isReturn) {
      if (session) return { kind: 'pass', identity: session };
      if (facts.method !== 'GET' && facts.method !== 'HEAD') return this.deny(401, denied.notGet);
      return this.start(facts, clean, 0);
    }
    // A return to a browser that already has a session (the back button, a reload): nothing to exchange.
    if (session) return { kind: 'redirect', location: clean, cookies: [] };

    const raw = splitUrl(facts.url).query;
    const binding = facts.cookies.get(this.settings.stateCookieName);
    const opened = this.states.open(raw.get('state') ?? undefined, binding);
    if (opened.kind === 'forged') return this.deny(401, StateCodec.isBinding(binding) ? denied.forgedState : denied.missingBinding);
    if (opened.kind === 'stale') return this.restart(facts, clean, opened.attempt, 'the login state is older than 10 minutes');
    if (!(await this.used.claim(opened.nonce, STATE_MAX_AGE_MS))) return this.restart(facts, clean, opened.attempt, 'the login state was used before (a replayed return)');
    const code = raw.get('code');
    if (!code) return this.deny(401, denied.noCode);

    let identity: WeComIdentity;
    try {
      identity = await this.oauth.exchange(code);
    } catch (error) {
      if (error instanceof WeComOAuthCodeError) return this.restart(facts, clean, opened.attempt, 'WeCom refused the code (40029: used or expired)');
      this.logger.warn(exchangeFailedMessage(this.settings.app, describeError(error)));
      return this.deny(502, denied.upstream);
    }
    if (!identity.userId && !identity.openId) return this.deny(401, denied.noIdentity);
    const cookie = serializeCookie({
      name: this.settings.cookieName,
      value: this.sessions.seal(identity),
      maxAgeSeconds: this.settings.sessionTtlMs / 1000,
      secure: this.secure(facts),
    });
    return { kind: 'redirect', location: clean, cookies: [cookie] };
  }

  private restart(facts: RequestFacts, clean: string, attempt: 0 | 1, why: string): FlowDecision {
    if (attempt === 1) return this.deny(401, denied.loop);
    this.logger.debug(restartMessage(this.settings.app, why));
    return this.start(facts, clean, 1);
  }

  private start(facts: RequestFacts, clean: string, attempt: 0 | 1): FlowDecision {
    const origin = this.origin(facts);
    if (origin === undefined) return this.deny(400, denied.badHost);
    const existing = facts.cookies.get(this.settings.stateCookieName);
    const binding = StateCodec.isBinding(existing) ? existing : StateCodec.newBinding();
    const state = this.states.issue(binding, attempt);
    const redirectUri = `${origin}${clean}`;
    const inClient = /wxwork/i.test(String(facts.headers['user-agent'] ?? ''));
    if (!inClient && !this.webLogin) {
      // Said once, at the first such browser: the operator learns why, the browser gets a page saying what to do.
      if (!this.toldNoWebLogin) this.logger.warn(noWebLoginMessage(this.settings.app));
      this.toldNoWebLogin = true;
      return this.deny(401, denied.noWebLogin);
    }
    const location = inClient ? this.oauth.authorizeUrl({ redirectUri, state, scope: this.settings.scope }) : this.oauth.loginUrl({ redirectUri, state });
    const cookie = serializeCookie({ name: this.settings.stateCookieName, value: binding, maxAgeSeconds: BINDING_TTL_SECONDS, secure: this.secure(facts) });
    return { kind: 'redirect', location, cookies: [cookie] };
  }

  private deny(status: 400 | 401 | 502, message: string): FlowDecision {
    return { kind: 'deny', status, message, cookies: [] };
  }

  /** Secure unless the request is plain http (as the platform reports it) and the public origin is not https. */
  private secure(facts: RequestFacts): boolean {
    return facts.protocol === 'https' || (this.settings.publicOrigin?.startsWith('https:') ?? false);
  }

  private origin(facts: RequestFacts): string | undefined {
    if (this.settings.publicOrigin !== undefined) return this.settings.publicOrigin;
    if (facts.host === undefined || !HOST_SHAPE.test(facts.host)) return undefined;
    return `${facts.protocol}://${facts.host}`;
  }
}

/**
 * The path and query of a request URL, the path made same-origin: `//evil.example/x` or `/\evil` would be read by a
 * browser as another host in a Location header, so leading slashes and backslashes collapse to one `/`.
 */
export function splitUrl(url: string): { path: string; query: URLSearchParams } {
  const text = typeof url === 'string' ? url.split('#', 1)[0] : '/';
  const q = text.indexOf('?');
  const rawPath = q === -1 ? text : text.slice(0, q);
  const path = `/${rawPath.replace(/^[/\\]+/, '')}`.replace(/[\r\n\t]/g, '');
  return { path, query: new URLSearchParams(q === -1 ? '' : text.slice(q + 1)) };
}
