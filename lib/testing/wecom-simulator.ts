/**
 * An in-process WeCom (企业微信) server for tests: gettoken, token checks, a few business endpoints, and injectable
 * faults, over real HTTP on loopback. Exported as `nestjs-wecom-token/testing`.
 *
 * It reproduces what a token layer has to cope with (see the WeCom notes: errors as HTTP 200 bodies, revoked and
 * expired tokens, one token per secret, repeated gettoken returning the same or a new token), not WeCom's whole API.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** What a secret belongs to; it decides which endpoints its tokens may call. */
export type SimulatedAppKind = 'app' | 'contacts' | 'customer-contact';

/** One secret of the simulated corp: a self-built app, the contacts-sync secret or the customer-contact secret. */
export interface SimulatedApp {
  /** Label used in counters and the request log, e.g. `'default'`, `'contacts'`. */
  name: string;
  /** The secret that gettoken accepts for this app (at least 4 characters). */
  secret: string;
  /** Self-built apps have one; `message/send` checks the body's `agentid` against it. */
  agentId?: number;
  /** Default `'app'`. */
  kind?: SimulatedAppKind;
}

/** Options of {@link WeComSimulator}. */
export interface WeComSimulatorOptions {
  /** The corpid gettoken accepts. Default `'wwsimulatorcorp0001'`. */
  corpId?: string;
  /** Default: one app `{ name: 'default', secret: 'sim-secret-default-0123456789', agentId: 1000002, kind: 'app' }`. */
  apps?: SimulatedApp[];
  /**
   * Lifetime of newly issued tokens in seconds. Default 7200. Small values (1, 2) make expiry testable; a fractional
   * value is allowed, and `expires_in` is then rounded up, so the token dies slightly before the client expects.
   */
  tokenLifetimeSeconds?: number;
  /**
   * gettoken while a token of the app is still valid: `'same-token'` (default) returns that token with the remaining
   * `expires_in`; `'new-token'` issues a new token with a full lifetime and leaves the old one valid until its expiry.
   */
  repeatedGettoken?: RepeatedGettokenMode;
  /** Default 0 (an ephemeral port). */
  port?: number;
  /** Default `'127.0.0.1'`. */
  host?: string;
  /** The IP named in error hints (`from ip: …`), as WeCom names the caller's IP. Default `'127.0.0.1'`. */
  clientIp?: string;
  /**
   * Request bodies larger than this get HTTP 413. Default 21 MiB: WeCom's largest upload (a 20 MB file) plus
   * multipart overhead.
   */
  maxBodyBytes?: number;
}

/** See {@link WeComSimulatorOptions.repeatedGettoken}. */
export type RepeatedGettokenMode = 'same-token' | 'new-token';

/**
 * A fault injected with {@link WeComSimulator.failNext}.
 *
 * - `{ errcode, errmsg? }`: a WeCom error body with HTTP 200. `errmsg` defaults per errcode (`-1` "system busy",
 *   `45009` "api freq out of limit", `60020` "not allow to access from your ip", …; unknown codes "simulated error")
 *   and always gets WeCom's `, hint: [...], from ip: X, more info at …?e=CODE` suffix.
 * - `html-502`: HTTP 502 with an nginx-style HTML page, as a gateway in front of WeCom answers.
 * - `truncated-json`: HTTP 200, `application/json`, a body cut in the middle (`{"errcode":0,"errmsg":"ok","access_to`).
 * - `drop`: the socket is destroyed without a response.
 * - `delay`: the request is handled on arrival and its response held back for `ms`.
 * - `hang`: no response ever, until {@link WeComSimulator.close}.
 */
export type SimulatedFault =
  | { errcode: number; errmsg?: string }
  | { kind: 'html-502' }
  | { kind: 'truncated-json' }
  | { kind: 'drop' }
  | { kind: 'delay'; ms: number }
  | { kind: 'hang' };

/**
 * Where a fault applies: `'gettoken'` (`/cgi-bin/gettoken`), `'api'` (any other path), or an exact path such as
 * `'/cgi-bin/message/send'`.
 */
export type SimulatedFaultTarget = 'gettoken' | 'api' | (string & {});

/** One request as the simulator saw it. */
export interface SimulatedRequest {
  /** HTTP method. */
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  /** Query parameters as sent, `access_token` and `corpsecret` included (tests scan them for leaks). */
  readonly query: Readonly<Record<string, string>>;
  /** The app the request is attributed to: by `corpsecret` on gettoken, by the token's owner elsewhere. */
  readonly app?: string;
  /** HTTP status of the answer; 0 when there was none (dropped, hung, client gone). */
  readonly status: number;
  /** `errcode` of a JSON answer, when it had one. */
  readonly errcode?: number;
  /** The injected fault that decided the answer, if any. */
  readonly fault?: SimulatedFault;
  /** `Date.now()` at arrival. */
  readonly at: number;
}

/** A message accepted by `POST /cgi-bin/message/send`. */
export interface SentMessage {
  /** Name of the app whose token sent it. */
  readonly app: string;
  /** The `msgid` returned to the caller. */
  readonly msgid: string;
  /** The parsed JSON body as sent. */
  readonly body: Readonly<Record<string, unknown>>;
  /** `Date.now()` when it was accepted. */
  readonly at: number;
}

