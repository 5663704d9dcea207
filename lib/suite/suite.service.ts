/**
 * The public face of one suite: its callback (URL check and 指令回调), its credentials and its clients.
 */
import { HttpService } from '@nestjs/axios';
import { Logger, OnApplicationShutdown, OnModuleDestroy } from '@nestjs/common';
import axios from 'axios';
import type { Cache } from 'cache-manager';
import { inspect } from 'node:util';
import { parseSuiteCallback } from '../crypto/callback-message.js';
import type { CallbackQuery, SuiteCallbackEvent } from '../crypto/callback-message.js';
import { deliveryRunningMessage } from '../callback/callback.messages.js';
import { InProcessDeliveryLedger, SharedDeliveryLedger, type DeliveryLedger } from '../callback/delivery-ledger.js';
import { openCallback, openUrlCheck } from '../callback/inbound.js';
import { WeComCallbackError } from '../crypto/wecom-callback.error.js';
import type { WeComCallbackService } from '../callback/wecom-callback.service.js';
import { WeComCrypto } from '../crypto/wecom-crypto.js';
import { credentialHttp, requestCredential } from '../common/credential-request.js';
import { WeComConfigError } from '../common/errors/wecom-config.error.js';
import { AccessTokenInterceptor } from '../http/access-token.interceptor.js';
import type { CredentialBinding } from '../http/credential-binding.js';
import { WeComClient } from '../http/wecom.client.js';
import { resolveEgress, type WeComEgress } from '../http/egress.js';
import { maskToken, quoteUntrusted } from '../common/redaction.js';
import { bounded, describeError } from '../common/bounded.js';
import { CACHE_KEY_PREFIX } from '../common/wecom-token.constants.js';
import { resolveIdentitySettings } from '../identity/identity.config.js';
import { SUITE_OAUTH_ENDPOINTS, WeComOAuthService } from '../identity/wecom-oauth.service.js';
import { TOKEN_REJECTED_ERRCODES } from '../common/wecom-token.constants.js';
import { JsapiTicketService } from '../app/jsapi-ticket.service.js';
import type { SuiteConfig } from './suite.config.js';
import { otherSuiteMessage, suiteClosingMessage } from './suite.messages.js';
import { authorisedAgentId, dataCallbackCorp } from './suite-answers.js';
import { PERMANENT_CODE_PATH, providerRef, SUITE_TOKEN_REJECTED_ERRCODES, SuiteCredentials } from './suite-credentials.js';

/** Clients of authorised corps one suite keeps at most (the oldest is dropped first; it is rebuilt on use). */
const CORP_CLIENTS_KEPT = 1_000;

/**
 * One suite (third-party app): `handleCallback` for its 指令回调 URL, `getSuiteToken` / `getProviderToken` /
 * `getCorpToken`, and clients with the right credential attached. Injected as `SuiteService` for the default
 * suite, `@InjectSuiteService(name)` otherwise.
 */
export class SuiteService implements OnModuleDestroy, OnApplicationShutdown {
  /** @internal */
  readonly credentials: SuiteCredentials;
  /** Suite APIs (`/cgi-bin/service/*`), `suite_access_token` attached; 40082/42009 replace it once. */
  readonly suiteClient: WeComClient;
  /**
   * Who is this member, for the suite's users (third-party login `login_type=ServiceApp`, in-client OAuth2 with the
   * suiteId as appid): `exchange` goes through `service/auth/getuserinfo3rd` with the suite token, and the
   * identity's `corpId` is the member's (authorised) corp.
   */
  readonly oauth: WeComOAuthService;
  private readonly logger = new Logger(SuiteService.name);
  private readonly crypto: WeComCrypto;
  private readonly urlCrypto: WeComCrypto;
  private readonly clients = new Map<string, WeComClient>();
  /** JS-SDK tickets of authorised corps, least recently used first, bounded like the clients. */
  private readonly ticketServices = new Map<string, JsapiTicketService>();
  private readonly cache: Cache;
  private providerClientValue?: WeComClient;
  /** Which 指令回调 deliveries were acted on (fleet-wide with a shared cache). */
  private readonly deliveries: DeliveryLedger;
  /** Callbacks being handled: close() waits for them (bounded), then aborts what is left before it writes. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly closing = new AbortController();
  private closingStarted = false;
  private readonly http: ReturnType<typeof credentialHttp>;
  /** @internal How the suite's requests leave the process (its proxy, the environment's, or none). */
  readonly egress: WeComEgress;

