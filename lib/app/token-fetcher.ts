/**
 * Fetching a token from WeCom's gettoken: one request, bounded retries of transient failures, typed errors.
 * The only place that reveals the secret, and only into the request's query string.
 */
import axios, { AxiosInstance } from 'axios';
import { backoffMs, sleep } from '../bounded.js';
import { WeComApiError } from '../errors/wecom-api.error.js';
import { WeComTransportError } from '../errors/wecom-transport.error.js';
import type { TokenEntry } from '../interfaces/token-entry.interface.js';
import { assertOk, decodeResponse, toTransportError } from '../wecom-body.js';
import type { WeComTokenConfig } from './wecom-token.config.js';
import { GETTOKEN_PATH, TRANSIENT_ERRCODES } from '../wecom-token.constants.js';

/** Whether a failure of gettoken is worth another attempt. */
export function isTransient(error: unknown): boolean {
  if (error instanceof WeComApiError) return TRANSIENT_ERRCODES.has(error.errcode);
  if (error instanceof WeComTransportError) return error.failure !== 'http-status' || (error.status ?? 0) >= 500 || error.status === 429;
  return false;
}


/** Fetches tokens of one app from gettoken. */
export class TokenFetcher {
  private readonly http: AxiosInstance;

  constructor(private readonly config: WeComTokenConfig) {
    this.http = axios.create({
      baseURL: config.baseUrl,
      timeout: config.timeoutMs,
      // Raw text, decoded by the ground floor: a truncated body must be an error, never a half-parsed string.
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
      validateStatus: () => true,
      maxRedirects: 0,
    });
  }

  /** One token, retrying -1 / 45033 / network failures a bounded number of times; other errors at once. */
  async fetch(): Promise<TokenEntry> {
    const { attempts, baseDelayMs, maxDelayMs } = this.config.retry;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.fetchOnce();
      } catch (error) {
        if (attempt + 1 >= attempts || !isTransient(error)) throw error;
        await sleep(backoffMs(attempt, baseDelayMs, maxDelayMs));
      }
    }
  }

  private async fetchOnce(): Promise<TokenEntry> {
    const { config } = this;
    const fetchedAt = Date.now();
    let body;
    try {
      const res = await this.http.get(GETTOKEN_PATH, { params: { corpid: config.corpId, corpsecret: config.secret.reveal() } });
      const decoded = decodeResponse(config, 'GET', GETTOKEN_PATH, res);
      if (decoded.kind !== 'json') throw new WeComTransportError(config, { failure: 'invalid-body', method: 'GET', path: GETTOKEN_PATH, status: res.status, problem: `expected JSON, got ${decoded.contentType}` });
      body = assertOk(config, GETTOKEN_PATH, decoded.body);
    } catch (error) {
      throw toTransportError(config, 'GET', GETTOKEN_PATH, error, config.timeoutMs);
    }
    const token = body.access_token;
    const expiresIn = body.expires_in;
    if (typeof token !== 'string' || token === '' || typeof expiresIn !== 'number' || !(expiresIn > 0)) {
      throw new WeComTransportError(config, { failure: 'invalid-body', method: 'GET', path: GETTOKEN_PATH, status: 200, problem: 'the body has no access_token and positive expires_in' });
    }
    // Measured from the moment the request was sent: conservative by the round trip.
    return { token, expiresAt: fetchedAt + expiresIn * 1000, fetchedAt };
  }
}
