/**
 * A typed client of one WeCom app: the access_token is attached and replaced by `AccessTokenInterceptor`, bodies
 * with a non-zero errcode reject with `WeComApiError`, transport failures with a clean `WeComTransportError`.
 */
import type { HttpService } from '@nestjs/axios';
import type { AxiosRequestConfig, AxiosResponse } from 'axios';
import { inspect } from 'node:util';
import { filenameOf } from './content-disposition.js';
import { bindingOf, CredentialBinding, CredentialSource } from './credential-binding.js';
import { Deadline, DEADLINE, transportErrorOf } from './deadline.js';
import { backoffMs, sleep } from '../common/bounded.js';
import { ProcessHold } from '../common/process-hold.js';
import { WeComApiError } from '../common/errors/wecom-api.error.js';
import { TRANSIENT_ERRCODES } from '../common/wecom-token.constants.js';
import { pathOf, sentSecretsOf } from '../common/redaction.js';
import { assertOk, decodeDownload, decodeResponse, headerOf } from '../common/wecom-body.js';
import type { AppRef } from '../common/wecom-token.messages.js';

/** A file downloaded from a binary endpoint such as `/cgi-bin/media/get`. */
export interface WeComFile {
  /** The file's bytes. */
  bytes: Buffer;
  /** Its Content-Type. */
  contentType: string;
  /** The file name from Content-Disposition, when WeCom sent one. */
  filename?: string;
}

/** A file to upload with `upload` (`/cgi-bin/media/upload`). */
export interface WeComUpload {
  /** The file's bytes, buffered so that a call replayed after a token rejection sends them whole again. */
  data: Buffer | Uint8Array;
  /** The file name WeCom will show. */
  filename: string;
  /** Its Content-Type; default `application/octet-stream`. */
  contentType?: string;
}

/** The answer of `/cgi-bin/media/upload`. */
export interface WeComUploadResult {
  errcode?: number;
  errmsg?: string;
  type: string;
  media_id: string;
  created_at: string;
}

/** Query parameters of a call; `access_token` is added by the interceptor. */
export type WeComParams = Record<string, unknown>;

/** The typed client of one app. Injected as `WeComClient` for the default app, `@InjectWeComClient(name)` otherwise. */
export class WeComClient {
  private readonly tokens: CredentialBinding;
  /** Keeps the process alive while a call is awaited (the backoff between retries is an unref'd timer). */
  private readonly hold = new ProcessHold();

  /** @internal Built by `WeComTokenModule` (and `WeComSuiteModule`). */
  constructor(
    /** The `@nestjs/axios` HttpService of this app (`baseURL`, `timeoutMs`), with the token interceptor attached. */
    readonly http: HttpService,
    source: CredentialSource,
  ) {
    this.tokens = bindingOf(source);
  }

  /** GET `path` (relative to `baseUrl`); resolves to the response body. */
  get<T = unknown>(path: string, params?: WeComParams): Promise<T> {
    return this.call<T>({ method: 'GET', url: path, ...(params ? { params } : {}) });
  }

  /** POST `body` as JSON (a Buffer or FormData as is, buffered) to `path`; resolves to the response body. */
  async post<T = unknown>(path: string, body?: unknown, params?: WeComParams): Promise<T> {
    if (typeof FormData !== 'undefined' && body instanceof FormData) {
      // Buffer the multipart body: a stream would be half consumed when the call is replayed after a rejection.
      const encoded = new Response(body);
      const bytes = Buffer.from(await encoded.arrayBuffer());
      const headers = { 'content-type': encoded.headers.get('content-type') ?? 'multipart/form-data' };
      return this.call<T>({ method: 'POST', url: path, data: bytes, headers, ...(params ? { params } : {}) });
    }
    return this.call<T>({ method: 'POST', url: path, data: body, ...(params ? { params } : {}) });
  }