  /** @internal Built by `WeComSuiteModule`. */
  constructor(
    private readonly config: SuiteConfig,
    cache: Cache,
    sharedCache = true,
    private readonly dataCallbacks?: WeComCallbackService,
  ) {
    this.cache = cache;
    this.egress = resolveEgress(config.engine.proxy, config.engine.baseUrl);
    this.credentials = new SuiteCredentials(config, cache, this.egress.axios);
    this.deliveries = sharedCache ? new SharedDeliveryLedger(cache, this.credentials.lock, config.engine.cacheTimeoutMs) : new InProcessDeliveryLedger();
    this.http = credentialHttp(config.engine.baseUrl, this.egress.axios);
    const crypto = { token: config.callbackToken.reveal(), encodingAESKey: config.encodingAESKey.reveal() };
    // 指令回调 messages are encrypted for the suiteId; the URL check may come for the suite or the provider.
    this.crypto = new WeComCrypto({ ...crypto, receiveId: config.suiteId });
    this.urlCrypto = new WeComCrypto({ ...crypto, receiveId: config.provider ? [config.suiteId, config.provider.corpId] : config.suiteId });
    const suite = this.credentials.suite;
    this.suiteClient = this.client({
      kind: 'suite_access_token',
      ref: this.credentials.suiteRef,
      baseUrl: config.engine.baseUrl,
      param: 'suite_access_token',
      rejectedErrcodes: SUITE_TOKEN_REJECTED_ERRCODES,
      retry: config.engine.retry,
      timeoutMs: config.engine.timeoutMs,
      getToken: () => this.getSuiteToken(),
      invalidate: (rejected) => suite.invalidate(rejected),
    });
    const identity = resolveIdentitySettings(config.identity, {
      app: config.name,
      appId: config.suiteId,
      loginType: 'ServiceApp',
      secret: config.suiteSecret,
      keyPrefix: `${CACHE_KEY_PREFIX}:suite:${config.suiteId}`,
      cache,
      ...(config.engine.lock ? { lock: config.engine.lock } : {}),
      timeoutMs: config.engine.cacheTimeoutMs,
    });
    this.oauth = new WeComOAuthService(identity, this.suiteClient, SUITE_OAUTH_ENDPOINTS);
  }

  /** The suite's ID. */
  get suiteId(): string {
    return this.config.suiteId;
  }

  /**
   * The suite's 数据回调 URL: an authorised corp's messages and events, run through the application's
   * `@OnWeComCallback` handlers (filter `app` = this suite's name) once per delivery, with `corpId` the authorised
   * corp. The ciphertext must be for the corp named in the envelope's ToUserName (WeCom encrypts 数据回调 for the
   * authorised corp's corpid). With `echostr` (the URL check): as `handleCallback`.
   *
   * @throws WeComCallbackError for every refused input, as `handleCallback`; nothing is dispatched then.
   */
  async handleDataCallback(query: CallbackQuery, body?: string | Buffer): Promise<string> {
    const q = query ?? ({} as CallbackQuery);
    if (typeof q.echostr === 'string' && (body === undefined || body.length === 0)) return openUrlCheck({ crypto: this.urlCrypto, query: q });
    if (!this.dataCallbacks) throw new WeComConfigError(`suite ${this.config.suiteId}: handleDataCallback needs the suite registered through WeComSuiteModule`);
    const corpId = dataCallbackCorp(body);
    const crypto = new WeComCrypto({ token: this.config.callbackToken.reveal(), encodingAESKey: this.config.encodingAESKey.reveal(), receiveId: corpId });
    return this.dataCallbacks.receive({ crypto, corpIdOf: () => corpId }, q, body);
  }

