/**
 * The WeComSimulator class: it composes the role files (server, tokens, faults, endpoints) and is the one public
 * face of them. It holds no logic of its own beyond routing a request to the role that answers it.
 */
import type { IncomingMessage } from 'node:http';
import { randomBytes } from 'node:crypto';
import { AppCallbackSender } from './app-callbacks.js';
import { AppDirectory, DEFAULT_APP } from './apps.js';
import { Endpoints } from './endpoints.js';
import { FaultQueue, faultAnswer } from './faults.js';
import { Replies, reply } from './replies.js';
import type { Answer, Reply } from './replies.js';
import { SimulatorServer } from './server.js';
import { OAuthSimulator } from './oauth.js';
import { SuiteRegistry } from './suites.js';
import type { SimulatedSuiteCallback, SimulatedSuiteEvent, SuiteCallbackOptions } from './suites.js';
import { TICKET_PATHS, TicketRegistry } from './tickets.js';
import { TrustedIpRules } from './trusted-ip.js';
import type { SimulatedTrustTarget } from './trusted-ip.js';
import type { LogRecord, Router } from './server.js';
import { DEFAULT_CORP_ID, DEFAULT_LIFETIME_SECONDS, GETTOKEN_PATH, TokenRegistry } from './tokens.js';
import type {
  RepeatedGettokenMode,
  RepeatedTicketMode,
  SentMessage,
  SimulatedApiHandler,
  SimulatedApiOptions,
  SimulatedApp,
  SimulatedFault,
  SimulatedFaultTarget,
  SimulatedMedia,
  SimulatedRequest,
  SimulatedSignatureCheck,
  SimulatedSignatureInput,
  SimulatedSuite,
  SimulatedTicketKind,
  SimulatedTicketLimits,
  WeComSimulatorEvents,
  WeComSimulatorOptions,
} from './types.js';

const DEFAULT_MAX_BODY_BYTES = 21 * 1024 * 1024;

/**
 * A WeCom server on loopback for tests. Start one per test (`await WeComSimulator.start()`), point the module's
 * `baseUrl` at `simulator.baseUrl`, and `await simulator.close()` afterwards.
 *
 * Endpoints:
 * - `GET /cgi-bin/gettoken?corpid=&corpsecret=`: 40013 for a missing or wrong corpid, 40001 for an unknown secret.
 * - Every other `/cgi-bin/*` path needs `access_token` in the query (41001 otherwise, also when it is only in the
 *   body), 40014 for an unknown or revoked token, 42001 for an expired one.
 * - `POST /cgi-bin/message/send`, `POST /cgi-bin/media/upload`, `GET /cgi-bin/media/get` (kind `'app'` only, 48002
 *   otherwise); `GET /cgi-bin/user/get`, `GET /cgi-bin/department/list` (kinds `'app'` and `'contacts'`).
 * - `GET /cgi-bin/get_jsapi_ticket` and `GET /cgi-bin/ticket/get?type=agent_config` (kind `'app'`): JS-SDK tickets
 *   with WeCom's hourly limits (45009); see {@link verifySignature} and the notes at the top of `tickets.ts`.
 * - Paths registered with {@link addApi}.
 * - An unknown `/cgi-bin/*` path with a valid token: HTTP 404 with the JSON body `{"errcode":404,…}` (404 is not a
 *   WeCom errcode, so a test that calls a path the simulator lacks fails visibly instead of passing on a fake
 *   success). Paths outside `/cgi-bin/`: HTTP 404, text/plain.
 *
 * Every error is HTTP 200 with `{"errcode":N,"errmsg":"…, hint: […], from ip: X, more info at …?e=N"}`, as WeCom
 * answers. State lives in the instance: two simulators in one process share nothing.
 */
export class WeComSimulator {
  /** The corpid gettoken accepts. */
  readonly corpId: string;

  private readonly apps: AppDirectory;
  private readonly replies: Replies;
  private readonly tokens: TokenRegistry;
  private readonly faults = new FaultQueue();
  private readonly endpoints: Endpoints;
  private readonly tickets: TicketRegistry;
  private readonly server: SimulatorServer;
  private readonly suites: SuiteRegistry;
  /** User identity: who is signed in to the OAuth pages, codes and user_tickets (see oauth.ts). */
  readonly oauth: OAuthSimulator;
  private readonly trustedIps: TrustedIpRules;
  private gettokenDelayMs = 0;
  private suiteTokenLifetimeSeconds: number;
  private callbackSecrets?: { token: string; encodingAESKey: string };

