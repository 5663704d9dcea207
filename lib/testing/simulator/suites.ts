/**
 * Third-party apps (WeCom notes §5): suites, the provider, suite tickets, auth codes, permanent codes, and the
 * `/cgi-bin/service/*` endpoints with their errcodes; plus the corp tokens of authorised corps, which the business
 * endpoints accept like an app's token, and the encrypted 指令回调 WeCom would POST.
 *
 * Choices where WeCom's docs are silent (each the stricter reading):
 * - Any unexpired suite_ticket of the suite is accepted (WeCom asks for the latest; older ones stay valid for their
 *   30 minutes); a ticket of another suite, an expired or unknown one gets 40085.
 * - A missing, unknown or revoked suite_access_token gets 40082, an expired one 42009.
 * - An unknown, used, expired or another suite's auth_code gets 40078 (不合法的临时授权码). Codes are one-time.
 * - get_permanent_code for a corp that already has a permanent code replaces it (as after reset_permanent_code): the
 *   old one then gets 40084, like a cancelled corp's.
 * - Every get_suite_token / get_provider_token / get_corp_token issues a new token; earlier ones stay valid.
 */
import { randomBytes } from 'node:crypto';
import { WeComCrypto } from '../../crypto/wecom-crypto.js';
import type { NormalisedApp } from './apps.js';
import { isRecord, parseJson } from './replies.js';
import type { Replies, Reply } from './replies.js';
import type { SimulatedSuite } from './types.js';
import { buildSuiteCallback, buildSuiteUrlVerification } from './suite-callbacks.js';
import type { KnownSuite, SimulatedSuiteCallback, SimulatedSuiteEvent, SuiteCallbackOptions } from './suite-callbacks.js';

export type { SimulatedSuiteCallback, SimulatedSuiteEvent, SuiteCallbackOptions } from './suite-callbacks.js';

/** The suite endpoints. */
export const SUITE_PATHS = Object.freeze({
  suiteToken: '/cgi-bin/service/get_suite_token',
  providerToken: '/cgi-bin/service/get_provider_token',
  permanentCode: '/cgi-bin/service/get_permanent_code',
  permanentCodeV2: '/cgi-bin/service/v2/get_permanent_code',
  corpToken: '/cgi-bin/service/get_corp_token',
});

/** The suite a simulator has when its options name none. */
export const DEFAULT_SUITE: Readonly<Required<SimulatedSuite>> = Object.freeze({
  suiteId: 'wwsimsuite00000001',
  suiteSecret: 'sim-suite-secret-0123456789',
  callbackToken: 'simSuiteCallbackToken',
  encodingAESKey: Buffer.alloc(32, 0x5a).toString('base64').slice(0, 43),
});

/** The provider a simulator has when its options name none. */
export const DEFAULT_PROVIDER = Object.freeze({ corpId: 'wwsimprovider00001', secret: 'sim-provider-secret-0123456789' });

interface Expiring {
  readonly value: string;
  readonly owner: string;
  expiresAt: number;
  revoked: boolean;
}

interface AuthCode {
  readonly suiteId: string;
  readonly corpId: string;
  readonly expiresAt: number;
  used: boolean;
}

const TICKET_LIFETIME_MS = 30 * 60_000;
const AUTH_CODE_LIFETIME_MS = 10 * 60_000;

/** The third-party state of one simulator. */
export class SuiteRegistry {
  readonly provider: { readonly corpId: string; readonly secret: string };
  private readonly suites = new Map<string, KnownSuite>();
  private readonly tickets = new Map<string, Expiring>();
  private readonly suiteTokens = new Map<string, Expiring>();
  private readonly providerTokens = new Map<string, Expiring>();
  private readonly corpTokens = new Map<string, Expiring>();
  private readonly authCodes = new Map<string, AuthCode>();
  /** `suiteId\0corpId` → the valid permanent code (absent once cancelled). */
  private readonly permanentCodes = new Map<string, string>();
  private readonly corpNames = new Map<string, string>();
  private corpCount = 0;
  private inFlight = 0;
  private peak = 0;
  private delayMs = 0;

