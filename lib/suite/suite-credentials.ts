/**
 * The suite's credentials on the engine: the suite_access_token (with the latest suite_ticket from the shared
 * cache), the provider_access_token, and one lazily built credential per authorised corp (get_corp_token with the
 * stored permanent code), each with its own single flight, all corps' requests bounded by one {@link FetchLimit}.
 */
import type { Cache } from 'cache-manager';
import { publishRejected } from '../observability/diagnostics.js';
import { inspect } from 'node:util';
import { settingsOf } from '../common/wecom-token.config.js';
import { credentialHttp, entryFromBody, requestCredential } from '../common/credential-request.js';
import type { CredentialRequest, EgressAxiosConfig } from '../common/credential-request.js';
import { bounded } from '../common/bounded.js';
import { fingerprint, Secret } from '../common/redaction.js';
import { CACHE_KEY_PREFIX, GETTOKEN_PATH } from '../common/wecom-token.constants.js';
import { Credential } from '../engine/credential.js';
import type { CredentialSpec } from '../engine/credential-spec.js';
import { InProcessTokenLock } from '../engine/in-process-token-lock.js';
import { WeComApiError } from '../common/errors/wecom-api.error.js';
import { WeComSuiteStateError } from '../common/errors/wecom-suite-state.error.js';
import type { TokenEntry } from '../common/interfaces/token-entry.interface.js';
import type { TokenLock } from '../common/interfaces/token-lock.interface.js';
import type { AppRef } from '../common/wecom-token.messages.js';
import { CancelledCorps } from './cancelled-corps.js';
import { FetchLimit } from '../engine/fetch-limit.js';
import { BoundedPermanentCodes } from './permanent-codes.js';
import type { SuiteConfig } from './suite.config.js';
import { cancelledCorpMessage, noPermanentCodeMessage, noSuiteTicketMessage } from './suite.messages.js';

/** The suite endpoints (WeCom notes §5). */
export const SUITE_TOKEN_PATH = '/cgi-bin/service/get_suite_token';
export const PROVIDER_TOKEN_PATH = '/cgi-bin/service/get_provider_token';
export const PERMANENT_CODE_PATH = '/cgi-bin/service/get_permanent_code';
export const CORP_TOKEN_PATH = '/cgi-bin/service/get_corp_token';

/** errcodes that mean "this suite_access_token was rejected". */
export const SUITE_TOKEN_REJECTED_ERRCODES: ReadonlySet<number> = new Set([40082, 42009]);

/** Credential requests of one suite in flight at once, across all its corps. */
export const CORP_FETCH_CONCURRENCY = 16;

/**
 * Corp credentials one process keeps at most: beyond it the least recently used idle one is closed (it is rebuilt on
 * its next use, from the shared cache), so memory is bounded whatever ids callers ask for.
 */
export const CORP_CREDENTIALS_KEPT = 10_000;

/** A corp used again within this long keeps its place in the order of use (LRU to the second). */
const CORP_MOVE_EVERY_MS = 1_000;

/**
 * Who a suite credential's messages are about. Suites, the provider and authorised corps are checked against the
 * provider's IP whitelist (a 60020 names it), not against an app's 企业可信IP.
 */
export function providerRef(corpId: string, app: string): AppRef {
  return { corpId, app, whitelist: 'provider-ip-whitelist' };
}

/** A suite_ticket as kept in the shared cache. */
export interface StoredSuiteTicket {
  readonly ticket: string;
  /** WeCom's TimeStamp (seconds): the latest wins. */
  readonly timeStamp: number;
}

/** How far ahead of this server's clock a kept suite_ticket's time may be and still outrank a newer delivery. */
const TICKET_CLOCK_SKEW_SECONDS = 300;

/** The credentials of one suite. */
export class SuiteCredentials {
  readonly suite: Credential;
  readonly provider?: Credential;
  readonly limit = new FetchLimit(CORP_FETCH_CONCURRENCY);
  readonly lock: TokenLock;
  readonly suiteRef: AppRef;
  /** The application's permanent codes, every call bounded by timeoutMs. */
  readonly codes: BoundedPermanentCodes;
  /** Least recently used first. */
  private readonly corps = new Map<string, Credential>();
  private readonly cancelled: CancelledCorps;
  /** 代开发: the permanent code is read (once per corp at a time) before its credential, keyed by it, is built. */
  private readonly customLoads = new Map<string, Promise<Credential>>();
  private readonly http;

