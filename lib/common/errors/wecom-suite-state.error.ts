import { WeComApiError } from './wecom-api.error.js';
import type { AppRef } from '../wecom-token.messages.js';

/** Why a suite credential could not be asked for. */
export type WeComSuiteStateFailure = 'no-suite-ticket' | 'no-permanent-code' | 'cancelled';

/**
 * A suite credential cannot be fetched yet or any more, and no request was sent: no suite_ticket has arrived
 * (errcode 40085, as WeCom would answer), no permanent code is stored for the corp, or the corp cancelled its
 * authorisation (40084). A `WeComApiError`, so code that handles errcodes handles these too.
 */
export class WeComSuiteStateError extends WeComApiError {
  /** What is missing. */
  readonly reason: WeComSuiteStateFailure;

  constructor(ref: AppRef, path: string, reason: WeComSuiteStateFailure, explanation: string) {
    super(ref, path, reason === 'no-suite-ticket' ? 40085 : 40084, explanation);
    this.name = 'WeComSuiteStateError';
    this.reason = reason;
  }
}
