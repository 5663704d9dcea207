/**
 * `@WeComUser()`: the identity `WeComAuthGuard` found for this request.
 */
import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import { IDENTITY_KEY } from './identity.constants.js';
import type { WeComIdentity } from './identity.interfaces.js';

/**
 * The `WeComIdentity` of the user, for a route behind `WeComAuthGuard` (without `userTicket`, which the session
 * never holds). Undefined on a route without the guard.
 */
export const WeComUser = createParamDecorator((_data: unknown, context: ExecutionContext): WeComIdentity | undefined => {
  const request = context.switchToHttp().getRequest<Record<PropertyKey, unknown>>();
  const identity = request[IDENTITY_KEY] as WeComIdentity | undefined;
  return identity ? { ...identity } : undefined;
});
