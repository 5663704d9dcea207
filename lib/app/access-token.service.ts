/**
 * The public face of one WeCom app's access_token: one credential of the engine, fetched from gettoken.
 */
import { OnApplicationShutdown, OnModuleDestroy } from '@nestjs/common';
import type { AxiosInstance } from 'axios';
import type { Cache } from 'cache-manager';
import { inspect } from 'node:util';
import { Credential } from '../engine/credential.js';
import { InProcessTokenLock } from '../engine/in-process-token-lock.js';
import type { TimeoutRegistry } from '../engine/refresh-schedule.js';
import type { CredentialBinding } from '../http/credential-binding.js';
import { resolveEgress, type WeComEgress } from '../http/egress.js';
import type { TokenEntry } from '../common/interfaces/token-entry.interface.js';
import type { TokenLock } from '../common/interfaces/token-lock.interface.js';
import { maskToken } from '../common/redaction.js';
import { WeComShutdownError } from '../common/errors/wecom-shutdown.error.js';
import { GETTOKEN_PATH, TOKEN_REJECTED_ERRCODES } from '../common/wecom-token.constants.js';
import type { AppRef } from '../common/wecom-token.messages.js';
import { credentialHttp, entryFromBody, requestCredential } from '../common/credential-request.js';
import { settingsOf, type WeComTokenConfig } from '../common/wecom-token.config.js';

export { refreshPoint } from '../engine/credential.js';

const GETTOKEN_REQUEST = Object.freeze({ method: 'GET' as const, path: GETTOKEN_PATH });

/** What a registry app's failed fetch turns into (an object, not a closure: a registry holds thousands of apps). */
export interface TokenRecovery {
  recover(error: unknown): Promise<string>;
}

/**
 * One app's access_token: cached, shared, refreshed ahead of expiry, replaced once when WeCom rejects it.
 * Injected as `AccessTokenService` for the default app, `@InjectAccessTokenService(name)` for a named one.
 */
export class AccessTokenService implements OnModuleDestroy, OnApplicationShutdown {
  /** @internal The engine's credential behind this service. */
  readonly credential: Credential;
  /** @internal The lock every credential of this app shares (closed once, with this service). */
  readonly lock: TokenLock;
  private bound?: CredentialBinding;
  /** @internal How this app's requests leave the process (its proxy, the environment's, or none). */
  readonly egress: WeComEgress;
  private readonly ref: AppRef;

  /** @internal Built by `WeComTokenModule`; not meant to be constructed by applications. */
  constructor(
    private readonly config: WeComTokenConfig,
    /** @internal The cache this app's credentials share. */
    readonly cache: Cache,
    /** @internal The application's SchedulerRegistry, when it has one. */
    readonly scheduler?: TimeoutRegistry,
    /** @internal A pooled egress (registry apps); by default the app's own, from its `proxy` option. */
    egress?: WeComEgress,
    /**
     * @internal What a failed fetch turns into (registry apps: a 40001 asks the registry's loader once more for a
     * rotated secret and answers with the new app's token); by default the failure itself.
     */
    private readonly recovery?: TokenRecovery,
    /** @internal The gettoken client, shared by the apps of a registry with the same egress and root. */
    http?: AxiosInstance,
  ) {
    this.ref = { corpId: config.corpId, app: config.app };
    this.lock = config.lock ?? new InProcessTokenLock();
    this.egress = egress ?? resolveEgress(config.proxy, config.baseUrl);
    const client = http ?? credentialHttp(config.baseUrl, this.egress.axios);
    const request = GETTOKEN_REQUEST;
    this.credential = new Credential(
      {
        ...settingsOf(config, this.ref),
        kind: 'access_token',
        timerName: `WeComTokenRefresh(${config.app})`,
        cacheKey: config.cacheKey,
        valueField: 'token',
        cache,
        lock: this.lock,
        ...(config.backgroundRefresh && scheduler ? { scheduler } : {}),
        fetchOnce: async (signal) => {
          const fetchedAt = Date.now();
          // The only place that reveals the secret, and only into the request's query string.
          const params = { corpid: config.corpId, corpsecret: config.secret.reveal() };
          const body = await requestCredential(client, this.ref, { ...request, params }, signal, config.timeoutMs);
          return entryFromBody(this.ref, request, body, 'access_token', fetchedAt);
        },
      },
      AccessTokenService.name,
    );
  }