/** A stored media file, from an upload or {@link WeComSimulator.addMedia}. */
export interface SimulatedMedia {
  /** Its `media_id`. */
  readonly mediaId: string;
  /** A copy of the stored bytes. */
  readonly bytes: Buffer;
  /** The filename of the upload. */
  readonly filename: string;
  /** The content type of the upload's part, `application/octet-stream` when it had none. */
  readonly contentType: string;
  /** The `type` query parameter of the upload (`file`, `image`, `voice`, `video`); undefined for added media. */
  readonly type?: string;
  /** How many uploads so far carried these exact bytes under this filename (any media_id): 2 means re-uploaded. */
  readonly uploads: number;
}

/** What a handler registered with {@link WeComSimulator.addApi} receives; the token was already checked. */
export interface SimulatedApiContext {
  /** HTTP method. */
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  /** Query parameters. */
  readonly query: Readonly<Record<string, string>>;
  /** Request headers. */
  readonly headers: IncomingHttpHeaders;
  /** The app whose token made the call. */
  readonly app: SimulatedApp;
  /** The raw body. */
  readonly body: Buffer;
  /** The body parsed as JSON; undefined when empty or not JSON. */
  readonly json: unknown;
}

/**
 * A handler registered with {@link WeComSimulator.addApi}. It returns the JSON body (HTTP 200). A body with a
 * non-zero `errcode` and no `errmsg` gets the default errmsg with WeCom's hint suffix.
 */
export type SimulatedApiHandler = (
  context: SimulatedApiContext,
) => Record<string, unknown> | Promise<Record<string, unknown>>;

/** Options of {@link WeComSimulator.addApi}. */
export interface SimulatedApiOptions {
  /** Other methods get 43001 / 43002, as WeCom answers them. Default: any method. */
  method?: 'GET' | 'POST';
  /** Kinds of secret whose tokens may call it; others get 48002. Default: every kind. */
  kinds?: readonly SimulatedAppKind[];
}

/** Events of {@link WeComSimulator.on}. */
export interface WeComSimulatorEvents {
  /** Emitted once per request, when its answer is decided (before any delay). */
  request: (request: SimulatedRequest) => void;
}

const GETTOKEN_PATH = '/cgi-bin/gettoken';
const MORE_INFO_URL = 'https://open.work.weixin.qq.com/devtool/query?e=';
const JSON_CONTENT_TYPE = 'application/json; charset=UTF-8';
const DEFAULT_CORP_ID = 'wwsimulatorcorp0001';
const DEFAULT_LIFETIME_SECONDS = 7200;
const DEFAULT_MAX_BODY_BYTES = 21 * 1024 * 1024;
const TRUNCATED_JSON_BODY = '{"errcode":0,"errmsg":"ok","access_to';
const HTML_502_BODY =
  '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n' +
  '<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';
/** A 1x1 PNG, so samples can download `MEDIA_SAMPLE` without uploading first. */
const SAMPLE_PNG_BASE64 =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

/** errmsg texts as WeCom words them (it changes them now and then: clients must not match on them). */
const DEFAULT_ERRMSG: Readonly<Record<number, string>> = Object.freeze({
  [-1]: 'system busy',
  40001: 'invalid credential, access_token is invalid or not latest',
  40004: 'invalid media type',
  40005: 'invalid file type',
  40006: 'invalid file size',
  40007: 'invalid media_id',
  40013: 'invalid corpid',
  40014: 'invalid access_token',
  40056: 'invalid agentid',
  40091: 'secret is invalid',
  41001: 'access_token missing',
  41006: 'media_id missing',
  41009: 'missing userid',
  42001: 'access_token expired',
  43001: 'require GET method',
  43002: 'require POST method',
  44001: 'empty media data',
  45009: 'api freq out of limit',
  45033: 'api concurrent out of limit',
  47001: 'data format error',
  48001: 'api unauthorized',
  48002: 'api forbidden',
  48006: 'api forbidden',
  50003: 'application is disabled',
  60020: 'not allow to access from your ip',
  60111: 'userid not found',
  60123: 'invalid party id',
});

/** WeCom's size limits of media/upload, by `type`. */
const MEDIA_MAX_BYTES: Readonly<Record<string, number>> = Object.freeze({
  image: 10 * 1024 * 1024,
  voice: 2 * 1024 * 1024,
  video: 10 * 1024 * 1024,
  file: 20 * 1024 * 1024,
});

interface TokenRecord {
  readonly token: string;
  readonly app: string;
  expiresAt: number;
  revoked: boolean;
}

interface Reply {
  status: number;
  headers: Record<string, string | number>;
  body: Buffer;
  errcode?: number;
}

interface QueuedFault {
  readonly target: string;
  readonly fault: SimulatedFault;
  remaining: number;
}

interface Endpoint {
  readonly method?: 'GET' | 'POST';
  readonly kinds: readonly SimulatedAppKind[];
  readonly handle: (context: SimulatedApiContext) => Reply | Promise<Reply>;
}

interface StoredMedia {
  readonly mediaId: string;
  readonly bytes: Buffer;
  readonly filename: string;
  readonly contentType: string;
  readonly type?: string;
  readonly identity: string;
}

interface SimulatedUser {
  readonly userid: string;
  readonly [field: string]: unknown;
}