  constructor(
    private readonly config: SuiteConfig,
    readonly cache: Cache,
    egress: EgressAxiosConfig = { proxy: false },
  ) {
    this.http = credentialHttp(config.engine.baseUrl, egress);
    this.lock = config.engine.lock ?? new InProcessTokenLock();
    this.codes = new BoundedPermanentCodes(config.permanentCodes, config.suiteId, config.engine.timeoutMs);
    this.cancelled = new CancelledCorps(cache, (authCorpId) => config.keys.corpCancelled(authCorpId), this.lock, config.engine.cacheTimeoutMs);
    this.suiteRef = providerRef(config.suiteId, config.name);
    this.suite = this.credential(this.suiteRef, 'suite_access_token', config.keys.suiteToken, async (signal) => {
      const stored = await this.readTicket();
      if (!stored) throw new WeComSuiteStateError(this.suiteRef, SUITE_TOKEN_PATH, 'no-suite-ticket', noSuiteTicketMessage(config.suiteId));
      const data = { suite_id: config.suiteId, suite_secret: config.suiteSecret.reveal(), suite_ticket: stored.ticket };
      return this.request(this.suiteRef, { method: 'POST', path: SUITE_TOKEN_PATH, data }, 'suite_access_token', signal);
    });
    const provider = config.provider;
    if (provider && config.keys.providerToken) {
      const ref = providerRef(provider.corpId, config.name);
      this.provider = this.credential(ref, 'provider_access_token', config.keys.providerToken, (signal) => {
        const data = { corpid: provider.corpId, provider_secret: provider.secret.reveal() };
        return this.request(ref, { method: 'POST', path: PROVIDER_TOKEN_PATH, data }, 'provider_access_token', signal);
      });
    }
  }

  /** How many corps have a credential in this process. */
  get corpCount(): number {
    return this.corps.size;
  }

  /** Whether this process holds a token of `authCorpId` (an authorised corp it serves). */
  serves(authCorpId: string): boolean {
    return this.corps.get(authCorpId)?.holds === true;
  }

  /** Whether this process knows that `authCorpId` cancelled its authorisation. */
  isCancelledLocally(authCorpId: string): boolean {
    return this.cancelled.has(authCorpId);
  }

  /** The credential of an authorised corp, built on first use. */
  corp(authCorpId: string): Credential {
    if (this.cancelled.fresh(authCorpId)) throw this.cancelledError(authCorpId);
    const held = this.corps.get(authCorpId);
    const now = Date.now();
    if (held) {
      if (now - held.usedAt >= CORP_MOVE_EVERY_MS) this.moveToEnd(authCorpId, held, now);
      return held;
    }
    if (this.config.customDeveloped)
      throw new WeComSuiteStateError(providerRef(authCorpId, this.config.name), GETTOKEN_PATH, 'no-permanent-code', noPermanentCodeMessage(authCorpId));
    const credential = this.buildCorp(authCorpId);
    this.evictIdle();
    credential.usedAt = now;
    this.corps.set(authCorpId, credential);
    return credential;
  }

  /**
   * Most recently used last, so that the bound closes the idle ones first; at most once a second per corp (a Map
   * delete and set on every call costs more than the call over thousands of corps): LRU to the second.
   */
  private moveToEnd(authCorpId: string, credential: Credential, now: number): void {
    credential.usedAt = now;
    this.corps.delete(authCorpId);
    this.corps.set(authCorpId, credential);
  }

  /**
   * A valid access_token of an authorised corp. An id that turns out unknown (no permanent code) or cancelled
   * leaves nothing behind: its credential is closed and dropped once its callers have their answer.
   */
  corpToken(authCorpId: string): Promise<string> {
    // Every request's path: a held corp, not remembered as cancelled, with a valid token answers with one clock read.
    const held = this.corps.get(authCorpId);
    if (held !== undefined && !this.cancelled.has(authCorpId)) {
      const now = Date.now();
      const token = held.current(now);
      if (token !== undefined) {
        if (now - held.usedAt >= CORP_MOVE_EVERY_MS) this.moveToEnd(authCorpId, held, now);
        return Promise.resolve(token);
      }
    }
    if (this.cancelled.has(authCorpId) && !this.cancelled.fresh(authCorpId)) {
      // Remembered as cancelled a while ago: ask the fleet's mark whether that still holds (the corp may be back).
      return this.cancelled.confirm(authCorpId).then((still) => (still ? Promise.reject(this.cancelledError(authCorpId)) : this.corpToken(authCorpId)));
    }
    if (this.config.customDeveloped && !this.corps.has(authCorpId)) {
      if (this.cancelled.fresh(authCorpId)) return Promise.reject(this.cancelledError(authCorpId));
      return this.customCorp(authCorpId).then((credential) => credential.get());
    }
    let credential: Credential;
    try {
      credential = this.corp(authCorpId);
    } catch (error) {
      return Promise.reject(error);
    }
    const token = credential.get();
    if (credential.holds) return token;
    return token.catch((error: unknown) => {
      if (error instanceof WeComSuiteStateError && (error.reason === 'no-permanent-code' || error.reason === 'cancelled')) {
        // After every caller of this load has had its answer (their holds and handlers run first).
        setImmediate(() => this.dropIfIdle(authCorpId, credential));
      }
      throw error;
    });
  }

