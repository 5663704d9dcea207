/**
 * User identity (WeCom notes §8): the in-client OAuth2 page (`/connect/oauth2/authorize`), the web login page
 * (`/wwlogin/sso/login`), a consent page that plays the member's choice, and the exchanges: `auth/getuserinfo`,
 * `auth/getuserdetail` (an app's token), `service/auth/getuserinfo3rd` and `getuserdetail3rd` (a suite's token).
 * Point the module's `oauthBaseUrl` and `loginBaseUrl` at `simulator.baseUrl`.
 *
 * Choices where WeCom's docs are silent (each the stricter reading):
 * - A code is bound to what asked for it: a corp app's code (appid = corpid) is exchanged with a token of the app
 *   whose agentid the page was given (any app of the corp when none was), a suite's code (appid = suiteId) only with
 *   that suite's token. Anything else, a used code, or one older than its lifetime (5 minutes) answers 40029.
 * - A user_ticket (snsapi_privateinfo, and every third-party login of a member) lives 1800 s; an unknown or expired
 *   one answers 40029 too (the docs name no errcode of their own for it).
 * - The pages check appid, agentid, redirect_uri (absolute http(s)), response_type, scope and state
 *   (`[A-Za-z0-9]{0,128}`) and answer a plain HTML error page with HTTP 400 when one is wrong, so a wrong URL fails a
 *   test visibly (WeCom shows an error page).
 */
import { randomBytes } from 'node:crypto';
import type { AppDirectory } from './apps.js';
import type { Endpoint } from './endpoints.js';
import { isRecord, parseJson, reply } from './replies.js';
import type { Replies, Reply } from './replies.js';
import type { SuiteRegistry } from './suites.js';
import type { SimulatedApiContext, SimulatedMember, SimulatedVisitor } from './types.js';

/** The pages and endpoints of identity. */
export const OAUTH_PATHS = Object.freeze({
  authorize: '/connect/oauth2/authorize',
  login: '/wwlogin/sso/login',
  consent: '/connect/oauth2/consent',
  userInfo: '/cgi-bin/auth/getuserinfo',
  userDetail: '/cgi-bin/auth/getuserdetail',
  userInfo3rd: '/cgi-bin/service/auth/getuserinfo3rd',
  userDetail3rd: '/cgi-bin/service/auth/getuserdetail3rd',
});

/** What the pages do: answer 302 at once (`'auto'`), or show the consent page first (`'page'`, for browsers). */
export type SimulatedConsentMode = 'auto' | 'page';

const CODE_LIFETIME_MS = 5 * 60_000;
const TICKET_LIFETIME_S = 1800;
const STATE = /^[A-Za-z0-9]{0,128}$/;

interface CodeRecord {
  readonly owner: { readonly kind: 'corp'; readonly app?: string } | { readonly kind: 'suite'; readonly suiteId: string };
  readonly who: SimulatedMember | SimulatedVisitor;
  readonly privateInfo: boolean;
  readonly expiresAt: number;
  used: boolean;
}

interface Pending {
  readonly redirectUri: string;
  readonly state: string;
  readonly record: Omit<CodeRecord, 'expiresAt' | 'used'>;
}

/** The default members: the two users of `user/get`, with the fields only a user_ticket gives. */
export function defaultMembers(): SimulatedMember[] {
  return [
    {
      userId: 'zhangsan',
      name: '张三',
      gender: '1',
      avatar: 'https://wework.qpic.cn/wwhead/zhangsan/0',
      qrCode: 'https://open.work.weixin.qq.com/wwopen/userQRCode?vcode=zhangsan',
      mobile: '13800000000',
      email: 'zhangsan@example.com',
      bizMail: 'zhangsan@corp.example.com',
      address: '广州市海珠区新港中路',
    },
    {
      userId: 'lisi',
      name: '李四',
      gender: '2',
      avatar: 'https://wework.qpic.cn/wwhead/lisi/0',
      qrCode: 'https://open.work.weixin.qq.com/wwopen/userQRCode?vcode=lisi',
      mobile: '13900000000',
      email: 'lisi@example.com',
      bizMail: 'lisi@corp.example.com',
      address: '深圳市南山区',
    },
  ];
}

/** The identity state of one simulator: who is signed in to the "WeCom client", the codes and tickets issued. */
export class OAuthSimulator {
  private readonly members = new Map<string, SimulatedMember>();
  private current: SimulatedMember | SimulatedVisitor;
  private consent: SimulatedConsentMode = 'auto';
  private codeLifetimeMs = CODE_LIFETIME_MS;
  private readonly codes = new Map<string, CodeRecord>();
  private readonly tickets = new Map<string, { who: SimulatedMember; expiresAt: number }>();
  private readonly pending = new Map<string, Pending>();
  private exchangeCount = 0;

