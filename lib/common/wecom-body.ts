/**
 * Ground floor: turning what came back from WeCom into a body, bytes, or a typed error. Shared by the gettoken
 * fetcher and the client, so neither has to import the other.
 */
import { WeComApiError } from './errors/wecom-api.error.js';
import { WeComConfigError } from './errors/wecom-config.error.js';
import { WeComCooldownError } from './errors/wecom-cooldown.error.js';
import { WeComShutdownError } from './errors/wecom-shutdown.error.js';
import { WeComTransportError } from './errors/wecom-transport.error.js';
import { apiErrorFor } from './errors/wecom-trusted-ip.error.js';
import { proxyFailureOf, proxyLabelOf } from './proxy-url.js';
import { quoteUntrusted, redactSent } from './redaction.js';
import { AppRef, proxyProblemMessage } from './wecom-token.messages.js';

/** A WeCom JSON body: `errcode` is absent on some successes and non-zero on every failure. */
export type WeComBody = Record<string, unknown> & { errcode?: number; errmsg?: string };

/** What a response carries after decoding: a JSON body, or a file from a binary endpoint. */
export type DecodedResponse = { kind: 'json'; body: WeComBody } | { kind: 'binary'; bytes: Buffer; contentType: string };

/** The parts of an HTTP response this floor needs; an axios response fits. */
export interface ResponseLike {
  status: number;
  headers?: unknown;
  data: unknown;
}

/** A header value from axios' headers object or a plain record. */
export function headerOf(headers: unknown, name: string): string {
  if (!headers || typeof headers !== 'object') return '';
  const h = headers as { get?: (n: string) => unknown } & Record<string, unknown>;
  const value = typeof h.get === 'function' ? h.get(name) : (h[name] ?? h[name.toLowerCase()]);
  return value == null ? '' : String(value);
}

function toBuffer(data: unknown): Buffer | undefined {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return undefined;
}

/** The errcode of a body, when it has a non-zero one. */
export function failedErrcode(body: unknown): number | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const errcode = (body as WeComBody).errcode;
  return typeof errcode === 'number' && errcode !== 0 ? errcode : undefined;
}

/**
 * Decode a response: a non-2xx status, an HTML page or a truncated JSON body becomes a `WeComTransportError`;
 * a file from a binary endpoint is returned as bytes. JSON bodies are parsed here (the client asks axios for raw
 * data), so a truncated body is an error and never a string that a caller would mistake for a result.
 */
export function decodeResponse(ref: AppRef, method: string, path: string, res: ResponseLike): DecodedResponse {
  const contentType = headerOf(res.headers, 'content-type').toLowerCase();
  assertStatus(ref, method, path, res.status, contentType, res);
  const bytes = toBuffer(res.data);
  const looksJson = contentType.includes('json') || contentType.startsWith('text/plain') || contentType === '';
  if (bytes && !looksJson) return { kind: 'binary', bytes, contentType };

  let body: unknown = res.data;
  if (bytes) body = bytes.toString('utf8');
  if (typeof body === 'string') {
    const text: string = body;
    try {
      body = JSON.parse(text);
    } catch {
      throw new WeComTransportError(ref, {
        failure: 'invalid-body',
        method,
        path,
        status: res.status,
        problem: `the body is not valid JSON (${text.length} bytes${contentType ? `, ${quoteUntrusted(contentType.split(';')[0])}` : ''}): truncated, or not from WeCom`,
      });
    }
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new WeComTransportError(ref, { failure: 'invalid-body', method, path, status: res.status, problem: 'the body is not a JSON object' });
  }
  return { kind: 'json', body: body as WeComBody };
}

/**
 * A non-2xx status is a `WeComTransportError`; a 3xx says so, since WeCom never redirects an API call and the
 * module's requests never follow one (a redirect would carry the query string, token included, elsewhere).
 */
function assertStatus(ref: AppRef, method: string, path: string, status: number, contentType: string, res?: ResponseLike): void {
  if (status >= 200 && status < 300) return;
  // 407 comes only from a proxy (here one that answered an absolute-form request itself): its failure, not WeCom's.
  if (status === 407) {
    const proxy = proxyLabelOf(res);
    const problem = proxyProblemMessage(`the proxy${proxy ? ` ${proxy}` : ''} answered HTTP 407 (Proxy Authentication Required): its user or password is missing or wrong`);
    throw new WeComTransportError(ref, { failure: 'proxy', method, path, status, problem, ...(proxy ? { proxy } : {}) });
  }
  const problem =
    status >= 300 && status < 400
      ? `HTTP ${status} redirect: WeCom never redirects an API call, so it was not followed`
      : `HTTP ${status}${contentType ? ` with a ${quoteUntrusted(contentType.split(';')[0])} body` : ''}`;
  throw new WeComTransportError(ref, { failure: 'http-status', method, path, status, problem });
}

/** Above this size a body is not one of WeCom's JSON errors (they are a few hundred bytes), so it is not parsed. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/**
 * The JSON object a body holds, whatever its Content-Type (WeCom sends errors as application/json and as
 * text/plain), or undefined when it holds none: not an object, not JSON, or too large to be an error body.
 */
