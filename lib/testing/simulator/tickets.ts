/**
 * JS-SDK tickets (WeCom notes §4, doc 96909): the corp ticket (`GET /cgi-bin/get_jsapi_ticket`) and the agent ticket
 * (`GET /cgi-bin/ticket/get?type=agent_config`), their lifetimes, WeCom's hourly limits, and a check of the signature
 * a page would send, so that users' tests can verify what their server signs without a browser.
 *
 * Choices where WeCom's docs are silent (each one is the stricter reading, so a client that copes here copes there):
 * - Each app has its own corp ticket and its own agent ticket. The docs do not say whether two apps of one corp share
 *   the corp ticket; a client keyed per secret (as this package is) must not depend on it either way.
 * - Only tokens of kind `'app'` fetch tickets (the JS-SDK runs in an app's pages): the contacts-sync and
 *   customer-contact secrets get 48002, as for other APIs their secret may not call.
 * - `ticket/get` without `type=agent_config` gets 40058 (invalid parameter); an app without an agentId gets 40056
 *   (invalid agentid), the code WeCom gives for an app it cannot identify as an agent.
 * - Both kinds count against one budget per app and one per corp; only fetches past the token check count, and a
 *   fetch answered 45009 does not (see {@link SimulatedTicketLimits}).
 */
import { randomBytes } from 'node:crypto';
import { jsapiSignature } from '../../crypto/jsapi-signature.js';
import type { AppDirectory, NormalisedApp } from './apps.js';
import type { Endpoint } from './endpoints.js';
import type { Replies, Reply } from './replies.js';
import { checkEither, checkLifetime } from './checks.js';
import type { RepeatedTicketMode, SimulatedApiContext, SimulatedSignatureCheck, SimulatedSignatureInput, SimulatedTicketKind, SimulatedTicketLimits } from './types.js';

/** The path each ticket kind is fetched from. */
export const TICKET_PATHS: Readonly<Record<SimulatedTicketKind, string>> = Object.freeze({
  corp: '/cgi-bin/get_jsapi_ticket',
  agent: '/cgi-bin/ticket/get',
});

/** WeCom's limits (doc 96909): 100 per app and 400 per corp per hour. */
export const DEFAULT_TICKET_LIMITS: Readonly<SimulatedTicketLimits> = Object.freeze({
  perApp: 100,
  perCorp: 400,
  windowSeconds: 3600,
});

/** What the ticket role is built from. */
export interface TicketSettings {
  readonly lifetimeSeconds: number;
  readonly mode: RepeatedTicketMode;
  readonly limits: Partial<SimulatedTicketLimits>;
}

interface TicketRecord {
  readonly ticket: string;
  expiresAt: number;
  revoked: boolean;
}

/** The ticket state of one simulator: records per kind and app, and the fetches inside the limit window. */
export class TicketRegistry {
  private readonly records = new Map<string, TicketRecord[]>();
  private fetches: { readonly at: number; readonly app: string }[] = [];
  private lifetimeSeconds: number;
  private mode: RepeatedTicketMode;
  private limits: SimulatedTicketLimits;

  constructor(
    private readonly apps: AppDirectory,
    private readonly replies: Replies,
    settings: TicketSettings,
    /** The pseudo-app of an authorised corp's token (suites and 代开发), by name, for signature checks. */
    private readonly authorisedApp: (name: string) => NormalisedApp | undefined = () => undefined,
  ) {
    this.lifetimeSeconds = checkLifetime(settings.lifetimeSeconds, 'ticket');
    this.mode = checkEither(settings.mode, 'same-ticket', 'new-ticket', 'repeatedTicket');
    this.limits = checkLimits({ ...DEFAULT_TICKET_LIMITS, ...settings.limits });
  }

  /** The two endpoints, for the endpoint table (which checks the token, the method and the kind of secret). */
  endpoints(): [string, Endpoint][] {
    return (['corp', 'agent'] as const).map((kind) => [TICKET_PATHS[kind], { method: 'GET', kinds: ['app'], handle: (context: SimulatedApiContext) => this.fetch(kind, context) }]);
  }

