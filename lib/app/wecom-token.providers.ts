/**
 * The providers of one app, built from its name: options → validated config → AccessTokenService → interceptor →
 * HttpService → WeComClient. The default app's services are also provided under their classes.
 */
import { HttpService } from '@nestjs/axios';
import { Logger, Provider } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import axios from 'axios';
import { createCache, type Cache } from 'cache-manager';
import { AccessTokenService } from './access-token.service.js';
import { WeComConfigError } from '../common/errors/wecom-config.error.js';
import { AccessTokenInterceptor } from '../http/access-token.interceptor.js';
import { WeComClient } from '../http/wecom.client.js';
import type { WeComTokenModuleOptions } from '../common/interfaces/wecom-token-options.interface.js';
import type { TimeoutRegistry } from '../engine/refresh-schedule.js';
import { resolveConfig, WeComTokenConfig } from '../common/wecom-token.config.js';
import { DEFAULT_APP_NAME } from '../common/wecom-token.constants.js';
import { duplicateAppMessage, onDemandRefreshMessage } from '../common/wecom-token.messages.js';
import { JsapiTicketService } from './jsapi-ticket.service.js';
import { WeComAppRegistry } from './app-registry.js';
import { resolveRegistryConfig, type WeComRegistryModuleOptions } from './registry.config.js';
import { loadOptionalPeer } from '../common/optional-peer.js';
import { createWeComEventsBridgeProvider } from '../observability/events.js';
import { WeComMetricsRecorder } from '../observability/metrics.js';
import { createOAuthProviders, exportedOAuthTokens } from '../identity/identity.providers.js';
import type { WeComOAuthService } from '../identity/wecom-oauth.service.js';
import { createCallbackProviders, exportedCallbackTokens } from '../callback/callback.providers.js';
import type { WeComCallbackService } from '../callback/wecom-callback.service.js';
import {
  getAccessTokenInterceptorName,
  getAccessTokenServiceName,
  getJsapiTicketServiceName,
  getWeComClientName,
  getWeComConfigToken,
  getWeComOptionsToken,
  WECOM_REGISTRY_OPTIONS,
} from './wecom-token.tokens.js';

/** `CACHE_MANAGER` of `@nestjs/cache-manager`, by value, so that reading it needs no import of that package. */
const CACHE_MANAGER = 'CACHE_MANAGER';

/** Token of an app's HttpService. */
export function getWeComHttpServiceName(name: string = DEFAULT_APP_NAME): string {
  return `WeComHttpService(${name})`;
}

/** Count the modules of this application that register app `name`: more than one is a configuration error. */
function assertRegisteredOnce(modules: ModulesContainer, name: string): void {
  const token = getWeComConfigToken(name);
  let count = 0;
  for (const mod of modules.values()) if (mod.providers.has(token)) count++;
  if (count > 1) throw new WeComConfigError(duplicateAppMessage(name, count));
}

/**
 * `SchedulerRegistry` of `@nestjs/schedule` when the package is installed (it is an optional peer). Looked up by class
 * through optional injection: the application's registry is found when it imports `ScheduleModule.forRoot()`
 * (a global module), and nothing else is searched, so a thousand apps cost a thousand cheap injections.
 */
function schedulerRegistryClass(): (abstract new (...args: never[]) => TimeoutRegistry) | undefined {
  try {
    return (loadOptionalPeer('@nestjs/schedule') as { SchedulerRegistry?: abstract new (...args: never[]) => TimeoutRegistry }).SchedulerRegistry;
  } catch {
    return undefined;
  }
}

