import { DynamicModule, Module, Provider } from '@nestjs/common';
import { createCache, type Cache } from 'cache-manager';
import { WeComConfigError } from '../common/errors/wecom-config.error.js';
import { asyncOptionsProviders } from '../common/async-options.js';
import { DEFAULT_APP_NAME } from '../common/wecom-token.constants.js';
import { resolveSuiteConfig } from './suite.config.js';
import type { WeComSuiteModuleAsyncOptions, WeComSuiteModuleOptions, WeComSuiteOptionsFactory } from './suite.interfaces.js';
import { createWeComEventsBridgeProvider } from '../observability/events.js';
import { WeComMetricsRecorder } from '../observability/metrics.js';
import { SuiteService } from './suite.service.js';
import { getSuiteOptionsToken, getSuiteServiceToken } from './suite.tokens.js';
import { getWeComSuiteOAuthServiceName } from '../identity/identity.tokens.js';
import { ModulesContainer } from '@nestjs/core';
import { WeComCallbackService } from '../callback/wecom-callback.service.js';

/** `CACHE_MANAGER` of `@nestjs/cache-manager`, by value. */
const CACHE_MANAGER = 'CACHE_MANAGER';

function suiteName(name: unknown): string {
  if (name === undefined) return DEFAULT_APP_NAME;
  if (typeof name !== 'string' || name.trim() === '') throw new WeComConfigError(`WeComSuiteModule: option 'name' must be a non-empty string`);
  return name;
}

/**
 * Third-party apps (服务商) for NestJS: one suite per registration, its callback, suite / provider / authorised-corp
 * tokens and clients. Give each further suite a `name` and inject it with `@InjectSuiteService(name)`.
 */
@Module({})
export class WeComSuiteModule {
  /** Register one suite with static options. */
  static forRoot(options: WeComSuiteModuleOptions): DynamicModule {
    const name = suiteName(options?.name);
    return WeComSuiteModule.assemble(name, options?.isGlobal, [], { provide: getSuiteOptionsToken(name), useValue: options });
  }

  /** Register one suite with options made by a factory, a class or an existing provider. */
  static forRootAsync(options: WeComSuiteModuleAsyncOptions): DynamicModule {
    const name = suiteName(options?.name);
    const providers = asyncOptionsProviders(
      getSuiteOptionsToken(name),
      options,
      (factory: WeComSuiteOptionsFactory) => factory.createWeComSuiteOptions(),
      () => new WeComConfigError(`WeComSuiteModule: forRootAsync of suite '${name}' needs useFactory, useClass or useExisting`),
    );
    return WeComSuiteModule.assemble(name, options.isGlobal, options.imports ?? [], ...providers);
  }

  private static assemble(name: string, isGlobal: boolean | undefined, imports: DynamicModule['imports'], ...optionProviders: Provider[]): DynamicModule {
    const serviceToken = `WeComSuiteService(${name})`;
    const providers: Provider[] = [
      ...optionProviders,
      {
        provide: serviceToken,
        useFactory: (raw: WeComSuiteModuleOptions, dataCallbacks: WeComCallbackService, appCache?: Cache) => {
          const config = resolveSuiteConfig(raw, name);
          const shared = config.engine.cache ?? appCache;
          // Deliveries are remembered in the shared cache when there is one (a fleet), else in a bounded map.
          return new SuiteService(config, shared ?? createCache(), shared !== undefined || config.engine.lock !== undefined, dataCallbacks);
        },
        inject: [getSuiteOptionsToken(name), `WeComSuiteDataCallbacks(${name})`, { token: CACHE_MANAGER, optional: true }],
      },
      // The @OnWeComCallback handlers of the application, for the suite's 数据回调 (handleDataCallback).
      {
        provide: `WeComSuiteDataCallbacks(${name})`,
        useFactory: (raw: WeComSuiteModuleOptions, modules: ModulesContainer, appCache?: Cache) => {
          const config = resolveSuiteConfig(raw, name);
          const cache = config.engine.cache ?? appCache;
          return new WeComCallbackService(
            {
              app: name,
              corpId: config.suiteId,
              ...(cache && { cache }),
              ...(config.engine.lock && { lock: config.engine.lock }),
              cacheTimeoutMs: config.engine.cacheTimeoutMs,
              dataCallbacksOnly: true,
            },
            modules,
          );
        },
        inject: [getSuiteOptionsToken(name), ModulesContainer, { token: CACHE_MANAGER, optional: true }],
      },
      // What @WeComAuth({ suite: name }) looks up: the suite's OAuth service.
      { provide: getWeComSuiteOAuthServiceName(name), useFactory: (suite: SuiteService) => suite.oauth, inject: [serviceToken] },
      // Metrics and application events listen to the diagnostics channels, as for an app.
      WeComMetricsRecorder,
      createWeComEventsBridgeProvider(),
    ];
    const exports: Array<string | typeof SuiteService> = [serviceToken, getWeComSuiteOAuthServiceName(name)];
    if (getSuiteServiceToken(name) === SuiteService) {
      providers.push({ provide: SuiteService, useExisting: serviceToken });
      exports.push(SuiteService);
    }
    return { module: WeComSuiteModule, global: isGlobal === true, imports: imports ?? [], providers, exports };
  }
}
