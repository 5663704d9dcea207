/**
 * Access tokens: gettoken, the token records, and the check every other endpoint makes (41001 / 40014 / 42001).
 * Revocation and expiry are flags on the records, so a test can end a token's life without waiting for it.
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { AppDirectory, NormalisedApp } from './apps.js';
import type { Replies, Reply } from './replies.js';
import type { RepeatedGettokenMode } from './types.js';
import { checkEither, checkLifetime } from './checks.js';

/** The path of gettoken, the one endpoint that takes no access_token. */
export const GETTOKEN_PATH = '/cgi-bin/gettoken';

/** The corpid a simulator accepts when its options name none. */
export const DEFAULT_CORP_ID = 'wwsimulatorcorp0001';

/** WeCom's usual `expires_in` of a token (and of a ticket). */
export const DEFAULT_LIFETIME_SECONDS = 7200;

/** One issued token. */
export interface TokenRecord {
  readonly token: string;
  readonly app: string;
  expiresAt: number;
  revoked: boolean;
}

/** The token state of one simulator. */
export class TokenRegistry {
  private readonly tokens = new Map<string, TokenRecord>();
  private readonly byApp = new Map<string, TokenRecord[]>();
  private lifetimeSeconds: number;
  private mode: RepeatedGettokenMode;

  constructor(
    private readonly corpId: string,
    private readonly apps: AppDirectory,
    private readonly replies: Replies,
    lifetimeSeconds: number,
    mode: RepeatedGettokenMode,
  ) {
    this.lifetimeSeconds = checkLifetime(lifetimeSeconds, 'token');
    this.mode = checkEither(mode, 'same-token', 'new-token', 'repeatedGettoken');
    for (const app of apps.all()) this.byApp.set(app.name, []);
  }

  /** Lifetime of tokens issued from now on. */
  setLifetime(seconds: number): void {
    this.lifetimeSeconds = checkLifetime(seconds, 'token');
  }

  /** What a repeated gettoken returns. */
  setMode(mode: RepeatedGettokenMode): void {
    this.mode = checkEither(mode, 'same-token', 'new-token', 'repeatedGettoken');
  }

  /** `GET /cgi-bin/gettoken`: 40013 for a missing or wrong corpid, 40001 for an unknown secret. */
  gettoken(query: Readonly<Record<string, string>>): Reply {
    if (!query.corpid || query.corpid !== this.corpId) return this.replies.error(40013);
    const app = this.apps.bySecret(query.corpsecret);
    if (!app) return this.replies.error(40001);
    const now = Date.now();
    const live = this.mode === 'same-token' ? this.live(app.name, now) : undefined;
    const record = live ?? this.issue(app.name, now);
    const expiresIn = Math.max(1, Math.ceil((record.expiresAt - now) / 1000));
    return this.replies.json({ errcode: 0, errmsg: 'ok', access_token: record.token, expires_in: expiresIn });
  }

  /**
   * The app a query's `access_token` belongs to, or the error WeCom answers. Only the query counts: WeCom answers
   * 41001 when the token is in the body.
   */
  check(query: Readonly<Record<string, string>>): NormalisedApp | Reply {
    const token = query.access_token;
    if (!token) return this.replies.error(41001);
    const record = this.tokens.get(token);
    if (!record || record.revoked) return this.replies.error(40014);
    if (Date.now() >= record.expiresAt) return this.replies.error(42001);
    return this.apps.get(record.app);
  }

  /** The name of the app that owns a token, whatever its state (for the request log). */
  ownerOf(token: string | undefined): string | undefined {
    return token ? this.tokens.get(token)?.app : undefined;
  }

  /** Revokes every live token of one app or of all; returns the tokens revoked. */
  revokeAll(appName: string | undefined): string[] {
    const revoked: string[] = [];
    const now = Date.now();
    for (const record of this.recordsOf(appName)) {
      if (!record.revoked && now < record.expiresAt) {
        record.revoked = true;
        revoked.push(record.token);
      }
    }
    return revoked;
  }

  /** Revokes one token; false when unknown or already revoked. */
  revoke(token: string): boolean {
    const record = this.tokens.get(token);
    if (!record || record.revoked) return false;
    record.revoked = true;
    return true;
  }

  /** Ends the lifetime of every live token of one app or of all, now. */
  expireAll(appName: string | undefined): void {
    const now = Date.now();
    for (const record of this.recordsOf(appName)) {
      if (!record.revoked && now < record.expiresAt) record.expiresAt = now;
    }
  }

  /** Every token issued, oldest first, of one app or of all. */
  issued(appName: string | undefined): string[] {
    return this.recordsOf(appName).map((record) => record.token);
  }

  /** The newest live token of an app. */
  current(appName: string): string | undefined {
    this.apps.get(appName);
    return this.live(appName, Date.now())?.token;
  }

  private issue(appName: string, now: number): TokenRecord {
    const record: TokenRecord = {
      token: this.newToken(),
      app: appName,
      expiresAt: now + this.lifetimeSeconds * 1000,
      revoked: false,
    };
    this.tokens.set(record.token, record);
    this.byApp.get(appName)!.push(record);
    return record;
  }

  private newToken(): string {
    // Bounded, so that a pathological secret cannot spin forever; AppDirectory keeps secrets long enough.
    for (let attempt = 0; attempt < 1000; attempt += 1) {
      const length = randomInt(64, 101);
      const token = randomBytes(length).toString('base64url').slice(0, length);
      if (this.tokens.has(token)) continue;
      if (this.apps.all().some((app) => token.includes(app.secret))) continue;
      return token;
    }
    throw new Error('WeComSimulator could not issue a token that does not contain a secret; use longer secrets');
  }

  private live(appName: string, now: number): TokenRecord | undefined {
    const records = this.byApp.get(appName) ?? [];
    for (let i = records.length - 1; i >= 0; i -= 1) {
      const record = records[i];
      if (!record.revoked && now < record.expiresAt) return record;
    }
    return undefined;
  }

  private recordsOf(appName: string | undefined): TokenRecord[] {
    if (appName === undefined) return [...this.tokens.values()];
    this.apps.get(appName);
    return [...(this.byApp.get(appName) ?? [])];
  }
}
