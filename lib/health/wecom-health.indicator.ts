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
  /**
   * The apps to check, by registered name, with the JS-SDK tickets each has been asked for. Default: every app
   * registered with `WeComTokenModule`.
   */
  apps?: string[];
  /**
   * The suites to check, by suiteId: the suite_access_token, and the provider_access_token of a suite that has
   * providerCorpId / providerSecret. Default: every suite of `WeComSuiteModule` when `apps` is not given, none when
   * it is.
   */
  suites?: string[];
  /**
   * After a failed fetch, a credential (an app's token, a ticket, a suite or provider token) answers `down` from
   * memory for this long without asking its service again, so a health endpoint polled every second costs one
   * attempt per credential per period, and the credential's own cool-down answers the next. Default 10000 ms.
   */
  failureMemoryMs?: number;
  /** Bound on one credential's fetch during a check; one that takes longer is `down`. Default 5000 ms. */
  timeoutMs?: number;
}

/** What the indicator reports of one app, ticket, suite or provider credential. */
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

/** One credential the indicator checks: its held entry without I/O, and how to get one. */
interface CheckedCredential {
  get(): Promise<string>;
  peek(): { token: string; expiresAt: number } | undefined;
}

type TicketKind = 'corp' | 'agent';

/** The part of `JsapiTicketService` the indicator uses. */
interface CheckedTickets {
  readonly appName: string;
  getCorpTicket(): Promise<string>;
  getAgentTicket(): Promise<string>;
  peek(kind: TicketKind): { token: string; expiresAt: number } | undefined;
  askedKinds(): readonly TicketKind[];
}

/** The part of `SuiteService` the indicator uses. */
interface CheckedSuite {
  readonly suiteId: string;
  readonly credentials: { readonly suite: CheckedCredential; readonly provider?: CheckedCredential };
  getSuiteToken(): Promise<string>;
  getProviderToken(): Promise<string>;
}

/** What the application registered, found once among its providers. */
interface Registered {
  apps: ReadonlyMap<string, CheckedService>;
  tickets: ReadonlyMap<string, CheckedTickets>;
  suites: ReadonlyMap<string, CheckedSuite>;
}

/** Injection tokens of the apps' services: `WeComAccessTokenService(name)`, the default app included. */
const SERVICE_TOKEN = /^WeComAccessTokenService\((.+)\)$/;
const DEFAULT_FAILURE_MEMORY_MS = 10_000;
const DEFAULT_TIMEOUT_MS = 5_000;

/** Where a credential's health is reported in the details. */
type Section = 'apps' | 'tickets' | 'suites';
const SECTION_LABEL: Readonly<Record<Section, string>> = { apps: 'app', tickets: 'ticket', suites: 'suite' };

/**
 * Up when every credential the module serves holds a valid value or can fetch one: each app's access token, the
 * JS-SDK tickets an app has been asked for, each suite's suite and provider tokens; down with each failing one's
 * errcode and hint.
 * List it in the providers of a module that imports `TerminusModule`:
 *
 * ```ts
 * @Get('health') @HealthCheck()
 * check() { return this.health.check([() => this.wecom.check()]); }
 * ```
 *
 * A held, unexpired credential answers without I/O. Otherwise its service is asked (`getToken()`, `getCorpTicket()`, …), whose fetch budget
 * and cool-downs apply; and after a failure the indicator itself answers from memory for `failureMemoryMs`.
 */
@Injectable()
export class WeComHealthIndicator {
  private services?: Registered;
  /** The last failure of each app, answered from memory until `until`. */
  private readonly failures = new Map<string, { until: number; health: WeComAppHealth }>();

  constructor(
    private readonly healthIndicatorService: HealthIndicatorService,
    private readonly modules: ModulesContainer,
  ) {}

