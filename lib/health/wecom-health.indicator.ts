/**
 * A `@nestjs/terminus` (11 and 12) health indicator for the WeCom apps of an application. Exported only by the
 * subpath `nestjs-wecom-token/health`, the one place of the package that imports `@nestjs/terminus`.
 */
import { Injectable } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { bounded, describeError } from '../common/bounded.js';
import { maskToken } from '../common/redaction.js';

/** Options of {@link WeComHealthIndicator.check}. */
export interface WeComHealthCheckOptions {
  /** The apps to check, by registered name. Default: every app registered with `WeComTokenModule`. */
  apps?: string[];
  /**
   * After a failed fetch, an app answers `down` from memory for this long without asking its service again, so a
   * health endpoint polled every second costs one attempt per app per period. Default 10000 ms.
   */
  failureMemoryMs?: number;
  /** Bound on one app's fetch during a check; an app that takes longer is `down`. Default 5000 ms. */
  timeoutMs?: number;
}

/** What the indicator reports of one app. */
export interface WeComAppHealth {
  status: 'up' | 'down';
  /** How long the held credential stays valid (up). */
  validForSeconds?: number;
  /** WeCom's errcode (down, when WeCom answered one). */
  errcode?: number;
  /** What is wrong and what to do (down). Never a token or a secret. */
  hint?: string;
  /** When the next real attempt may happen (down, answered from memory). */
  retryInSeconds?: number;
}

/** The part of `AccessTokenService` the indicator uses. */
interface CheckedService {
  readonly appName: string;
  getToken(): Promise<string>;
  peek(): { token: string; expiresAt: number } | undefined;
}

/** Injection tokens of the apps' services: `WeComAccessTokenService(name)`, the default app included. */
const SERVICE_TOKEN = /^WeComAccessTokenService\((.+)\)$/;
const DEFAULT_FAILURE_MEMORY_MS = 10_000;
const DEFAULT_TIMEOUT_MS = 5_000;

/**
 * Up when every app holds a valid credential or can fetch one; down with each failing app's errcode and hint.
 * List it in the providers of a module that imports `TerminusModule`:
 *
 * ```ts
 * @Get('health') @HealthCheck()
 * check() { return this.health.check([() => this.wecom.check()]); }
 * ```
 *
 * A held, unexpired credential answers without I/O. Otherwise the app's `getToken()` is asked, whose fetch budget
 * and cool-downs apply; and after a failure the indicator itself answers from memory for `failureMemoryMs`.
 */
@Injectable()
export class WeComHealthIndicator {
  private services?: ReadonlyMap<string, CheckedService>;
  /** The last failure of each app, answered from memory until `until`. */
  private readonly failures = new Map<string, { until: number; health: WeComAppHealth }>();

  constructor(
    private readonly healthIndicatorService: HealthIndicatorService,
    private readonly modules: ModulesContainer,
  ) {}

  /** Resolves `{ [key]: { status: 'up' | 'down', apps: { [name]: WeComAppHealth }, message? } }`. */
  async check<const Key extends string = 'wecom'>(key: Key = 'wecom' as Key, options: WeComHealthCheckOptions = {}): Promise<HealthIndicatorResult<Key>> {
    const session = this.healthIndicatorService.check(key);
    const services = this.registered();
    const names = options.apps ?? [...services.keys()];
    if (names.length === 0) return session.down({ message: 'no WeCom app is registered (WeComTokenModule.forRoot / forRootAsync)' });

    const results = await Promise.all(names.map(async (name) => [name, await this.checkApp(name, services.get(name), options)] as const));
    const apps: Record<string, WeComAppHealth> = Object.fromEntries(results);
    const down = results.filter(([, health]) => health.status === 'down');
    if (down.length === 0) return session.up({ apps });
    const message = down.map(([name, health]) => `app '${name}': ${health.errcode !== undefined ? `${health.errcode} ` : ''}${health.hint ?? 'down'}`).join('; ');
    return session.down({ apps, message });
  }

  private async checkApp(name: string, service: CheckedService | undefined, options: WeComHealthCheckOptions): Promise<WeComAppHealth> {
    if (!service) return { status: 'down', hint: `no app '${name}' is registered with WeComTokenModule` };
    const up = this.validNow(service);
    if (up) return up;

    const now = Date.now();
    const remembered = this.failures.get(name);
    if (remembered && now < remembered.until) {
      return { ...remembered.health, retryInSeconds: Math.ceil((remembered.until - now) / 1000) };
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    try {
      await bounded(service.getToken(), timeoutMs, `app '${name}'`);
      this.failures.delete(name);
      return this.validNow(service) ?? { status: 'up' };
    } catch (error) {
      const health = describeFailure(error, service);
      this.failures.set(name, { until: Date.now() + (options.failureMemoryMs ?? DEFAULT_FAILURE_MEMORY_MS), health });
      return health;
    }
  }

  private validNow(service: CheckedService): WeComAppHealth | undefined {
    const held = service.peek();
    const validForMs = held ? held.expiresAt - Date.now() : 0;
    return validForMs > 0 ? { status: 'up', validForSeconds: Math.floor(validForMs / 1000) } : undefined;
  }

  /** The apps' services by name, found once among the application's providers. */
  private registered(): ReadonlyMap<string, CheckedService> {
    if (this.services) return this.services;
    const found = new Map<string, CheckedService>();
    for (const module of this.modules.values()) {
      for (const [token, wrapper] of module.providers) {
        const match = typeof token === 'string' ? SERVICE_TOKEN.exec(token) : null;
        const instance = wrapper.instance as CheckedService | undefined;
        if (match && instance && typeof instance.getToken === 'function' && typeof instance.peek === 'function') found.set(match[1], instance);
      }
    }
    // Remember only a complete picture: before the application is initialised the instances are not there yet.
    if (found.size > 0) this.services = found;
    return found;
  }
}

/** What a failure says about an app: errcode and hint of a WeCom answer, else a short description; never a token. */
function describeFailure(error: unknown, service: CheckedService): WeComAppHealth {
  const { errcode, hint, failure, status, code } = (error ?? {}) as { errcode?: unknown; hint?: unknown; failure?: unknown; status?: unknown; code?: unknown };
  if (typeof errcode === 'number') {
    return { status: 'down', errcode, hint: typeof hint === 'string' ? hint : 'see https://developer.work.weixin.qq.com/document/path/90313' };
  }
  if (typeof failure === 'string') {
    // WeComTransportError: built from facts only (method, path, status, network code).
    const detail = [typeof status === 'number' ? `HTTP ${status}` : '', typeof code === 'string' ? code : ''].filter(Boolean).join(', ');
    return { status: 'down', hint: `WeCom gave no usable answer (${failure}${detail ? `: ${detail}` : ''}); check the network, proxy and baseUrl of this instance` };
  }
  return { status: 'down', hint: scrub(describeError(error), service) };
}

/** An error text from elsewhere (a cache, a lock) with the held token, should it appear, masked. */
function scrub(text: string, service: CheckedService): string {
  const token = service.peek()?.token;
  return token ? text.split(token).join(maskToken(token)) : text;
}