interface SimulatedDepartment {
  readonly id: number;
  readonly name: string;
  readonly name_en?: string;
  readonly department_leader?: readonly string[];
  readonly parentid: number;
  readonly order: number;
}

/** An app with its kind filled in. */
type NormalisedApp = Readonly<SimulatedApp & { kind: SimulatedAppKind }>;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

type ApiContext = SimulatedApiContext;

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

  private readonly host: string;
  private readonly requestedPort: number;
  private readonly clientIp: string;
  private readonly maxBodyBytes: number;
  private readonly apps: ReadonlyMap<string, NormalisedApp>;
  private tokenLifetimeSeconds: number;
  private repeatedGettoken: RepeatedGettokenMode;
  private gettokenDelayMs = 0;

  private server: Server | undefined;
  private listeningPort: number | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly events = new EventEmitter();

  private readonly tokens = new Map<string, TokenRecord>();
  private readonly tokensByApp = new Map<string, TokenRecord[]>();
  private faults: QueuedFault[] = [];
  private log: Mutable<SimulatedRequest>[] = [];
  private sent: SentMessage[] = [];
  private readonly media = new Map<string, StoredMedia>();
  private readonly uploadsByIdentity = new Map<string, number>();
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly users = new Map<string, SimulatedUser>();
  private readonly departments: readonly SimulatedDepartment[];

  /** Creates a simulator; call {@link listen} (or use {@link WeComSimulator.start}) before sending requests. */
  constructor(options: WeComSimulatorOptions = {}) {
    this.corpId = options.corpId ?? DEFAULT_CORP_ID;
    this.host = options.host ?? '127.0.0.1';
    this.requestedPort = options.port ?? 0;
    this.clientIp = options.clientIp ?? '127.0.0.1';
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.tokenLifetimeSeconds = checkLifetime(options.tokenLifetimeSeconds ?? DEFAULT_LIFETIME_SECONDS);
    this.repeatedGettoken = checkMode(options.repeatedGettoken ?? 'same-token');
    this.apps = normaliseApps(
      options.apps ?? [{ name: 'default', secret: 'sim-secret-default-0123456789', agentId: 1000002, kind: 'app' }],
    );
    for (const app of this.apps.values()) this.tokensByApp.set(app.name, []);

    this.seedDirectory();
    this.departments = seedDepartments();
    this.storeMedia('MEDIA_SAMPLE', Buffer.from(SAMPLE_PNG_BASE64, 'base64'), 'sample.png', 'image/png', undefined);
    this.registerBuiltInEndpoints();
  }

  /** Creates a simulator and starts listening. */
  static async start(options?: WeComSimulatorOptions): Promise<WeComSimulator> {
    return new WeComSimulator(options).listen();
  }

  /** Starts listening on `host:port` (an ephemeral port by default). Calling it again while listening is a no-op. */
  async listen(): Promise<this> {
    if (this.server) return this;
    const server = createServer((req, res) => {
      void this.onRequest(req, res);
    });
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.requestedPort, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.listeningPort = (server.address() as AddressInfo).port;
    return this;
  }

  /**
   * Stops the server and destroys every open socket, hung and delayed requests included, so that jest exits cleanly.
   * Safe to call twice or before {@link listen}.
   */
  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.listeningPort = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const socket of this.sockets) socket.destroy();
      this.sockets.clear();
    });
  }

  /** `http://127.0.0.1:PORT`, to use as the module's `baseUrl`. Throws before {@link listen}. */
  get baseUrl(): string {
    const port = this.port;
    const host = this.host.includes(':') ? `[${this.host}]` : this.host;
    return `http://${host}:${port}`;
  }

  /** The port it listens on. Throws before {@link listen}. */
  get port(): number {
    if (this.listeningPort === undefined) {
      throw new Error('WeComSimulator is not listening: call `await simulator.listen()` or use WeComSimulator.start()');
    }
    return this.listeningPort;
  }

  /** The secret of an app (default `'default'`). Throws for an unknown app name. */
  secretOf(appName = 'default'): string {
    return this.app(appName).secret;
  }

  /** An app by name (default `'default'`), with `kind` filled in. Throws for an unknown app name. */
  app(name = 'default'): SimulatedApp {
    const app = this.apps.get(name);
    if (!app) {
      throw new Error(`WeComSimulator has no app '${name}'; its apps are: ${[...this.apps.keys()].join(', ')}`);
    }
    return app;
  }

  // ---- faults ----

  /**
   * Queues a fault for the next `times` (default 1) requests matching `target`. Queued faults are consumed FIFO,
   * one per matching request, before normal handling; the faulted requests still count as calls, and a gettoken
   * fault is still attributed to the app whose secret was sent.
   */
  failNext(target: SimulatedFaultTarget, fault: SimulatedFault, times = 1): this {
    if (target !== 'gettoken' && target !== 'api' && !target.startsWith('/')) {
      throw new Error(`failNext target must be 'gettoken', 'api' or a path starting with '/', got '${target}'`);
    }
    if (!Number.isInteger(times) || times < 1) {
      throw new Error(`failNext times must be a positive integer, got ${times}`);
    }
    if ('kind' in fault && fault.kind === 'delay' && !(Number.isFinite(fault.ms) && fault.ms >= 0)) {
      throw new Error(`a delay fault needs ms >= 0, got ${fault.ms}`);
    }
    if ('errcode' in fault && !Number.isInteger(fault.errcode)) {
      throw new Error(`an errcode fault needs an integer errcode, got ${fault.errcode}`);
    }
    this.faults.push({ target, fault, remaining: times });
    return this;
  }

  /** Drops every queued fault. */
  clearFaults(): void {
    this.faults = [];
  }

  /** How many queued faults have not fired yet, for `target` or in all. */
  pendingFaults(target?: SimulatedFaultTarget): number {
    return this.faults
      .filter((queued) => target === undefined || queued.target === target)
      .reduce((sum, queued) => sum + queued.remaining, 0);
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
    this.tokenLifetimeSeconds = checkLifetime(seconds);
    return this;
  }

  /** See {@link WeComSimulatorOptions.repeatedGettoken}. */
  setRepeatedGettoken(mode: RepeatedGettokenMode): this {
    this.repeatedGettoken = checkMode(mode);
    return this;
  }

  // ---- token state ----

  /**
   * Revokes every live token of one app (or of all apps), as WeCom may do "出于运营需要": using one then gets 40014,
   * and the next gettoken issues a new token. Returns the tokens revoked.
   */
  revokeTokens(appName?: string): string[] {
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

  /** Revokes one token (40014 on use). False when it is not a token of this simulator or was already revoked. */
  revokeToken(token: string): boolean {
    const record = this.tokens.get(token);
    if (!record || record.revoked) return false;
    record.revoked = true;
    return true;
  }

  /** Ends the lifetime of every live token of one app (or of all apps) now: 42001 on use, a new token on gettoken. */
  expireTokens(appName?: string): void {
    const now = Date.now();
    for (const record of this.recordsOf(appName)) {
      if (!record.revoked && now < record.expiresAt) record.expiresAt = now;
    }
  }

  /** Every token issued so far, oldest first, of one app or of all (for leak scans of logs and errors). */
  issuedTokens(appName?: string): string[] {
    return this.recordsOf(appName).map((record) => record.token);
  }

  /** The newest live token of an app (default `'default'`): the one gettoken returns in `'same-token'` mode. */
  currentToken(appName = 'default'): string | undefined {
    this.app(appName);
    return this.liveToken(appName, Date.now())?.token;
  }

  // ---- counters and logs ----

  /**
   * gettoken calls attributed to an app by the secret sent, failed and faulted ones included; without `appName`,
   * every gettoken call, wrong-secret ones included.
   */
  gettokenCalls(appName?: string): number {
    return this.log.filter((r) => r.path === GETTOKEN_PATH && (appName === undefined || r.app === appName)).length;
  }

  /** Requests to a path (without query string), or all requests. */
  calls(path?: string): number {
    return path === undefined ? this.log.length : this.log.filter((r) => r.path === path).length;
  }

  /** Every request since the start or the last {@link resetCounters}, oldest first. */
  get requests(): ReadonlyArray<SimulatedRequest> {
    return this.log;
  }

  /** Messages accepted by `message/send` since the start or the last {@link resetCounters}. */
  get sentMessages(): ReadonlyArray<SentMessage> {
    return this.sent;
  }

  /** Clears the counters, the request log and {@link sentMessages}; keeps tokens, media and queued faults. */
  resetCounters(): void {
    this.log = [];
    this.sent = [];
  }

  /** Subscribes to an event; see {@link WeComSimulatorEvents}. */
  on<E extends keyof WeComSimulatorEvents>(event: E, listener: WeComSimulatorEvents[E]): this {
    this.events.on(event, listener);
    return this;
  }

  /** Unsubscribes a listener added with {@link on}. */
  off<E extends keyof WeComSimulatorEvents>(event: E, listener: WeComSimulatorEvents[E]): this {
    this.events.off(event, listener);
    return this;
  }

  // ---- media ----

  /** A stored media file (uploaded or added), or undefined for an unknown `media_id`. */
  uploadedMedia(mediaId: string): SimulatedMedia | undefined {
    const stored = this.media.get(mediaId);
    if (!stored) return undefined;
    return {
      mediaId: stored.mediaId,
      bytes: Buffer.from(stored.bytes),
      filename: stored.filename,
      contentType: stored.contentType,
      ...(stored.type === undefined ? {} : { type: stored.type }),
      uploads: this.uploadsByIdentity.get(stored.identity) ?? 0,
    };
  }

  /** Stores a file that `media/get` can serve, without an upload; returns its `media_id`. */
  addMedia(bytes: Buffer | Uint8Array, filename: string, contentType = 'application/octet-stream'): string {
    const mediaId = newMediaId();
    this.storeMedia(mediaId, Buffer.from(bytes), filename, contentType, undefined);
    return mediaId;
  }

  // ---- extension ----

  /**
   * Registers (or replaces) the handler of an API path, e.g. `/cgi-bin/agent/get`. The simulator checks the
   * access_token (41001 / 40014 / 42001), the method and the kind of secret before it calls the handler.
   */
  addApi(path: string, handler: SimulatedApiHandler, options: SimulatedApiOptions = {}): this {
    if (!path.startsWith('/cgi-bin/') || path === GETTOKEN_PATH) {
      throw new Error(`addApi path must start with '/cgi-bin/' and not be gettoken, got '${path}'`);
    }
    this.endpoints.set(path, {
      ...(options.method ? { method: options.method } : {}),
      kinds: options.kinds ?? ['app', 'contacts', 'customer-contact'],
      handle: async (context) => this.json(await handler(context)),
    });
    return this;
  }

  // ---- request handling ----

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const record: Mutable<SimulatedRequest> = {
      method: req.method ?? 'GET',
      path: '/',
      query: {},
      status: 0,
      at: Date.now(),
    };
    try {
      const url = new URL(req.url ?? '/', 'http://simulator.invalid');
      record.path = url.pathname;
      const query: Record<string, string> = {};
      for (const [key, value] of url.searchParams) if (!(key in query)) query[key] = value;
      record.query = query;
      const app = this.attribute(record.path, query);
      if (app !== undefined) record.app = app;
      this.log.push(record);

      const body = await readBody(req, this.maxBodyBytes);
      if (body === 'aborted') {
        this.decided(record);
        return;
      }
      if (body === 'too-large') {
        const reply = this.json({ errcode: 413, errmsg: `request body larger than ${this.maxBodyBytes} bytes` }, 413);
        reply.headers.Connection = 'close';
        this.finish(record, res, reply, 0);
        return;
      }

      const fault = this.takeFault(record.path);
      if (fault) record.fault = fault;
      const gettokenDelay = record.path === GETTOKEN_PATH ? this.gettokenDelayMs : 0;
      if (fault && 'errcode' in fault) {
        this.finish(record, res, this.error(fault.errcode, fault.errmsg), gettokenDelay);
        return;
      }
      switch (fault?.kind) {
        case 'drop':
          this.decided(record);
          req.socket.destroy();
          return;
        case 'hang':
          // Nothing to do: close() destroys the socket.
          this.decided(record);
          return;
        case 'html-502':
          this.finish(record, res, reply(502, 'text/html', HTML_502_BODY), gettokenDelay);
          return;
        case 'truncated-json':
          this.finish(record, res, reply(200, JSON_CONTENT_TYPE, TRUNCATED_JSON_BODY), gettokenDelay);
          return;
        case 'delay':
          this.finish(record, res, await this.process(req, record, body), fault.ms + gettokenDelay);
          return;
        default:
          this.finish(record, res, await this.process(req, record, body), gettokenDelay);
      }
    } catch (error) {
      // A bug here, or a throwing 'request' listener: answer visibly rather than leave the client hanging.
      const message = error instanceof Error ? error.message : String(error);
      this.finish(record, res, reply(500, 'text/plain; charset=UTF-8', `WeComSimulator error: ${message}`), 0, false);
    }
  }

  private attribute(path: string, query: Readonly<Record<string, string>>): string | undefined {
    if (path === GETTOKEN_PATH) return this.appBySecret(query.corpsecret)?.name;
    const token = query.access_token;
    return token ? this.tokens.get(token)?.app : undefined;
  }

  private takeFault(path: string): SimulatedFault | undefined {
    const index = this.faults.findIndex((queued) =>
      queued.target === 'gettoken'
        ? path === GETTOKEN_PATH
        : queued.target === 'api'
          ? path !== GETTOKEN_PATH
          : queued.target === path,
    );
    if (index < 0) return undefined;
    const queued = this.faults[index]!;
    queued.remaining -= 1;
    if (queued.remaining <= 0) this.faults.splice(index, 1);
    return queued.fault;
  }

  private async process(req: IncomingMessage, record: SimulatedRequest, body: Buffer): Promise<Reply> {
    const { path, query } = record;
    if (path === GETTOKEN_PATH) return this.gettoken(query);
    if (!path.startsWith('/cgi-bin/')) return reply(404, 'text/plain; charset=UTF-8', '404 Not Found');

    // Only the query counts: WeCom answers 41001 when the token is in the body.
    const token = query.access_token;
    if (!token) return this.error(41001);
    const tokenRecord = this.tokens.get(token);
    if (!tokenRecord || tokenRecord.revoked) return this.error(40014);
    if (Date.now() >= tokenRecord.expiresAt) return this.error(42001);

    const endpoint = this.endpoints.get(path);
    if (!endpoint) {
      return this.json({ errcode: 404, errmsg: `WeComSimulator has no API ${path}; register one with addApi()` }, 404);
    }
    const method = record.method.toUpperCase();
    if (endpoint.method === 'GET' && method !== 'GET') return this.error(43001);
    if (endpoint.method === 'POST' && method !== 'POST') return this.error(43002);
    const app = this.apps.get(tokenRecord.app)!;
    if (!endpoint.kinds.includes(app.kind)) return this.error(48002);

    return endpoint.handle({
      method,
      path,
      query,
      headers: req.headers,
      app,
      body,
      json: parseJson(body),
    });
  }

  private gettoken(query: Readonly<Record<string, string>>): Reply {
    if (!query.corpid || query.corpid !== this.corpId) return this.error(40013);
    const app = this.appBySecret(query.corpsecret);
    if (!app) return this.error(40001);
    const now = Date.now();
    const live = this.repeatedGettoken === 'same-token' ? this.liveToken(app.name, now) : undefined;
    const record = live ?? this.issue(app.name, now);
    const expiresIn = Math.max(1, Math.ceil((record.expiresAt - now) / 1000));
    return this.json({ errcode: 0, errmsg: 'ok', access_token: record.token, expires_in: expiresIn });
  }

  private issue(appName: string, now: number): TokenRecord {
    const record: TokenRecord = {
      token: this.newToken(),
      app: appName,
      expiresAt: now + this.tokenLifetimeSeconds * 1000,
      revoked: false,
    };
    this.tokens.set(record.token, record);
    this.tokensByApp.get(appName)!.push(record);
    return record;
  }

  private newToken(): string {
    // Bounded, so that a pathological secret cannot spin forever; normaliseApps keeps secrets long enough.
    for (let attempt = 0; attempt < 1000; attempt += 1) {
      const length = randomInt(64, 101);
      const token = randomBytes(length).toString('base64url').slice(0, length);
      if (this.tokens.has(token)) continue;
      if ([...this.apps.values()].some((app) => token.includes(app.secret))) continue;
      return token;
    }
    throw new Error('WeComSimulator could not issue a token that does not contain a secret; use longer secrets');
  }

  private liveToken(appName: string, now: number): TokenRecord | undefined {
    const records = this.tokensByApp.get(appName) ?? [];
    for (let i = records.length - 1; i >= 0; i -= 1) {
      const record = records[i]!;
      if (!record.revoked && now < record.expiresAt) return record;
    }
    return undefined;
  }

  private recordsOf(appName: string | undefined): TokenRecord[] {
    if (appName === undefined) return [...this.tokens.values()];
    this.app(appName);
    return [...(this.tokensByApp.get(appName) ?? [])];
  }

  private appBySecret(secret: string | undefined): SimulatedApp | undefined {
    if (!secret) return undefined;
    for (const app of this.apps.values()) if (app.secret === secret) return app;
    return undefined;
  }

  // ---- built-in endpoints ----

  private registerBuiltInEndpoints(): void {
    this.endpoints.set('/cgi-bin/message/send', {
      method: 'POST',
      kinds: ['app'],
      handle: (context) => this.messageSend(context),
    });
    this.endpoints.set('/cgi-bin/media/upload', {
      method: 'POST',
      kinds: ['app'],
      handle: (context) => this.mediaUpload(context),
    });
    this.endpoints.set('/cgi-bin/media/get', {
      method: 'GET',
      kinds: ['app'],
      handle: (context) => this.mediaGet(context),
    });
    this.endpoints.set('/cgi-bin/user/get', {
      method: 'GET',
      kinds: ['app', 'contacts'],
      handle: (context) => this.userGet(context),
    });
    this.endpoints.set('/cgi-bin/department/list', {
      method: 'GET',
      kinds: ['app', 'contacts'],
      handle: (context) => this.departmentList(context),
    });
  }

  private messageSend(context: ApiContext): Reply {
    const body = context.json;
    if (!isRecord(body)) return this.error(47001);
    if (context.app.agentId === undefined || Number(body.agentid) !== context.app.agentId) return this.error(40056);
    const msgid = randomBytes(30).toString('base64url');
    this.sent.push({ app: context.app.name, msgid, body, at: Date.now() });
    return this.json({ errcode: 0, errmsg: 'ok', invaliduser: '', msgid });
  }

  private mediaUpload(context: ApiContext): Reply {
    const type = context.query.type;
    if (!type || !(type in MEDIA_MAX_BYTES)) return this.error(40004);
    const parts = parseMultipart(context.body, context.headers['content-type']);
    const media = parts?.find((part) => part.name === 'media');
    if (!media || media.data.length === 0) return this.error(44001);
    if (media.data.length > MEDIA_MAX_BYTES[type]!) return this.error(40006);
    const mediaId = newMediaId();
    const filename = media.filename ?? 'media';
    const stored = this.storeMedia(
      mediaId,
      media.data,
      filename,
      media.contentType ?? 'application/octet-stream',
      type,
    );
    this.uploadsByIdentity.set(stored.identity, (this.uploadsByIdentity.get(stored.identity) ?? 0) + 1);
    return this.json({
      errcode: 0,
      errmsg: '',
      type,
      media_id: mediaId,
      created_at: String(Math.floor(Date.now() / 1000)),
    });
  }

  private mediaGet(context: ApiContext): Reply {
    const mediaId = context.query.media_id;
    if (!mediaId) return this.error(41006);
    const stored = this.media.get(mediaId);
    if (!stored) return this.error(40007);
    return {
      status: 200,
      headers: {
        'Content-Type': stored.contentType,
        'Content-Disposition': contentDisposition(stored.filename),
        'Content-Length': stored.bytes.length,
        'Cache-Control': 'no-cache, must-revalidate',
      },
      body: stored.bytes,
    };
  }

  private userGet(context: ApiContext): Reply {
    const userid = context.query.userid;
    if (!userid) return this.error(41009);
    const user = this.users.get(userid);
    if (!user) return this.error(60111);
    return this.json({ errcode: 0, errmsg: 'ok', ...structuredClone(user) });
  }

  private departmentList(context: ApiContext): Reply {
    const id = context.query.id;
    let departments = this.departments;
    if (id) {
      const root = Number(id);
      if (!departments.some((department) => department.id === root)) return this.error(60123);
      const included = new Set([root]);
      // Parents come before children in the seed, so one pass collects the subtree.
      departments = departments.filter((department) => {
        if (department.id === root || included.has(department.parentid)) {
          included.add(department.id);
          return true;
        }
        return false;
      });
    }
    return this.json({ errcode: 0, errmsg: 'ok', department: structuredClone(departments) });
  }

  private seedDirectory(): void {
    const users: SimulatedUser[] = [
      {
        userid: 'zhangsan',
        name: '张三',
        department: [1, 2],
        order: [1, 2],
        position: '后台工程师',
        is_leader_in_dept: [1, 0],
        direct_leader: ['lisi'],
        alias: 'jackzhang',
        status: 1,
        main_department: 1,
        telephone: '020-123456',
        extattr: { attrs: [] },
        external_position: '高级工程师',
        open_userid: 'woAJ2GCAAAXtWyujaWJHDDGi0mACHAAA',
      },
      {
        userid: 'lisi',
        name: '李四',
        department: [1],
        order: [0],
        position: '产品经理',
        is_leader_in_dept: [1],
        direct_leader: [],
        alias: 'lisi',
        status: 1,
        main_department: 1,
        telephone: '020-654321',
        extattr: { attrs: [] },
        external_position: '产品经理',
        open_userid: 'woAJ2GCAAAXtWyujaWJHDDGi0mACHBBB',
      },
    ];
    for (const user of users) this.users.set(user.userid, user);
  }

  private storeMedia(
    mediaId: string,
    bytes: Buffer,
    filename: string,
    contentType: string,
    type: string | undefined,
  ): StoredMedia {
    const identity = `${createHash('sha256').update(bytes).digest('hex')}:${filename}`;
    const stored: StoredMedia = { mediaId, bytes, filename, contentType, identity, ...(type ? { type } : {}) };
    this.media.set(mediaId, stored);
    return stored;
  }

  // ---- replies ----

  private error(errcode: number, errmsg?: string): Reply {
    const text = errmsg ?? DEFAULT_ERRMSG[errcode] ?? 'simulated error';
    return this.json({ errcode, errmsg: this.withHint(errcode, text) });
  }

  private withHint(errcode: number, errmsg: string): string {
    if (errmsg.includes(', hint: [')) return errmsg;
    const hint = `${Math.floor(Date.now() / 1000)}_${randomInt(10, 100)}_${randomBytes(16).toString('hex')}`;
    return `${errmsg}, hint: [${hint}], from ip: ${this.clientIp}, more info at ${MORE_INFO_URL}${errcode}`;
  }

  private json(body: Record<string, unknown>, status = 200): Reply {
    const errcode = body.errcode;
    let payload = body;
    if (typeof errcode === 'number' && errcode !== 0 && body.errmsg === undefined) {
      payload = { ...body, errmsg: this.withHint(errcode, DEFAULT_ERRMSG[errcode] ?? 'simulated error') };
    }
    const result = reply(status, JSON_CONTENT_TYPE, JSON.stringify(payload));
    if (typeof errcode === 'number') result.errcode = errcode;
    return result;
  }

  /** Completes the log record and tells listeners; the answer itself may still be delayed. */
  private decided(record: Mutable<SimulatedRequest>, answer?: Reply, emit = true): void {
    if (answer) {
      record.status = answer.status;
      if (answer.errcode !== undefined) record.errcode = answer.errcode;
    }
    if (emit) this.events.emit('request', record);
  }

  private finish(
    record: Mutable<SimulatedRequest>,
    res: ServerResponse,
    answer: Reply,
    delayMs: number,
    emit = true,
  ): void {
    this.decided(record, answer, emit);
    const send = (): void => {
      if (res.destroyed || res.writableEnded) return;
      res.writeHead(answer.status, { ...answer.headers, 'Content-Length': answer.body.length });
      res.end(answer.body);
      if (answer.headers.Connection === 'close') res.once('finish', () => res.socket?.destroy());
    };
    if (delayMs <= 0) {
      send();
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      send();
    }, delayMs);
    timer.unref();
    this.timers.add(timer);
  }
}