  /**
   * Download a file from a binary endpoint. The answer is an error only when it is a JSON object with a non-zero
   * errcode, whatever its Content-Type; anything else is the file (CSV, text, HTML, JSON files included). The file
   * name is the base name Content-Disposition gives, decoded leniently.
   */
  async download(path: string, params?: WeComParams): Promise<WeComFile> {
    const config: AxiosRequestConfig = { method: 'GET', url: path, ...(params ? { params } : {}) };
    const res = await this.send(config);
    const file = decodeDownload(this.ref, 'GET', pathOf(path), res, () => sentSecretsOf(res.config ?? config));
    const filename = filenameOf(headerOf(res.headers, 'content-disposition'));
    return { bytes: file.bytes, contentType: file.contentType, ...(filename !== undefined ? { filename } : {}) };
  }

  /** Upload a temporary media file (`/cgi-bin/media/upload?type=…`), multipart, buffered for a safe replay. */
  upload(type: 'image' | 'voice' | 'video' | 'file', file: WeComUpload): Promise<WeComUploadResult> {
    const form = new FormData();
    form.append('media', new Blob([file.data], { type: file.contentType ?? 'application/octet-stream' }), file.filename);
    return this.post<WeComUploadResult>('/cgi-bin/media/upload', form, { type });
  }

  /** Which app this client calls, never a credential (`http` is not shown: it is reachable, and holds none either). */
  toJSON(): Record<string, string> {
    return { app: this.ref.app, corpId: this.ref.corpId, baseUrl: this.tokens.baseUrl };
  }

  [inspect.custom](): string {
    return `WeComClient ${inspect(this.toJSON())}`;
  }

  private get ref(): AppRef {
    return this.tokens.ref;
  }

  /**
   * One call. A GET answered with -1 (busy) or 45033 (concurrency limit) is retried with jittered backoff, bounded
   * by the app's `retry` option; a POST is not, since `message/send` and the like would then happen twice.
   */
  private call<T>(config: AxiosRequestConfig): Promise<T> {
    return this.hold.around(this.attempt<T>(config));
  }

  private async attempt<T>(config: AxiosRequestConfig): Promise<T> {
    const { attempts, baseDelayMs, maxDelayMs } = this.tokens.retry;
    const method = (config.method ?? 'GET').toUpperCase();
    const path = pathOf(config.url);
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await this.send(config);
        const decoded = decodeResponse(this.ref, method, path, res);
        if (decoded.kind === 'binary') return decoded.bytes as unknown as T;
        // What the request carried as sent (the interceptor's token included) is redacted from an error's errmsg.
        return assertOk(this.ref, path, decoded.body, () => sentSecretsOf(res.config ?? config)) as T;
      } catch (error) {
        const retriable = method === 'GET' && error instanceof WeComApiError && TRANSIENT_ERRCODES.has(error.errcode);
        if (!retriable || attempt + 1 >= attempts) throw error;
        await sleep(backoffMs(attempt, baseDelayMs, maxDelayMs));
      }
    }
  }

  /**
   * One exchange, bounded as a whole by `timeoutMs` (a request that gets a token is bounded again by the interceptor,
   * from when the token is attached), with no redirect followed; any failure is the module's own error.
   */
  private async send(config: AxiosRequestConfig): Promise<AxiosResponse<unknown>> {
    const deadline = new Deadline();
    deadline.start(this.tokens.timeoutMs);
    try {
      // Straight to the HttpService's axios instance (same interceptors, same defaults): its Observable wrapper
      // costs a CancelToken and a cancellation error per request, a third of a loopback call (bench/interceptor).
      return await this.http.axiosRef.request<unknown>({
        ...config,
        responseType: 'arraybuffer',
        transformResponse: [(data: unknown) => data],
        maxRedirects: 0,
        signal: deadline.signal,
        [DEADLINE]: deadline,
      } as AxiosRequestConfig);
    } catch (error) {
      throw transportErrorOf(this.ref, (config.method ?? 'GET').toUpperCase(), pathOf(config.url), error, deadline, this.tokens.timeoutMs);
    } finally {
      deadline.clear();
    }
  }
}