  /** Lifetime of tickets issued from now on. */
  setLifetime(seconds: number): void {
    this.lifetimeSeconds = checkLifetime(seconds, 'ticket');
  }

  /** What a repeated fetch returns. */
  setMode(mode: RepeatedTicketMode): void {
    this.mode = checkEither(mode, 'same-ticket', 'new-ticket', 'repeatedTicket');
  }

  /** Replaces some limits; past fetches inside the window still count. */
  setLimits(limits: Partial<SimulatedTicketLimits>): void {
    this.limits = checkLimits({ ...this.limits, ...limits });
  }

  /** Every ticket of a kind issued (or seeded), oldest first, of one app or of all. */
  issued(kind: SimulatedTicketKind, appName: string | undefined): string[] {
    return this.recordsOf(kind, appName).map((record) => record.ticket);
  }

  /** The newest valid ticket of a kind and app. */
  current(kind: SimulatedTicketKind, appName: string): string | undefined {
    return this.live(kind, this.apps.get(appName).name, Date.now())?.ticket;
  }

  /** Revokes the valid tickets of one kind or both, of one app or all; returns them. */
  revoke(kind: SimulatedTicketKind | undefined, appName: string | undefined): string[] {
    const revoked: string[] = [];
    for (const record of this.validRecords(kind, appName)) {
      record.revoked = true;
      revoked.push(record.ticket);
    }
    return revoked;
  }

  /** Ends the lifetime of the valid tickets of one kind or both, of one app or all, now. */
  expire(kind: SimulatedTicketKind | undefined, appName: string | undefined): void {
    const now = Date.now();
    for (const record of this.validRecords(kind, appName)) record.expiresAt = now;
  }

  /** Makes a known ticket the current one of a kind and app, with a full lifetime (for published test vectors). */
  seed(kind: SimulatedTicketKind, appName: string, ticket: string): void {
    const app = this.apps.get(appName);
    if (typeof ticket !== 'string' || ticket.length === 0) throw new Error('setTicket needs a non-empty ticket');
    if (kind === 'agent' && app.agentId === undefined) {
      throw new Error(`simulated app '${app.name}' has no agentId, so it has no agent ticket`);
    }
    this.add(kind, app.name, ticket, Date.now());
  }

  /** Checks a page's signature against the tickets of one kind and app; see {@link SimulatedSignatureCheck}. */
  verify(input: SimulatedSignatureInput): SimulatedSignatureCheck {
    const app = (input.appName !== undefined ? this.authorisedApp(input.appName) : undefined) ?? this.apps.get(input.appName ?? 'default');
    const fail = (detail: string): SimulatedSignatureCheck => ({
      valid: false,
      reason: `invalid signature: ${detail}`,
    });
    if (input.kind === 'agent' && app.agentId === undefined) {
      return fail(`app '${app.name}' has no agentId, so it has no agent ticket`);
    }
    const url = input.url.split('#')[0];
    const timestamp = String(input.timestamp);
    const signedWith = (ticket: string, signedUrl = url): boolean => jsapiSignature({ ticket, nonceStr: input.nonceStr, timestamp, url: signedUrl }) === input.signature;
    const now = Date.now();
    const records = this.records.get(key(input.kind, app.name)) ?? [];
    const match = records.find((record) => signedWith(record.ticket));
    if (match && isValid(match, now)) return { valid: true };
    if (match) return fail(`signed with ${match.revoked ? 'a revoked' : 'an expired'} ${input.kind} ticket`);
    const other: SimulatedTicketKind = input.kind === 'corp' ? 'agent' : 'corp';
    if ((this.records.get(key(other, app.name)) ?? []).some((record) => signedWith(record.ticket))) {
      return fail(`signed with the ${other} ticket where the ${input.kind} ticket is needed`);
    }
    if (url !== input.url && records.some((record) => signedWith(record.ticket, input.url))) {
      return fail('the signed url kept its #fragment; the page signs the url without it');
    }
    if (!records.some((record) => isValid(record, now))) {
      return fail(`app '${app.name}' has no valid ${input.kind} ticket`);
    }
    return fail(
      `no ${input.kind} ticket of app '${app.name}' gives this signature; check nonceStr, timestamp (seconds) and ` +
        `the url exactly as the page has it (not URL-encoded, "&" not escaped as "&amp;")`,
    );
  }

