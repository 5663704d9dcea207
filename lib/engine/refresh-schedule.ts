/**
 * The background refresh timer of one app. Registered with the application's `SchedulerRegistry` when it imports
 * `ScheduleModule.forRoot()` (so it is visible and removable there); without it, no timer is set and tokens are
 * refreshed on demand.
 */
import type { Logger } from '@nestjs/common';
import { quoteUntrusted } from '../common/redaction.js';
import { MAX_TIMER_MS } from '../common/wecom-token.constants.js';

/** The part of `@nestjs/schedule`'s `SchedulerRegistry` this module uses. */
export interface TimeoutRegistry {
  addTimeout(name: string, timeout: NodeJS.Timeout): void;
  deleteTimeout(name: string): void;
  doesExist(type: 'timeout', name: string): boolean;
}

/** One app's refresh timer. */
export class RefreshSchedule {
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly name: string,
    private readonly registry: TimeoutRegistry | undefined,
    private readonly logger: Logger,
  ) {}

  /** Whether timers are set at all (the application has ScheduleModule). */
  get enabled(): boolean {
    return this.registry !== undefined && !this.stopped;
  }

  /**
   * Run `task` shortly before `at`: a random lead of up to 5% of the wait (at most 10 s) spreads the instances of
   * a fleet, so the first one fetches and the others find its token in the shared cache.
   */
  schedule(at: number, task: () => void): void {
    if (!this.enabled) return;
    this.cancel();
    // Node's timers hold at most 2^31-1 ms; a longer wait would fire at once (and start a refetch loop).
    const wait = Math.min(MAX_TIMER_MS, Math.max(0, at - Date.now()));
    const lead = Math.random() * Math.min(10_000, wait * 0.05);
    const timer = setTimeout(
      () => {
        this.timer = undefined;
        this.forget();
        task();
      },
      Math.max(0, wait - lead),
    );
    timer.unref?.();
    this.timer = timer;
    try {
      this.registry!.addTimeout(this.name, timer);
    } catch (error) {
      this.logger.warn(`could not register refresh timer '${quoteUntrusted(this.name, 128)}': ${error instanceof Error ? error.message : 'unknown error'}`);
    }
  }

  /** Remove the pending timer, if any. */
  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.forget();
  }

  /** Remove the timer for good: on shutdown. */
  stop(): void {
    this.cancel();
    this.stopped = true;
  }

  private forget(): void {
    try {
      if (this.registry?.doesExist('timeout', this.name)) this.registry.deleteTimeout(this.name);
    } catch {
      // the registry may already be torn down at shutdown; the timer itself is cleared either way
    }
  }
}
