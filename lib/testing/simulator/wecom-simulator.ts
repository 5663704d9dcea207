/**
 * The WeComSimulator class: it composes the role files (server, tokens, faults, endpoints; see simulator-base.ts) and is
 * the one public face of them. It holds no logic of its own beyond routing a request to the role that answers it.
 */
import type { IncomingMessage } from 'node:http';
import { faultAnswer } from './faults.js';
import { reply } from './replies.js';
import type { Answer, Reply } from './replies.js';
import { WeComSimulatorBase } from './simulator-base.js';
import { SuiteRegistry } from './suites.js';
import type { SimulatedSuiteCallback, SimulatedSuiteEvent, SuiteCallbackOptions } from './suites.js';
import type { SimulatedTrustTarget } from './trusted-ip.js';
import type { LogRecord } from './server.js';
import { GETTOKEN_PATH } from './tokens.js';
import type {
  SentMessage,
  SimulatedApiHandler,
  SimulatedApiOptions,
  SimulatedMedia,
  SimulatedRequest,
  SimulatedSuite,
  WeComSimulatorEvents,
  WeComSimulatorOptions,
} from './types.js';

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
export class WeComSimulator extends WeComSimulatorBase {
  /** Creates a simulator and starts listening. */
  static async start(options?: WeComSimulatorOptions): Promise<WeComSimulator> {
    return new WeComSimulator(options).listen();
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
  protected async route(req: IncomingMessage, record: LogRecord, body: Buffer): Promise<Answer> {
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
