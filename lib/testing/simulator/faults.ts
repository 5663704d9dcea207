/**
 * Injected faults: the queue that {@link WeComSimulator.failNext} fills, and what each fault answers. A fault is taken
 * before normal handling, so it applies to any path (gettoken, tickets, business APIs) in the same way.
 */
import { GETTOKEN_PATH } from './tokens.js';
import { JSON_CONTENT_TYPE, isRecord, parseJson, reply } from './replies.js';
import type { Answer, Replies, Reply } from './replies.js';
import type { SimulatedFault, SimulatedFaultTarget } from './types.js';

const TRUNCATED_JSON_BODY = '{"errcode":0,"errmsg":"ok","access_to';
const HTML_502_BODY =
  '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n' + '<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';

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
    return this.queue.filter((queued) => target === undefined || queued.target === target).reduce((sum, queued) => sum + queued.remaining, 0);
  }

  /** The first queued fault that matches a path, consumed. */
  take(path: string): SimulatedFault | undefined {
    const index = this.queue.findIndex((queued) =>
      queued.target === 'gettoken' ? path === GETTOKEN_PATH : queued.target === 'api' ? path !== GETTOKEN_PATH : queued.target === path,
    );
    if (index < 0) return undefined;
    const queued = this.queue[index];
    queued.remaining -= 1;
    if (queued.remaining <= 0) this.queue.splice(index, 1);
    return queued.fault;
  }
}

/**
 * What a request with a fault gets. `handle` is the normal handling, run only for the faults that answer late or
 * slowly (`delay`, `trickle`): the others never reach WeCom's logic, so nothing is issued for them. `delayMs` (the
 * gettoken delay) applies to every written answer.
 */
export async function faultAnswer(
  fault: SimulatedFault,
  replies: Replies,
  delayMs: number,
  handle: () => Promise<Reply>,
  request: { url: string; body: Buffer } = { url: '', body: Buffer.alloc(0) },
): Promise<Answer> {
  if (!('kind' in fault)) return { kind: 'reply', reply: replies.error(fault.errcode, fault.errmsg), delayMs };
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
      return { kind: 'reply', reply: await handle(), delayMs: delayMs + fault.ms };
    case 'trickle':
      return {
        kind: 'trickle',
        reply: await handle(),
        intervalMs: fault.intervalMs,
        ...(fault.bytes === undefined ? {} : { bytes: fault.bytes }),
        delayMs,
      };
    case 'redirect':
      return { kind: 'reply', reply: redirect(fault.location, fault.status ?? 302), delayMs };
    case 'status':
      return { kind: 'reply', reply: reply(fault.status, fault.contentType ?? TEXT, fault.body ?? ''), delayMs };
    case 'body':
      return { kind: 'reply', reply: rawBody(fault.body, fault.contentType ?? JSON_CONTENT_TYPE), delayMs };
    case 'echo':
      return { kind: 'reply', reply: replies.error(fault.errcode ?? 40001, `invalid request ${request.url} body: ${request.body.toString('utf8')}`), delayMs };
  }
}

const TEXT = 'text/plain; charset=UTF-8';

/** Phrases of the redirect statuses, for a body that looks like a gateway's. */
const REDIRECT_PHRASES: Readonly<Record<number, string>> = Object.freeze({
  300: 'Multiple Choices',
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
});

function redirect(location: string, status: number): Reply {
  const title = `${status} ${REDIRECT_PHRASES[status] ?? 'Redirect'}`;
  const html = `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n` + '<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';
  const answer = reply(status, 'text/html', html);
  answer.headers.Location = location;
  return answer;
}

/** A raw body; the log gets its errcode when it is JSON with a numeric one, as for any JSON answer. */
function rawBody(body: string | Uint8Array, contentType: string): Reply {
  const answer = reply(200, contentType, body);
  const parsed = parseJson(answer.body);
  if (isRecord(parsed) && typeof parsed.errcode === 'number') answer.errcode = parsed.errcode;
  return answer;
}

function checkFault(fault: SimulatedFault): void {
  if (!('kind' in fault)) {
    if (!Number.isInteger(fault.errcode)) {
      throw new Error(`an errcode fault needs an integer errcode, got ${fault.errcode}`);
    }
    return;
  }
  switch (fault.kind) {
    case 'delay':
      if (!(Number.isFinite(fault.ms) && fault.ms >= 0)) {
        throw new Error(`a delay fault needs ms >= 0, got ${fault.ms}`);
      }
      return;
    case 'trickle':
      if (!(Number.isFinite(fault.intervalMs) && fault.intervalMs > 0)) {
        throw new Error(`a trickle fault needs intervalMs > 0, got ${fault.intervalMs}`);
      }
      if (fault.bytes !== undefined && !(Number.isInteger(fault.bytes) && fault.bytes >= 0)) {
        throw new Error(`a trickle fault's bytes must be an integer >= 0, got ${fault.bytes}`);
      }
      return;
    case 'redirect':
      if (typeof fault.location !== 'string' || fault.location.length === 0) {
        throw new Error('a redirect fault needs a location');
      }
      if (fault.status !== undefined && !isRedirectStatus(fault.status)) {
        throw new Error(`a redirect fault needs a 3xx status, got ${fault.status}`);
      }
      return;
    case 'status':
      // 1xx are interim answers, not something a server can end an exchange with.
      if (!(Number.isInteger(fault.status) && fault.status >= 200 && fault.status <= 599)) {
        throw new Error(`a status fault needs a status from 200 to 599, got ${fault.status}`);
      }
      return;
    case 'body':
      if (typeof fault.body !== 'string' && !(fault.body instanceof Uint8Array)) {
        throw new Error('a body fault needs a string or bytes body');
      }
      return;
    case 'echo':
      if (fault.errcode !== undefined && !(Number.isInteger(fault.errcode) && fault.errcode !== 0)) {
        throw new Error(`an echo fault needs a non-zero integer errcode, got ${fault.errcode}`);
      }
      return;
    default:
      return;
  }
}

function isRedirectStatus(status: number): boolean {
  return Number.isInteger(status) && status >= 300 && status <= 399;
}
