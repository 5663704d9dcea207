/**
 * Ground floor: what a caller awaits keeps the process alive until it settles. The engine's own waits (retry
 * backoff, polling for another holder, deadlines, bounds on the cache) are unref'd timers, so that an idle
 * application never keeps the process alive on their account; a one-off job that awaits a token while WeCom
 * refuses, answers -1 or 502 would then end with exit code 0 in the middle of a backoff, its await never settled.
 * A hold is one ref'd timer per burst of awaited calls (not one per call), cleared when the last of them settles.
 */
import { MAX_TIMER_MS } from './wecom-token.constants.js';

function idle(): void {
  // Never does anything: the timer exists only to keep the event loop alive.
}

/** Keeps the process alive while any promise handed to {@link around} is pending. One per owner (no statics). */
export class ProcessHold {
  private pending = 0;
  private timer?: NodeJS.Timeout;

  /** How many awaited calls hold the process now. */
  get holding(): number {
    return this.pending;
  }

  /** `promise`, with the process kept alive until it settles. */
  around<T>(promise: Promise<T>): Promise<T> {
    if (this.pending++ === 0) this.timer = setInterval(idle, MAX_TIMER_MS);
    return promise.finally(() => {
      if (--this.pending === 0) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    });
  }
}
