/**
 * `WeComAppRegistry`: apps that arrive at run time (a SaaS product's tenants), each built on the same engine and
 * under the same shared keys as a static app, held in a bounded LRU so memory stays bounded however many keys are
 * asked for over time.
 */
import { OnApplicationShutdown, OnModuleDestroy } from '@nestjs/common';
import type { AxiosInstance } from 'axios';
import type { Cache } from 'cache-manager';
import { setMaxListeners } from 'node:events';
import { inspect } from 'node:util';
import { bounded, describeError, TimeoutError, untilAborted } from '../common/bounded.js';
import { credentialHttp, errcodeOf } from '../common/credential-request.js';
import { quotedKey, WeComRegistryLoaderError, WeComUnknownAppError } from '../common/errors/wecom-unknown-app.error.js';
import type { TokenLock } from '../common/interfaces/token-lock.interface.js';
import { InProcessTokenLock } from '../engine/in-process-token-lock.js';
import type { TimeoutRegistry } from '../engine/refresh-schedule.js';
import { EgressPool, type WeComEgress } from '../http/egress.js';
import { WeComClient } from '../http/wecom.client.js';
import { FetchLimit } from '../engine/fetch-limit.js';
import { AccessTokenService } from './access-token.service.js';
import { RegistryEntry } from './registry-entry.js';
import { JsapiTicketService } from './jsapi-ticket.service.js';
import {
  REGISTRY_LOAD_CONCURRENCY,
  registryAppConfig,
  registryAppName,
  UNKNOWN_KEY_MEMORY_MS,
  UNKNOWN_KEYS_REMEMBERED,
  type WeComRegistryApp,
  type WeComRegistryConfig,
} from './registry.config.js';

/** Shared gettoken clients a registry keeps at most (distinct proxies × API roots). */
const GETTOKEN_CLIENTS_KEPT = 64;
/** The key of the direct egress (no agent of the pool's). */
const DIRECT_AGENT = Object.freeze({});

/** gettoken's answer to a wrong secret: the app's secret may have been rotated in the application's database. */
const ROTATED_SECRET_ERRCODE = 40001;

/**
 * Apps registered at run time, or loaded on first use through the registry's loader. Get a tenant's services per
 * request (`await registry.client(tenantId)`): an app unused for `idleTtlSeconds`, or beyond `maxApps`, leaves
 * memory and is rebuilt on its next use from the shared cache, without a gettoken.
 */
export class WeComAppRegistry implements OnModuleDestroy, OnApplicationShutdown {
  /** Least recently used first. */
  private readonly apps = new Map<string, RegistryEntry>();
  private readonly loading = new Map<string, Promise<RegistryEntry>>();
  /** Loader calls after a 40001, per key: concurrent failures of one app share one. */
  private readonly reloading = new Map<string, Promise<{ tokens: AccessTokenService }>>();
  /** Keys the loader did not know, until when (oldest first, at most UNKNOWN_KEYS_REMEMBERED). */
  private readonly unknown = new Map<string, number>();
  private readonly limit = new FetchLimit(REGISTRY_LOAD_CONCURRENCY);
  private readonly closing = new AbortController();
  /** closing.signal.aborted, as a plain field for the per-call path. */
  private closed = false;
  private readonly egress = new EgressPool();
  private readonly lock: TokenLock;
  private readonly sweeper: NodeJS.Timeout;
  /** How far apart two uses of an app must be for the second to move it in the order of use. */
  private readonly touchEveryMs: number;
  /** Shared gettoken clients, by agent (egress) and root. */
  private readonly gettoken = new Map<object, Map<string, AxiosInstance>>();
  private gettokenCount = 0;
  /** Replaced or unregistered apps whose calls are still in flight. */
  private readonly retiring = new Set<RegistryEntry>();

