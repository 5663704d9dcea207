/**
 * Injection tokens of identity, readable and deterministic, and the decorator that injects an app's OAuth service.
 */
import { Inject } from '@nestjs/common';
import { DEFAULT_APP_NAME } from '../common/wecom-token.constants.js';
import { WeComOAuthService } from './wecom-oauth.service.js';

/** String token of an app's `WeComOAuthService` (the default app's is also provided under the class). */
export function getWeComOAuthServiceName(name: string = DEFAULT_APP_NAME): string {
  return `WeComOAuthService(${name})`;
}

/** String token of a suite's OAuth service (`SuiteService.oauth`), which `@WeComAuth({ suite })` looks up. */
export function getWeComSuiteOAuthServiceName(name: string = DEFAULT_APP_NAME): string {
  return `WeComSuiteOAuthService(${name})`;
}

/** Injection token of an app's `WeComOAuthService`: the class for the default app, a readable string otherwise. */
export function getWeComOAuthServiceToken(name: string = DEFAULT_APP_NAME): string | typeof WeComOAuthService {
  return name === DEFAULT_APP_NAME ? WeComOAuthService : getWeComOAuthServiceName(name);
}

/** Inject the `WeComOAuthService` of app `name`. */
export const InjectWeComOAuthService = (name: string = DEFAULT_APP_NAME): PropertyDecorator & ParameterDecorator => Inject(getWeComOAuthServiceToken(name));