  /** Creates a simulator; call {@link listen} (or use {@link WeComSimulator.start}) before sending requests. */
  constructor(options: WeComSimulatorOptions = {}) {
    this.corpId = options.corpId ?? DEFAULT_CORP_ID;
    this.apps = new AppDirectory(options.apps ?? [DEFAULT_APP]);
    this.replies = new Replies(options.clientIp);
    this.trustedIps = new TrustedIpRules(this.replies);
    this.tokens = new TokenRegistry(this.corpId, this.apps, this.replies, options.tokenLifetimeSeconds ?? DEFAULT_LIFETIME_SECONDS, options.repeatedGettoken ?? 'same-token');
    this.endpoints = new Endpoints(this.replies);
    this.tickets = new TicketRegistry(
      this.apps,
      this.replies,
      {
        lifetimeSeconds: options.ticketLifetimeSeconds ?? DEFAULT_LIFETIME_SECONDS,
        mode: options.repeatedTicket ?? 'same-ticket',
        limits: options.ticketLimits ?? {},
      },
      (name) => this.suites.authorisedApp(name),
    );
    for (const [path, endpoint] of this.tickets.endpoints()) this.endpoints.register(path, endpoint);
    this.suiteTokenLifetimeSeconds = options.suiteTokenLifetimeSeconds ?? DEFAULT_LIFETIME_SECONDS;
    this.suites = new SuiteRegistry(this.replies, () => this.suiteTokenLifetimeSeconds, options.suites, options.provider);
    this.oauth = new OAuthSimulator(this.corpId, this.apps, this.suites, this.replies, options.members);
    for (const [path, endpoint] of this.oauth.endpoints()) this.endpoints.register(path, endpoint);
    const router: Router = {
      attribute: (path, query) => (path === GETTOKEN_PATH ? this.apps.bySecret(query.corpsecret)?.name : (this.tokens.ownerOf(query.access_token) ?? this.suites.ownerOf(query))),
      route: (req, record, body) => this.route(req, record, body),
    };
    this.server = new SimulatorServer(
      {
        host: options.host ?? '127.0.0.1',
        port: options.port ?? 0,
        maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      },
      router,
      this.replies,
    );
  }

  /** Creates a simulator and starts listening. */
  static async start(options?: WeComSimulatorOptions): Promise<WeComSimulator> {
    return new WeComSimulator(options).listen();
  }

  /** Starts listening on `host:port` (an ephemeral port by default). Calling it again while listening is a no-op. */
  async listen(): Promise<this> {
    await this.server.listen();
    return this;
  }

  /**
   * Stops the server and destroys every open socket, hung and delayed requests included, so that jest exits cleanly.
   * Safe to call twice or before {@link listen}.
   */
  close(): Promise<void> {
    return this.server.close();
  }

  /** `http://127.0.0.1:PORT`, to use as the module's `baseUrl`. Throws before {@link listen}. */
  get baseUrl(): string {
    return this.server.baseUrl;
  }

  /** The port it listens on. Throws before {@link listen}. */
  get port(): number {
    return this.server.port;
  }

  /** The secret of an app (default `'default'`). Throws for an unknown app name. */
  secretOf(appName = 'default'): string {
    return this.apps.get(appName).secret;
  }

  /** An app by name (default `'default'`), with `kind` filled in. Throws for an unknown app name. */
  app(name = 'default'): SimulatedApp {
    return this.apps.get(name);
  }

  // ---- faults ----

  /**
   * Queues a fault for the next `times` (default 1) requests matching `target`. Queued faults are consumed FIFO,
   * one per matching request, before normal handling; the faulted requests still count as calls, and a gettoken
   * fault is still attributed to the app whose secret was sent.
   */
  failNext(target: SimulatedFaultTarget, fault: SimulatedFault, times = 1): this {
    this.faults.push(target, fault, times);
    return this;
  }

  /** Drops every queued fault. */
  clearFaults(): void {
    this.faults.clear();
  }

  /** How many queued faults have not fired yet, for `target` or in all. */
  pendingFaults(target?: SimulatedFaultTarget): number {
    return this.faults.pending(target);
  }

  /**
   * Holds every gettoken answer back for `ms` (0 turns it off). The token is issued when the request arrives, so its
   * real expiry is counted from the request, not from the moment the client reads the answer: a client that counts
   * from the answer believes its token lives `ms` longer than it does.
   */
  setGettokenDelay(ms: number): this {
    if (!(Number.isFinite(ms) && ms >= 0)) throw new Error(`gettoken delay must be >= 0 ms, got ${ms}`);
    this.gettokenDelayMs = ms;
    return this;
  }

  /** Lifetime of tokens issued from now on, in seconds; tokens already issued keep theirs. */
  setTokenLifetime(seconds: number): this {
    this.tokens.setLifetime(seconds);
    return this;
  }