  /** @internal Built by WeComSimulator. */
  constructor(
    private readonly corpId: string,
    private readonly apps: AppDirectory,
    private readonly suites: SuiteRegistry,
    private readonly replies: Replies,
    members: readonly SimulatedMember[] | undefined,
  ) {
    for (const member of members ?? defaultMembers()) {
      if (!member.userId) throw new Error('every simulated member needs a userId');
      this.members.set(member.userId, { ...member, corpId: member.corpId ?? corpId });
    }
    const first = this.members.values().next().value;
    if (!first) throw new Error('WeComSimulator needs at least one member');
    this.current = first;
  }

  /**
   * Who the browser (or the WeCom client) is from now on: a configured member's userId, a member of another corp
   * (`{ userId, corpId }`, for third-party logins), or a visitor who is not a member (`{ openId }`).
   */
  signIn(who: string | SimulatedMember | SimulatedVisitor): this {
    if (typeof who === 'string') {
      const member = this.members.get(who);
      if (!member) throw new Error(`WeComSimulator has no member '${who}'; its members are: ${[...this.members.keys()].join(', ')}`);
      this.current = member;
    } else if ('userId' in who) {
      this.current = { ...(this.members.get(who.userId) ?? {}), ...who, corpId: who.corpId ?? this.corpId };
    } else {
      this.current = { ...who };
    }
    return this;
  }

  /** `'page'`: the authorize and login pages show a consent page with a button first; `'auto'` (default): 302 at once. */
  setConsent(mode: SimulatedConsentMode): this {
    if (mode !== 'auto' && mode !== 'page') throw new Error(`consent must be 'auto' or 'page', got '${String(mode)}'`);
    this.consent = mode;
    return this;
  }

  /** Lifetime of codes issued from now on (WeCom: 300 s), for tests of an expired code. */
  setCodeLifetime(seconds: number): this {
    if (!(Number.isFinite(seconds) && seconds > 0)) throw new Error(`code lifetime must be a positive number of seconds, got ${seconds}`);
    this.codeLifetimeMs = seconds * 1000;
    return this;
  }

  /** Ends the life of every code issued so far (40029 on exchange). */
  expireCodes(): void {
    const now = Date.now();
    for (const [code, record] of this.codes) this.codes.set(code, { ...record, expiresAt: Math.min(record.expiresAt, now) });
  }

  /**
   * A code as the pages would give it, without a browser: for a corp app (`{ agentId }` binds it to that app) or
   * a suite (`{ suiteId }`); `privateInfo` adds a user_ticket for a member.
   */
  issueCode(options: { agentId?: number | string; suiteId?: string; privateInfo?: boolean; who?: string | SimulatedMember | SimulatedVisitor } = {}): string {
    if (options.who !== undefined) this.signIn(options.who);
    const owner = options.suiteId !== undefined ? { kind: 'suite' as const, suiteId: this.suite(options.suiteId) } : this.corpOwner(options.agentId);
    if (typeof owner === 'string') throw new Error(owner);
    return this.newCode({ owner, who: this.current, privateInfo: options.privateInfo === true || owner.kind === 'suite' });
  }

  /** Every code issued, oldest first (for leak scans). */
  issuedCodes(): string[] {
    return [...this.codes.keys()];
  }

  /** Every user_ticket issued, oldest first (for leak scans: none may appear in a cookie or a log). */
  issuedUserTickets(): string[] {
    return [...this.tickets.keys()];
  }

  /** Exchanges answered (any outcome): getuserinfo and getuserinfo3rd calls that reached the code check. */
  get exchanges(): number {
    return this.exchangeCount;
  }

  /** The token-checked endpoints of an app (registered with the simulator's endpoint table). */
  endpoints(): Array<[string, Endpoint]> {
    return [
      [OAUTH_PATHS.userInfo, { method: 'GET', kinds: ['app'], handle: (c) => this.userInfo(c.query.code, { kind: 'corp', app: c.app.name }) }],
      [OAUTH_PATHS.userDetail, { method: 'POST', kinds: ['app'], handle: (c) => this.userDetail(c) }],
    ];
  }

