/**
 * Attaches a credential (an app's access_token, a suite's suite_access_token, …) to the requests an axios instance
 * sends to its `baseUrl` (and only those), and replaces a rejected one once: a rejection errcode invalidates exactly
 * the credential that was sent, one fetch serves every call that saw the rejection, and the call is replayed once.
 * Every request it attaches a credential to is bounded as a whole by the binding's `timeoutMs`, follows no
 * redirect, and fails only with the module's own errors.
 */
import type { HttpService } from '@nestjs/axios';
import axiosLib from 'axios';
import type { AxiosInstance, AxiosResponse, InternalAxiosRequestConfig } from 'axios';
import { inspect } from 'node:util';
import { bindingOf, CredentialBinding, CredentialSource } from './credential-binding.js';
import { CredentialParam, CredentialScope } from './credential-url.js';
import { Deadline, DEADLINE, deadlineOf, transportErrorOf } from './deadline.js';
import { publishRejected } from '../observability/diagnostics.js';
import { WeComApiError } from '../common/errors/wecom-api.error.js';
import { WeComTransportError } from '../common/errors/wecom-transport.error.js';
import { pathOf, sentSecretsOf } from '../common/redaction.js';
import { apiErrorOf, failedErrcode, jsonObjectOf } from '../common/wecom-body.js';
import type { AppRef } from '../common/wecom-token.messages.js';

/** Marks a replayed request, so that a second rejection fails instead of looping. A string key: axios keeps it. */
const REPLAYED = 'wecomTokenReplayed';
/** The interceptor that attached its credential to a request. */
const CARRIER = 'wecomCredentialCarrier';
/** The adapter a request had before the interceptor put its scope guard in front of it. */
const ADAPTER = 'wecomOriginalAdapter';
/** Marks a request the guard took the credential out of (moved off baseUrl after the interceptor attached it). */
const WITHDRAWN = 'wecomCredentialWithdrawn';
/** axios' own default, should a request reach the guard without one. */
const DEFAULT_ADAPTERS: NonNullable<InternalAxiosRequestConfig['adapter']> = ['xhr', 'http', 'fetch'];

type TokenRequestConfig = InternalAxiosRequestConfig & {
  [REPLAYED]?: boolean;
  [DEADLINE]?: Deadline | undefined;
  [CARRIER]?: AccessTokenInterceptor | undefined;
  [ADAPTER]?: InternalAxiosRequestConfig['adapter'];
  [WITHDRAWN]?: boolean;
};

const ACCESS_TOKEN = new CredentialParam('access_token');

/** `url` with `access_token=token` as its only access_token query parameter (a replay replaces the rejected one). */
export function withAccessToken(url: string, token: string): string {
  return ACCESS_TOKEN.attach(url, token);
}

/** The access_token a URL carries, if any. */
export function accessTokenOf(url: string): string | undefined {
  return ACCESS_TOKEN.read(url);
}

/** The credential interceptor of one app (or suite credential); attach it to any `HttpService` or axios instance. */
export class AccessTokenInterceptor {
  private readonly attached = new Map<AxiosInstance, { request: number; response: number }>();
  private readonly tokens: CredentialBinding;
  private readonly scope: CredentialScope;
  private readonly param: CredentialParam;
  /** The rejection errcodes as text: most bodies are ruled out by a substring check, without parsing them. */
  private readonly rejectedText: readonly string[];

  /** @internal Built by the module for each app (and by `WeComSuiteModule` for each of its credentials). */
  constructor(source: CredentialSource) {
    this.tokens = bindingOf(source);
    this.scope = new CredentialScope(this.tokens.baseUrl);
    this.param = new CredentialParam(this.tokens.param);
    this.rejectedText = [...this.tokens.rejectedErrcodes].map(String);
  }

