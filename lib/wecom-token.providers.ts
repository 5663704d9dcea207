/**
 * The providers of one app, built from its name: options → validated config → AccessTokenService → interceptor →
 * HttpService → WeComClient. The default app's services are also provided under their classes.
 */
import { HttpService } from '@nestjs/axios';
import { Logger, Provider } from '@nestjs/common';
import { ModuleRef, ModulesContainer } from '@nestjs/core';
import axios from 'axios';
import { createCache, type Cache } from 'cache-manager';
import { AccessTokenService } from './access-token.service';
import { WeComConfigError } from './errors/wecom-config.error';
import { AccessTokenInterceptor } from './http/access-token.interceptor';
import { WeComClient } from './http/wecom.client';
import type { WeComTokenModuleOptions } from './interfaces/wecom-token-options.interface';
import type { TimeoutRegistry } from './refresh-schedule';
import { resolveConfig, WeComTokenConfig } from './wecom-token.config';
import { DEFAULT_APP_NAME } from './wecom-token.constants';
import { duplicateAppMessage } from './wecom-token.messages';
import { getAccessTokenInterceptorName, getAccessTokenServiceName, getWeComClientName, getWeComConfigToken, getWeComOptionsToken } from './wecom-token.tokens';

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

function optional<T>(get: () => T): T | undefined {
  try {
    return get() ?? undefined;
  } catch {
    return undefined;
  }
}

/** The application's SchedulerRegistry, when it imports ScheduleModule.forRoot(); the package itself is optional. */
function schedulerOf(moduleRef: ModuleRef): TimeoutRegistry | undefined {
  return optional(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { SchedulerRegistry } = require('@nestjs/schedule') as { SchedulerRegistry: new (...args: never[]) => TimeoutRegistry };
    return moduleRef.get(SchedulerRegistry, { strict: false });
  });
}

/** The providers of app `name`, given the provider of its raw options. */
export function createAppProviders(name: string): Provider[] {
  const isDefault = name === DEFAULT_APP_NAME;
  const serviceToken = getAccessTokenServiceName(name);
  const clientToken = getWeComClientName(name);
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
      useFactory: (config: WeComTokenConfig, moduleRef: ModuleRef) => {
        const cache = config.cache ?? optional(() => moduleRef.get<Cache>(CACHE_MANAGER, { strict: false })) ?? createCache();
        const scheduler = schedulerOf(moduleRef);
        if (config.backgroundRefresh && !scheduler) {
          new Logger(AccessTokenService.name).debug(`app '${name}': no ScheduleModule.forRoot() in the application, tokens are refreshed on demand`);
        }
        return new AccessTokenService(config, cache, scheduler);
      },
      inject: [getWeComConfigToken(name), ModuleRef],
    },
    {
      provide: getAccessTokenInterceptorName(name),
      useFactory: (tokens: AccessTokenService) => new AccessTokenInterceptor(tokens),
      inject: [serviceToken],
    },
    {
      provide: getWeComHttpServiceName(name),
      useFactory: (config: WeComTokenConfig, interceptor: AccessTokenInterceptor) => {
        const http = new HttpService(axios.create({ baseURL: config.baseUrl, timeout: config.timeoutMs }));
        interceptor.attach(http);
        return http;
      },
      inject: [getWeComConfigToken(name), getAccessTokenInterceptorName(name)],
    },
    {
      provide: clientToken,
      useFactory: (http: HttpService, tokens: AccessTokenService) => new WeComClient(http, tokens),
      inject: [getWeComHttpServiceName(name), serviceToken],
    },
  ];
  if (isDefault) {
    providers.push(
      { provide: AccessTokenService, useExisting: serviceToken },
      { provide: WeComClient, useExisting: clientToken },
      { provide: AccessTokenInterceptor, useExisting: getAccessTokenInterceptorName(name) },
    );
  }
  return providers;
}

/** What an app's module exports. */
export function exportedTokens(name: string): Array<string | typeof AccessTokenService | typeof WeComClient | typeof AccessTokenInterceptor> {
  const tokens: Array<string | typeof AccessTokenService | typeof WeComClient | typeof AccessTokenInterceptor> = [
    getAccessTokenServiceName(name),
    getWeComClientName(name),
    getAccessTokenInterceptorName(name),
    getWeComHttpServiceName(name),
  ];
  if (name === DEFAULT_APP_NAME) tokens.push(AccessTokenService, WeComClient, AccessTokenInterceptor);
  return tokens;
}
