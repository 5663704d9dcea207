import { AppRef, transportErrorMessage } from '../wecom-token.messages.js';

/**
 * Why a call to WeCom got no usable answer. `'proxy'`: the app's forward proxy could not be reached, asked for
 * credentials (407) or refused the CONNECT; `proxy` names it (host and port, never its credentials).
 */
export type WeComTransportFailure = 'network' | 'timeout' | 'http-status' | 'invalid-body' | 'proxy';

/**
 * A call to WeCom got no usable answer: the connection failed or timed out, the HTTP status was not 2xx, or the
 * body was not the JSON WeCom sends. Built from facts only (method, path, status, network code), never from the
 * axios error, whose message, config and request carry the full URL with `corpsecret` or `access_token`.
 */
export class WeComTransportError extends Error {
  /** What kind of failure this was. */
  readonly failure: WeComTransportFailure;
  /** HTTP method, upper case. */
  readonly method: string;
  /** The API path, without query string. */
  readonly path: string;
  /** The HTTP status, when a response arrived. */
  readonly status?: number;
  /** The network error code (`ECONNREFUSED`, `ECONNRESET`, `ETIMEDOUT`, …), when there was one. */
  readonly code?: string;
  /** The forward proxy the call went through (`host:port`), when the failure was the proxy's. */
  readonly proxy?: string;
  /** The corp the call was made for. */
  readonly corpId: string;
  /** The registered app name. */
  readonly app: string;

  constructor(ref: AppRef, init: { failure: WeComTransportFailure; method: string; path: string; problem: string; status?: number; code?: string; proxy?: string }) {
    super(transportErrorMessage(ref, init.method, init.path, init.problem));
    this.name = 'WeComTransportError';
    this.failure = init.failure;
    this.method = init.method.toUpperCase();
    this.path = init.path;
    if (init.status !== undefined) this.status = init.status;
    if (init.code !== undefined) this.code = init.code;
    if (init.proxy !== undefined) this.proxy = init.proxy;
    this.corpId = ref.corpId;
    this.app = ref.app;
  }
}
