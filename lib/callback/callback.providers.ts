/**
 * The `WeComCallbackService` of one app, built from the app's options and validated config (its corp, shared cache
 * and lock): lib/callback uses the app's providers, never the other way round.
 */
import type { Provider } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import type { Cache } from 'cache-manager';
import type { WeComTokenModuleOptions } from '../common/interfaces/wecom-token-options.interface.js';
import type { WeComTokenConfig } from '../common/wecom-token.config.js';
import { DEFAULT_APP_NAME } from '../common/wecom-token.constants.js';
import { getWeComCallbackServiceName } from './callback.tokens.js';
import { WeComCallbackService } from './wecom-callback.service.js';

/** `CACHE_MANAGER` of `@nestjs/cache-manager`, by value. */
const CACHE_MANAGER = 'CACHE_MANAGER';

/** The callback providers of app `name`, given the tokens of its raw options and its config. */
export function createCallbackProviders(name: string, tokens: { options: string; config: string }): Provider[] {
  const providers: Provider[] = [
    {
      provide: getWeComCallbackServiceName(name),
      useFactory: (raw: WeComTokenModuleOptions, config: WeComTokenConfig, modules: ModulesContainer, appCache?: Cache) => {
        const cache = config.cache ?? appCache ?? undefined;
        return new WeComCallbackService(
          {
            app: name,
            corpId: config.corpId,
            ...(raw.callback !== undefined && { callback: raw.callback }),
            ...(cache && { cache }),
            ...(config.lock && { lock: config.lock }),
            cacheTimeoutMs: config.cacheTimeoutMs,
          },
          modules,
        );
      },
      inject: [tokens.options, tokens.config, ModulesContainer, { token: CACHE_MANAGER, optional: true }],
    },
  ];
  if (name === DEFAULT_APP_NAME) providers.push({ provide: WeComCallbackService, useExisting: getWeComCallbackServiceName(name) });
  return providers;
}

/** What an app's module exports of its callbacks. */
export function exportedCallbackTokens(name: string): Array<string | typeof WeComCallbackService> {
  return name === DEFAULT_APP_NAME ? [getWeComCallbackServiceName(name), WeComCallbackService] : [getWeComCallbackServiceName(name)];
}