  private fetch(kind: SimulatedTicketKind, context: SimulatedApiContext): Reply {
    if (kind === 'agent' && context.query.type !== 'agent_config') {
      return this.replies.error(40058, 'invalid parameter, type must be agent_config');
    }
    const app = context.app;
    if (kind === 'agent' && app.agentId === undefined) return this.replies.error(40056);
    const now = Date.now();
    if (!this.admit(app.name, now)) return this.replies.error(45009);
    const live = this.mode === 'same-ticket' ? this.live(kind, app.name, now) : undefined;
    const record = live ?? this.add(kind, app.name, this.newTicket(), now);
    const expiresIn = Math.max(1, Math.ceil((record.expiresAt - now) / 1000));
    return this.replies.json({ errcode: 0, errmsg: 'ok', ticket: record.ticket, expires_in: expiresIn });
  }

  /** Counts a fetch inside the window, or refuses it once the app's or the corp's budget is spent. */
  private admit(appName: string, now: number): boolean {
    const since = now - this.limits.windowSeconds * 1000;
    this.fetches = this.fetches.filter((fetch) => fetch.at > since);
    const ofApp = this.fetches.filter((fetch) => fetch.app === appName).length;
    if (ofApp >= this.limits.perApp || this.fetches.length >= this.limits.perCorp) return false;
    this.fetches.push({ at: now, app: appName });
    return true;
  }

  private add(kind: SimulatedTicketKind, appName: string, ticket: string, now: number): TicketRecord {
    const record: TicketRecord = { ticket, expiresAt: now + this.lifetimeSeconds * 1000, revoked: false };
    const k = key(kind, appName);
    this.records.set(k, [...(this.records.get(k) ?? []), record]);
    return record;
  }

  private newTicket(): string {
    // 64 random bytes make 86 base64url characters, the shape of WeCom's published example ticket.
    for (let attempt = 0; attempt < 1000; attempt += 1) {
      const ticket = randomBytes(64).toString('base64url');
      if (this.apps.all().some((app) => ticket.includes(app.secret))) continue;
      return ticket;
    }
    throw new Error('WeComSimulator could not issue a ticket that does not contain a secret; use longer secrets');
  }

  private live(kind: SimulatedTicketKind, appName: string, now: number): TicketRecord | undefined {
    const records = this.records.get(key(kind, appName)) ?? [];
    for (let i = records.length - 1; i >= 0; i -= 1) if (isValid(records[i], now)) return records[i];
    return undefined;
  }

  private validRecords(kind: SimulatedTicketKind | undefined, appName: string | undefined): TicketRecord[] {
    const now = Date.now();
    const kinds: SimulatedTicketKind[] = kind === undefined ? ['corp', 'agent'] : [kind];
    return kinds.flatMap((k) => this.recordsOf(k, appName)).filter((record) => isValid(record, now));
  }

  private recordsOf(kind: SimulatedTicketKind, appName: string | undefined): TicketRecord[] {
    checkEither(kind, 'corp', 'agent', 'ticket kind');
    const names = appName === undefined ? this.apps.all().map((app) => app.name) : [this.apps.get(appName).name];
    return names.flatMap((name) => this.records.get(key(kind, name)) ?? []);
  }
}

function key(kind: SimulatedTicketKind, appName: string): string {
  return `${kind}\u0000${appName}`;
}

function isValid(record: TicketRecord, now: number): boolean {
  return !record.revoked && now < record.expiresAt;
}

function checkLimits(limits: SimulatedTicketLimits): SimulatedTicketLimits {
  for (const field of ['perApp', 'perCorp'] as const) {
    if (!(Number.isInteger(limits[field]) && limits[field] >= 0)) {
      throw new Error(`ticketLimits.${field} must be an integer >= 0, got ${limits[field]}`);
    }
  }
  if (!(Number.isFinite(limits.windowSeconds) && limits.windowSeconds > 0)) {
    throw new Error(`ticketLimits.windowSeconds must be a positive number, got ${limits.windowSeconds}`);
  }
  return { ...limits };
}