  /**
   * Whether a request goes to this app's `baseUrl` (same origin, path under the base path), decided on the URL as
   * axios will resolve it.
   */
  targets(config: { baseURL?: string; url?: string; allowAbsoluteUrls?: boolean }): boolean {
    return this.scope.contains(config);
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

  /** What the interceptor is for, never a credential. */
  toJSON(): Record<string, string> {
    return { app: this.ref.app, corpId: this.ref.corpId, baseUrl: this.tokens.baseUrl, param: this.tokens.param };
  }

  [inspect.custom](): string {
    return `AccessTokenInterceptor ${inspect(this.toJSON())}`;
  }

  private get ref(): AppRef {
    return this.tokens.ref;
  }

  /**
   * Runs in front of the request's adapter, after every request interceptor: axios runs the interceptors registered
   * before this one after it, and one of them may have moved the request off baseUrl. Such a request still goes where
   * it was sent, without the credential.
   */
  private readonly guard = (config: TokenRequestConfig): Promise<AxiosResponse> => {
    if (!this.targets(config)) {
      config.url = this.param.remove(config.url ?? '');
      config[WITHDRAWN] = true;
    }
    // A copy put into `params` after ours would be serialized after it, a second value WeCom may read instead.
    if (config.params) config.params = this.param.strip(config.params as Record<string, unknown>);
    return axiosLib.getAdapter(config[ADAPTER] ?? DEFAULT_ADAPTERS, config)(config);
  };

  private async onRequest(config: TokenRequestConfig): Promise<InternalAxiosRequestConfig> {
    if (!this.targets(config)) return config;
    const token = await this.tokens.getToken();
    // Into the URL itself rather than `params`: axios' params serializer costs more than the rest of the interceptor
    // (bench/interceptor), and the URL is where WeCom wants it (41001 otherwise).
    config.url = this.param.attach(config.url ?? '', token);
    if (config.params) config.params = this.param.strip(config.params as Record<string, unknown>);
    config[CARRIER] = this;
    config[WITHDRAWN] = false;
    // The app's egress: a request carrying its credential leaves through its proxy, whatever HttpService sends it.
    const egress = this.tokens.egress;
    if (egress) {
      config.proxy = false;
      if (egress.httpAgent) config.httpAgent = egress.httpAgent;
      if (egress.httpsAgent) config.httpsAgent = egress.httpsAgent;
    }
    // A replay carries the guard over from its first attempt: keep the adapter it had before.
    if (config.adapter !== this.guard) config[ADAPTER] = config.adapter;
    config.adapter = this.guard;
    // WeCom never redirects an API call: a redirect would carry the query string, credential included, elsewhere.
    config.maxRedirects = 0;
    // The deadline starts once the credential is at hand: the bound is on the exchange with WeCom, and a wait for the
    // credential (bounded on its own) does not eat into it. One set by the client is restarted rather than replaced
    // (a second controller and timer per call on the hot path), unless it already fired during that wait; the
    // caller's own signal still applies.
    const previous = deadlineOf(config);
    if (previous && !previous.signal.aborted) {
      previous.start(this.tokens.timeoutMs);
      return config;
    }
    const deadline = new Deadline(previous ? previous.callerSignal : (config.signal as AbortSignal | undefined));
    config[DEADLINE] = deadline;
    config.signal = deadline.signal;
    deadline.start(this.tokens.timeoutMs);
    return config;
  }

  private async onResponse(axios: AxiosInstance, response: AxiosResponse): Promise<AxiosResponse> {
    const config = response.config as TokenRequestConfig;
    if (config[CARRIER] !== this) return response;
    const deadline = deadlineOf(config);
    deadline?.clear();
    // The credential was not sent: whatever the other host answers is not a rejection of it.
    if (config[WITHDRAWN]) return response;
    const errcode = this.rejectionOf(response);
    if (errcode === undefined) return response;
    const path = pathOf(config.url);
    if (config[REPLAYED]) {
      // Rejected again right after a fresh credential: not a problem we can fix by looping.
      const body = jsonObjectOf(response.data);
      throw apiErrorOf(this.ref, path, errcode, body?.errmsg, sentSecretsOf(config));
    }
    const sent = this.param.read(config.url ?? '');
    publishRejected({ kind: this.tokens.kind, corpId: this.ref.corpId, app: this.ref.app, errcode });
    if (typeof sent === 'string') await this.tokens.invalidate(sent);
    // A new deadline for the replay (the caller's own signal still applies); the interceptor attaches a new credential.
    const replay: TokenRequestConfig = { ...config, [REPLAYED]: true, [DEADLINE]: undefined, [CARRIER]: undefined, signal: deadline?.callerSignal };
    return axios.request(replay);
  }

  /** The rejection errcode a 2xx response carries, if any. */
  private rejectionOf(response: AxiosResponse): number | undefined {
    const data: unknown = response.data;
    if (response.status < 200 || response.status >= 300) return undefined;
    if (typeof data === 'string' || Buffer.isBuffer(data)) {
      if (!this.rejectedText.some((code) => data.includes(code))) return undefined;
    } else if (data instanceof ArrayBuffer) {
      const text = Buffer.from(data);
      if (!this.rejectedText.some((code) => text.includes(code))) return undefined;
    }
    const errcode = failedErrcode(jsonObjectOf(data));
    return errcode !== undefined && this.tokens.rejectedErrcodes.has(errcode) ? errcode : undefined;
  }

  /**
   * Every failure of a request that carried the credential becomes the module's own error: an AxiosError holds the
   * URL, credential included, in its message, config and request.
   */
  private onError(error: unknown): never {
    const config = (error as { config?: TokenRequestConfig } | undefined)?.config;
    if (config && config[CARRIER] === this) {
      const deadline = deadlineOf(config);
      deadline?.clear();
      const method = (config.method ?? 'GET').toUpperCase();
      throw transportErrorOf(this.ref, method, pathOf(config.url), error, deadline, this.tokens.timeoutMs);
    }
    if (!config && this.mentionsParam(error)) {
      // No config to tell which request it was (a TypeError from URL parsing): keep nothing of it.
      throw new WeComTransportError(this.ref, { failure: 'network', method: 'GET', path: '/', problem: 'the request failed before it was sent' });
    }
    throw error;
  }

  private mentionsParam(error: unknown): boolean {
    if (error instanceof WeComApiError || error instanceof WeComTransportError) return false;
    const e = error as { message?: unknown; input?: unknown; stack?: unknown } | undefined;
    const key = `${this.tokens.param}=`;
    return [e?.message, e?.input, e?.stack].some((text) => typeof text === 'string' && text.includes(key));
  }
}

function axiosOf(http: HttpService | AxiosInstance): AxiosInstance {
  return 'axiosRef' in http ? http.axiosRef : http;
}