  /** @internal Built by `WeComTokenModule.forRegistry`. */
  constructor(
    private readonly config: WeComRegistryConfig,
    private readonly cache: Cache,
    private readonly scheduler?: TimeoutRegistry,
  ) {
    // Every load waiting for one of the 16 slots listens to this signal.
    setMaxListeners(0, this.closing.signal);
    this.lock = config.defaults.lock ?? new InProcessTokenLock();
    this.touchEveryMs = Math.min(1_000, Math.floor(config.idleTtlMs / 10));
    const every = Math.max(1_000, Math.min(60_000, Math.floor(config.idleTtlMs / 2)));
    this.sweeper = setInterval(() => this.sweep(), every);
    this.sweeper.unref();
  }

  /** Apps held in memory now. */
  get size(): number {
    return this.apps.size;
  }

  /**
   * Adds or replaces the app under `key`. A new secret (or corp, agent, root, proxy) replaces the app at once: its
   * old token is never served by this registry again. Throws `WeComConfigError` for an app that is not valid.
   */
  register(key: string, app: WeComRegistryApp): void {
    this.assertOpen();
    this.install(this.checkedKey(key), app);
  }

  /** Forgets the app here; calls in flight finish, the shared cache entry stays (other instances may use it). */
  async unregister(key: string): Promise<void> {
    const entry = this.apps.get(key);
    this.unknown.delete(key);
    if (!entry) return;
    this.apps.delete(key);
    this.retire(entry);
  }

  /** Whether an app is held under `key` now (registered, or loaded and not yet evicted). Costs no I/O. */
  has(key: string): boolean {
    return this.apps.has(key);
  }

  /** The app's `AccessTokenService`, loaded through the loader when not held. */
  tokens(key: string): Promise<AccessTokenService> {
    const held = this.apps.get(key);
    // A held app answers without a hop through entry(): this is every request's path.
    if (held !== undefined && !this.closed) {
      this.touch(key, held);
      return Promise.resolve(held.tokens);
    }
    return this.entry(key).then((entry) => entry.tokens);
  }

  /**
   * The app's access_token: `(await tokens(key)).getToken()` in one call, without its two promise hops (a held app
   * with a valid token answers as a static app's getToken() does).
   */
  getToken(key: string): Promise<string> {
    const held = this.apps.get(key);
    if (held !== undefined && !this.closed) {
      const now = Date.now();
      this.touch(key, held, now);
      // A held app is never closed (it leaves `apps` first): its valid token is the answer, read with the same clock
      // (straight from the entry's credential: one object fewer to reach on every call).
      const token = held.credential.current(now);
      return token !== undefined ? Promise.resolve(token) : held.tokens.getToken();
    }
    return this.entry(key).then((entry) => entry.tokens.getToken());
  }

  /** The app's `WeComClient`. */
  async client(key: string): Promise<WeComClient> {
    return (await this.entry(key)).client();
  }

  /** The app's `JsapiTicketService` (JS-SDK tickets and signatures). */
  async tickets(key: string): Promise<JsapiTicketService> {
    return (await this.entry(key)).tickets();
  }

  /** @internal Stops every app's credentials, the sweeper, loads in flight, the egress pool and the lock. */
  async onModuleDestroy(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort(new Error('WeCom app registry: the application is shutting down'));
    clearInterval(this.sweeper);
    for (const entry of this.apps.values()) entry.close();
    for (const entry of this.retiring) entry.close();
    this.apps.clear();
    this.retiring.clear();
    this.unknown.clear();
    this.egress.close();
    this.gettoken.clear();
    const lock = this.lock as { close?: () => Promise<void> };
    if (typeof lock.close === 'function') await lock.close().catch(() => undefined);
  }

  /** @internal */
  onApplicationShutdown(): Promise<void> {
    return this.onModuleDestroy();
  }

  /** @internal */
  [inspect.custom](): string {
    return `WeComAppRegistry { apps: ${this.apps.size}, loading: ${this.loading.size} }`;
  }

  /** @internal Unknown keys remembered now (bounded). */
  get unknownRemembered(): number {
    return this.unknown.size;
  }

  /** @internal */
  toJSON(): Record<string, unknown> {
    return { apps: this.apps.size, loading: this.loading.size };
  }

  private assertOpen(): void {
    if (this.closing.signal.aborted) throw this.closing.signal.reason;
  }

  private checkedKey(key: unknown): string {
    if (typeof key !== 'string' || key === '') throw new WeComUnknownAppError(String(key), this.config.loader !== undefined);
    return key;
  }

