import { ConsoleLogger, LoggerService } from '@nestjs/common';
import { inspect } from 'node:util';

/** Collects every log line at every level, so tests can scan them for secrets and whole tokens. */
export class CapturingLogger extends ConsoleLogger implements LoggerService {
  readonly lines: string[] = [];

  constructor() {
    super('test', { logLevels: ['log', 'error', 'warn', 'debug', 'verbose', 'fatal'] });
  }

  private keep(level: string, message: unknown, rest: unknown[]): void {
    this.lines.push(`${level} ${[message, ...rest].map((part) => (typeof part === 'string' ? part : inspect(part, { depth: 5 }))).join(' ')}`);
  }

  override log(message: unknown, ...rest: unknown[]): void {
    this.keep('log', message, rest);
  }
  override error(message: unknown, ...rest: unknown[]): void {
    this.keep('error', message, rest);
  }
  override warn(message: unknown, ...rest: unknown[]): void {
    this.keep('warn', message, rest);
  }
  override debug(message: unknown, ...rest: unknown[]): void {
    this.keep('debug', message, rest);
  }
  override verbose(message: unknown, ...rest: unknown[]): void {
    this.keep('verbose', message, rest);
  }
  override fatal(message: unknown, ...rest: unknown[]): void {
    this.keep('fatal', message, rest);
  }

  matching(pattern: RegExp): string[] {
    return this.lines.filter((line) => pattern.test(line));
  }
}

/** Every way an error can be printed: message, stack, util.inspect (depth unlimited), JSON. */
export function renderError(error: unknown): string {
  const e = error as Error;
  let json: string;
  try {
    json = JSON.stringify(error);
  } catch {
    json = '';
  }
  return [String(error), e?.message, e?.stack, inspect(error, { depth: Infinity, showHidden: true }), json].join('\n');
}

/** Fail with the offending text when any of `secrets` appears in `haystack`. */
export function expectNoneOf(haystack: string, secrets: readonly string[]): void {
  for (const secret of secrets) {
    if (secret && haystack.includes(secret)) {
      const at = haystack.indexOf(secret);
      throw new Error(`leaked value found: …${haystack.slice(Math.max(0, at - 80), at)}[LEAK]…`);
    }
  }
}

/** A recorder of rejections: `failure(p)` resolves to the error `p` rejected with and keeps it for a later scan. */
export function failureRecorder(errors: unknown[]): (promise: Promise<unknown>) => Promise<Error> {
  return async (promise) => {
    try {
      await promise;
    } catch (error) {
      errors.push(error);
      return error as Error;
    }
    throw new Error('expected a rejection');
  };
}
