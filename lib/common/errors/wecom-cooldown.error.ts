import { AppRef, cooldownMessage } from '../wecom-token.messages.js';

/**
 * No request was sent: the credential's fetch budget (10 requests to its endpoint in any 60 s per process) is
 * spent, and no earlier failure explains why. Retry after `retryAfterMs`.
 */
export class WeComCooldownError extends Error {
  /** The corp. */
  readonly corpId: string;
  /** The registered app name. */
  readonly app: string;
  /** Which credential (`access_token`, `jsapi_ticket`, …). */
  readonly kind: string;
  /** When a request may be sent again. */
  readonly retryAfterMs: number;

  constructor(ref: AppRef, kind: string, retryAfterMs: number) {
    super(cooldownMessage(ref, kind, retryAfterMs));
    this.name = 'WeComCooldownError';
    this.corpId = ref.corpId;
    this.app = ref.app;
    this.kind = kind;
    this.retryAfterMs = retryAfterMs;
  }
}