  constructor(
    private readonly replies: Replies,
    private lifetimeSeconds: () => number,
    suites: readonly SimulatedSuite[] | undefined,
    provider: { corpId?: string; secret?: string } | undefined,
  ) {
    for (const suite of suites ?? [DEFAULT_SUITE]) {
      if (!suite.suiteId || !suite.suiteSecret || suite.suiteSecret.length < 4) {
        throw new Error('every simulated suite needs a suiteId and a suiteSecret of at least 4 characters');
      }
      if (this.suites.has(suite.suiteId)) throw new Error(`two simulated suites have suiteId '${suite.suiteId}'`);
      const full = {
        suiteId: suite.suiteId,
        suiteSecret: suite.suiteSecret,
        callbackToken: suite.callbackToken ?? DEFAULT_SUITE.callbackToken,
        encodingAESKey: suite.encodingAESKey ?? DEFAULT_SUITE.encodingAESKey,
      };
      const crypto = new WeComCrypto({ token: full.callbackToken, encodingAESKey: full.encodingAESKey, receiveId: full.suiteId });
      this.suites.set(full.suiteId, { ...full, crypto });
    }
    this.provider = Object.freeze({ corpId: provider?.corpId ?? DEFAULT_PROVIDER.corpId, secret: provider?.secret ?? DEFAULT_PROVIDER.secret });
  }

  /** A suite's settings (the first one by default); throws for an unknown suiteId. */
  suite(suiteId?: string): Required<SimulatedSuite> {
    const s = this.get(suiteId);
    return { suiteId: s.suiteId, suiteSecret: s.suiteSecret, callbackToken: s.callbackToken, encodingAESKey: s.encodingAESKey };
  }

  /** Holds every `/cgi-bin/service/*` answer back for `ms`, so that concurrency can be observed. */
  setDelay(ms: number): void {
    if (!(Number.isFinite(ms) && ms >= 0)) throw new Error(`service delay must be >= 0 ms, got ${ms}`);
    this.delayMs = ms;
  }

  /** The most `/cgi-bin/service/*` requests handled at once since the start or the last reset. */
  peakConcurrency(): number {
    return this.peak;
  }

  resetPeak(): void {
    this.peak = this.inFlight;
  }

  /** A new suite_ticket of a suite, valid 30 minutes. */
  issueTicket(suiteId?: string): string {
    return this.add(this.tickets, this.get(suiteId).suiteId, TICKET_LIFETIME_MS).value;
  }

  /** A one-time auth_code of an authorising corp (created unless given), valid 10 minutes. */
  createAuthCode(suiteId?: string, corpId?: string): { authCode: string; corpId: string } {
    const suite = this.get(suiteId);
    const corp = corpId ?? `wwsimauthcorp${String(++this.corpCount).padStart(6, '0')}`;
    if (!this.corpNames.has(corp)) this.corpNames.set(corp, `Simulated corp ${corp}`);
    const authCode = this.newValue();
    this.authCodes.set(authCode, { suiteId: suite.suiteId, corpId: corp, expiresAt: Date.now() + AUTH_CODE_LIFETIME_MS, used: false });
    return { authCode, corpId: corp };
  }

  /** Authorises a corp directly (no auth code): returns its permanent code. */
  authorise(suiteId?: string, corpId?: string): { permanentCode: string; corpId: string } {
    const { corpId: corp } = this.createAuthCode(suiteId, corpId);
    const permanentCode = this.newValue();
    this.permanentCodes.set(key(this.get(suiteId).suiteId, corp), permanentCode);
    this.agentOf(key(this.get(suiteId).suiteId, corp));
    return { permanentCode, corpId: corp };
  }

  /** The corp removes the suite: its permanent code gets 40084, its corp tokens 40014. */
  cancelAuth(corpId: string, suiteId?: string): void {
    this.permanentCodes.delete(key(this.get(suiteId).suiteId, corpId));
    this.revokeCorpTokens(corpId);
  }

  /** The valid permanent code of a corp, if authorised. */
  permanentCodeOf(corpId: string, suiteId?: string): string | undefined {
    return this.permanentCodes.get(key(this.get(suiteId).suiteId, corpId));
  }

  revokeSuiteTokens(): string[] {
    return revokeAll(this.suiteTokens, () => true);
  }

