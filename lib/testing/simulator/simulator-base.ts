/**
 * The state and the app-side face of the WeComSimulator: the role files (server, apps, tokens, faults, tickets,
 * endpoints, suites, identity) composed in one place, and the methods on apps, tokens, faults and JS-SDK tickets.
 * wecom-simulator.ts adds the suites', counters' and routing methods; the class users see is WeComSimulator.
 */
import type { IncomingMessage } from 'node:http';
import { randomBytes } from 'node:crypto';
import { AppCallbackSender } from './app-callbacks.js';
import { AppDirectory, DEFAULT_APP } from './apps.js';
import { Endpoints } from './endpoints.js';
import { FaultQueue } from './faults.js';
import { Replies } from './replies.js';
import type { Answer } from './replies.js';
import { SimulatorServer } from './server.js';
import { OAuthSimulator } from './oauth.js';
import { SuiteRegistry } from './suites.js';
import { TICKET_PATHS, TicketRegistry } from './tickets.js';
import { TrustedIpRules } from './trusted-ip.js';
import type { LogRecord, Router } from './server.js';
import { DEFAULT_CORP_ID, DEFAULT_LIFETIME_SECONDS, GETTOKEN_PATH, TokenRegistry } from './tokens.js';
import type {
  RepeatedGettokenMode,
  RepeatedTicketMode,
  SimulatedApp,
  SimulatedFault,
  SimulatedFaultTarget,
  SimulatedSignatureCheck,
  SimulatedSignatureInput,
  SimulatedTicketKind,
  SimulatedTicketLimits,
  WeComSimulatorOptions,
} from './types.js';

const DEFAULT_MAX_BODY_BYTES = 21 * 1024 * 1024;

/** The part of {@link WeComSimulator} that composes the roles; not exported from the package. */
export abstract class WeComSimulatorBase {
  /** The corpid gettoken accepts. */
  readonly corpId: string;

  protected readonly apps: AppDirectory;
  protected readonly replies: Replies;
  protected readonly tokens: TokenRegistry;
  protected readonly faults = new FaultQueue();
  protected readonly endpoints: Endpoints;
  protected readonly tickets: TicketRegistry;
  protected readonly server: SimulatorServer;
  protected readonly suites: SuiteRegistry;
  /** User identity: who is signed in to the OAuth pages, codes and user_tickets (see oauth.ts). */
  readonly oauth: OAuthSimulator;
  protected readonly trustedIps: TrustedIpRules;
  protected gettokenDelayMs = 0;
  protected suiteTokenLifetimeSeconds: number;
  protected callbackSecrets?: { token: string; encodingAESKey: string };

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

  /** Answers one request (wecom-simulator.ts). */
  protected abstract route(req: IncomingMessage, record: LogRecord, body: Buffer): Promise<Answer>;
}