  /** Answers the pages and the suite's exchanges; undefined for any other path. */
  route(method: string, path: string, query: Readonly<Record<string, string>>, body: Buffer): Reply | undefined {
    switch (path) {
      case OAUTH_PATHS.authorize:
        return this.authorizePage(query);
      case OAUTH_PATHS.login:
        return this.loginPage(query);
      case OAUTH_PATHS.consent:
        return this.consentAnswer(query);
      case OAUTH_PATHS.userInfo3rd: {
        if (method.toUpperCase() !== 'GET') return this.replies.error(43001);
        const suite = this.suites.suiteOfToken(query);
        return 'suiteId' in suite ? this.userInfo(query.code, { kind: 'suite', suiteId: suite.suiteId }) : suite;
      }
      case OAUTH_PATHS.userDetail3rd: {
        if (method.toUpperCase() !== 'POST') return this.replies.error(43002);
        const suite = this.suites.suiteOfToken(query);
        return 'suiteId' in suite ? this.detailOf(parseJson(body), true) : suite;
      }
      default:
        return undefined;
    }
  }

  // ---- pages ----

  private authorizePage(q: Readonly<Record<string, string>>): Reply {
    if (q.response_type !== 'code') return page(400, 'response_type must be code');
    if (q.scope !== 'snsapi_base' && q.scope !== 'snsapi_privateinfo') return page(400, 'scope must be snsapi_base or snsapi_privateinfo');
    const privateInfo = q.scope === 'snsapi_privateinfo';
    let owner: CodeRecord['owner'] | string;
    if (this.suites.hasSuite(q.appid)) owner = { kind: 'suite', suiteId: q.appid };
    else if (q.appid !== this.corpId) owner = `appid ${q.appid ?? '(none)'} is neither the corp nor a suite`;
    else if (privateInfo && !q.agentid) owner = 'snsapi_privateinfo needs agentid';
    else owner = this.corpOwner(q.agentid);
    return this.answer(q, owner, privateInfo);
  }

  private loginPage(q: Readonly<Record<string, string>>): Reply {
    let owner: CodeRecord['owner'] | string;
    if (q.login_type === 'ServiceApp') owner = this.suites.hasSuite(q.appid) ? { kind: 'suite', suiteId: q.appid } : `appid ${q.appid ?? '(none)'} is not a suite`;
    else if (q.login_type !== 'CorpApp') owner = 'login_type must be CorpApp or ServiceApp';
    else if (q.appid !== this.corpId) owner = `appid ${q.appid ?? '(none)'} is not the corp`;
    else if (!q.agentid) owner = 'login_type=CorpApp needs agentid';
    else owner = this.corpOwner(q.agentid);
    // A web login of a member always gives a user_ticket (doc 98152 returns it from getuserinfo).
    return this.answer(q, owner, true);
  }