  /** See {@link WeComSimulatorOptions.repeatedGettoken}. */
  setRepeatedGettoken(mode: RepeatedGettokenMode): this {
    this.tokens.setMode(mode);
    return this;
  }

  // ---- token state ----

  /**
   * Revokes every live token of one app (or of all apps), as WeCom may do "出于运营需要": using one then gets 40014,
   * and the next gettoken issues a new token. Returns the tokens revoked.
   */
  revokeTokens(appName?: string): string[] {
    return this.tokens.revokeAll(appName);
  }

  /** Revokes one token (40014 on use). False when it is not a token of this simulator or was already revoked. */
  revokeToken(token: string): boolean {
    return this.tokens.revoke(token);
  }

  /** Ends the lifetime of every live token of one app (or of all apps) now: 42001 on use, a new token on gettoken. */
  expireTokens(appName?: string): void {
    this.tokens.expireAll(appName);
  }

  /** Every token issued so far, oldest first, of one app or of all (for leak scans of logs and errors). */
  issuedTokens(appName?: string): string[] {
    return this.tokens.issued(appName);
  }

  /** The newest live token of an app (default `'default'`): the one gettoken returns in `'same-token'` mode. */
  currentToken(appName = 'default'): string | undefined {
    return this.tokens.current(appName);
  }

  // ---- JS-SDK tickets ----

  /**
   * Ticket fetches attributed to an app by the token sent (failed, limited and faulted ones included), of one kind
   * (by path: `get_jsapi_ticket` or `ticket/get`) or both; without `appName`, every one.
   */
  ticketCalls(kind?: SimulatedTicketKind, appName?: string): number {
    const paths = kind === undefined ? Object.values(TICKET_PATHS) : [TICKET_PATHS[kind]];
    return this.server.log.filter((r) => paths.includes(r.path) && (appName === undefined || r.app === appName)).length;
  }

  /** Every ticket of a kind issued or seeded so far, oldest first, of one app or of all (for leak scans). */
  issuedTickets(kind: SimulatedTicketKind, appName?: string): string[] {
    return this.tickets.issued(kind, appName);
  }

  /** The newest valid ticket of a kind and app (default `'default'`): what a fetch returns in `'same-ticket'` mode. */
  currentTicket(kind: SimulatedTicketKind, appName = 'default'): string | undefined {
    return this.tickets.current(kind, appName);
  }

  /**
   * Revokes the valid tickets of one kind (or both) of one app (or all), as WeCom may: a signature made with one
   * then fails {@link verifySignature} ("invalid signature" on the page), and the next fetch issues a new ticket.
   * Returns the tickets revoked.
   */
  revokeTickets(kind?: SimulatedTicketKind, appName?: string): string[] {
    return this.tickets.revoke(kind, appName);
  }

  /** Ends the lifetime of the valid tickets of one kind (or both) of one app (or all) now. */
  expireTickets(kind?: SimulatedTicketKind, appName?: string): void {
    this.tickets.expire(kind, appName);
  }

  /**
   * Makes `ticket` the current ticket of a kind and app, with a full lifetime, so that a test can use a published
   * example (doc 96909) or a value it knows. An agent ticket needs an app with an agentId.
   */
  setTicket(kind: SimulatedTicketKind, appName: string, ticket: string): this {
    this.tickets.seed(kind, appName, ticket);
    return this;
  }

  /** Lifetime of tickets issued from now on, in seconds; tickets already issued keep theirs. */
  setTicketLifetime(seconds: number): this {
    this.tickets.setLifetime(seconds);
    return this;
  }

  /** See {@link WeComSimulatorOptions.repeatedTicket}. */
  setRepeatedTicket(mode: RepeatedTicketMode): this {
    this.tickets.setMode(mode);
    return this;
  }

  /** Changes some hourly ticket limits; fetches already inside the window still count. */
  setTicketLimits(limits: Partial<SimulatedTicketLimits>): this {
    this.tickets.setLimits(limits);
    return this;
  }

  /**
   * Checks the signature a page would pass to `wx.config` (kind `'corp'`) or `wx.agentConfig` (kind `'agent'`):
   * `sha1("jsapi_ticket=" + ticket + "&noncestr=" + nonceStr + "&timestamp=" + timestamp + "&url=" + url)` with a
   * ticket of that kind and app that is valid now, the url's `#fragment` removed. The reason names the likely
   * mistake (revoked or expired ticket, the other kind's ticket, a url signed with its fragment).
   */
  verifySignature(input: SimulatedSignatureInput): SimulatedSignatureCheck {
    return this.tickets.verify(input);
  }

