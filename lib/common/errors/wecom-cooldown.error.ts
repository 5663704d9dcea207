import { AppRef, cooldownMessage, freshRejectionsMessage } from '../wecom-token.messages.js';

/**
 * No request was sent: the credential's fetch budget (10 requests to its endpoint in any 60 s per process) is
 * spent, and no earlier failure explains why (or WeCom rejected freshly fetched values at once: `freshRejections`).
 * Retry after `retryAfterMs`.
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
  /** How many freshly fetched values WeCom rejected at once inside the window (0: the budget was spent otherwise). */
  readonly freshRejections: number;

  /** @param freshRejections values rejected at once after their fetch, inside the budget's window (they spent it). */
  constructor(ref: AppRef, kind: string, retryAfterMs: number, freshRejections = 0) {
    super(freshRejections > 0 ? freshRejectionsMessage(ref, kind, freshRejections, retryAfterMs) : cooldownMessage(ref, kind, retryAfterMs));
    this.name = 'WeComCooldownError';
    this.corpId = ref.corpId;
    this.app = ref.app;
    this.kind = kind;
    this.retryAfterMs = retryAfterMs;
    this.freshRejections = freshRejections;
  }
}