  private answer(q: Readonly<Record<string, string>>, owner: CodeRecord['owner'] | string, privateInfo: boolean): Reply {
    if (typeof owner === 'string') return page(400, owner);
    const redirectUri = q.redirect_uri ?? '';
    if (!/^https?:\/\/[^/?#]+/i.test(redirectUri)) return page(400, 'redirect_uri must be an absolute http(s) URL');
    const state = q.state ?? '';
    if (!STATE.test(state)) return page(400, 'state must be at most 128 characters of [a-zA-Z0-9]');
    const record = { owner, who: this.current, privateInfo };
    if (this.consent === 'auto') return back(redirectUri, { code: this.newCode(record), state });
    const id = randomBytes(12).toString('hex');
    this.pending.set(id, { redirectUri, state, record });
    return consentPage(id, this.current, owner);
  }

  /** The member pressed a button of the consent page. */
  private consentAnswer(q: Readonly<Record<string, string>>): Reply {
    const pending = q.request ? this.pending.get(q.request) : undefined;
    if (!pending) return page(400, 'this consent page is no longer valid');
    this.pending.delete(q.request);
    if (q.decision !== 'allow') return back(pending.redirectUri, { state: pending.state });
    return back(pending.redirectUri, { code: this.newCode(pending.record), state: pending.state });
  }

  // ---- exchanges ----

  private userInfo(code: string | undefined, caller: CodeRecord['owner']): Reply {
    if (!code) return this.replies.error(41008, 'missing code');
    this.exchangeCount += 1;
    const record = this.codes.get(code);
    const mismatch =
      !record ||
      record.owner.kind !== caller.kind ||
      (record.owner.kind === 'suite' && caller.kind === 'suite' && record.owner.suiteId !== caller.suiteId) ||
      (record.owner.kind === 'corp' && caller.kind === 'corp' && record.owner.app !== undefined && record.owner.app !== caller.app);
    if (!record || mismatch || record.used || Date.now() >= record.expiresAt) return this.replies.error(40029, 'invalid code');
    record.used = true;
    const who = record.who;
    if ('openId' in who) return this.replies.json({ errcode: 0, errmsg: 'ok', openid: who.openId, ...(who.externalUserId ? { external_userid: who.externalUserId } : {}) });
    const member = who;
    if (caller.kind === 'corp' && member.corpId !== this.corpId) {
      // Someone of another corp in a corp app's page: not a member here.
      return this.replies.json({ errcode: 0, errmsg: 'ok', openid: `o${member.userId}` });
    }
    const ticket = record.privateInfo ? this.newTicket(member) : undefined;
    const answer: Record<string, unknown> = { errcode: 0, errmsg: 'ok', userid: member.userId };
    if (caller.kind === 'suite') Object.assign(answer, { corpid: member.corpId, open_userid: `wo${member.userId}` });
    if (ticket) Object.assign(answer, { user_ticket: ticket, expires_in: TICKET_LIFETIME_S });
    return this.replies.json(answer);
  }

  private userDetail(context: SimulatedApiContext): Reply {
    return this.detailOf(context.json, false);
  }

  private detailOf(json: unknown, thirdParty: boolean): Reply {
    const ticket = isRecord(json) && typeof json.user_ticket === 'string' ? json.user_ticket : '';
    const record = this.tickets.get(ticket);
    if (!record || Date.now() >= record.expiresAt) return this.replies.error(40029, 'invalid user_ticket');
    const m = record.who;
    return this.replies.json({
      errcode: 0,
      errmsg: 'ok',
      ...(thirdParty ? { corpid: m.corpId } : {}),
      userid: m.userId,
      gender: m.gender ?? '0',
      avatar: m.avatar ?? '',
      qr_code: m.qrCode ?? '',
      mobile: m.mobile ?? '',
      email: m.email ?? '',
      biz_mail: m.bizMail ?? '',
      address: m.address ?? '',
    });
  }

  // ---- records ----

  private corpOwner(agentId: number | string | undefined): CodeRecord['owner'] | string {
    if (agentId === undefined || agentId === '') return { kind: 'corp' };
    const app = this.apps.all().find((a) => a.agentId !== undefined && String(a.agentId) === String(agentId));
    return app ? { kind: 'corp', app: app.name } : `agentid ${String(agentId)} is not an app of the corp`;
  }

  private suite(suiteId: string): string {
    if (!this.suites.hasSuite(suiteId)) throw new Error(`WeComSimulator has no suite '${suiteId}'`);
    return suiteId;
  }

  private newCode(record: Omit<CodeRecord, 'expiresAt' | 'used'>): string {
    const code = randomBytes(24).toString('base64url');
    this.codes.set(code, { ...record, expiresAt: Date.now() + this.codeLifetimeMs, used: false });
    return code;
  }

  private newTicket(member: SimulatedMember): string {
    const ticket = randomBytes(48).toString('base64url');
    this.tickets.set(ticket, { who: member, expiresAt: Date.now() + TICKET_LIFETIME_S * 1000 });
    return ticket;
  }
}

/** 302 to `redirectUri` with `params` added to its query (WeCom keeps the redirect_uri's own query). */
function back(redirectUri: string, params: Record<string, string>): Reply {
  const url = new URL(redirectUri);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  const answer = reply(302, 'text/html; charset=UTF-8', `<a href="${escapeHtml(url.toString())}">continue</a>`);
  answer.headers.Location = url.toString();
  answer.headers['Cache-Control'] = 'no-store';
  return answer;
}

function page(status: number, problem: string): Reply {
  return reply(status, 'text/html; charset=UTF-8', `<!doctype html><meta charset="utf-8"><title>WeCom error</title><h1>参数错误</h1><p id="error">${escapeHtml(problem)}</p>`);
}

function consentPage(id: string, who: SimulatedMember | SimulatedVisitor, owner: CodeRecord['owner']): Reply {
  const name = 'userId' in who ? `${who.name ?? who.userId} (${who.userId})` : `visitor ${who.openId}`;
  const appName = owner.kind === 'suite' ? `suite ${owner.suiteId}` : `app ${owner.app ?? '(corp)'}`;
  const link = (decision: string): string => `${OAUTH_PATHS.consent}?request=${id}&decision=${decision}`;
  return reply(
    200,
    'text/html; charset=UTF-8',
    `<!doctype html><meta charset="utf-8"><title>企业微信授权</title><h1>授权登录 (WeCom sign-in, simulated)</h1><p id="who">${escapeHtml(name)}</p><p id="app">${escapeHtml(appName)} 申请获取你的身份信息 (asks who you are)</p><a id="allow" href="${link('allow')}">同意 Allow</a> <a id="deny" href="${link('deny')}">拒绝 Deny</a>`,
  );
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