  // ---- an app's callbacks (app-callbacks.ts) ----

  /**
   * A sender of an app's callbacks (receiveId = this corp): `settings` holds the Token and EncodingAESKey to give the
   * app's `callback` option (random ones, the same for every sender of this simulator, unless given), `deliver(url, …)`
   * POSTs as WeCom does.
   */
  appCallbacks(options: { agentId?: string | number; token?: string; encodingAESKey?: string } = {}): AppCallbackSender {
    // One Token and EncodingAESKey per simulator unless given: every sender of this simulator signs alike.
    this.callbackSecrets ??= { token: randomBytes(12).toString('base64url'), encodingAESKey: randomBytes(32).toString('base64').slice(0, 43) };
    return new AppCallbackSender({
      corpId: this.corpId,
      agentId: String(options.agentId ?? '1000002'),
      token: options.token ?? this.callbackSecrets.token,
      encodingAESKey: options.encodingAESKey ?? this.callbackSecrets.encodingAESKey,
    });
  }

  // ---- third-party apps (suites.ts) ----

  /** A suite's settings (the first configured one by default), to configure WeComSuiteModule with. */
  suite(suiteId?: string): Required<SimulatedSuite> {
    return this.suites.suite(suiteId);
  }

  /** The provider's corpid and provider_secret. */
  get provider(): { readonly corpId: string; readonly secret: string } {
    return this.suites.provider;
  }

  /** A new suite_ticket (valid 30 min) that get_suite_token accepts, as if WeCom had pushed it. */
  issueSuiteTicket(suiteId?: string): string {
    return this.suites.issueTicket(suiteId);
  }

  /** A one-time auth_code (valid 10 min) of an authorising corp, created unless `corpId` is given. */
  createAuthCode(suiteId?: string, corpId?: string): { authCode: string; corpId: string } {
    return this.suites.createAuthCode(suiteId, corpId);
  }

  /** Authorises a corp without a callback: returns its permanent code (for tests that seed a PermanentCodeStore). */
  authoriseCorp(suiteId?: string, corpId?: string): { permanentCode: string; corpId: string } {
    return this.suites.authorise(suiteId, corpId);
  }

  /** The corp removes the suite: its permanent code gets 40084, its corp tokens 40014. */
  cancelAuth(corpId: string, suiteId?: string): void {
    this.suites.cancelAuth(corpId, suiteId);
  }

  /** The encrypted 指令回调 WeCom would POST (`cancel_auth` also cancels the corp here). */
  suiteCallback(event: SimulatedSuiteEvent, options?: SuiteCallbackOptions): SimulatedSuiteCallback {
    return this.suites.callback(event, options);
  }

  /** The URL check of the 指令回调 URL (receiveId: the suiteId by default) and the echo expected back. */
  urlVerification(suiteId?: string, receiveId?: string): ReturnType<SuiteRegistry['urlVerification']> {
    return this.suites.urlVerification(suiteId, receiveId);
  }

  /** Revokes every live suite_access_token (40082 on use). */
  revokeSuiteTokens(): string[] {
    return this.suites.revokeSuiteTokens();
  }

  /** Ends every suite_access_token's life now (42009 on use). */
  expireSuiteTokens(): void {
    this.suites.expireSuiteTokens();
  }

  /** Revokes the live corp tokens of one authorised corp, or of all (40014 on use). */
  revokeCorpTokens(corpId?: string): string[] {
    return this.suites.revokeCorpTokens(corpId);
  }

  /** Holds every `/cgi-bin/service/*` answer back for `ms`; {@link peakServiceConcurrency} then shows the overlap. */
  setServiceDelay(ms: number): this {
    this.suites.setDelay(ms);
    return this;
  }

  /** The most `/cgi-bin/service/*` requests in progress at once so far. */
  peakServiceConcurrency(): number {
    return this.suites.peakConcurrency();
  }

  /** Every suite ticket, token, auth code and permanent code issued (for leak scans). */
  issuedSuiteValues(): ReturnType<SuiteRegistry['issued']> {
    return this.suites.issued();
  }

  // ---- trusted IPs (trusted-ip.ts) ----

  /**
   * The trusted IPs of an app (its 企业可信IP) or a suite (the provider's IP whitelist, which also covers its
   * authorised corps' tokens): calls from any other IP get 60020 naming it (the `clientIp` option when set, else the
   * peer's address: a proxy's, when one is in between). `undefined` removes the rule.
   */
  setTrustedIps(target: SimulatedTrustTarget, ips: readonly string[] | undefined): this {
    this.trustedIps.set(target, ips);
    return this;
  }