  /**
   * Resolves `{ [key]: { status: 'up' | 'down', apps: { [name]: WeComAppHealth }, tickets?, suites?, message? } }`:
   * `tickets` by `app:corp` / `app:agent` for the JS-SDK tickets the application has asked for, `suites` by suiteId
   * (and `suiteId:provider`). Down when any of them is.
   */
  async check<const Key extends string = 'wecom'>(key: Key = 'wecom' as Key, options: WeComHealthCheckOptions = {}): Promise<HealthIndicatorResult<Key>> {
    const session = this.healthIndicatorService.check(key);
    const registered = this.registered();
    const names = options.apps ?? [...registered.apps.keys()];
    const suiteIds = options.suites ?? (options.apps ? [] : [...registered.suites.keys()]);
    if (names.length === 0 && suiteIds.length === 0) {
      return session.down({ message: 'no WeCom app or suite is registered (WeComTokenModule / WeComSuiteModule .forRoot / forRootAsync)' });
    }

    const checks: Array<Promise<readonly [Section, string, WeComAppHealth]>> = [];
    const add = (section: Section, name: string, target: CheckedCredential | undefined, missing: string): void => {
      checks.push(this.checkOne(`${section}:${name}`, target, missing, options).then((health) => [section, name, health] as const));
    };
    for (const name of names) {
      const service = registered.apps.get(name);
      add('apps', name, service && { get: () => service.getToken(), peek: () => service.peek() }, `no app '${name}' is registered with WeComTokenModule`);
      const tickets = registered.tickets.get(name);
      for (const kind of tickets?.askedKinds() ?? []) {
        add('tickets', `${name}:${kind}`, { get: () => (kind === 'agent' ? tickets!.getAgentTicket() : tickets!.getCorpTicket()), peek: () => tickets!.peek(kind) }, '');
      }
    }
    for (const suiteId of suiteIds) {
      const suite = registered.suites.get(suiteId);
      add(
        'suites',
        suiteId,
        suite && { get: () => suite.getSuiteToken(), peek: () => suite.credentials.suite.peek() },
        `no suite '${suiteId}' is registered with WeComSuiteModule`,
      );
      const provider = suite?.credentials.provider;
      if (provider) add('suites', `${suiteId}:provider`, { get: () => suite.getProviderToken(), peek: () => provider.peek() }, '');
    }

    const results = await Promise.all(checks);
    const details: Partial<Record<Section, Record<string, WeComAppHealth>>> = { apps: {} };
    for (const [section, name, health] of results) (details[section] ??= {})[name] = health;
    const down = results.filter(([, , health]) => health.status === 'down');
    if (down.length === 0) return session.up(details);
    const message = down
      .map(([section, name, health]) => `${SECTION_LABEL[section]} '${name}': ${health.errcode !== undefined ? `${health.errcode} ` : ''}${health.hint ?? 'down'}`)
      .join('; ');
    return session.down({ ...details, message });
  }

  /** One credential: held and valid → up without I/O; failed recently → that answer from memory; else one `get()`. */
  private async checkOne(name: string, service: CheckedCredential | undefined, missing: string, options: WeComHealthCheckOptions): Promise<WeComAppHealth> {
    if (!service) return { status: 'down', hint: missing };
    const up = this.validNow(service);
    if (up) return up;

    const now = Date.now();
    const remembered = this.failures.get(name);
    if (remembered && now < remembered.until) {
      return { ...remembered.health, retryInSeconds: Math.ceil((remembered.until - now) / 1000) };
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    try {
      await bounded(service.get(), timeoutMs, `'${name}'`);
      this.failures.delete(name);
      return this.validNow(service) ?? { status: 'up' };
    } catch (error) {
      const health = describeFailure(error, service);
      this.failures.set(name, { until: Date.now() + (options.failureMemoryMs ?? DEFAULT_FAILURE_MEMORY_MS), health });
      return health;
    }
  }

  private validNow(service: CheckedCredential): WeComAppHealth | undefined {
    const held = service.peek();
    const validForMs = held ? held.expiresAt - Date.now() : 0;
    return validForMs > 0 ? { status: 'up', validForSeconds: Math.floor(validForMs / 1000) } : undefined;
  }

  /** The apps' services, their ticket services and the suites, found once among the application's providers. */
  private registered(): Registered {
    if (this.services) return this.services;
    const apps = new Map<string, CheckedService>();
    const tickets = new Map<string, CheckedTickets>();
    const suites = new Map<string, CheckedSuite>();
    for (const module of this.modules.values()) {
      for (const [token, wrapper] of module.providers) {
        const instance = wrapper.instance as Partial<CheckedService & CheckedTickets & CheckedSuite> | undefined;
        if (!instance || typeof instance !== 'object') continue;
        const match = typeof token === 'string' ? SERVICE_TOKEN.exec(token) : null;
        if (match && typeof instance.getToken === 'function' && typeof instance.peek === 'function') apps.set(match[1], instance as CheckedService);
        // Found by shape, not class: the health subpath may be loaded in the other module format than the services.
        else if (typeof instance.askedKinds === 'function' && typeof instance.getCorpTicket === 'function' && typeof instance.appName === 'string')
          tickets.set(instance.appName, instance as CheckedTickets);
        else if (typeof instance.getSuiteToken === 'function' && typeof instance.suiteId === 'string' && instance.credentials?.suite)
          suites.set(instance.suiteId, instance as CheckedSuite);
      }
    }
    const found = { apps, tickets, suites };
    // Remember only a complete picture: before the application is initialised the instances are not there yet.
    if (apps.size + suites.size > 0) this.services = found;
    return found;
  }
}

/** What a failure says about a credential: errcode and hint of a WeCom answer, else a short description; never a token. */
function describeFailure(error: unknown, service: CheckedCredential): WeComAppHealth {
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
function scrub(text: string, service: CheckedCredential): string {
  const token = service.peek()?.token;
  return token ? text.split(token).join(maskToken(token)) : text;
}
