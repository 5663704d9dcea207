import './common/single-copy.js';
export * from './app/wecom-token.module.js';
export * from './app/access-token.service.js';
export * from './http/access-token.interceptor.js';
export * from './http/wecom.client.js';
export * from './engine/in-process-token-lock.js';
export * from './common/errors/index.js';
export * from './common/interfaces/index.js';
export {
  getAccessTokenServiceToken,
  getJsapiTicketServiceToken,
  getWeComClientToken,
  InjectAccessTokenService,
  InjectJsapiTicketService,
  InjectWeComClient,
} from './app/wecom-token.decorators.js';
export * from './app/jsapi-ticket.service.js';
export { WeComAppRegistry } from './app/app-registry.js';
export type { WeComRegistryApp, WeComRegistryModuleAsyncOptions, WeComRegistryModuleOptions, WeComRegistryOptionsFactory } from './app/registry.config.js';
export { jsapiSignature } from './crypto/jsapi-signature.js';
export type { JsapiSignatureInput } from './crypto/jsapi-signature.js';
export { WeComCrypto } from './crypto/wecom-crypto.js';
export * from './crypto/wecom-callback.error.js';
export * from './observability/diagnostics.js';
export { getAccessTokenInterceptorName, getWeComOptionsToken } from './app/wecom-token.tokens.js';
export { getWeComHttpServiceName } from './app/wecom-token.providers.js';
export { maskToken } from './common/redaction.js';
export { DEFAULT_APP_NAME, DEFAULT_BASE_URL, CACHE_KEY_PREFIX } from './common/wecom-token.constants.js';
export * from './redis/redis-token-lock.js';
export * from './suite/suite.module.js';
export { SuiteService } from './suite/suite.service.js';
export { getSuiteServiceToken, InjectSuiteService } from './suite/suite.tokens.js';
export type { PermanentCodeStore, WeComSuiteModuleAsyncOptions, WeComSuiteModuleOptions, WeComSuiteOptionsFactory } from './suite/suite.interfaces.js';
export type { CallbackQuery } from './crypto/callback-message.js';
export * from './identity/index.js';
export { WeComCallbackService, DEFAULT_ACK_TIMEOUT_MS } from './callback/wecom-callback.service.js';
export { OnWeComCallback } from './callback/on-wecom-callback.decorator.js';
export { getWeComCallbackServiceToken, InjectWeComCallbackService } from './callback/callback.tokens.js';
export type { WeComCallbackFilter, WeComCallbackMessage, WeComCallbackReply } from './callback/callback.interfaces.js';