  // ---- counters and logs ----

  /** The app name of an authorised corp (suites and 代开发) for {@link verifySignature}, {@link ticketCalls} and the like. */
  authorisedAppName(corpId: string, suiteId?: string): string {
    return this.suites.authorisedAppName(corpId, suiteId);
  }

  /** gettoken calls of 代开发 corps (corpid an authorised corp of a `dk…` template), all or one corp's. */
  customGettokenCalls(corpId?: string): number {
    return this.suites.customGettokenCalls(corpId);
  }

  /**
   * gettoken calls attributed to an app by the secret sent, failed and faulted ones included; without `appName`,
   * every gettoken call, wrong-secret ones included.
   */
  gettokenCalls(appName?: string): number {
    return this.server.log.filter((r) => r.path === GETTOKEN_PATH && (appName === undefined || r.app === appName)).length;
  }

  /** Requests to a path (without query string), or all requests. */
  calls(path?: string): number {
    const log = this.server.log;
    return path === undefined ? log.length : log.filter((r) => r.path === path).length;
  }

  /** Every request since the start or the last {@link resetCounters}, oldest first. */
  get requests(): ReadonlyArray<SimulatedRequest> {
    return this.server.log;
  }

  /** Messages accepted by `message/send` since the start or the last {@link resetCounters}. */
  get sentMessages(): ReadonlyArray<SentMessage> {
    return this.endpoints.sentMessages;
  }

  /** Clears the counters, the request log and {@link sentMessages}; keeps tokens, media and queued faults. */
  resetCounters(): void {
    this.server.resetLog();
    this.endpoints.resetSent();
  }

  /** Subscribes to an event; see {@link WeComSimulatorEvents}. */
  on<E extends keyof WeComSimulatorEvents>(event: E, listener: WeComSimulatorEvents[E]): this {
    this.server.on(event, listener);
    return this;
  }

  /** Unsubscribes a listener added with {@link on}. */
  off<E extends keyof WeComSimulatorEvents>(event: E, listener: WeComSimulatorEvents[E]): this {
    this.server.off(event, listener);
    return this;
  }

  // ---- media ----

  /** A stored media file (uploaded or added), or undefined for an unknown `media_id`. */
  uploadedMedia(mediaId: string): SimulatedMedia | undefined {
    return this.endpoints.media.get(mediaId);
  }

  /** Stores a file that `media/get` can serve, without an upload; returns its `media_id`. */
  addMedia(bytes: Buffer | Uint8Array, filename: string, contentType = 'application/octet-stream'): string {
    return this.endpoints.media.add(bytes, filename, contentType);
  }

  // ---- extension ----

  /**
   * Registers (or replaces) the handler of an API path, e.g. `/cgi-bin/agent/get`. The simulator checks the
   * access_token (41001 / 40014 / 42001), the method and the kind of secret before it calls the handler.
   */
  addApi(path: string, handler: SimulatedApiHandler, options: SimulatedApiOptions = {}): this {
    this.endpoints.addApi(path, handler, options);
    return this;
  }

  // ---- routing ----

  /** A queued fault first (it applies to any path), then gettoken, then the token check, then the endpoint. */
  private async route(req: IncomingMessage, record: LogRecord, body: Buffer): Promise<Answer> {
    const delayMs = record.path === GETTOKEN_PATH ? this.gettokenDelayMs : 0;
    const handle = (): Promise<Reply> => this.process(req, record, body);
    const fault = this.faults.take(record.path);
    if (!fault) return { kind: 'reply', reply: await handle(), delayMs };
    record.fault = fault;
    return faultAnswer(fault, this.replies, delayMs, handle, { url: req.url ?? '', body });
  }

  private async process(req: IncomingMessage, record: SimulatedRequest, body: Buffer): Promise<Reply> {
    const { path, query } = record;
    if (path === GETTOKEN_PATH) return this.suites.customGettoken(query) ?? this.tokens.gettoken(query);
    const identity = this.oauth.route(record.method, path, query, body);
    if (identity) return identity;
    if (!path.startsWith('/cgi-bin/')) return reply(404, 'text/plain; charset=UTF-8', '404 Not Found');
    if (this.suites.handles(path)) return this.trustedIps.checkSuite(this.suites.suiteOf(path, query, body)) ?? this.suites.handle(record.method, path, query, body);
    const app = this.suites.checkCorpToken(query) ?? this.tokens.check(query);
    if (!('name' in app)) return app;
    const untrusted = this.trustedIps.checkApp(app.name);
    if (untrusted) return untrusted;
    return this.endpoints.dispatch({ method: record.method, path, query, headers: req.headers, body, app });
  }
}