/** The providers of app `name`, given the provider of its raw options. */
export function createAppProviders(name: string): Provider[] {
  const isDefault = name === DEFAULT_APP_NAME;
  const serviceToken = getAccessTokenServiceName(name);
  const clientToken = getWeComClientName(name);
  const registry = schedulerRegistryClass();
  const providers: Provider[] = [
    {
      provide: getWeComConfigToken(name),
      useFactory: (raw: WeComTokenModuleOptions, modules: ModulesContainer) => {
        assertRegisteredOnce(modules, name);
        return resolveConfig(raw, name);
      },
      inject: [getWeComOptionsToken(name), ModulesContainer],
    },
    {
      provide: serviceToken,
      useFactory: (config: WeComTokenConfig, appCache?: Cache, scheduler?: TimeoutRegistry) => {
        if (config.backgroundRefresh && !scheduler) {
          new Logger(AccessTokenService.name).debug(onDemandRefreshMessage(name));
        }
        return new AccessTokenService(config, config.cache ?? appCache ?? createCache(), scheduler ?? undefined);
      },
      // The application's global CACHE_MANAGER (CacheModule with isGlobal) and SchedulerRegistry, when it has them.
      inject: [getWeComConfigToken(name), { token: CACHE_MANAGER, optional: true }, ...(registry ? [{ token: registry, optional: true }] : [])],
    },
    {
      provide: getJsapiTicketServiceName(name),
      useFactory: (config: WeComTokenConfig, tokens: AccessTokenService) => new JsapiTicketService(config, tokens),
      inject: [getWeComConfigToken(name), serviceToken],
    },
    {
      provide: getAccessTokenInterceptorName(name),
      useFactory: (tokens: AccessTokenService) => new AccessTokenInterceptor(tokens),
      inject: [serviceToken],
    },
    {
      provide: getWeComHttpServiceName(name),
      useFactory: (config: WeComTokenConfig, interceptor: AccessTokenInterceptor, tokens: AccessTokenService) => {
        // Through the app's egress (its proxy agents, axios' own env-proxy handling off), whatever URL it is given.
        const http = new HttpService(axios.create({ ...tokens.egress.axios, baseURL: config.baseUrl, timeout: config.timeoutMs, maxRedirects: 0 }));
        interceptor.attach(http);
        return http;
      },
      inject: [getWeComConfigToken(name), getAccessTokenInterceptorName(name), serviceToken],
    },
    {
      provide: clientToken,
      useFactory: (http: HttpService, tokens: AccessTokenService) => new WeComClient(http, tokens),
      inject: [getWeComHttpServiceName(name), serviceToken],
    },
    // Identity (lib/identity) is built from this app's tokens; it imports nothing of lib/app.
    ...createOAuthProviders(name, { options: getWeComOptionsToken(name), config: getWeComConfigToken(name), client: clientToken, tokens: serviceToken }),
    // Callbacks (lib/callback) likewise: built from this app's options and config.
    ...createCallbackProviders(name, { options: getWeComOptionsToken(name), config: getWeComConfigToken(name) }),
  ];
  // Metrics and application events listen to the diagnostics channels; both start with the application.
  providers.push(WeComMetricsRecorder, createWeComEventsBridgeProvider());
  if (isDefault) {
    providers.push(
      { provide: AccessTokenService, useExisting: serviceToken },
      { provide: WeComClient, useExisting: clientToken },
      { provide: AccessTokenInterceptor, useExisting: getAccessTokenInterceptorName(name) },
      { provide: JsapiTicketService, useExisting: getJsapiTicketServiceName(name) },
    );
  }
  return providers;
}

/** The providers of `forRegistry`: the registry, built from its options, the application's cache and scheduler. */
export function createRegistryProviders(): Provider[] {
  const registry = schedulerRegistryClass();
  return [
    {
      provide: WeComAppRegistry,
      useFactory: (raw: WeComRegistryModuleOptions, appCache?: Cache, scheduler?: TimeoutRegistry) => {
        const config = resolveRegistryConfig(raw);
        return new WeComAppRegistry(config, config.defaults.cache ?? appCache ?? createCache(), scheduler ?? undefined);
      },
      inject: [WECOM_REGISTRY_OPTIONS, { token: CACHE_MANAGER, optional: true }, ...(registry ? [{ token: registry, optional: true }] : [])],
    },
    WeComMetricsRecorder,
    createWeComEventsBridgeProvider(),
  ];
}

/** What an app's module exports. */
export function exportedTokens(
  name: string,
): Array<
  string | typeof AccessTokenService | typeof WeComClient | typeof AccessTokenInterceptor | typeof JsapiTicketService | typeof WeComOAuthService | typeof WeComCallbackService
> {
  const tokens: Array<
    string | typeof AccessTokenService | typeof WeComClient | typeof AccessTokenInterceptor | typeof JsapiTicketService | typeof WeComOAuthService | typeof WeComCallbackService
  > = [
    ...exportedOAuthTokens(name),
    ...exportedCallbackTokens(name),
    getJsapiTicketServiceName(name),
    getAccessTokenServiceName(name),
    getWeComClientName(name),
    getAccessTokenInterceptorName(name),
    getWeComHttpServiceName(name),
  ];
  if (name === DEFAULT_APP_NAME) tokens.push(AccessTokenService, WeComClient, AccessTokenInterceptor, JsapiTicketService);
  return tokens;
}
