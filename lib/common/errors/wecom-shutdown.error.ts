import { AppRef, shutDownMessage } from '../wecom-token.messages.js';

/** A credential was asked for, or its fetch was in flight, when the application shut down (`app.close()`). */
export class WeComShutdownError extends Error {
  /** The corp. */
  readonly corpId: string;
  /** The registered app name. */
  readonly app: string;
  /** Which credential (`access_token`, `jsapi_ticket`, …). */
  readonly kind: string;

  constructor(ref: AppRef, kind: string) {
    super(shutDownMessage(ref, kind));
    this.name = 'WeComShutdownError';
    this.corpId = ref.corpId;
    this.app = ref.app;
    this.kind = kind;
  }
}