  /**
   * The suite's callback. With `echostr` (the URL check, GET): verifies and returns the decrypted echostr, which
   * must be a plain echo string. Otherwise (POST): the shared inbound pipeline (body ≤ 1 MiB, query timestamp within
   * 5 minutes, signature before any XML is read, decrypt, parse), then the event is acted on once per delivery
   * (across the fleet with a shared cache), and `'success'` is returned; a delivery already acted on is answered
   * `'success'` without acting again.
   *
   * @throws WeComCallbackError for a body too large, a stale timestamp, a bad signature, bad padding, another
   * receiver, a malformed body, or ('duplicate') the same delivery in hand elsewhere; nothing is stored then.
   */
  async handleCallback(query: CallbackQuery, body?: string | Buffer): Promise<string> {
    if (this.closing.signal.aborted || this.closingStarted) throw new Error(suiteClosingMessage(this.config.suiteId));
    const q = query ?? ({} as CallbackQuery);
    if (typeof q.echostr === 'string' && (body === undefined || body.length === 0)) {
      return openUrlCheck({ crypto: this.urlCrypto, query: q });
    }
    const { message: event, deliveryId } = openCallback<SuiteCallbackEvent>({ crypto: this.crypto, query: q, body: body ?? '', parse: parseSuiteCallback });
    if (event.suiteId !== undefined && event.suiteId !== this.config.suiteId) {
      throw new WeComCallbackError('receiver', otherSuiteMessage(this.config.suiteId, event.suiteId));
    }
    const claim = await this.deliveries.claim(deliveryId);
    if (claim === 'done') {
      this.logger.debug(`suite ${this.config.suiteId}: a ${event.infoType} delivery already handled was received again; answered, not acted on`);
      return 'success';
    }
    if (claim === 'running') throw new WeComCallbackError('duplicate', deliveryRunningMessage());
    const run = this.act(event);
    this.inFlight.add(run);
    try {
      await run;
    } catch (error) {
      await this.deliveries.release(deliveryId).catch(() => undefined);
      throw error;
    } finally {
      this.inFlight.delete(run);
    }
    // Acted on: a store that fails to remember it only costs a repeat if WeCom retries, not a refusal of this one.
    await this.deliveries.complete(deliveryId).catch((error: unknown) => {
      this.logger.warn(
        `suite ${this.config.suiteId}: a ${event.infoType} delivery was handled but could not be marked done (${describeError(error)}); copies are refused until its claim lapses (2 minutes), a retry after that would run again`,
      );
    });
    return 'success';
  }

  /** What a 指令回调 asks for. */
  private async act(event: SuiteCallbackEvent): Promise<void> {
    switch (event.infoType) {
      case 'suite_ticket':
        await this.credentials.storeTicket({ ticket: event.suiteTicket, timeStamp: event.timeStamp });
        this.logger.debug(`suite ${this.config.suiteId}: suite_ticket received (${maskToken(event.suiteTicket)})`);
        break;
      case 'create_auth':
      case 'reset_permanent_code':
        await this.exchangeAuthCode(event.authCode, event.infoType);
        break;
      case 'cancel_auth':
        this.beforeWrite();
        await this.credentials.codes.delete(event.authCorpId);
        this.beforeWrite();
        await this.credentials.cancel(event.authCorpId);
        this.clients.delete(event.authCorpId);
        this.logger.log(`suite ${this.config.suiteId}: corp ${quoteUntrusted(event.authCorpId)} cancelled its authorisation; its token is dropped`);
        break;
      case 'change_auth':
        this.logger.debug(`suite ${this.config.suiteId}: corp ${quoteUntrusted(event.authCorpId)} changed its authorisation`);
        break;
      default:
        this.logger.debug(`suite ${this.config.suiteId}: ${quoteUntrusted(event.receivedInfoType)} callback acknowledged, not handled`);
    }
  }

  /** After close() gave up waiting, a callback still running writes nothing. */
  private beforeWrite(): void {
    if (this.closing.signal.aborted) throw new Error(suiteClosingMessage(this.config.suiteId));
  }

  /** A valid suite_access_token, fetched with the latest suite_ticket; none received yet → WeComSuiteStateError (40085), no request. */
  getSuiteToken(): Promise<string> {
    return this.credentials.suite.get();
  }

