/**
 * The application's PermanentCodeStore, with every call bounded by the suite's `timeoutMs` and by the caller's
 * signal (shutdown, the fetch's deadline): a store that hangs can hold no caller, no shared load slot and no
 * shutdown past that bound. A corp whose `get` never settled is not asked again until it does: its later loads fail
 * at once instead of taking a slot of their own, so one corp's slow store stays that corp's problem.
 */
import type { PermanentCodeStore } from './suite.interfaces.js';
import { permanentCodeStorePendingMessage, permanentCodeStoreTimeoutMessage } from './suite.messages.js';

/** Corps whose hung `get` is remembered at most (beyond that a hung corp is simply asked again, still bounded). */
const PENDING_REMEMBERED = 1_000;

/** A store call that did not settle within its bound (classified like any other failed fetch: a growing cool-down). */
export class PermanentCodeStoreTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TimeoutError';
  }
}

/** PermanentCodeStore calls, each bounded. */
export class BoundedPermanentCodes {
  private readonly hung = new Set<string>();

  constructor(
    private readonly store: PermanentCodeStore,
    private readonly suiteId: string,
    private readonly timeoutMs: number,
  ) {}

  /** The corp's permanent code; `signal` (shutdown, the fetch's deadline) ends the wait early. */
  get(authCorpId: string, signal?: AbortSignal): Promise<string | undefined> {
    if (this.hung.has(authCorpId)) return Promise.reject(new PermanentCodeStoreTimeoutError(permanentCodeStorePendingMessage(this.suiteId, authCorpId)));
    return this.call('get', authCorpId, () => this.store.get(authCorpId), signal);
  }

  set(authCorpId: string, permanentCode: string, signal?: AbortSignal): Promise<void> {
    return this.call('set', authCorpId, () => this.store.set(authCorpId, permanentCode), signal);
  }

  delete(authCorpId: string, signal?: AbortSignal): Promise<void> {
    return this.call('delete', authCorpId, () => this.store.delete(authCorpId), signal);
  }

  private call<T>(op: 'get' | 'set' | 'delete', authCorpId: string, run: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const timedOut = (): Error => new PermanentCodeStoreTimeoutError(permanentCodeStoreTimeoutMessage(this.suiteId, op, authCorpId, this.timeoutMs));
    if (signal?.aborted) return Promise.reject(isDeadline(signal.reason) ? timedOut() : signal.reason);
    const pending = Promise.resolve().then(run);
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const finish = (): boolean => {
        if (settled) return false;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        return true;
      };
      const giveUp = (error: Error): void => {
        if (!finish()) return;
        if (op === 'get' && this.hung.size < PENDING_REMEMBERED) {
          this.hung.add(authCorpId);
          const release = (): void => void this.hung.delete(authCorpId);
          pending.then(release, release);
        }
        reject(error);
      };
      const onAbort = (): void => giveUp(isDeadline(signal!.reason) ? timedOut() : (signal!.reason as Error));
      // unref'd: a caller awaiting this holds the process (ProcessHold), an abandoned call does not.
      const timer = setTimeout(() => giveUp(timedOut()), this.timeoutMs);
      timer.unref?.();
      signal?.addEventListener('abort', onAbort, { once: true });
      pending.then(
        (value) => finish() && resolve(value),
        (error: unknown) => finish() && reject(error),
      );
    });
  }
}

/** Whether an abort reason is a deadline (rather than a shutdown). */
function isDeadline(reason: unknown): boolean {
  // By name, not instanceof: the deadline is a DOMException, which is no Error of another realm (a test's VM).
  return typeof reason === 'object' && reason !== null && (reason as { name?: unknown }).name === 'TimeoutError';
}