  /** @internal What the client and the interceptor need of this token (built on first use). */
  get binding(): CredentialBinding {
    if (this.bound) return this.bound;
    const config = this.config;
    const credential = this.credential;
    this.bound = {
      kind: 'access_token',
      ref: this.ref,
      baseUrl: config.baseUrl,
      param: 'access_token',
      rejectedErrcodes: TOKEN_REJECTED_ERRCODES,
      retry: config.retry,
      timeoutMs: config.timeoutMs,
      egress: this.egress.axios,
      getToken: () => this.getToken(),
      invalidate: (rejected) => credential.invalidate(rejected),
    };
    return this.bound;
  }

  /** The registered app name. */
  get appName(): string {
    return this.config.app;
  }

  /** The corp's ID. */
  get corpId(): string {
    return this.config.corpId;
  }

  /** The app's agentid, where one was configured. */
  get agentId(): string | undefined {
    return this.config.agentId;
  }

  /** WeCom's API root for this app. */
  get baseUrl(): string {
    return this.config.baseUrl;
  }

  /** @internal The bounded retry of transient failures configured for this app. */
  get retryPolicy(): Readonly<WeComTokenConfig['retry']> {
    return this.config.retry;
  }

  /** Whether background refresh timers are set (backgroundRefresh on and ScheduleModule present). */
  get backgroundRefreshActive(): boolean {
    return this.credential.backgroundRefreshActive;
  }

  /**
   * A valid token. Costs no I/O while the held token is before its refresh point; inside the refresh window it
   * returns the held token and refreshes off the caller's path; with no valid token, all concurrent callers share
   * one fetch.
   */
  getToken(): Promise<string> {
    const recovery = this.recovery;
    if (!recovery) return this.credential.get();
    // A registry app replaced (a new secret) or evicted: its held token is not served; the registry answers.
    if (this.credential.closed) return recovery.recover(new WeComShutdownError(this.ref, 'access_token'));
    // A held token before its refresh point cannot fail: no handler to attach.
    const token = this.credential.current();
    if (token !== undefined) return Promise.resolve(token);
    return this.credential.get().catch((error: unknown) => recovery.recover(error));
  }

  /** The held entry (token, expiry, fetch time), without I/O; undefined when none is held. */
  peek(): Readonly<TokenEntry> | undefined {
    return this.credential.peek();
  }

  /** The failure callers get at once while a cool-down lasts (a wrong secret, 45009, …), if one does. */
  lastFailure(): Error | undefined {
    return this.credential.lastFailure();
  }

  /** Fetch a new token now. Concurrent callers (and a refresh already under way) share one fetch. */
  refresh(): Promise<string> {
    return this.credential.refresh();
  }

  /**
   * Forget the token. With `rejectedToken`, only while it is still the one held and cached (compare-and-delete):
   * a newer token, fetched by another caller or instance after the rejection, stays.
   */
  invalidate(rejectedToken?: string): Promise<void> {
    return this.credential.invalidate(rejectedToken);
  }

  /** @internal Aborts fetches in flight, stops the refresh timer, and closes a lock that can be closed. */
  async onModuleDestroy(): Promise<void> {
    if (this.credential.closed) return;
    this.credential.close();
    this.egress.close();
    const lock = this.lock as { close?: () => Promise<void> };
    if (typeof lock.close === 'function') await lock.close().catch(() => undefined);
  }

  /** @internal */
  onApplicationShutdown(): Promise<void> {
    return this.onModuleDestroy();
  }

  /** @internal Shows the app, never the secret or a whole token. */
  [inspect.custom](): string {
    return `AccessTokenService { app: '${this.config.app}', corpId: '${this.config.corpId}', token: ${maskToken(this.peek()?.token)} }`;
  }

  /** @internal */
  toJSON(): Record<string, unknown> {
    const held = this.peek();
    return { app: this.config.app, corpId: this.config.corpId, token: held ? maskToken(held.token) : null, expiresAt: held?.expiresAt ?? null };
  }
}
