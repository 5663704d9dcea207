/**
 * Asking WeCom for a credential: one request within its deadline, the answer checked, typed errors. Shared by the
 * access token (gettoken) and the JS-SDK tickets; the suite's credentials use it too.
 */
import axios, { AxiosInstance } from 'axios';
import type { Agent as HttpAgent } from 'node:http';
import type { FailureClass } from './interfaces/failure-class.interface.js';
import { WeComApiError } from './errors/wecom-api.error.js';
import { WeComSuiteStateError } from './errors/wecom-suite-state.error.js';
import { WeComTransportError } from './errors/wecom-transport.error.js';
import type { TokenEntry } from './interfaces/token-entry.interface.js';
import { quoteUntrusted, sentSecretsOf } from './redaction.js';
import { assertOk, decodeResponse, toTransportError, WeComBody } from './wecom-body.js';
import { MAX_LIFETIME_SECONDS, RATE_LIMITED_ERRCODE, TRANSIENT_ERRCODES } from './wecom-token.constants.js';
import { AppRef, CREDENTIAL_ERRCODES } from './wecom-token.messages.js';

/** Whether a failure of a credential request is worth another attempt. */
export function isTransient(error: unknown): boolean {
  if (error instanceof WeComApiError) return TRANSIENT_ERRCODES.has(error.errcode);
  if (error instanceof WeComTransportError) {
    // A proxy that refused (403, 407) says the same on a retry; one that could not be reached or is busy may not.
    if (error.failure === 'proxy') return error.status === undefined || error.status >= 500;
    return error.failure !== 'http-status' || (error.status ?? 0) >= 500 || error.status === 429;
  }
  return false;
}

/** How the engine treats a failure of a credential request. */
export function classifyFailure(error: unknown): FailureClass {
  // Raised before any request (no suite_ticket yet, no permanent code, a cancelled corp).
  if (error instanceof WeComSuiteStateError) return 'unsent';
  if (isTransient(error)) return 'transient';
  if (error instanceof WeComApiError) {
    if (error.errcode === RATE_LIMITED_ERRCODE) return 'rate-limited';
    if (CREDENTIAL_ERRCODES.has(error.errcode)) return 'credential';
  }
  return 'other';
}

/** WeCom's errcode of an error, if it carries one. */
export function errcodeOf(error: unknown): number | undefined {
  return error instanceof WeComApiError ? error.errcode : undefined;
}

/** How requests leave the process: the app's egress agents, and axios' own environment-proxy handling off. */
export interface EgressAxiosConfig {
  /** axios' own proxying off: the agents do it, and axios' does not tunnel HTTPS. */
  proxy: false;
  /** The agent for plain-HTTP targets (absolute form through a proxy), when not the default one. */
  httpAgent?: HttpAgent;
  /** The agent for HTTPS targets (CONNECT tunnels through a proxy), when not the default one. */
  httpsAgent?: HttpAgent;
}

/** An axios instance for credential endpoints: raw text, no redirects, every status seen, through `egress`. */
export function credentialHttp(baseUrl: string, egress: EgressAxiosConfig = { proxy: false }): AxiosInstance {
  return axios.create({
    ...egress,
    baseURL: baseUrl,
    // Raw text, decoded by the ground floor: a truncated body must be an error, never a half-parsed string.
    responseType: 'text',
    transformResponse: [(data: unknown) => data],
    validateStatus: () => true,
    // WeCom never redirects an API call: a redirect would carry the secret or a token elsewhere.
    maxRedirects: 0,
  });
}

/** One request to a credential endpoint. */
export interface CredentialRequest {
  method: 'GET' | 'POST';
  path: string;
  params?: Record<string, string>;
  data?: unknown;
}

/**
 * Send one request with `signal` bounding the whole exchange (headers and body), and return WeCom's successful
 * JSON body; everything else is a typed error that carries no URL query, secret or token.
 */
export async function requestCredential(http: AxiosInstance, ref: AppRef, req: CredentialRequest, signal: AbortSignal, timeoutMs: number): Promise<WeComBody> {
  try {
    const res = await http.request({
      method: req.method,
      url: req.path,
      ...(req.params ? { params: req.params } : {}),
      ...(req.data !== undefined ? { data: req.data } : {}),
      signal,
    });
    const decoded = decodeResponse(ref, req.method, req.path, res);
    if (decoded.kind !== 'json')
      throw new WeComTransportError(ref, {
        failure: 'invalid-body',
        method: req.method,
        path: req.path,
        status: res.status,
        problem: `expected JSON, got ${quoteUntrusted(decoded.contentType)}`,
      });
    return assertOk(ref, req.path, decoded.body, () => sentSecretsOf({ params: req.params, data: req.data }));
  } catch (error) {
    if (signal.aborted && !(error instanceof WeComApiError) && !(error instanceof WeComTransportError)) {
      const reason: unknown = signal.reason;
      // Shutdown: the engine's own reason passes through; the deadline: a timeout, whatever stage it hit.
      if (reason instanceof Error && reason.name !== 'TimeoutError') throw reason;
      throw new WeComTransportError(ref, { failure: 'timeout', method: req.method, path: req.path, code: 'ETIMEDOUT', problem: `no complete answer within ${timeoutMs} ms` });
    }
    throw toTransportError(ref, req.method, req.path, error, timeoutMs);
  }
}

/**
 * The credential in `field` and its expiry from a successful body. An `expires_in` that is not a finite number
 * ≥ 1 makes the answer invalid; one above a day counts as a day. Expiry is measured from when the request was sent.
 */
export function entryFromBody(ref: AppRef, req: Pick<CredentialRequest, 'method' | 'path'>, body: WeComBody, field: string, fetchedAt: number): TokenEntry {
  const { method, path } = req;
  const value = body[field];
  const expiresIn = body.expires_in;
  if (typeof value !== 'string' || value === '' || value.length > 2048) {
    throw new WeComTransportError(ref, { failure: 'invalid-body', method, path, status: 200, problem: `the body has no valid ${field}` });
  }
  if (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn) || expiresIn < 1) {
    throw new WeComTransportError(ref, {
      failure: 'invalid-body',
      method,
      path,
      status: 200,
      problem: `expires_in must be a finite number ≥ 1, got ${typeof expiresIn === 'number' ? String(expiresIn) : typeof expiresIn}`,
    });
  }
  return { token: value, expiresAt: fetchedAt + Math.min(expiresIn, MAX_LIFETIME_SECONDS) * 1000, fetchedAt };
}