  private async entry(key: string): Promise<RegistryEntry> {
    this.assertOpen();
    const held = this.apps.get(key);
    if (held) {
      this.touch(key, held);
      return held;
    }
    this.checkedKey(key);
    const until = this.unknown.get(key);
    if (until !== undefined) {
      if (Date.now() < until) throw new WeComUnknownAppError(key, this.config.loader !== undefined);
      this.unknown.delete(key);
    }
    return this.load(key);
  }

  /** One load per key at a time (single flight), at most 16 keys' loads at once. */
  private load(key: string): Promise<RegistryEntry> {
    const pending = this.loading.get(key);
    if (pending) return pending;
    const promise = this.limit
      .run(this.closing.signal, () => this.callLoader(key))
      .then((app) => {
        // Registered while the loader was being asked: what the application registered wins.
        const current = this.apps.get(key);
        if (current) return current;
        if (!app) {
          this.rememberUnknown(key);
          throw new WeComUnknownAppError(key, this.config.loader !== undefined);
        }
        return this.install(key, app);
      })
      .finally(() => this.loading.delete(key));
    this.loading.set(key, promise);
    return promise;
  }

  /** The loader's answer for `key`, bounded by timeoutMs; its failures name the key. */
  private async callLoader(key: string): Promise<WeComRegistryApp | undefined> {
    const loader = this.config.loader;
    if (!loader) return undefined;
    let app: WeComRegistryApp | undefined | null;
    try {
      // Bounded by timeoutMs, and by shutdown: a loader that ignores both cannot keep a caller (or close()) waiting.
      app = await untilAborted(
        bounded(
          Promise.resolve().then(() => loader(key)),
          this.config.timeoutMs,
          'loader',
        ),
        this.closing.signal,
      );
    } catch (error) {
      if (this.closing.signal.aborted) throw this.closing.signal.reason;
      throw new WeComRegistryLoaderError(key, error instanceof TimeoutError ? `did not answer within ${this.config.timeoutMs} ms (timeoutMs)` : `failed: ${describeError(error)}`);
    }
    if (app === undefined || app === null) return undefined;
    if (typeof app !== 'object') throw new WeComRegistryLoaderError(key, `returned ${typeof app}, not an app { corpId, secret }`);
    return app;
  }

  private rememberUnknown(key: string): void {
    this.unknown.delete(key);
    this.unknown.set(key, Date.now() + UNKNOWN_KEY_MEMORY_MS);
    const bound = Math.min(this.config.maxApps, UNKNOWN_KEYS_REMEMBERED);
    while (this.unknown.size > bound) this.unknown.delete(this.unknown.keys().next().value as string);
  }

  /** Builds the app under `key` unless the same app is held; a different one replaces it at once. */
  private install(key: string, app: WeComRegistryApp): RegistryEntry {
    const config = registryAppConfig(this.config, app, registryAppName(quotedKey(key)));
    this.unknown.delete(key);
    const old = this.apps.get(key);
    if (old?.sameAs(config)) {
      this.touch(key, old);
      return old;
    }
    if (old) {
      // A new secret: the old credential is stopped now, so it can serve nothing more (its timer name is reused).
      this.apps.delete(key);
      old.close();
    }
    const egress = this.egress.egressFor(config.proxy, config.baseUrl);
    const scheduler = config.backgroundRefresh ? this.scheduler : undefined;
    // The app's own copy (built above): the registry's lock goes in, no second copy is made.
    config.lock = this.lock;
    const entry = new RegistryEntry(config, this, key);
    entry.tokens = new AccessTokenService(config, this.cache, scheduler, egress, entry, this.gettokenHttp(egress, config.baseUrl));
    entry.credential = entry.tokens.credential;
    this.apps.set(key, entry);
    this.evictOverBound();
    return entry;
  }