  /** Forget a corp token WeCom rejected (compare-and-delete); a 代开发 corp's only when its credential is held. */
  async invalidateCorp(authCorpId: string, rejected: string): Promise<void> {
    if (this.isCancelledLocally(authCorpId)) return;
    if (this.config.customDeveloped) {
      await this.corps.get(authCorpId)?.invalidate(rejected);
      return;
    }
    await this.corp(authCorpId).invalidate(rejected);
  }

  /** The latest suite_ticket in the shared cache, if any. */
  async readTicket(): Promise<StoredSuiteTicket | undefined> {
    const value = await bounded(this.cache.get<StoredSuiteTicket>(this.config.keys.suiteTicket), this.config.engine.cacheTimeoutMs, 'cache get');
    return value && typeof value.ticket === 'string' && value.ticket !== '' ? value : undefined;
  }

  /** Keeps a suite_ticket unless the cache holds a later one (by WeCom's TimeStamp); valid 30 minutes. */
  async storeTicket(ticket: StoredSuiteTicket): Promise<void> {
    // The ticket's time comes from a bounded clock: a TimeStamp beyond now counts as now, so that a ticket dated in
    // the future cannot outrank (freeze out) the real ones that follow; a kept one dated beyond now + 5 min (kept
    // before this bound) does not outrank anything either.
    const now = Math.floor(Date.now() / 1000);
    const timeStamp = Math.min(ticket.timeStamp, now);
    const current = await this.readTicket();
    if (current && current.timeStamp > timeStamp && current.timeStamp <= now + TICKET_CLOCK_SKEW_SECONDS) return;
    await bounded(this.cache.set(this.config.keys.suiteTicket, { ticket: ticket.ticket, timeStamp }, 30 * 60_000), this.config.engine.cacheTimeoutMs, 'cache set');
  }

  /**
   * Calls `call` with a suite_access_token; when WeCom rejects that token (40082 / 42009), forgets it, fetches a new
   * one and replays once.
   */
  async withSuiteToken<T>(call: (suiteToken: string) => Promise<T>): Promise<T> {
    const token = await this.suite.get();
    try {
      return await call(token);
    } catch (error) {
      if (!(error instanceof WeComApiError && SUITE_TOKEN_REJECTED_ERRCODES.has(error.errcode))) throw error;
      publishRejected({ kind: 'suite_access_token', corpId: this.suiteRef.corpId, app: this.suiteRef.app, errcode: error.errcode });
      await this.suite.invalidate(token);
      return call(await this.suite.get());
    }
  }

  /** A corp authorised (again): forget an earlier cancellation here and in the fleet; drop a stale credential. */
  async authorised(authCorpId: string): Promise<void> {
    await this.cancelled.authorised(authCorpId);
    const old = this.corps.get(authCorpId);
    if (old) {
      this.corps.delete(authCorpId);
      await old.invalidate().catch(() => undefined);
      old.close();
    }
  }

  /**
   * A corp cancelled: never serve its token again here, mark it cancelled in the shared cache, and delete its shared
   * entry, announcing the deleted token to the fleet (where the lock has a feed) so no instance keeps serving it.
   */
  async cancel(authCorpId: string): Promise<void> {
    await this.cancelled.cancelled(authCorpId);
    const timeout = this.config.engine.cacheTimeoutMs;
    // A 代开发 corp's shared entry is keyed by its permanent code, which cancel_auth has deleted: only a held one is found.
    const credential = this.corps.get(authCorpId) ?? (this.config.customDeveloped ? undefined : this.buildCorp(authCorpId));
    this.corps.delete(authCorpId);
    if (!credential) return;
    try {
      const shared = await bounded(this.cache.get<{ token?: unknown }>(this.config.keys.corpToken(authCorpId)), timeout, 'cache get').catch(() => undefined);
      const held = credential.peek()?.token ?? (typeof shared?.token === 'string' ? shared.token : undefined);
      if (held) await credential.invalidate(held, { grant: false });
      await credential.invalidate();
    } finally {
      credential.close();
    }
  }

  /** Aborts every fetch and timer. */
  close(): void {
    this.suite.close();
    this.provider?.close();
    for (const credential of this.corps.values()) credential.close();
    this.corps.clear();
    this.cancelled.close();
  }

  /** @internal */
  [inspect.custom](): string {
    return `SuiteCredentials { suiteId: '${this.config.suiteId}', corps: ${this.corps.size} }`;
  }