  expireSuiteTokens(): void {
    for (const record of this.suiteTokens.values()) record.expiresAt = Math.min(record.expiresAt, Date.now());
  }

  revokeProviderTokens(): string[] {
    return revokeAll(this.providerTokens, () => true);
  }

  revokeCorpTokens(corpId?: string): string[] {
    return revokeAll(this.corpTokens, (owner) => corpId === undefined || owner.endsWith(`\u0000${corpId}`));
  }

  /** Every secret-like value issued (tickets, tokens, auth and permanent codes), for leak scans. */
  issued(): { suiteTickets: string[]; suiteTokens: string[]; providerTokens: string[]; corpTokens: string[]; authCodes: string[]; permanentCodes: string[] } {
    return {
      suiteTickets: [...this.tickets.keys()],
      suiteTokens: [...this.suiteTokens.keys()],
      providerTokens: [...this.providerTokens.keys()],
      corpTokens: [...this.corpTokens.keys()],
      authCodes: [...this.authCodes.keys()],
      permanentCodes: [...this.issuedPermanent],
    };
  }

  /** The encrypted callback WeCom would POST for an event (suite-callbacks.ts). */
  callback(event: SimulatedSuiteEvent, options: SuiteCallbackOptions = {}): SimulatedSuiteCallback {
    return buildSuiteCallback(this, this.get(options.suiteId), event, options);
  }

  /** The URL check WeCom sends when the 指令回调 URL is saved, and the echo the server must answer. */
  urlVerification(suiteId?: string, receiveId?: string): ReturnType<typeof buildSuiteUrlVerification> {
    return buildSuiteUrlVerification(this.get(suiteId), receiveId);
  }

  /** Whether a suite of this id exists (third-party OAuth pages take the suiteId as appid). */
  hasSuite(suiteId: string | undefined): boolean {
    return suiteId !== undefined && this.suites.has(suiteId);
  }

  /** The suite whose valid suite_access_token the query carries, or WeCom's error (40082 / 42009). */
  suiteOfToken(query: Readonly<Record<string, string>>): { readonly suiteId: string } | Reply {
    const record = query.suite_access_token ? this.suiteTokens.get(query.suite_access_token) : undefined;
    if (!record || record.revoked) return this.replies.error(40082, 'invalid suite_access_token');
    if (Date.now() >= record.expiresAt) return this.replies.error(42009, 'suite_access_token expired');
    return { suiteId: record.owner };
  }

  /** The suite a `/cgi-bin/service/*` request is made for: by its suite_access_token, or get_suite_token's suite_id. */
  suiteOf(path: string, query: Readonly<Record<string, string>>, raw: Buffer): string | undefined {
    if (path === SUITE_PATHS.suiteToken) {
      const body = parseJson(raw);
      return isRecord(body) && typeof body.suite_id === 'string' && this.suites.has(body.suite_id) ? body.suite_id : undefined;
    }
    return query.suite_access_token ? this.suiteTokens.get(query.suite_access_token)?.owner : undefined;
  }

  /** The path is a suite endpoint. */
  handles(path: string): boolean {
    return path.startsWith('/cgi-bin/service/');
  }

  /** Attribution of a request for the log: the suite or corp whose token was sent. */
  ownerOf(query: Readonly<Record<string, string>>): string | undefined {
    const owner = (query.access_token && this.corpTokens.get(query.access_token)?.owner) || undefined;
    return owner ? `suite-corp:${owner.replace('\u0000', ':')}` : undefined;
  }

  /**
   * The business endpoints' check of an authorised corp's token: an app of kind `'app'` named after the suite and
   * corp, an error, or undefined when the token is not a corp token of a suite (the app check goes on).
   */
  checkCorpToken(query: Readonly<Record<string, string>>): NormalisedApp | Reply | undefined {
    const record = query.access_token ? this.corpTokens.get(query.access_token) : undefined;
    if (!record) return undefined;
    if (record.revoked) return this.replies.error(40014);
    if (Date.now() >= record.expiresAt) return this.replies.error(42001);
    return this.authorisedApp(`suite-corp:${record.owner.replace('\u0000', ':')}`)!;
  }

