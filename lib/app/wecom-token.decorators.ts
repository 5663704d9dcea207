import { Inject } from '@nestjs/common';
import { AccessTokenService } from './access-token.service.js';
import { WeComClient } from '../http/wecom.client.js';
import { DEFAULT_APP_NAME } from '../common/wecom-token.constants.js';
import { getAccessTokenServiceName, getJsapiTicketServiceName, getWeComClientName } from './wecom-token.tokens.js';
import { JsapiTicketService } from './jsapi-ticket.service.js';

/** Injection token of an app's `AccessTokenService`: the class for the default app, a readable string otherwise. */
export function getAccessTokenServiceToken(name: string = DEFAULT_APP_NAME): string | typeof AccessTokenService {
  return name === DEFAULT_APP_NAME ? AccessTokenService : getAccessTokenServiceName(name);
}

/** Injection token of an app's `WeComClient`: the class for the default app, a readable string otherwise. */
export function getWeComClientToken(name: string = DEFAULT_APP_NAME): string | typeof WeComClient {
  return name === DEFAULT_APP_NAME ? WeComClient : getWeComClientName(name);
}

/** Inject the `AccessTokenService` of app `name`. */
export const InjectAccessTokenService = (name: string = DEFAULT_APP_NAME): PropertyDecorator & ParameterDecorator => Inject(getAccessTokenServiceToken(name));

/** Inject the `WeComClient` of app `name`. */
export const InjectWeComClient = (name: string = DEFAULT_APP_NAME): PropertyDecorator & ParameterDecorator => Inject(getWeComClientToken(name));

/** Injection token of an app's `JsapiTicketService`: the class for the default app, a readable string otherwise. */
export function getJsapiTicketServiceToken(name: string = DEFAULT_APP_NAME): string | typeof JsapiTicketService {
  return name === DEFAULT_APP_NAME ? JsapiTicketService : getJsapiTicketServiceName(name);
}

/** Inject the `JsapiTicketService` of app `name`. */
export const InjectJsapiTicketService = (name: string = DEFAULT_APP_NAME): PropertyDecorator & ParameterDecorator => Inject(getJsapiTicketServiceToken(name));
