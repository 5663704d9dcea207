/** How the engine treats a failed fetch. */
export type FailureClass =
  /** Worth another attempt within the same fetch (busy, concurrency limit, network, 5xx). */
  | 'transient'
  /** The credentials or permissions are wrong: no retry, a long cool-down. */
  | 'credential'
  /** WeCom's frequency limit: no retry, the longest cool-down. */
  | 'rate-limited'
  /** Anything else: no retry within the fetch, a short growing cool-down. */
  | 'other'
  /**
   * Nothing was sent: the fetch could not start (no suite_ticket yet, no permanent code, a cancelled corp). No
   * cool-down and no budget spent: the condition can change at any moment (a callback arrives).
   */
  | 'unsent';
