/**
 * The simulator's public types, in one leaf file so that every role file can import them without a circle.
 */
import type { IncomingHttpHeaders } from 'node:http';

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
  /**
   * The IP named in error hints (`from ip: …`), as WeCom names the caller's IP, whatever address the request came from
   * (as if behind a NAT). Default: the address of the peer that sent the request (a proxy's, when one is in between).
   */
  clientIp?: string;
  /**
   * Request bodies larger than this get HTTP 413. Default 21 MiB: WeCom's largest upload (a 20 MB file) plus
   * multipart overhead.
   */
  maxBodyBytes?: number;
  /**
   * Lifetime of newly issued JS-SDK tickets (corp and agent) in seconds. Default 7200, as WeCom answers; fractions
   * allowed, `expires_in` rounded up.
   */
  ticketLifetimeSeconds?: number;
  /**
   * A ticket fetch while a ticket of that kind and app is still valid: `'same-ticket'` (default) returns it with the
   * remaining `expires_in`; `'new-ticket'` issues a new one with a full lifetime, the old one staying valid.
   */
  repeatedTicket?: RepeatedTicketMode;
  /** WeCom's hourly ticket limits (doc 96909); each field defaults to WeCom's value. Tests set small ones. */
  ticketLimits?: Partial<SimulatedTicketLimits>;
  /** Third-party suites (see suites.ts). Default: one suite, `DEFAULT_SUITE`. */
  suites?: SimulatedSuite[];
  /** The provider (服务商) for get_provider_token. Default `DEFAULT_PROVIDER`. */
  provider?: { corpId?: string; secret?: string };
  /** Lifetime of suite, provider and authorised-corp tokens, in seconds. Default 7200. */
  suiteTokenLifetimeSeconds?: number;
  /**
   * Members the OAuth pages can sign in (oauth.ts); the first is signed in at the start. Default: zhangsan and lisi,
   * the users of `user/get`, with mobile, email and the other user_ticket fields.
   */
  members?: SimulatedMember[];
}

/** See {@link WeComSimulatorOptions.repeatedGettoken}. */
export type RepeatedGettokenMode = 'same-token' | 'new-token';

/** See {@link WeComSimulatorOptions.repeatedTicket}. */
export type RepeatedTicketMode = 'same-ticket' | 'new-ticket';

/**
 * The two JS-SDK tickets: `'corp'` from `GET /cgi-bin/get_jsapi_ticket` (for `wx.config` / `ww.register`'s
 * `getConfigSignature`), `'agent'` from `GET /cgi-bin/ticket/get?type=agent_config` (for `wx.agentConfig` /
 * `getAgentConfigSignature`).
 */
export type SimulatedTicketKind = 'corp' | 'agent';

/**
 * How many ticket fetches WeCom allows in a sliding window before it answers 45009. Both kinds count together: the
 * docs (96909) state one budget per app and one per corp for "获取ticket", without splitting them by kind, so the
 * stricter reading is simulated. Only fetches that passed the token check count; fetches answered 45009 do not.
 */
export interface SimulatedTicketLimits {
  /** Fetches per app (the app whose token is sent) per window. WeCom: 100. */
  perApp: number;
  /** Fetches per corp, all apps together, per window. WeCom: 400. */
  perCorp: number;
  /** The window in seconds. WeCom: 3600 (one hour). Tests use a short one to see the block end. */
  windowSeconds: number;
}

/** What {@link WeComSimulator.verifySignature} checks: the values a page passes to `wx.config` / `wx.agentConfig`. */
export interface SimulatedSignatureInput {
  /** Which ticket the page's signature must have been made with. */
  kind: SimulatedTicketKind;
  /** The app whose ticket it must be. Default `'default'`. */
  appName?: string;
  /** The page's URL; a `#fragment` is removed first, as the JS-SDK removes it. */
  url: string;
  /** The nonce the page sends (`nonceStr`). */
  nonceStr: string;
  /** The timestamp the page sends, in seconds. */
  timestamp: number | string;
  /** The hex SHA-1 signature the page sends. */
  signature: string;
}

/** The outcome of {@link WeComSimulator.verifySignature}. */
export interface SimulatedSignatureCheck {
  /** True when the signature was made with a ticket of that kind and app that is valid now. */
  readonly valid: boolean;
  /**
   * Why not: `'invalid signature'` (what the page sees) followed by the detail the page never gets: no valid
   * ticket, signed with a revoked or expired ticket, or with no ticket of the app at all.
   */
  readonly reason?: string;
}

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
 * - `trickle`: the request is handled normally (a token or ticket is issued), its status and headers are sent at once
 *   without a Content-Length (chunked), then one byte every `intervalMs`: the answer's bytes, then spaces forever
 *   (JSON allows trailing whitespace, so only a bound on the whole exchange stops it). With `bytes`, the response
 *   ends after that many bytes: fewer than the answer's length is a slow truncated body, more is a slow valid one.
 *   {@link WeComSimulator.close} ends it.
 * - `redirect`: a 3xx (default 302) with `Location: location` and a small HTML body; nothing is issued.
 * - `status`: any HTTP status (200–599) with `body` (default empty) as `contentType` (default `text/plain;
 *   charset=UTF-8`), e.g. a 503 HTML page or a 429; nothing is issued.
 * - `body`: HTTP 200 with a raw `body` as `contentType` (default WeCom's JSON type), for absurd answers such as
 *   `{"errcode":0,"access_token":"x","expires_in":1e12}`, a string errcode or a missing `expires_in`. The request log
 *   records its errcode when the body is JSON with a numeric one. Nothing is issued.
 */
export type SimulatedFault =
  | { errcode: number; errmsg?: string }
  | { kind: 'html-502' }
  | { kind: 'truncated-json' }
  | { kind: 'drop' }
  | { kind: 'delay'; ms: number }
  | { kind: 'hang' }
  | { kind: 'trickle'; intervalMs: number; bytes?: number }
  | { kind: 'redirect'; location: string; status?: number }
  | { kind: 'status'; status: number; body?: string | Uint8Array; contentType?: string }
  | { kind: 'body'; body: string | Uint8Array; contentType?: string }
  /**
   * A gateway or WeCom echoing the request: errcode `errcode` (default 40001) whose errmsg holds the full URL, query
   * string included, and the whole body as received; tests scan the module's errors and logs for what it sent.
   */
  | { kind: 'echo'; errcode?: number };

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
  /** The address the request came from (a proxy's, when one is in between), IPv4-mapped IPv6 as plain IPv4. */
  readonly peer: string;
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
export type SimulatedApiHandler = (context: SimulatedApiContext) => Record<string, unknown> | Promise<Record<string, unknown>>;

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

/** One suite of the simulated provider (third-party app). */
export interface SimulatedSuite {
  suiteId: string;
  suiteSecret: string;
  /** The 指令回调 Token. Default `'simSuiteCallbackToken'`. */
  callbackToken?: string;
  /** The 43-character EncodingAESKey of the 指令回调. Default: a fixed key. */
  encodingAESKey?: string;
}

/** A member of the simulated corp (or of an authorised corp), with the fields behind a user_ticket. */
export interface SimulatedMember {
  userId: string;
  /** The member's corp. Default: the simulator's corpId. */
  corpId?: string;
  /** Shown on the consent page. */
  name?: string;
  gender?: string;
  avatar?: string;
  qrCode?: string;
  mobile?: string;
  email?: string;
  bizMail?: string;
  address?: string;
}

/** Someone who is not a member: WeCom gives an openid (and an external_userid for an external contact). */
export interface SimulatedVisitor {
  openId: string;
  externalUserId?: string;
}
