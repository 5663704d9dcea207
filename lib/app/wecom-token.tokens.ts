/**
 * Injection tokens, readable and deterministic: `'WeComAccessTokenService(contacts)'`, never random.
 * The default app's public services are their classes, so `constructor(private tokens: AccessTokenService)` works.
 */
import { DEFAULT_APP_NAME } from '../common/wecom-token.constants.js';

/** Token of the raw options of one app, as given to `forRoot` or produced by `forRootAsync`. */
export function getWeComOptionsToken(name: string = DEFAULT_APP_NAME): string {
  return `WeComTokenModuleOptions(${name})`;
}

/** Token of the validated, defaulted configuration of one app. */
export function getWeComConfigToken(name: string = DEFAULT_APP_NAME): string {
  return `WeComTokenConfig(${name})`;
}

/** String token of an app's `AccessTokenService` (the default app is also provided under its class). */
export function getAccessTokenServiceName(name: string = DEFAULT_APP_NAME): string {
  return `WeComAccessTokenService(${name})`;
}

/** String token of an app's `WeComClient` (the default app is also provided under its class). */
export function getWeComClientName(name: string = DEFAULT_APP_NAME): string {
  return `WeComClient(${name})`;
}

/** String token of an app's `AccessTokenInterceptor`. */
export function getAccessTokenInterceptorName(name: string = DEFAULT_APP_NAME): string {
  return `WeComAccessTokenInterceptor(${name})`;
}

/** String token of an app's `JsapiTicketService` (the default app is also provided under its class). */
export function getJsapiTicketServiceName(name: string = DEFAULT_APP_NAME): string {
  return `WeComJsapiTicketService(${name})`;
}

/** Token of the raw options given to `forRegistry` or produced by `forRegistryAsync`. */
export const WECOM_REGISTRY_OPTIONS = 'WeComRegistryOptions';
