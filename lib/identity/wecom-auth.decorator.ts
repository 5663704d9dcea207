/**
 * `@WeComAuth()`: `WeComAuthGuard` bound to one registration.
 */
import { applyDecorators, SetMetadata, UseGuards } from '@nestjs/common';
import { WECOM_AUTH_TARGET } from './identity.constants.js';
import type { WeComAuthTarget } from './identity.interfaces.js';
import { WeComAuthGuard } from './wecom-auth.guard.js';

/**
 * `WeComAuthGuard` for a registration: `@WeComAuth()` (the default app), `@WeComAuth({ app: 'crm' })`,
 * `@WeComAuth({ suite: 'default' })` (a third-party suite's members). On a controller or a route.
 */
export function WeComAuth(target: WeComAuthTarget = {}): ClassDecorator & MethodDecorator {
  return applyDecorators(SetMetadata(WECOM_AUTH_TARGET, target), UseGuards(WeComAuthGuard));
}
