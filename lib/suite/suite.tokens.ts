/**
 * Injection tokens of the suite module, readable (`'WeComSuiteService(crm)'`), and the decorator.
 */
import { Inject } from '@nestjs/common';
import { DEFAULT_APP_NAME } from '../common/wecom-token.constants.js';
import { SuiteService } from './suite.service.js';

/** Token of a suite's raw options. */
export function getSuiteOptionsToken(name: string = DEFAULT_APP_NAME): string {
  return `WeComSuiteModuleOptions(${name})`;
}

/** Injection token of a suite's `SuiteService`: the class for the default suite, a readable string otherwise. */
export function getSuiteServiceToken(name: string = DEFAULT_APP_NAME): string | typeof SuiteService {
  return name === DEFAULT_APP_NAME ? SuiteService : `WeComSuiteService(${name})`;
}

/** Inject the `SuiteService` of suite `name`. */
export const InjectSuiteService = (name: string = DEFAULT_APP_NAME): PropertyDecorator & ParameterDecorator => Inject(getSuiteServiceToken(name));