// ---- helpers (pure, no state) ----

function checkLifetime(seconds: number): number {
  if (!(Number.isFinite(seconds) && seconds > 0)) {
    throw new Error(`token lifetime must be a positive number of seconds, got ${seconds}`);
  }
  return seconds;
}

function checkMode(mode: RepeatedGettokenMode): RepeatedGettokenMode {
  if (mode !== 'same-token' && mode !== 'new-token') {
    throw new Error(`repeatedGettoken must be 'same-token' or 'new-token', got '${String(mode)}'`);
  }
  return mode;
}

function normaliseApps(
  apps: readonly SimulatedApp[],
): Map<string, NormalisedApp> {
  if (apps.length === 0) throw new Error('WeComSimulator needs at least one app');
  const byName = new Map<string, NormalisedApp>();
  const secrets = new Set<string>();
  for (const app of apps) {
    if (!app.name) throw new Error('every simulated app needs a name');
    if (byName.has(app.name)) throw new Error(`two simulated apps are named '${app.name}'`);
    // Tokens are checked not to contain any secret; a very short secret would make that impossible.
    if (typeof app.secret !== 'string' || app.secret.length < 4) {
      throw new Error(`simulated app '${app.name}' needs a secret of at least 4 characters`);
    }
    if (secrets.has(app.secret)) throw new Error(`simulated app '${app.name}' shares its secret with another app`);
    secrets.add(app.secret);
    const kind = app.kind ?? 'app';
    if (kind !== 'app' && kind !== 'contacts' && kind !== 'customer-contact') {
      throw new Error(`simulated app '${app.name}' has an unknown kind '${String(kind)}'`);
    }
    byName.set(
      app.name,
      Object.freeze({
        name: app.name,
        secret: app.secret,
        kind,
        ...(app.agentId === undefined ? {} : { agentId: app.agentId }),
      }),
    );
  }
  return byName;
}

