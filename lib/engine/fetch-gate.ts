/**
 * The fetch budget and cool-downs of one credential in one process: whatever WeCom, the network or a caller does,
 * the credential endpoint sees at most `FETCH_BUDGET` requests in any `FETCH_BUDGET_WINDOW_MS`, apart from one
 * fetch per lifetime (at its refresh point) and one per rejection wave, which are granted as allowances.
 */
import { WeComCooldownError } from '../common/errors/wecom-cooldown.error.js';
import { FETCH_BUDGET, FETCH_BUDGET_WINDOW_MS, OTHER_FAILURE_COOLDOWN_MAX_MS } from '../common/wecom-token.constants.js';
import type { AppRef } from '../common/wecom-token.messages.js';
import type { FailureClass } from './credential-spec.js';

/** Allowances beyond this many are not kept: grants do not add up while nothing fetches. */
const MAX_ALLOWANCES = 2;

/**
 * The empty window and list every gate starts with (never written: each gate gets arrays of its own on its first
 * counted request), so that an idle credential holds no arrays.
 */
const NONE: number[] = Object.freeze([]) as unknown as number[];

/** Budget, allowances and cool-down of one credential. */
export class FetchGate {
  /** Start times of the counted requests inside the window, oldest first. */
  private window: number[] = NONE;
  /** The fetch of the held lifetime, usable from its refresh point on (undefined: none). */
  private lifetimeFrom?: number;
  /** Fetches granted by rejection waves. */
  private waves = 0;
  /** When WeCom rejected a freshly fetched value at once, inside the window (at most FETCH_BUDGET kept). */
  private freshRejections: number[] = NONE;
  private cooldown?: { error: Error; until: number };
  private otherStreak = 0;
  /** Where the last admitted request was counted, so that one never sent can be given back. */
  private lastAdmit?: 'lifetime' | 'wave' | number;
  /** Set when the last `admit` started a budget cool-down (for one loud log line, not one per caller). */
  tripped = false;

  constructor(
    private readonly ref: AppRef,
    private readonly kind: string,
    private readonly errorCooldownMs: number,
    private readonly rateLimitCooldownMs: number,
    private readonly failureCooldownMs: number,
  ) {}

  /**
   * A new lifetime began: one fetch from `from` on (its refresh point) does not count. It replaces the allowance of
   * the previous lifetime, so allowances never pile up, and it cannot be spent before its time (a caller that
   * drops the credential in a loop spends the budget instead).
   */
  grantLifetime(from: number): void {
    this.lifetimeFrom = from;
  }

  /** WeCom rejected the held value: one fetch, now, does not count. */
  grantWave(): void {
    this.waves = Math.min(MAX_ALLOWANCES, this.waves + 1);
  }

  /**
   * WeCom rejected a value it had just handed out: no allowance (the refetch counts against the budget, so a
   * loop of "fetch, rejected at once" ends at the budget), and the cool-down's error names this cause.
   */
  rejectedFresh(now = Date.now()): void {
    if (this.freshRejections === NONE) this.freshRejections = [now];
    else this.freshRejections.push(now);
    if (this.freshRejections.length > FETCH_BUDGET) this.freshRejections.shift();
  }

  /** The cause callers get at once while a cool-down lasts, if one does. */
  blocked(now = Date.now()): Error | undefined {
    const c = this.cooldown;
    return c && now < c.until ? c.error : undefined;
  }

  /** How long the cool-down still lasts (0 when none). */
  cooldownRemainingMs(now = Date.now()): number {
    return this.cooldown ? Math.max(0, this.cooldown.until - now) : 0;
  }

  /**
   * Admit one request to the credential endpoint, or throw. The first attempt of a fetch also respects the
   * cool-down; a retry inside a fetch only needs budget.
   */
  admit(retry: boolean, now = Date.now()): void {
    if (!retry) {
      const cause = this.blocked(now);
      if (cause) throw cause;
    }
    if (this.lifetimeFrom !== undefined && now >= this.lifetimeFrom) {
      this.lastAdmit = 'lifetime';
      this.lifetimeFrom = undefined;
      return;
    }
    if (this.waves > 0) {
      this.lastAdmit = 'wave';
      this.waves--;
      return;
    }
    while (this.window.length > 0 && this.window[0] <= now - FETCH_BUDGET_WINDOW_MS) this.window.shift();
    if (this.window.length >= FETCH_BUDGET) {
      const until = this.window[0] + FETCH_BUDGET_WINDOW_MS;
      while (this.freshRejections.length > 0 && this.freshRejections[0] <= now - FETCH_BUDGET_WINDOW_MS) this.freshRejections.shift();
      const error = this.cooldown?.error ?? new WeComCooldownError(this.ref, this.kind, until - now, this.freshRejections.length);
      this.tripped = !this.cooldown || this.cooldown.until < until;
      this.cooldown = { error, until };
      throw error;
    }
    if (this.window.length === 0)
      this.window = [now]; // an array of its own, sized for one
    else this.window.push(now);
    this.lastAdmit = now;
  }

  /** The request last admitted was never sent: give its place back. */
  refund(): void {
    const last = this.lastAdmit;
    this.lastAdmit = undefined;
    if (last === 'lifetime') this.lifetimeFrom = 0;
    else if (last === 'wave') this.waves = Math.min(MAX_ALLOWANCES, this.waves + 1);
    else if (last !== undefined) {
      const i = this.window.lastIndexOf(last);
      if (i >= 0) this.window.splice(i, 1);
    }
  }

  /** A fetch succeeded: no cool-down, the growing one starts small again. */
  succeeded(): void {
    this.cooldown = undefined;
    this.otherStreak = 0;
  }

  /** A whole fetch failed (after its retries): callers get `error` at once for a while. Returns the pause. */
  failed(error: Error, failure: FailureClass, now = Date.now()): number {
    let pause: number;
    if (failure === 'rate-limited') pause = this.rateLimitCooldownMs;
    else if (failure === 'credential') pause = this.errorCooldownMs;
    else {
      pause = Math.min(OTHER_FAILURE_COOLDOWN_MAX_MS, this.failureCooldownMs * 2 ** this.otherStreak);
      this.otherStreak = Math.min(this.otherStreak + 1, 16);
    }
    const until = Math.max(now + pause, this.cooldown?.until ?? 0);
    this.cooldown = { error, until };
    return pause;
  }
}
