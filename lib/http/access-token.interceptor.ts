/**
 * Attaches an app's access_token to the requests an axios instance sends to that app's `baseUrl` (and only
 * those), and replaces a rejected token once: 40014 / 42001 invalidate exactly the token that was sent, one fetch
 * serves every call that saw the rejection, and the call is replayed once.
 */
import type { HttpService } from '@nestjs/axios';
import type { AxiosInstance, AxiosResponse, InternalAxiosRequestConfig } from 'axios';
import { bindingOf, CredentialBinding, CredentialSource } from './credential-binding.js';
import { WeComApiError } from '../errors/wecom-api.error.js';
import { pathOf } from '../redaction.js';
import { decodeResponse, failedErrcode, toTransportError } from '../wecom-body.js';
import type { AppRef } from '../wecom-token.messages.js';

/** Marks a replayed request, so that a second rejection fails instead of looping. A string key: axios keeps it. */
const REPLAYED = 'wecomTokenReplayed';

type TokenRequestConfig = InternalAxiosRequestConfig & { [REPLAYED]?: boolean };

const ACCESS_TOKEN_PARAM = /([?&])access_token=[^&#]*(&?)/;

/** `url` with `access_token=token` as its only access_token query parameter (a replay replaces the rejected one). */
export function withAccessToken(url: string, token: string): string {
  const hash = url.indexOf('#');
  const base = hash >= 0 ? url.slice(0, hash) : url;
  const stripped = base.replace(ACCESS_TOKEN_PARAM, (_, lead: string, tail: string) => (tail ? lead : '')).replace(/[?&]$/, '');
  return `${stripped}${stripped.includes('?') ? '&' : '?'}access_token=${encodeURIComponent(token)}`;
}

/** The access_token a URL carries, if any. */
export function accessTokenOf(url: string): string | undefined {
  const match = /[?&]access_token=([^&#]*)/.exec(url);
  return match ? decodeURIComponent(match[1]!) : undefined;
}

function fullUrl(config: { baseURL?: string; url?: string }): string {
  const url = config.url ?? '';
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return url;
  const base = (config.baseURL ?? '').replace(/\/+$/, '');
  return url ? `${base}/${url.replace(/^\/+/, '')}` : base;
}

/** Whether a raw body could carry 40014 or 42001 at all: most bodies are ruled out without parsing them. */
function mayCarryTokenRejection(data: unknown): boolean {
  if (typeof data === 'string' || Buffer.isBuffer(data)) return data.includes('40014') || data.includes('42001');
  if (data instanceof ArrayBuffer) return mayCarryTokenRejection(Buffer.from(data));
  return true;
}

function errcodeOf(response: AxiosResponse, ref: AppRef): number | undefined {
  if (!mayCarryTokenRejection(response.data)) return undefined;
  try {
    const decoded = decodeResponse(ref, response.config.method ?? 'GET', pathOf(response.config.url), response);
    return decoded.kind === 'json' ? failedErrcode(decoded.body) : undefined;
  } catch {
    return undefined;
  }
}

/** The access_token interceptor of one app; attach it to any `HttpService` or axios instance. */
export class AccessTokenInterceptor {
  private readonly attached = new Map<AxiosInstance, { request: number; response: number }>();
  private readonly base: URL;
  private readonly tokens: CredentialBinding;

  /** @internal Built by the module for each app (and by `WeComSuiteModule` for each of its credentials). */
  constructor(source: CredentialSource) {
    this.tokens = bindingOf(source);
    this.base = new URL(this.tokens.baseUrl);
  }

  /** Whether a request goes to this app's `baseUrl` (same origin, path under the base path). */
  targets(config: { baseURL?: string; url?: string }): boolean {
    // The common case, a path relative to this app's own baseUrl, needs no URL parsing.
    if (config.baseURL === this.tokens.baseUrl && config.url?.startsWith('/') && !config.url.startsWith('//')) return true;
    let target: URL;
    try {
      target = new URL(fullUrl(config));
    } catch {
      return false;
    }
    if (target.origin !== this.base.origin) return false;
    const basePath = this.base.pathname.replace(/\/+$/, '');
    return basePath === '' || target.pathname === basePath || target.pathname.startsWith(`${basePath}/`);
  }

  /** Attach to an `HttpService` (or a bare axios instance); returns a function that detaches again. */
  attach(http: HttpService | AxiosInstance): () => void {
    const axios = axiosOf(http);
    if (this.attached.has(axios)) return () => this.detach(axios);
    const request = axios.interceptors.request.use((config) => this.onRequest(config));
    const response = axios.interceptors.response.use(
      (res) => this.onResponse(axios, res),
      (error: unknown) => this.onError(error),
    );
    this.attached.set(axios, { request, response });
    return () => this.detach(axios);
  }

  /** Remove this interceptor from an `HttpService` or axios instance it was attached to. */
  detach(http: HttpService | AxiosInstance): void {
    const axios = axiosOf(http);
    const ids = this.attached.get(axios);
    if (!ids) return;
    axios.interceptors.request.eject(ids.request);
    axios.interceptors.response.eject(ids.response);
    this.attached.delete(axios);
  }

  private get ref(): AppRef {
    return this.tokens.ref;
  }

  private async onRequest(config: InternalAxiosRequestConfig): Promise<InternalAxiosRequestConfig> {
    if (!this.targets(config)) return config;
    const token = await this.tokens.getToken();
    // Into the URL itself rather than `params`: axios' params serializer costs more than the rest of the interceptor
    // (bench/interceptor), and the URL is where WeCom wants it (41001 otherwise).
    config.url = withAccessToken(config.url ?? '', token);
    const params = config.params as Record<string, unknown> | undefined;
    if (params && 'access_token' in params) {
      const { access_token: _ignored, ...rest } = params;
      config.params = rest;
    }
    return config;
  }

  private async onResponse(axios: AxiosInstance, response: AxiosResponse): Promise<AxiosResponse> {
    const config = response.config as TokenRequestConfig;
    if (!this.targets(config)) return response;
    const errcode = errcodeOf(response, this.ref);
    if (errcode === undefined || !this.tokens.rejectedErrcodes.has(errcode)) return response;
    const sent = accessTokenOf(config.url ?? '');
    const path = pathOf(config.url);
    if (config[REPLAYED]) {
      // Rejected again right after a fresh token: not a token problem we can fix by looping.
      const body = decodeResponse(this.ref, config.method ?? 'GET', path, response);
      const errmsg = body.kind === 'json' && typeof body.body.errmsg === 'string' ? body.body.errmsg : '';
      throw new WeComApiError(this.ref, path, errcode, errmsg);
    }
    if (typeof sent === 'string') await this.tokens.invalidate(sent);
    const replay: TokenRequestConfig = { ...config, [REPLAYED]: true };
    return axios.request(replay);
  }

  private onError(error: unknown): never {
    const config = (error as { config?: InternalAxiosRequestConfig }).config;
    if (config && this.targets(config)) {
      throw toTransportError(this.ref, config.method ?? 'GET', pathOf(config.url), error, config.timeout ?? 0);
    }
    throw error;
  }
}

function axiosOf(http: HttpService | AxiosInstance): AxiosInstance {
  return 'axiosRef' in http ? http.axiosRef : http;
}
