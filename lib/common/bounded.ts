/** Ground floor: a bound on any wait, so that a slow or dead store or lock can never hang a caller. */

/** Thrown when an operation did not settle within its bound. */
export class TimeoutError extends Error {
  constructor(operation: string, ms: number) {
    super(`${operation} did not answer within ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

/** Resolve or reject as `promise` does, or reject with `TimeoutError` after `ms`. */
export function bounded<T>(promise: Promise<T>, ms: number, operation: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(operation, ms)), ms);
    timer.unref?.();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A short description of an unknown error, for log lines (never an object dump). */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : 'unknown error';
}

/** Jittered exponential backoff: between half and all of min(max, base·2^attempt). */
export function backoffMs(attempt: number, baseDelayMs: number, maxDelayMs: number): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** attempt);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/** A pause that does not keep the process alive on its own. */
export function sleep(ms: number): Promise<void> {
  return new Promise<void>((resolve) => setTimeout(resolve, ms).unref?.());
}