function seedDepartments(): SimulatedDepartment[] {
  return [
    { id: 1, name: '广州研发中心', name_en: 'RDGZ', department_leader: ['lisi'], parentid: 0, order: 1 },
    { id: 2, name: '邮箱产品部', name_en: 'mail', department_leader: ['zhangsan'], parentid: 1, order: 2 },
    { id: 3, name: '微信客户端部', name_en: 'wechat', department_leader: [], parentid: 1, order: 3 },
    { id: 4, name: '测试组', name_en: 'qa', department_leader: [], parentid: 3, order: 1 },
  ];
}

function newMediaId(): string {
  return `3${randomBytes(36).toString('base64url')}`;
}

function reply(status: number, contentType: string, body: string): Reply {
  return { status, headers: { 'Content-Type': contentType }, body: Buffer.from(body, 'utf8') };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJson(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/** Reads the whole body, stopping at `limit` bytes. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large' | 'aborted'> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve('too-large');
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (result: Buffer | 'too-large' | 'aborted'): void => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        chunks.length = 0;
        req.pause();
        settle('too-large');
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => settle(Buffer.concat(chunks)));
    req.on('error', () => settle('aborted'));
    req.on('close', () => settle(req.complete ? Buffer.concat(chunks) : 'aborted'));
  });
}

/** A `Content-Disposition` header that survives non-ASCII filenames (Node rejects raw ones in headers). */
function contentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  if (ascii === filename) return `attachment; filename="${filename}"`;
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}

interface MultipartPart {
  readonly name: string;
  readonly filename?: string;
  readonly contentType?: string;
  readonly data: Buffer;
}

/**
 * Parses a multipart/form-data body on bytes, never on strings, so binary content survives. Undefined when the
 * body is not well-formed multipart.
 */
function parseMultipart(body: Buffer, contentType: string | undefined): MultipartPart[] | undefined {
  if (!contentType || !/^multipart\/form-data\s*;/i.test(contentType)) return undefined;
  const boundary = headerParams(contentType.slice(contentType.indexOf(';'))).get('boundary');
  if (!boundary) return undefined;
  const delimiter = Buffer.from(`--${boundary}`, 'latin1');
  const separator = Buffer.from(`\r\n--${boundary}`, 'latin1');
  const headerEnd = Buffer.from('\r\n\r\n', 'latin1');
  let position = body.indexOf(delimiter);
  if (position < 0) return undefined;
  const parts: MultipartPart[] = [];
  for (;;) {
    position += delimiter.length;
    if (body[position] === 0x2d && body[position + 1] === 0x2d) return parts;
    while (body[position] === 0x20 || body[position] === 0x09) position += 1;
    if (body[position] !== 0x0d || body[position + 1] !== 0x0a) return undefined;
    position += 2;
    let contentStart: number;
    let rawHeaders: string;
    if (body[position] === 0x0d && body[position + 1] === 0x0a) {
      rawHeaders = '';
      contentStart = position + 2;
    } else {
      const end = body.indexOf(headerEnd, position);
      if (end < 0) return undefined;
      rawHeaders = body.subarray(position, end).toString('utf8');
      contentStart = end + headerEnd.length;
    }
    const next = body.indexOf(separator, contentStart);
    if (next < 0) return undefined;
    const headers = new Map<string, string>();
    for (const line of rawHeaders.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const disposition = headers.get('content-disposition') ?? '';
    const params = headerParams(disposition.slice(disposition.indexOf(';') + 1 || disposition.length));
    const name = params.get('name');
    if (name === undefined) return undefined;
    const filename = params.get('filename*') ?? params.get('filename');
    const partType = headers.get('content-type');
    parts.push({
      name,
      ...(filename === undefined ? {} : { filename }),
      ...(partType === undefined ? {} : { contentType: partType }),
      // A copy, so a stored upload does not pin the whole request body in memory.
      data: Buffer.from(body.subarray(contentStart, next)),
    });
    position = next + 2;
  }
}

/** `; a=b; c="d"` parameters of a header; decodes RFC 5987 `x*=UTF-8''…` and the `%22`/`%0A`/`%0D` of FormData. */
function headerParams(text: string): Map<string, string> {
  const params = new Map<string, string>();
  const pattern = /(?:^|;)\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g;
  for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
    const key = match[1]!.toLowerCase();
    let value = match[2] !== undefined ? match[2].replace(/\\(.)/g, '$1') : match[3]!.trim();
    if (key.endsWith('*')) {
      const extended = /^([^']*)'[^']*'(.*)$/.exec(value);
      if (extended) {
        try {
          value = decodeURIComponent(extended[2]!);
        } catch {
          continue;
        }
      }
    } else if (match[2] !== undefined) {
      value = value.replace(/%22/g, '"').replace(/%0D/gi, '\r').replace(/%0A/gi, '\n');
    }
    params.set(key, value);
  }
  return params;
}
