import { DynamicModule, Module, Provider } from '@nestjs/common';
import { WeComConfigError } from '../common/errors/wecom-config.error.js';
import type { WeComTokenModuleAsyncOptions, WeComTokenModuleOptions, WeComTokenOptionsFactory } from '../common/interfaces/wecom-token-options.interface.js';
import { asyncOptionsProviders } from '../common/async-options.js';
import { DEFAULT_APP_NAME } from '../common/wecom-token.constants.js';
import { invalidOptionMessage, missingAsyncFactoryMessage } from '../common/wecom-token.messages.js';
import { createAppProviders, createRegistryProviders, exportedTokens } from './wecom-token.providers.js';
import { WeComAppRegistry } from './app-registry.js';
import type { WeComRegistryModuleAsyncOptions, WeComRegistryModuleOptions, WeComRegistryOptionsFactory } from './registry.config.js';
import { getWeComOptionsToken, WECOM_REGISTRY_OPTIONS } from './wecom-token.tokens.js';

function appName(name: unknown): string {
  if (name === undefined) return DEFAULT_APP_NAME;
  if (typeof name !== 'string' || name.trim() === '') throw new WeComConfigError(invalidOptionMessage(String(name), 'name', 'must be a non-empty string'));
  return name;
}

/**
 * WeCom access tokens for NestJS. `forRoot` / `forRootAsync` register one app (one secret); give each further app
 * a `name` and inject its services with `@InjectAccessTokenService(name)` / `@InjectWeComClient(name)`.
 */
@Module({})
export class WeComTokenModule {
  /** Register one app with static options. */
  static forRoot(options: WeComTokenModuleOptions): DynamicModule {
    const name = appName(options?.name);
    return WeComTokenModule.assemble(name, options?.isGlobal, [], { provide: getWeComOptionsToken(name), useValue: options });
  }

  /** Register one app with options made by a factory, a class or an existing provider. */
  static forRootAsync(options: WeComTokenModuleAsyncOptions): DynamicModule {
    const name = appName(options?.name);
    const providers = asyncOptionsProviders(
      getWeComOptionsToken(name),
      options,
      (factory: WeComTokenOptionsFactory) => factory.createWeComTokenOptions(),
      () => new WeComConfigError(missingAsyncFactoryMessage(name)),
    );
    return WeComTokenModule.assemble(name, options.isGlobal, options.imports ?? [], ...providers);
  }

  /**
   * Apps that arrive at run time (a SaaS product's tenants): `WeComAppRegistry`, with a loader for keys not
   * registered, and defaults (cache, lock, baseUrl, timeouts, …) for every app.
   */
  static forRegistry(options: WeComRegistryModuleOptions = {}): DynamicModule {
    return WeComTokenModule.registry(options?.isGlobal, [], { provide: WECOM_REGISTRY_OPTIONS, useValue: options });
  }

  /** `forRegistry` with options made by a factory, a class or an existing provider. */
  static forRegistryAsync(options: WeComRegistryModuleAsyncOptions): DynamicModule {
    const providers = asyncOptionsProviders(
      WECOM_REGISTRY_OPTIONS,
      options,
      (factory: WeComRegistryOptionsFactory) => factory.createWeComRegistryOptions(),
      () => new WeComConfigError(missingAsyncFactoryMessage('registry')),
    );
    return WeComTokenModule.registry(options.isGlobal, options.imports ?? [], ...providers);
  }

  private static registry(isGlobal: boolean | undefined, imports: DynamicModule['imports'], ...optionProviders: Provider[]): DynamicModule {
    return {
      module: WeComTokenModule,
      global: isGlobal === true,
      imports: imports ?? [],
      providers: [...optionProviders, ...createRegistryProviders()],
      exports: [WeComAppRegistry],
    };
  }

  private static assemble(name: string, isGlobal: boolean | undefined, imports: DynamicModule['imports'], ...optionProviders: Provider[]): DynamicModule {
    return {
      module: WeComTokenModule,
      global: isGlobal === true,
      imports: imports ?? [],
      providers: [...optionProviders, ...createAppProviders(name)],
      exports: exportedTokens(name),
    };
  }
}