  private buildCorp(authCorpId: string): Credential {
    const ref = providerRef(authCorpId, this.config.name);
    return this.credential(
      ref,
      'corp_access_token',
      this.config.keys.corpToken(authCorpId),
      async (signal) => {
        if (await this.cancelled.inFleet(authCorpId)) throw this.cancelledError(authCorpId);
        const permanentCode = await this.codes.get(authCorpId, signal);
        if (typeof permanentCode !== 'string' || permanentCode === '') {
          throw new WeComSuiteStateError(ref, CORP_TOKEN_PATH, 'no-permanent-code', noPermanentCodeMessage(authCorpId));
        }
        return this.withSuiteToken((suiteToken) =>
          this.request(
            ref,
            { method: 'POST', path: CORP_TOKEN_PATH, params: { suite_access_token: suiteToken }, data: { auth_corpid: authCorpId, permanent_code: permanentCode } },
            'access_token',
            signal,
          ),
        );
      },
      this.limit,
    );
  }

  /**
   * 代开发: read the corp's permanent code (bounded by timeoutMs), then build its credential under the self-built
   * layout; concurrent first asks of one corp share one read.
   */
  private customCorp(authCorpId: string): Promise<Credential> {
    const pending = this.customLoads.get(authCorpId);
    if (pending) return pending;
    const load = (async () => {
      const code = await this.codes.get(authCorpId);
      const ref = providerRef(authCorpId, this.config.name);
      if (typeof code !== 'string' || code === '') throw new WeComSuiteStateError(ref, GETTOKEN_PATH, 'no-permanent-code', noPermanentCodeMessage(authCorpId));
      const held = this.corps.get(authCorpId);
      if (held) return held;
      const credential = this.buildCustomCorp(authCorpId, new Secret(code));
      this.corps.set(authCorpId, credential);
      this.evictIdle();
      return credential;
    })().finally(() => this.customLoads.delete(authCorpId));
    this.customLoads.set(authCorpId, load);
    return load;
  }

  /** A 代开发 corp's access_token: gettoken with the permanent code as its app secret, keyed like a self-built app. */
  private buildCustomCorp(authCorpId: string, permanentCode: Secret): Credential {
    const ref = providerRef(authCorpId, this.config.name);
    const cacheKey = `${CACHE_KEY_PREFIX}:${authCorpId}:${fingerprint(permanentCode.reveal())}:access_token`;
    return this.credential(
      ref,
      'corp_access_token',
      cacheKey,
      async (signal) => {
        if (await this.cancelled.inFleet(authCorpId)) throw this.cancelledError(authCorpId);
        return this.request(ref, { method: 'GET', path: GETTOKEN_PATH, params: { corpid: authCorpId, corpsecret: permanentCode.reveal() } }, 'access_token', signal);
      },
      this.limit,
    );
  }

  /** Close and forget a corp's credential that holds nothing and serves no one (an unknown or cancelled id). */
  private dropIfIdle(authCorpId: string, credential: Credential): void {
    if (this.corps.get(authCorpId) !== credential || credential.busy || credential.holds) return;
    this.corps.delete(authCorpId);
    credential.close();
  }

  /** Over the bound: close the least recently used idle credentials (a busy one stays until it is idle). */
  private evictIdle(): void {
    if (this.corps.size < CORP_CREDENTIALS_KEPT) return;
    for (const [authCorpId, credential] of this.corps) {
      if (this.corps.size < CORP_CREDENTIALS_KEPT) return;
      if (credential.busy) continue;
      this.corps.delete(authCorpId);
      credential.close();
    }
  }

  private cancelledError(authCorpId: string): WeComSuiteStateError {
    return new WeComSuiteStateError(providerRef(authCorpId, this.config.name), CORP_TOKEN_PATH, 'cancelled', cancelledCorpMessage(authCorpId));
  }

  private async request(ref: AppRef, req: CredentialRequest, field: string, signal: AbortSignal): Promise<TokenEntry> {
    const fetchedAt = Date.now();
    const body = await requestCredential(this.http, ref, req, signal, this.config.engine.timeoutMs);
    return entryFromBody(ref, req, body, field, fetchedAt);
  }

  private credential(ref: AppRef, kind: CredentialSpec['kind'], cacheKey: string, fetchOnce: CredentialSpec['fetchOnce'], loadLimit?: FetchLimit): Credential {
    return new Credential(
      {
        ...settingsOf(this.config.engine, ref),
        kind,
        cacheKey,
        valueField: 'token',
        cache: this.cache,
        lock: this.lock,
        timerName: `WeComSuiteRefresh(${this.config.name}:${kind}:${ref.corpId})`,
        fetchOnce,
        ...(loadLimit ? { loadLimit } : {}),
      },
      'SuiteService',
    );
  }
}
