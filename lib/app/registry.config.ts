/**
 * The options of `WeComTokenModule.forRegistry`: where apps come from (a loader), how many are held, and the
 * defaults every registry app gets (the options of a static app, less its corpId and secret).
 */
import type { ModuleMetadata, Type, InjectionToken, OptionalFactoryDependency } from '@nestjs/common';
import { WeComConfigError } from '../common/errors/wecom-config.error.js';
import type { WeComTokenModuleOptions } from '../common/interfaces/wecom-token-options.interface.js';
import { resolveConfig, type WeComTokenConfig } from '../common/wecom-token.config.js';
import { invalidOptionMessage } from '../common/wecom-token.messages.js';

/** One app of the registry: a self-built app's corpId and secret, or a 代开发 app's (its permanent code as secret). */
export interface WeComRegistryApp {
  corpId: string;
  secret: string;
  agentId?: number | string;
  baseUrl?: string;
  proxy?: string | false;
}

/** Options of `WeComTokenModule.forRegistry`. */
export interface WeComRegistryModuleOptions extends Omit<WeComTokenModuleOptions, 'corpId' | 'secret' | 'name' | 'agentId' | 'auth'> {
  /** The app of a key that is not registered (a database lookup by tenant id, say); undefined: no such app. */
  loader?: (key: string) => Promise<WeComRegistryApp | undefined | null>;
  /** Apps held in memory at once; the least recently used leave first. Default 10,000. */
  maxApps?: number;
  /** An app unused this long leaves memory (its shared cache entry stays). Default 1,800. */
  idleTtlSeconds?: number;
}

/** Makes registry options in `forRegistryAsync` with `useClass` / `useExisting`. */
export interface WeComRegistryOptionsFactory {
  createWeComRegistryOptions(): Promise<WeComRegistryModuleOptions> | WeComRegistryModuleOptions;
}

/** Options of `WeComTokenModule.forRegistryAsync`. */
export interface WeComRegistryModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  useFactory?: (...args: never[]) => Promise<WeComRegistryModuleOptions> | WeComRegistryModuleOptions;
  inject?: Array<InjectionToken | OptionalFactoryDependency>;
  useClass?: Type<WeComRegistryOptionsFactory>;
  useExisting?: Type<WeComRegistryOptionsFactory>;
  isGlobal?: boolean;
}

/** Default of `maxApps`. */
export const DEFAULT_MAX_APPS = 10_000;
/** Default of `idleTtlSeconds`. */
export const DEFAULT_IDLE_TTL_SECONDS = 1_800;
/** Loader calls of one registry in flight at once. */
export const REGISTRY_LOAD_CONCURRENCY = 16;
/** How long a key the loader did not know is answered without asking it again. */
export const UNKNOWN_KEY_MEMORY_MS = 10_000;
/**
 * Unknown keys remembered at most (the oldest forgotten first), whatever maxApps: keys are caller-chosen, and a
 * caller that asks for ever new ones gains nothing from this memory, which must then stay small.
 */
export const UNKNOWN_KEYS_REMEMBERED = 1_000;
/** The name registry options are validated under in messages. */
export const REGISTRY_NAME = 'registry';

/** The registry's own settings, validated; `defaults` are every app's options less corpId and secret. */
export interface WeComRegistryConfig {
  loader?: (key: string) => Promise<WeComRegistryApp | undefined | null>;
  maxApps: number;
  idleTtlMs: number;
  timeoutMs: number;
  defaults: Omit<WeComRegistryModuleOptions, 'loader' | 'maxApps' | 'idleTtlSeconds'>;
}

function integer(option: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new WeComConfigError(invalidOptionMessage(REGISTRY_NAME, option, `must be an integer from ${min} to ${max}, got ${String(value)}`));
  }
  return value;
}

/** Validate the registry's options at start-up; the defaults are checked as a static app's options would be. */
export function resolveRegistryConfig(raw: WeComRegistryModuleOptions | undefined | null): WeComRegistryConfig {
  if (raw === undefined || raw === null) raw = {};
  if (typeof raw !== 'object') throw new WeComConfigError(invalidOptionMessage(REGISTRY_NAME, 'options', `must be an object, got ${typeof raw}`));
  const { loader, maxApps, idleTtlSeconds, ...defaults } = raw;
  if (loader !== undefined && typeof loader !== 'function')
    throw new WeComConfigError(invalidOptionMessage(REGISTRY_NAME, 'loader', 'must be a function (key) => Promise<app | undefined>'));
  // The same checks as a static app's: a wrong timeoutMs, cache or proxy fails here, not at the first tenant.
  const probe = resolveConfig({ ...defaults, corpId: 'registry-defaults', secret: 'registry-defaults' }, REGISTRY_NAME);
  return {
    ...(loader ? { loader } : {}),
    maxApps: integer('maxApps', maxApps, DEFAULT_MAX_APPS, 1, 10_000_000),
    idleTtlMs: integer('idleTtlSeconds', idleTtlSeconds, DEFAULT_IDLE_TTL_SECONDS, 1, 2_000_000) * 1000,
    timeoutMs: probe.timeoutMs,
    defaults,
  };
}

/** The app name a registry key gets in messages, metrics and timer names (quoted and cut: keys are caller-chosen). */
export function registryAppName(shownKey: string): string {
  // Joined: one flat string (a template would keep a tree of parts in every app's config).
  return ['registry', shownKey].join(':');
}

/** The full configuration of one registry app: the registry's defaults with its own corpId, secret, …. */
export function registryAppConfig(config: WeComRegistryConfig, app: WeComRegistryApp, name: string): WeComTokenConfig {
  if (!app || typeof app !== 'object')
    throw new WeComConfigError(invalidOptionMessage(name, 'app', `must be an object { corpId, secret }, got ${app === null ? 'null' : typeof app}`));
  const own: Partial<WeComTokenModuleOptions> = { corpId: app.corpId, secret: app.secret };
  if (app.agentId !== undefined) own.agentId = app.agentId;
  if (app.baseUrl !== undefined) own.baseUrl = app.baseUrl;
  if (app.proxy !== undefined) own.proxy = app.proxy;
  return resolveConfig({ ...config.defaults, ...own } as WeComTokenModuleOptions, name);
}
