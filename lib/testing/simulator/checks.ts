/** The simulator's checks of its own settings, with the message naming the setting. */

/** A lifetime must be a positive number of seconds (fractions allowed, for short tests). */
export function checkLifetime(seconds: number, what: 'token' | 'ticket'): number {
  if (!(Number.isFinite(seconds) && seconds > 0)) {
    throw new Error(`${what} lifetime must be a positive number of seconds, got ${seconds}`);
  }
  return seconds;
}

/** `value` must be `a` or `b` (an untyped caller may pass anything). */
export function checkEither<T extends string>(value: T, a: T, b: T, setting: string): T {
  if (value !== a && value !== b) {
    throw new Error(`${setting} must be '${a}' or '${b}', got '${String(value)}'`);
  }
  return value;
}