  /** A valid provider_access_token. @throws WeComConfigError without providerCorpId / providerSecret. */
  getProviderToken(): Promise<string> {
    try {
      return this.providerCredential().get();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * A valid access_token of an authorised corp (get_corp_token with its stored permanent code). Each corp has its
   * own single flight; requests of all corps are bounded together. A cancelled corp → WeComSuiteStateError.
   */
  getCorpToken(authCorpId: string): Promise<string> {
    return this.credentials.corpToken(authCorpId);
  }

  /** A client of an authorised corp: its access_token attached, replaced once on 40014/42001. */
  clientFor(authCorpId: string): WeComClient {
    let client = this.clients.get(authCorpId);
    if (client) return client;
    // Kept for corps this process serves, up to a bound; a client of any other id is built for its caller only, so
    // ids that never authorised leave nothing behind.
    const keep = this.credentials.serves(authCorpId);
    if (keep && this.clients.size >= CORP_CLIENTS_KEPT) this.clients.delete(this.clients.keys().next().value as string);
    client = this.client({
      kind: 'corp_access_token',
      ref: providerRef(authCorpId, this.config.name),
      baseUrl: this.config.engine.baseUrl,
      param: 'access_token',
      rejectedErrcodes: TOKEN_REJECTED_ERRCODES,
      retry: this.config.engine.retry,
      timeoutMs: this.config.engine.timeoutMs,
      getToken: () => this.getCorpToken(authCorpId),
      invalidate: (rejected) => this.credentials.invalidateCorp(authCorpId, rejected),
    });
    if (keep) this.clients.set(authCorpId, client);
    return client;
  }

  /**
   * JS-SDK tickets and signatures of an authorised corp (suites and 代开发): the corp ticket with the corp's token,
   * the agent ticket for the app it authorised (its agentid kept from get_permanent_code). Built on first use, shared
   * through the cache (`wecom:v1:suite:{suiteId}:corp:{corp}:jsapi_ticket` / `:agent_ticket`), at most 1,000 held.
   */
  ticketsFor(authCorpId: string): JsapiTicketService {
    let tickets = this.ticketServices.get(authCorpId);
    if (tickets) {
      this.ticketServices.delete(authCorpId);
      this.ticketServices.set(authCorpId, tickets);
      return tickets;
    }
    if (this.ticketServices.size >= CORP_CLIENTS_KEPT) {
      const [oldest, service] = this.ticketServices.entries().next().value as [string, JsapiTicketService];
      this.ticketServices.delete(oldest);
      service.onModuleDestroy();
    }
    const engine = this.config.engine;
    const config = { ...engine, corpId: authCorpId, agentId: undefined, backgroundRefresh: false, cacheKey: this.config.keys.corpToken(authCorpId) };
    const source = {
      egress: this.egress,
      cache: this.cache,
      lock: this.credentials.lock,
      scheduler: undefined,
      getToken: () => this.getCorpToken(authCorpId),
      invalidate: (rejected?: string) => (rejected === undefined ? Promise.resolve() : this.credentials.invalidateCorp(authCorpId, rejected)),
    };
    tickets = new JsapiTicketService(config, source, () => this.agentIdOf(authCorpId));
    this.ticketServices.set(authCorpId, tickets);
    return tickets;
  }

  /** Provider APIs, `provider_access_token` attached (replaced once on 40014/42001). */
  get providerClient(): WeComClient {
    const credential = this.providerCredential();
    this.providerClientValue ??= this.client({
      kind: 'provider_access_token',
      ref: providerRef(this.config.provider!.corpId, this.config.name),
      baseUrl: this.config.engine.baseUrl,
      param: 'provider_access_token',
      rejectedErrcodes: TOKEN_REJECTED_ERRCODES,
      retry: this.config.engine.retry,
      timeoutMs: this.config.engine.timeoutMs,
      getToken: () => credential.get(),
      invalidate: (rejected) => credential.invalidate(rejected),
    });
    return this.providerClientValue;
  }

  /** @internal */
  async onModuleDestroy(): Promise<void> {
    if (!this.closingStarted) {
      this.closingStarted = true;
      // Callbacks in hand finish (bounded by timeoutMs); what is left is aborted before it writes.
      const pending = Promise.allSettled([...this.inFlight]);
      // A handler makes one request and two store writes, each bounded: that is the wait.
      const { timeoutMs, cacheTimeoutMs } = this.config.engine;
      await bounded(pending, 2 * timeoutMs + 2 * cacheTimeoutMs, 'callbacks in flight').catch(() => undefined);
      this.closing.abort(new Error(suiteClosingMessage(this.config.suiteId)));
    }
    for (const tickets of this.ticketServices.values()) tickets.onModuleDestroy();
    this.ticketServices.clear();
    this.credentials.close();
    this.egress.close();
    const lock = this.credentials.lock as { close?: () => Promise<void> };
    if (typeof lock.close === 'function') await lock.close().catch(() => undefined);
  }

  /** @internal */
  onApplicationShutdown(): Promise<void> {
    return this.onModuleDestroy();
  }

  /** @internal How many corp clients are kept (for tests of bounded memory). */
  get clientCount(): number {
    return this.clients.size;
  }

  /** @internal Shows the suite, never a secret, a code or a whole token. */
  [inspect.custom](): string {
    return `SuiteService { name: '${this.config.name}', suiteId: '${this.config.suiteId}', corps: ${this.credentials.corpCount}, suiteToken: ${maskToken(this.credentials.suite.peek()?.token)} }`;
  }

  /** @internal */
  toJSON(): Record<string, unknown> {
    return { name: this.config.name, suiteId: this.config.suiteId, corps: this.credentials.corpCount, suiteToken: maskToken(this.credentials.suite.peek()?.token) };
  }

  private async exchangeAuthCode(authCode: string, infoType: 'create_auth' | 'reset_permanent_code'): Promise<void> {
    this.beforeWrite();
    const answer = await this.credentials.withSuiteToken((suiteToken) =>
      this.suitePost<{ permanent_code?: unknown; auth_corp_info?: { corpid?: unknown }; auth_info?: { agent?: unknown } }>(PERMANENT_CODE_PATH, suiteToken, {
        auth_code: authCode,
      }),
    );
    const corpId = answer.auth_corp_info?.corpid;
    if (typeof answer.permanent_code !== 'string' || typeof corpId !== 'string' || corpId === '') {
      throw new WeComCallbackError('format', `${PERMANENT_CODE_PATH} answered without permanent_code or auth_corp_info.corpid`);
    }
    this.beforeWrite();
    await this.credentials.codes.set(corpId, answer.permanent_code);
    this.beforeWrite();
    const agentId = authorisedAgentId(answer.auth_info?.agent);
    if (agentId !== undefined) {
      await bounded(this.cache.set(this.config.keys.corpAgent(corpId), agentId), this.config.engine.cacheTimeoutMs, 'cache set').catch(() => undefined);
    }
    await this.credentials.authorised(corpId);
    this.clients.delete(corpId);
    this.ticketServices.get(corpId)?.onModuleDestroy();
    this.ticketServices.delete(corpId);
    this.logger.log(`suite ${this.config.suiteId}: corp ${quoteUntrusted(corpId)} ${infoType === 'create_auth' ? 'authorised the suite' : 'has a new permanent code'}`);
  }

  /** The agentid a corp authorised, from the shared cache (kept there by create_auth / reset_permanent_code). */
  private async agentIdOf(authCorpId: string): Promise<string | undefined> {
    const value = await bounded(this.cache.get<unknown>(this.config.keys.corpAgent(authCorpId)), this.config.engine.cacheTimeoutMs, 'cache get').catch(() => undefined);
    return typeof value === 'string' && /^\d{1,12}$/.test(value) ? value : undefined;
  }

  /** One suite API call with an explicit token (inside withSuiteToken, which replaces a rejected one once). */
  private async suitePost<T>(path: string, suiteToken: string, data: unknown): Promise<T> {
    const signal = AbortSignal.any([AbortSignal.timeout(this.config.engine.timeoutMs), this.closing.signal]);
    const req = { method: 'POST' as const, path, params: { suite_access_token: suiteToken }, data };
    return (await requestCredential(this.http, this.credentials.suiteRef, req, signal, this.config.engine.timeoutMs)) as T;
  }

  private providerCredential() {
    const credential = this.credentials.provider;
    if (!credential) {
      throw new WeComConfigError(`WeComSuiteModule: suite '${this.config.name}' has no providerCorpId / providerSecret, so it has no provider_access_token; add both options`);
    }
    return credential;
  }

  private client(source: CredentialBinding): WeComClient {
    const binding: CredentialBinding = { ...source, egress: this.egress.axios };
    const http = new HttpService(axios.create({ ...this.egress.axios, baseURL: binding.baseUrl, timeout: binding.timeoutMs }));
    new AccessTokenInterceptor(binding).attach(http);
    return new WeComClient(http, binding);
  }
}
