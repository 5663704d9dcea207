/**
 * The providers identity adds to an app's module. `lib/app/` calls this factory with its own tokens, so identity
 * never imports `lib/app/` (that would be an arrow back up): it needs only the app's raw options, its validated
 * config (ground floor), its WeComClient (lib/http) and the cache its token lives in.
 */
import type { Provider } from '@nestjs/common';
import type { Cache } from 'cache-manager';
import type { WeComTokenModuleOptions } from '../common/interfaces/wecom-token-options.interface.js';
import type { WeComTokenConfig } from '../common/wecom-token.config.js';
import { DEFAULT_APP_NAME } from '../common/wecom-token.constants.js';
import type { WeComClient } from '../http/wecom.client.js';
import { resolveIdentitySettings } from './identity.config.js';
import { getWeComOAuthServiceName } from './identity.tokens.js';
import { APP_OAUTH_ENDPOINTS, WeComOAuthService } from './wecom-oauth.service.js';

/** The tokens of the app's own providers that identity is built from. */
export interface AppProviderTokens {
  readonly options: string;
  readonly config: string;
  readonly client: string;
  /** The app's AccessTokenService: only its `cache` is read (the cache the app's token shares). */
  readonly tokens: string;
}

/** The providers of app `name`'s `WeComOAuthService` (and its class alias for the default app). */
export function createOAuthProviders(name: string, from: AppProviderTokens): Provider[] {
  const token = getWeComOAuthServiceName(name);
  const providers: Provider[] = [
    {
      provide: token,
      useFactory: (raw: WeComTokenModuleOptions, config: WeComTokenConfig, client: WeComClient, tokens: { readonly cache: Cache }) => {
        const settings = resolveIdentitySettings(raw, {
          app: config.app,
          appId: config.corpId,
          corpId: config.corpId,
          ...(config.agentId !== undefined ? { agentId: config.agentId } : {}),
          loginType: 'CorpApp',
          secret: config.secret,
          keyPrefix: config.cacheKey.slice(0, -':access_token'.length),
          cache: tokens.cache,
          // Only a lock the application chose (RedisTokenLock for a fleet); see used-states.ts.
          ...(config.lock ? { lock: config.lock } : {}),
          timeoutMs: config.cacheTimeoutMs,
        });
        return new WeComOAuthService(settings, client, APP_OAUTH_ENDPOINTS);
      },
      inject: [from.options, from.config, from.client, from.tokens],
    },
  ];
  if (name === DEFAULT_APP_NAME) providers.push({ provide: WeComOAuthService, useExisting: token });
  return providers;
}

/** What an app's module exports of identity. */
export function exportedOAuthTokens(name: string): Array<string | typeof WeComOAuthService> {
  return name === DEFAULT_APP_NAME ? [getWeComOAuthServiceName(name), WeComOAuthService] : [getWeComOAuthServiceName(name)];
}
