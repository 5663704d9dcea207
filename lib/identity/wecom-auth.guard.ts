/**
 * `WeComAuthGuard`: a route behind it is reached only with a WeCom session; without one, the user is sent to WeCom
 * and back (see auth-flow.ts). Works on Express and Fastify, with no cookie or session middleware.
 */
import { BadGatewayException, BadRequestException, CanActivate, ExecutionContext, HttpException, HttpStatus, Injectable, UnauthorizedException } from '@nestjs/common';
import { ModuleRef, Reflector } from '@nestjs/core';
import { WeComConfigError } from '../common/errors/wecom-config.error.js';
import { DEFAULT_APP_NAME } from '../common/wecom-token.constants.js';
import { appendSetCookies, requestCookieHeader, requestFacts, requestUrl, setResponseHeader } from './http-context.js';
import type { WeComAuthTarget } from './identity.interfaces.js';
import { noOAuthServiceMessage } from './identity.messages.js';
import { getWeComOAuthServiceName, getWeComSuiteOAuthServiceName } from './identity.tokens.js';
import type { WeComOAuthService } from './wecom-oauth.service.js';
import { IDENTITY_KEY, WECOM_AUTH_TARGET } from './identity.constants.js';

/**
 * Identifies the user of a route with WeCom: `@UseGuards(WeComAuthGuard)` for the default app, or
 * `@WeComAuth({ app: 'crm' })` / `@WeComAuth({ suite: 'default' })` for another registration. `@WeComUser()` then
 * gives the `WeComIdentity`.
 */
@Injectable()
export class WeComAuthGuard implements CanActivate {
  private readonly services = new Map<string, WeComOAuthService>();
  /** The OAuth service of each route (controller class, handler), found once. */
  private readonly byRoute = new WeakMap<object, WeakMap<object, WeComOAuthService>>();

  /** Built by Nest where the guard is used; it finds the registration's OAuth service through `moduleRef`. */
  constructor(
    private readonly moduleRef: ModuleRef,
    private readonly reflector: Reflector,
  ) {}

  /**
   * Passes with a session (at once, with no promise, for a signed-in request); otherwise answers 302 (to WeCom, or
   * to the clean URL after the return), 401 or 502.
   */
  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (context.getType() !== 'http') return false;
    const service = this.serviceOf(context);
    const request = context.switchToHttp().getRequest<Record<PropertyKey, unknown>>();
    const identity = service.flow.pass(requestUrl(request), requestCookieHeader(request));
    if (identity !== undefined) {
      request[IDENTITY_KEY] = identity;
      return true;
    }
    return this.decide(context, service, request);
  }

  private async decide(context: ExecutionContext, service: WeComOAuthService, request: Record<PropertyKey, unknown>): Promise<boolean> {
    const response = context.switchToHttp().getResponse<unknown>();
    const decision = await service.flow.decide(requestFacts(request));
    appendSetCookies(response, decision.kind === 'pass' ? [] : decision.cookies);
    switch (decision.kind) {
      case 'pass':
        request[IDENTITY_KEY] = decision.identity;
        return true;
      case 'redirect':
        // A login answer must not be cached anywhere: it carries Set-Cookie and a one-time state.
        setResponseHeader(response, 'cache-control', 'no-store');
        setResponseHeader(response, 'location', decision.location);
        throw new HttpException({ statusCode: HttpStatus.FOUND, message: 'Signing in with WeCom', location: decision.location }, HttpStatus.FOUND);
      case 'deny':
        setResponseHeader(response, 'cache-control', 'no-store');
        if (decision.status === 401) throw new UnauthorizedException(decision.message);
        if (decision.status === 400) throw new BadRequestException(decision.message);
        throw new BadGatewayException(decision.message);
    }
  }

  private serviceOf(context: ExecutionContext): WeComOAuthService {
    const handler = context.getHandler();
    const controller = context.getClass();
    let routes = this.byRoute.get(controller);
    const known = routes?.get(handler);
    if (known) return known;
    const target = this.reflector.getAllAndOverride<WeComAuthTarget | undefined>(WECOM_AUTH_TARGET, [handler, controller]);
    const service = this.service(target);
    if (!routes) this.byRoute.set(controller, (routes = new WeakMap()));
    routes.set(handler, service);
    return service;
  }

  private service(target: WeComAuthTarget | undefined): WeComOAuthService {
    const token = target?.suite !== undefined ? getWeComSuiteOAuthServiceName(target.suite) : getWeComOAuthServiceName(target?.app ?? DEFAULT_APP_NAME);
    const known = this.services.get(token);
    if (known) return known;
    let found: WeComOAuthService | undefined;
    try {
      found = this.moduleRef.get<WeComOAuthService>(token, { strict: false });
    } catch {
      found = undefined;
    }
    if (!found) throw new WeComConfigError(noOAuthServiceMessage(target?.suite !== undefined ? `suite '${target.suite}'` : `app '${target?.app ?? DEFAULT_APP_NAME}'`));
    this.services.set(token, found);
    return found;
  }
}