  /** The name an authorised corp's token is attributed to (tickets, signature checks): `suite-corp:{suiteId}:{corpId}`. */
  authorisedAppName(corpId: string, suiteId?: string): string {
    return `suite-corp:${this.get(suiteId).suiteId}:${corpId}`;
  }

  /** The pseudo-app of an authorised corp (kind 'app', with the authorised agent's id), by its name. */
  authorisedApp(name: string): NormalisedApp | undefined {
    if (!name.startsWith('suite-corp:')) return undefined;
    const owner = name.slice('suite-corp:'.length).replace(':', '\u0000');
    const agentId = this.agents.get(owner);
    if (agentId === undefined) return undefined;
    return Object.freeze({ name, secret: '', kind: 'app' as const, agentId });
  }

  /** The agentid of the app a corp authorised (one per suite and corp, kept across re-authorisations). */
  private agentOf(owner: string): number {
    let agentId = this.agents.get(owner);
    if (agentId === undefined) {
      agentId = 1_000_100 + this.agents.size;
      this.agents.set(owner, agentId);
    }
    return agentId;
  }

  private readonly agents = new Map<string, number>();

  /**
   * 代开发 (templates whose suiteId starts with `dk`): gettoken with an authorised corp's id and its permanent code
   * as corpsecret issues that corp's token (40001 for another code); undefined when the corp is no 代开发 corp, so
   * the app's gettoken answers. Counted apart from get_corp_token (see {@link customGettokenCalls}).
   */
  customGettoken(query: Readonly<Record<string, string>>): Reply | undefined {
    const corpId = query.corpid;
    if (!corpId) return undefined;
    for (const suiteId of this.suites.keys()) {
      if (!suiteId.startsWith('dk')) continue;
      const code = this.permanentCodes.get(key(suiteId, corpId));
      if (code === undefined) continue;
      this.customCalls.set(corpId, (this.customCalls.get(corpId) ?? 0) + 1);
      if (code !== query.corpsecret) return this.replies.error(40001, 'invalid credential');
      return this.tokenReply(this.corpTokens, key(suiteId, corpId), 'access_token');
    }
    return undefined;
  }

  /** gettoken calls of 代开发 corps (all, or one corp's). */
  customGettokenCalls(corpId?: string): number {
    if (corpId !== undefined) return this.customCalls.get(corpId) ?? 0;
    let sum = 0;
    for (const n of this.customCalls.values()) sum += n;
    return sum;
  }

  private readonly customCalls = new Map<string, number>();

  /** Answers a `/cgi-bin/service/*` request. */
  async handle(method: string, path: string, query: Readonly<Record<string, string>>, raw: Buffer): Promise<Reply> {
    this.inFlight += 1;
    this.peak = Math.max(this.peak, this.inFlight);
    try {
      if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
      if (method !== 'POST') return this.replies.error(43002);
      const parsed = parseJson(raw);
      const body: Record<string, unknown> = isRecord(parsed) ? parsed : {};
      const str = (field: string): string => (typeof body[field] === 'string' ? body[field] : '');
      switch (path) {
        case SUITE_PATHS.suiteToken:
          return this.getSuiteToken(str('suite_id'), str('suite_secret'), str('suite_ticket'));
        case SUITE_PATHS.providerToken:
          if (str('corpid') !== this.provider.corpId) return this.replies.error(40013);
          if (str('provider_secret') !== this.provider.secret) return this.replies.error(40091, 'provider_secret is invalid');
          return this.tokenReply(this.providerTokens, this.provider.corpId, 'provider_access_token');
        case SUITE_PATHS.permanentCode:
        case SUITE_PATHS.permanentCodeV2:
          return this.withSuiteToken(query, (suiteId) => this.getPermanentCode(suiteId, str('auth_code'), path === SUITE_PATHS.permanentCode));
        case SUITE_PATHS.corpToken:
          return this.withSuiteToken(query, (suiteId) => {
            const corpId = str('auth_corpid');
            const code = this.permanentCodes.get(key(suiteId, corpId));
            if (!code || code !== str('permanent_code')) return this.replies.error(40084, 'invalid permanent_code');
            return this.tokenReply(this.corpTokens, key(suiteId, corpId), 'access_token');
          });
        default:
          return this.replies.json({ errcode: 404, errmsg: `the simulator has no endpoint ${path}` }, 404);
      }
    } finally {
      this.inFlight -= 1;
    }
  }

