/**
 * Injected faults: the queue that {@link WeComSimulator.failNext} fills, and what each fault answers. A fault is taken
 * before normal handling, so it applies to any path (gettoken, tickets, business APIs) in the same way.
 */
import { GETTOKEN_PATH } from './tokens.js';
import { JSON_CONTENT_TYPE, reply } from './replies.js';
import type { Answer, Replies } from './replies.js';
import type { SimulatedFault, SimulatedFaultTarget } from './types.js';

const TRUNCATED_JSON_BODY = '{"errcode":0,"errmsg":"ok","access_to';
const HTML_502_BODY =
  '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n' +
  '<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';

interface QueuedFault {
  readonly target: string;
  readonly fault: SimulatedFault;
  remaining: number;
}

/** Faults waiting for their requests, consumed FIFO, one per matching request. */
export class FaultQueue {
  private queue: QueuedFault[] = [];

  /** Queues a fault after checking it, so a typo fails in the test that wrote it, not in a later request. */
  push(target: SimulatedFaultTarget, fault: SimulatedFault, times: number): void {
    if (target !== 'gettoken' && target !== 'api' && !target.startsWith('/')) {
      throw new Error(`failNext target must be 'gettoken', 'api' or a path starting with '/', got '${target}'`);
    }
    if (!Number.isInteger(times) || times < 1) {
      throw new Error(`failNext times must be a positive integer, got ${times}`);
    }
    checkFault(fault);
    this.queue.push({ target, fault, remaining: times });
  }

  /** Drops every queued fault. */
  clear(): void {
    this.queue = [];
  }

  /** Faults not fired yet, for one target or in all. */
  pending(target?: SimulatedFaultTarget): number {
    return this.queue
      .filter((queued) => target === undefined || queued.target === target)
      .reduce((sum, queued) => sum + queued.remaining, 0);
  }

  /** The first queued fault that matches a path, consumed. */
  take(path: string): SimulatedFault | undefined {
    const index = this.queue.findIndex((queued) =>
      queued.target === 'gettoken'
        ? path === GETTOKEN_PATH
        : queued.target === 'api'
          ? path !== GETTOKEN_PATH
          : queued.target === path,
    );
    if (index < 0) return undefined;
    const queued = this.queue[index]!;
    queued.remaining -= 1;
    if (queued.remaining <= 0) this.queue.splice(index, 1);
    return queued.fault;
  }
}

/**
 * What a fault answers on its own, `delayMs` applied to replies; undefined for `delay`, whose request is handled
 * normally and answered late.
 */
export function faultAnswer(fault: SimulatedFault, replies: Replies, delayMs: number): Answer | undefined {
  if ('errcode' in fault) return { kind: 'reply', reply: replies.error(fault.errcode, fault.errmsg), delayMs };
  switch (fault.kind) {
    case 'drop':
      return { kind: 'drop' };
    case 'hang':
      return { kind: 'hang' };
    case 'html-502':
      return { kind: 'reply', reply: reply(502, 'text/html', HTML_502_BODY), delayMs };
    case 'truncated-json':
      return { kind: 'reply', reply: reply(200, JSON_CONTENT_TYPE, TRUNCATED_JSON_BODY), delayMs };
    case 'delay':
      return undefined;
  }
}

function checkFault(fault: SimulatedFault): void {
  if ('kind' in fault && fault.kind === 'delay' && !(Number.isFinite(fault.ms) && fault.ms >= 0)) {
    throw new Error(`a delay fault needs ms >= 0, got ${fault.ms}`);
  }
  if ('errcode' in fault && !Number.isInteger(fault.errcode)) {
    throw new Error(`an errcode fault needs an integer errcode, got ${fault.errcode}`);
  }
}