  /**
   * The gettoken client of apps with this egress and root: one for all of them (an axios instance is kilobytes),
   * bounded like everything a registry keeps (past the bound an app gets one of its own).
   */
  private gettokenHttp(egress: WeComEgress, baseUrl: string): AxiosInstance {
    const key = `${baseUrl}\n${egress.mode}`;
    const agent: object = egress.axios.httpsAgent ?? egress.axios.httpAgent ?? DIRECT_AGENT;
    let byRoot = this.gettoken.get(agent);
    let http = byRoot?.get(key);
    if (http) return http;
    http = credentialHttp(baseUrl, egress.axios);
    if (this.gettokenCount >= GETTOKEN_CLIENTS_KEPT) return http;
    if (!byRoot) this.gettoken.set(agent, (byRoot = new Map<string, AxiosInstance>()));
    byRoot.set(key, http);
    this.gettokenCount++;
    return http;
  }

  /**
   * A 40001 (wrong secret) of a registry app: ask the loader once more; a different app (a rotated secret) replaces
   * it and answers with its token. Concurrent failures share one loader call.
   */
  /** @internal */
  async recover(key: string, tokens: AccessTokenService, error: unknown): Promise<string> {
    if (this.closing.signal.aborted) throw error;
    const current = this.apps.get(key);
    if (current && current.tokens !== tokens) return current.tokens.getToken();
    // Evicted or unregistered while a caller kept its service: the app as the registry knows it now.
    if (tokens.credential.closed) return (await this.entry(key)).tokens.getToken();
    if (errcodeOf(error) !== ROTATED_SECRET_ERRCODE || !this.config.loader) throw error;
    let reloaded: { tokens: AccessTokenService };
    try {
      reloaded = await this.reload(key, tokens);
    } catch {
      throw error;
    }
    if (reloaded.tokens === tokens) throw error;
    return reloaded.tokens.getToken();
  }

  private reload(key: string, tokens: AccessTokenService): Promise<{ tokens: AccessTokenService }> {
    const pending = this.reloading.get(key);
    if (pending) return pending;
    const promise = this.limit
      .run(this.closing.signal, () => this.callLoader(key))
      .then((app) => {
        const current = this.apps.get(key);
        if (current && current.tokens !== tokens) return current;
        if (!app) return { tokens };
        return this.install(key, app);
      })
      .finally(() => this.reloading.delete(key));
    this.reloading.set(key, promise);
    return promise;
  }

  /**
   * Marks a use. An app used again within `touchEveryMs` of its last mark keeps its place: moving a Map entry on
   * every call costs more than the call (hundreds of ns over thousands of apps), and the order stays sorted by
   * `lastUsed`, so the bound evicts the least recently used to within that step, and the sweep allows for it.
   */
  private touch(key: string, entry: RegistryEntry, now = Date.now()): void {
    if (now - entry.lastUsed < this.touchEveryMs) return;
    entry.lastUsed = now;
    // Most recently used last, so that the bound evicts the least recently used first.
    this.apps.delete(key);
    this.apps.set(key, entry);
  }

  /** Over maxApps: the least recently used apps that are not busy leave memory. */
  private evictOverBound(): void {
    if (this.apps.size <= this.config.maxApps) return;
    for (const [key, entry] of this.apps) {
      if (this.apps.size <= this.config.maxApps) return;
      if (entry.busy) continue;
      this.apps.delete(key);
      entry.close();
    }
  }

  /** Apps unused for idleTtlSeconds leave memory; retired apps whose calls have finished are closed. */
  private sweep(): void {
    // A use within touchEveryMs after lastUsed moved nothing: only an app marked that much earlier is surely idle.
    const idleSince = Date.now() - this.config.idleTtlMs - this.touchEveryMs;
    for (const [key, entry] of this.apps) {
      if (entry.lastUsed > idleSince) break; // in order of use: the rest are more recent
      if (entry.busy) continue;
      this.apps.delete(key);
      entry.close();
    }
    for (const entry of this.retiring) this.retire(entry);
    const now = Date.now();
    for (const [key, until] of this.unknown) if (until <= now) this.unknown.delete(key);
  }

  /** Close now when idle, else at a later sweep once its calls in flight have finished. */
  private retire(entry: RegistryEntry): void {
    if (entry.busy) {
      this.retiring.add(entry);
      return;
    }
    this.retiring.delete(entry);
    entry.close();
  }
}