  private readonly issuedPermanent: string[] = [];

  private getSuiteToken(suiteId: string, secret: string, ticket: string): Reply {
    const suite = this.suites.get(suiteId);
    if (!suite) return this.replies.error(40083, 'invalid suite_id');
    if (secret !== suite.suiteSecret) return this.replies.error(40080, 'invalid suite_secret');
    const record = this.tickets.get(ticket);
    if (!record || record.owner !== suiteId || record.revoked || Date.now() >= record.expiresAt) {
      return this.replies.error(40085, 'invalid suite_ticket');
    }
    return this.tokenReply(this.suiteTokens, suiteId, 'suite_access_token');
  }

  private withSuiteToken(query: Readonly<Record<string, string>>, then: (suiteId: string) => Reply): Reply {
    const owner = this.suiteOfToken(query);
    return 'suiteId' in owner ? then(owner.suiteId) : owner;
  }

  private getPermanentCode(suiteId: string, authCode: string, v1: boolean): Reply {
    const code = this.authCodes.get(authCode);
    if (!code || code.used || code.suiteId !== suiteId || Date.now() >= code.expiresAt) {
      return this.replies.error(40078, 'invalid auth_code');
    }
    code.used = true;
    const permanentCode = this.newValue();
    this.issuedPermanent.push(permanentCode);
    this.permanentCodes.set(key(suiteId, code.corpId), permanentCode);
    const answer: Record<string, unknown> = {
      errcode: 0,
      errmsg: 'ok',
      permanent_code: permanentCode,
      auth_corp_info: { corpid: code.corpId, corp_name: this.corpNames.get(code.corpId) },
      auth_info: { agent: [{ agentid: this.agentOf(key(suiteId, code.corpId)), name: 'simulated app' }] },
    };
    if (v1) {
      const record = this.add(this.corpTokens, key(suiteId, code.corpId), this.lifetimeSeconds() * 1000);
      Object.assign(answer, { access_token: record.value, expires_in: Math.ceil(this.lifetimeSeconds()) });
    }
    return this.replies.json(answer);
  }

  private tokenReply(map: Map<string, Expiring>, owner: string, field: string): Reply {
    const record = this.add(map, owner, this.lifetimeSeconds() * 1000);
    return this.replies.json({ errcode: 0, errmsg: 'ok', [field]: record.value, expires_in: Math.ceil(this.lifetimeSeconds()) });
  }

  private add(map: Map<string, Expiring>, owner: string, lifetimeMs: number): Expiring {
    const record: Expiring = { value: this.newValue(), owner, expiresAt: Date.now() + lifetimeMs, revoked: false };
    map.set(record.value, record);
    return record;
  }

  private newValue(): string {
    const secrets = [...this.suites.values()].map((s) => s.suiteSecret).concat(this.provider.secret);
    for (let attempt = 0; attempt < 1000; attempt += 1) {
      const value = randomBytes(48).toString('base64url');
      if (!secrets.some((secret) => value.includes(secret))) return value;
    }
    throw new Error('WeComSimulator could not issue a value that does not contain a secret; use longer secrets');
  }

  private get(suiteId: string | undefined): KnownSuite {
    const suite = suiteId === undefined ? this.suites.values().next().value : this.suites.get(suiteId);
    if (!suite) throw new Error(`WeComSimulator has no suite '${String(suiteId)}'; its suites are: ${[...this.suites.keys()].join(', ')}`);
    return suite;
  }
}

function key(suiteId: string, corpId: string): string {
  return `${suiteId}\u0000${corpId}`;
}

function revokeAll(map: Map<string, Expiring>, match: (owner: string) => boolean): string[] {
  const now = Date.now();
  const revoked: string[] = [];
  for (const record of map.values()) {
    if (!record.revoked && now < record.expiresAt && match(record.owner)) {
      record.revoked = true;
      revoked.push(record.value);
    }
  }
  return revoked;
}
