/** Keys shared by the guard and the decorators of identity. */

/** Where the guard leaves the identity on the request (a symbol: no clash with the platform's or the app's fields). */
export const IDENTITY_KEY: unique symbol = Symbol.for('nestjs-wecom-token:identity') as never;

/** Metadata key of `@WeComAuth()`'s target. */
export const WECOM_AUTH_TARGET = 'nestjs-wecom-token:auth-target';
