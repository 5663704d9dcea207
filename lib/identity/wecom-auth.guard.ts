/**
 * `WeComAuthGuard`: a route behind it is reached only with a WeCom session; without one, the user is sent to WeCom
 * and back (see auth-flow.ts). Works on Express and Fastify, with no cookie or session middleware.
 */
import { BadGatewayException, BadRequestException, CanActivate, ExecutionContext, HttpException, HttpStatus, Injectable, UnauthorizedException } from '@nestjs/common';
import { ModuleRef, Reflector } from '@nestjs/core';
import { WeComConfigError } from '../common/errors/wecom-config.error.js';
import { DEFAULT_APP_NAME } from '../common/wecom-token.constants.js';
import { appendSetCookies, requestFacts, setResponseHeader } from './http-context.js';
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

  /** Built by Nest where the guard is used; it finds the registration's OAuth service through `moduleRef`. */
  constructor(
    private readonly moduleRef: ModuleRef,
    private readonly reflector: Reflector,
  ) {}

  /** Passes with a session; otherwise answers 302 (to WeCom, or to the clean URL after the return), 401 or 502. */
  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return false;
    const target = this.reflector.getAllAndOverride<WeComAuthTarget | undefined>(WECOM_AUTH_TARGET, [context.getHandler(), context.getClass()]);
    const service = this.service(target);
    const http = context.switchToHttp();
    const request = http.getRequest<Record<PropertyKey, unknown>>();
    const response = http.getResponse<unknown>();
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
