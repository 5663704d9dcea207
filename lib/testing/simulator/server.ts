/**
 * The HTTP side of the simulator: the loopback server, body reading, the request log, events, and writing answers
 * (at once, late, never, or not at all). It knows nothing of WeCom: a {@link Router} decides every answer.
 */
import { EventEmitter } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { peerAddress, peerContext, reply } from './replies.js';
import type { Answer, Replies, Reply, Trickle } from './replies.js';
import type { SimulatedRequest, WeComSimulatorEvents } from './types.js';

/** A request log entry while its answer is being decided. */
export type LogRecord = { -readonly [K in keyof SimulatedRequest]: SimulatedRequest[K] };

/** What the server needs from the WeCom side. */
export interface Router {
  /** The app a request is attributed to in the log, decided before its body is read. */
  attribute(path: string, query: Readonly<Record<string, string>>): string | undefined;
  /** The answer to a request whose body has been read; may set `record.fault`. */
  route(req: IncomingMessage, record: LogRecord, body: Buffer): Promise<Answer>;
}

/** Where and how the server listens. */
export interface ServerOptions {
  readonly host: string;
  readonly port: number;
  readonly maxBodyBytes: number;
}

/** One loopback HTTP server with its log; `close()` leaves no handle behind. */
export class SimulatorServer {
  private server: Server | undefined;
  private listeningPort: number | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly events = new EventEmitter();
  private records: LogRecord[] = [];

  constructor(
    private readonly options: ServerOptions,
    private readonly router: Router,
    private readonly replies: Replies,
  ) {}

  /** Every request since the start or the last {@link resetLog}, oldest first. */
  get log(): ReadonlyArray<SimulatedRequest> {
    return this.records;
  }

  /** Forgets the request log. */
  resetLog(): void {
    this.records = [];
  }

  /** Starts listening; a no-op while listening. */
  async listen(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => {
      void this.onRequest(req, res);
    });
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.listeningPort = (server.address() as AddressInfo).port;
  }

  /** Stops listening and destroys every socket, hung and delayed requests included. Safe twice. */
  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.listeningPort = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const socket of this.sockets) socket.destroy();
      this.sockets.clear();
    });
  }

  /** The port it listens on; throws before {@link listen}. */
  get port(): number {
    if (this.listeningPort === undefined) {
      throw new Error('WeComSimulator is not listening: call `await simulator.listen()` or use WeComSimulator.start()');
    }
    return this.listeningPort;
  }

  /** `http://host:port`, IPv6 hosts bracketed. */
  get baseUrl(): string {
    const port = this.port;
    const host = this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host;
    return `http://${host}:${port}`;
  }

  /** Subscribes to an event. */
  on<E extends keyof WeComSimulatorEvents>(event: E, listener: WeComSimulatorEvents[E]): void {
    this.events.on(event, listener);
  }

  /** Unsubscribes a listener. */
  off<E extends keyof WeComSimulatorEvents>(event: E, listener: WeComSimulatorEvents[E]): void {
    this.events.off(event, listener);
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const record: LogRecord = { method: req.method ?? 'GET', path: '/', query: {}, status: 0, at: Date.now(), peer: peerAddress(req.socket.remoteAddress) };
    try {
      const url = new URL(req.url ?? '/', 'http://simulator.invalid');
      record.path = url.pathname;
      const query: Record<string, string> = {};
      for (const [key, value] of url.searchParams) if (!(key in query)) query[key] = value;
      record.query = query;
      const app = this.router.attribute(record.path, query);
      if (app !== undefined) record.app = app;
      this.records.push(record);

      const body = await readBody(req, this.options.maxBodyBytes);
      if (body === 'aborted') {
        this.decided(record);
        return;
      }
      if (body === 'too-large') {
        const limit = this.options.maxBodyBytes;
        const answer = this.replies.json({ errcode: 413, errmsg: `request body larger than ${limit} bytes` }, 413);
        answer.headers.Connection = 'close';
        this.finish(record, res, answer, 0);
        return;
      }
      this.perform(record, req, res, await peerContext.run(record.peer, () => this.router.route(req, record, body)));
    } catch (error) {
      // A bug here, or a throwing 'request' listener: answer visibly rather than leave the client hanging.
      const message = error instanceof Error ? error.message : String(error);
      this.finish(record, res, reply(500, 'text/plain; charset=UTF-8', `WeComSimulator error: ${message}`), 0, false);
    }
  }

  private perform(record: LogRecord, req: IncomingMessage, res: ServerResponse, answer: Answer): void {
    switch (answer.kind) {
      case 'drop':
        this.decided(record);
        req.socket.destroy();
        return;
      case 'hang':
        // Nothing to do: close() destroys the socket.
        this.decided(record);
        return;
      case 'reply':
        this.finish(record, res, answer.reply, answer.delayMs ?? 0);
        return;
      case 'trickle':
        this.decided(record, answer.reply);
        this.after(answer.delayMs ?? 0, () => this.trickle(res, answer));
    }
  }

  /**
   * Status and headers at once, then one byte per interval. No Content-Length, so the client cannot tell a slow body
   * from a short one; each tick is a timer that close() clears, and close() destroys the socket.
   */
  private trickle(res: ServerResponse, answer: Trickle): void {
    if (res.destroyed || res.writableEnded) return;
    const headers: Record<string, string | number> = {};
    for (const [name, value] of Object.entries(answer.reply.headers)) {
      if (name.toLowerCase() !== 'content-length') headers[name] = value;
    }
    res.writeHead(answer.reply.status, headers);
    res.flushHeaders();
    const body = answer.reply.body;
    let sent = 0;
    const tick = (): void => {
      if (res.destroyed || res.writableEnded) return;
      if (answer.bytes !== undefined && sent >= answer.bytes) {
        res.end();
        return;
      }
      res.write(sent < body.length ? body.subarray(sent, sent + 1) : SPACE);
      sent += 1;
      this.later(answer.intervalMs, tick);
    };
    this.later(answer.intervalMs, tick);
  }

  /** Completes the log record and tells listeners; the answer itself may still be delayed. */
  private decided(record: LogRecord, answer?: Reply, emit = true): void {
    if (answer) {
      record.status = answer.status;
      if (answer.errcode !== undefined) record.errcode = answer.errcode;
    }
    if (emit) this.events.emit('request', record);
  }

  private finish(record: LogRecord, res: ServerResponse, answer: Reply, delayMs: number, emit = true): void {
    this.decided(record, answer, emit);
    const send = (): void => {
      if (res.destroyed || res.writableEnded) return;
      res.writeHead(answer.status, { ...answer.headers, 'Content-Length': answer.body.length });
      res.end(answer.body);
      if (answer.headers.Connection === 'close') res.once('finish', () => res.socket?.destroy());
    };
    this.after(delayMs, send);
  }

  /** Runs at once without a delay, else on a {@link later} timer. */
  private after(delayMs: number, run: () => void): void {
    if (delayMs <= 0) run();
    else this.later(delayMs, run);
  }

  /** A timer that close() clears and that never keeps the process alive. */
  private later(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    timer.unref();
    this.timers.add(timer);
  }
}

const SPACE = Buffer.from(' ', 'latin1');

/** Reads the whole body, stopping at `limit` bytes. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large' | 'aborted'> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve('too-large');
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (result: Buffer | 'too-large' | 'aborted'): void => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        chunks.length = 0;
        req.pause();
        settle('too-large');
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => settle(Buffer.concat(chunks)));
    req.on('error', () => settle('aborted'));
    req.on('close', () => settle(req.complete ? Buffer.concat(chunks) : 'aborted'));
  });
}
