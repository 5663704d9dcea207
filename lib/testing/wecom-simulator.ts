/**
 * An in-process WeCom (企业微信) server for tests: gettoken, token checks, JS-SDK tickets, a few business endpoints, and
 * injectable faults, over real HTTP on loopback. Exported as `nestjs-wecom-token/testing`.
 *
 * It reproduces what a token layer has to cope with (see the WeCom notes: errors as HTTP 200 bodies, revoked and
 * expired tokens, one token per secret, repeated gettoken returning the same or a new token), not WeCom's whole API.
 *
 * The implementation lives in `./simulator/`, one file per role; this path stays so that existing imports of
 * `lib/testing/wecom-simulator` keep working. Only the public names are re-exported, never the role classes.
 */
export { WeComSimulator } from './simulator/wecom-simulator.js';
export type {
  RepeatedGettokenMode,
  RepeatedTicketMode,
  SentMessage,
  SimulatedApiContext,
  SimulatedApiHandler,
  SimulatedApiOptions,
  SimulatedApp,
  SimulatedAppKind,
  SimulatedFault,
  SimulatedFaultTarget,
  SimulatedMedia,
  SimulatedMember,
  SimulatedVisitor,
  SimulatedRequest,
  SimulatedSignatureCheck,
  SimulatedSignatureInput,
  SimulatedSuite,
  SimulatedTicketKind,
  SimulatedTicketLimits,
  WeComSimulatorEvents,
  WeComSimulatorOptions,
} from './simulator/types.js';
export { DEFAULT_PROVIDER, DEFAULT_SUITE, SUITE_PATHS } from './simulator/suites.js';
export type { SimulatedSuiteCallback, SimulatedSuiteEvent, SuiteCallbackOptions } from './simulator/suites.js';
export { OAUTH_PATHS } from './simulator/oauth.js';
export type { OAuthSimulator, SimulatedConsentMode } from './simulator/oauth.js';
export type { SimulatedTrustTarget } from './simulator/trusted-ip.js';
export { AppCallbackSender } from './simulator/app-callbacks.js';
export type { AppCallbackAttempt, AppCallbackDeliveryOptions, SimulatedAppCallback, SimulatedAppCallbackSettings } from './simulator/app-callbacks.js';