export function jsonObjectOf(data: unknown): WeComBody | undefined {
  let text: string;
  if (typeof data === 'string') text = data;
  else {
    const bytes = toBuffer(data);
    if (!bytes) return data && typeof data === 'object' && !Array.isArray(data) ? (data as WeComBody) : undefined;
    if (bytes.length > MAX_ERROR_BODY_BYTES) return undefined;
    text = bytes.toString('utf8');
  }
  if (text.length > MAX_ERROR_BODY_BYTES || !/^[\s\uFEFF]*\{/.test(text)) return undefined;
  try {
    const parsed: unknown = JSON.parse(text.replace(/^\uFEFF/, ''));
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as WeComBody) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Decode the answer of a download: a non-2xx status is a transport error, a JSON object with a non-zero errcode (any
 * Content-Type) a `WeComApiError`; anything else is the file, JSON files included.
 */
export function decodeDownload(ref: AppRef, method: string, path: string, res: ResponseLike, sent: SentValues): { bytes: Buffer; contentType: string } {
  const contentType = headerOf(res.headers, 'content-type');
  assertStatus(ref, method, path, res.status, contentType.toLowerCase(), res);
  const body = jsonObjectOf(res.data);
  if (body) assertOk(ref, path, body, sent);
  const bytes = toBuffer(res.data) ?? Buffer.from(typeof res.data === 'string' ? res.data : JSON.stringify(res.data ?? null), 'utf8');
  return { bytes, contentType };
}

/** What a request sent, to redact from its answer: the values, or how to find them (only on a failure, then). */
export type SentValues = readonly string[] | (() => readonly string[]);

/**
 * The error for a non-zero errcode WeCom (or a gateway) answered, with every credential the request sent (`sent`,
 * see `sentSecretsOf`) redacted from its errmsg first: an upstream that echoes the request must not put a secret,
 * ticket, code or token into a message, a log line, `util.inspect` or JSON of the error. Every path that turns an
 * answer into a `WeComApiError` goes through here.
 */
export function apiErrorOf(ref: AppRef, path: string, errcode: number, errmsg: unknown, sent: SentValues): WeComApiError {
  return apiErrorFor(ref, path, errcode, redactSent(typeof errmsg === 'string' ? errmsg : '', typeof sent === 'function' ? sent() : sent));
}

/** Throw `WeComApiError` when the body carries a non-zero errcode; `sent` is redacted from its errmsg. */
export function assertOk(ref: AppRef, path: string, body: WeComBody, sent: SentValues): WeComBody {
  const errcode = failedErrcode(body);
  if (errcode !== undefined) throw apiErrorOf(ref, path, errcode, body.errmsg, sent);
  return body;
}

const UNTRUSTED_CERTIFICATE = 'the TLS certificate is not trusted (behind a TLS-inspecting proxy, give Node its CA with NODE_EXTRA_CA_CERTS)';

const NETWORK_PROBLEMS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset before a response',
  EPIPE: 'connection closed while sending',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ERR_SOCKET_CONNECTION_TIMEOUT: 'connection timed out',
  ERR_BAD_RESPONSE: 'the body was cut off, or larger than maxContentLength',
  ERR_INVALID_URL: 'the URL is not valid',
  DEPTH_ZERO_SELF_SIGNED_CERT: UNTRUSTED_CERTIFICATE,
  SELF_SIGNED_CERT_IN_CHAIN: UNTRUSTED_CERTIFICATE,
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: UNTRUSTED_CERTIFICATE,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: UNTRUSTED_CERTIFICATE,
  CERT_HAS_EXPIRED: "the TLS certificate has expired (or this machine's clock is wrong)",
  ERR_TLS_CERT_ALTNAME_INVALID: 'the TLS certificate is for another host name',
};

/**
 * A clean error from whatever a transport threw (an AxiosError carries the full URL, with `corpsecret` or
 * `access_token`, in message, config and request: nothing of it is kept). Errors of this module pass through.
 */
export function toTransportError(ref: AppRef, method: string, path: string, error: unknown, timeoutMs: number): Error {
  if (error instanceof WeComApiError || error instanceof WeComTransportError) return error;
  // The credential could not be had (cool-down, shutdown, configuration): no request was sent, so it is no network
  // failure either; the caller needs that error's own words (what to do, when to retry).
  if (error instanceof WeComCooldownError || error instanceof WeComShutdownError || error instanceof WeComConfigError) return error;
  const proxied = proxyFailureOf(error);
  if (proxied) {
    const { proxy, code, status } = proxied;
    return new WeComTransportError(ref, {
      failure: 'proxy',
      method,
      path,
      proxy,
      problem: proxyProblemMessage(proxied.problem),
      ...(code ? { code } : {}),
      ...(status ? { status } : {}),
    });
  }
  const e = (error ?? {}) as { code?: unknown; response?: ResponseLike; message?: unknown };
  // A 2xx whose body then failed (cut off, too large) is a transport failure, not a body to decode.
  if (e.response && typeof e.response.status === 'number' && (e.response.status < 200 || e.response.status >= 300)) {
    try {
      decodeResponse(ref, method, path, e.response);
    } catch (decoded) {
      return decoded as Error;
    }
  }
  const code = typeof e.code === 'string' ? e.code : undefined;
  if (code === 'ECONNABORTED' || code === 'ETIMEDOUT' || code === 'ERR_SOCKET_CONNECTION_TIMEOUT') {
    return new WeComTransportError(ref, { failure: 'timeout', method, path, code, problem: `no response within ${timeoutMs} ms (${code})` });
  }
  if (code === 'ERR_CANCELED') {
    return new WeComTransportError(ref, { failure: 'network', method, path, code, problem: 'the request was cancelled' });
  }
  const problem = code ? `${NETWORK_PROBLEMS[code] ?? 'network error'} (${code})` : 'network error';
  return new WeComTransportError(ref, { failure: 'network', method, path, ...(code ? { code } : {}), problem });
}
