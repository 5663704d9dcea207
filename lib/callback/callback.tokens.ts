import { Inject } from '@nestjs/common';
import { DEFAULT_APP_NAME } from '../common/wecom-token.constants.js';
import { WeComCallbackService } from './wecom-callback.service.js';

/** String token of an app's `WeComCallbackService` (the default app's is also provided under its class). */
export function getWeComCallbackServiceName(name: string = DEFAULT_APP_NAME): string {
  return `WeComCallbackService(${name})`;
}

/** Injection token of an app's `WeComCallbackService`: the class for the default app, a readable string otherwise. */
export function getWeComCallbackServiceToken(name: string = DEFAULT_APP_NAME): string | typeof WeComCallbackService {
  return name === DEFAULT_APP_NAME ? WeComCallbackService : getWeComCallbackServiceName(name);
}

/** Inject the `WeComCallbackService` of app `name`. */
export const InjectWeComCallbackService = (name: string = DEFAULT_APP_NAME): PropertyDecorator & ParameterDecorator => Inject(getWeComCallbackServiceToken(name));
