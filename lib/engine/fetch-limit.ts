/**
 * A small counting semaphore: at most `max` loads at once (a suite's corp credential loads: shared-cache read, lease,
 * request, write; a registry's loader calls), whatever the number of corps or tenants, so that a cold start of thousands of corps opens a bounded number
 * of sockets, does not trip 45033, and does not flood Redis past its command bound (which would make every instance
 * of a fleet give up on the lock and fetch for itself).
 */
export class FetchLimit {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly max: number) {}

  /** Requests in flight now. */
  get inFlight(): number {
    return this.active;
  }

  /** Runs `task` once a slot is free; a waiter whose `signal` aborts leaves the queue with the signal's reason. */
  async run<T>(signal: AbortSignal, task: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await this.wait(signal);
    else this.active += 1;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter, so a newcomer cannot jump the queue.
      if (next) next();
      else this.active -= 1;
    }
  }

  private wait(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const index = this.waiting.indexOf(grant);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(signal.reason);
      };
      const grant = (): void => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(grant);
    });
  }
}
