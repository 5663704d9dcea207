/**
 * A real HTTP forward proxy on loopback for the egress tests: CONNECT tunnels (HTTPS targets) and absolute-form
 * requests (plain-HTTP targets such as the simulator), with or without Basic proxy auth, counting what goes through
 * it. Its outgoing connections leave from `outboundAddress` (another loopback address, 127.0.0.2 by default), so the
 * simulator sees a different peer through the proxy than direct: that is how a test tells the two paths apart.
 */
import { createServer, IncomingMessage, Server, ServerResponse, request as httpRequest, Agent } from 'node:http';
import { connect, Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/** Options of {@link ForwardProxy.start}. */
export interface ForwardProxyOptions {
  /** Require `Proxy-Authorization: Basic base64(user:password)`; 407 otherwise. */
  auth?: { user: string; password: string };
  /** Address the proxy's outgoing connections leave from. Default `'127.0.0.2'`. */
  outboundAddress?: string;
  /** A status to refuse a CONNECT to `host:port` with (403, 502, …), or undefined to allow it. */
  refuseConnect?: (host: string, port: number) => number | undefined;
}

/** One absolute-form request the proxy forwarded (or refused). */
export interface ProxiedRequest {
  method: string;
  /** The target's path, without query. */
  path: string;
  /** The target's `host:port`. */
  target: string;
  /** The status the proxy answered itself (407), or undefined when it forwarded the request. */
  refusedWith?: number;
}

/** One CONNECT the proxy got. */
export interface ProxiedTunnel {
  target: string;
  /** 200 when opened, else the status it was refused with. */
  status: number;
}

/** A forward proxy on 127.0.0.1, port chosen by the system. */
export class ForwardProxy {
  /** Every absolute-form request, oldest first. */
  readonly requests: ProxiedRequest[] = [];
  /** Every CONNECT, oldest first. */
  readonly connects: ProxiedTunnel[] = [];
  /** Client connections accepted (keep-alive reuse keeps this low). */
  connections = 0;
  /** Every raw header block the proxy received (CONNECT and absolute form), for leak scans by the tests. */
  readonly headerBlocks: string[] = [];

  private readonly sockets = new Set<Socket>();
  private readonly clients = new Set<Socket>();
  private readonly upstream = new Agent({ keepAlive: true });
  private port = 0;

  private constructor(
    private readonly server: Server,
    private readonly options: ForwardProxyOptions,
  ) {}

  /** Starts a proxy. */
  static async start(options: ForwardProxyOptions = {}): Promise<ForwardProxy> {
    const server = createServer();
    const proxy = new ForwardProxy(server, options);
    server.on('connection', (socket: Socket) => {
      proxy.connections += 1;
      proxy.sockets.add(socket);
      proxy.clients.add(socket);
      socket.once('close', () => {
        proxy.sockets.delete(socket);
        proxy.clients.delete(socket);
      });
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => proxy.forward(req, res));
    server.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => proxy.tunnel(req, socket, head));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy.port = (server.address() as AddressInfo).port;
    return proxy;
  }

  /** `http://127.0.0.1:PORT`, with `user:password@` when given. */
  url(credentials?: { user: string; password: string }): string {
    const auth = credentials ? `${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}@` : '';
    return `http://${auth}127.0.0.1:${this.port}`;
  }

  /** `127.0.0.1:PORT`, as errors name it. */
  get label(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Client connections open right now (a kept-alive one stays open until the client closes it). */
  get openConnections(): number {
    return this.clients.size;
  }

  /** Tunnels opened (CONNECTs answered 200). */
  get tunnels(): number {
    return this.connects.filter((c) => c.status === 200).length;
  }

  /** Absolute-form requests forwarded to a path (or all), refused ones not counted. */
  forwarded(path?: string): number {
    return this.requests.filter((r) => r.refusedWith === undefined && (path === undefined || r.path === path)).length;
  }

  /** Forgets the counters. */
  reset(): void {
    this.requests.length = 0;
    this.connects.length = 0;
    this.headerBlocks.length = 0;
    this.connections = 0;
  }

  /** Closes the proxy and every connection through it. */
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.upstream.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private authorised(req: IncomingMessage): boolean {
    const auth = this.options.auth;
    if (!auth) return true;
    const expected = `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`;
    return req.headers['proxy-authorization'] === expected;
  }

  private keepHeaders(req: IncomingMessage): void {
    const lines = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    this.headerBlocks.push(`${req.method} ${req.url}\n${lines.join('\n')}`);
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    this.keepHeaders(req);
    let target: URL;
    try {
      target = new URL(req.url ?? '');
      if (target.protocol !== 'http:') throw new Error('not absolute');
    } catch {
      res.writeHead(400, { 'Content-Type': 'text/plain' }).end('a forward proxy needs an absolute-form http:// request');
      return;
    }
    const record: ProxiedRequest = { method: req.method ?? 'GET', path: target.pathname, target: target.host };
    this.requests.push(record);
    if (!this.authorised(req)) {
      record.refusedWith = 407;
      res.writeHead(407, { 'Proxy-Authenticate': 'Basic realm="egress-test"', 'Content-Type': 'text/html' }).end('<h1>407 from the proxy</h1>');
      return;
    }
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    delete headers['proxy-connection'];
    const upstream = httpRequest(
      {
        host: target.hostname,
        port: Number(target.port || 80),
        method: req.method,
        path: `${target.pathname}${target.search}`,
        headers,
        localAddress: this.options.outboundAddress ?? '127.0.0.2',
        agent: this.upstream,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' }).end('upstream failed');
      else res.destroy();
    });
    req.pipe(upstream);
  }

  private tunnel(req: IncomingMessage, client: Socket, head: Buffer): void {
    this.keepHeaders(req);
    const [host, portText] = splitTarget(req.url ?? '');
    const record: ProxiedTunnel = { target: req.url ?? '', status: 0 };
    this.connects.push(record);
    const refuse = (status: number, reason: string, extra = ''): void => {
      record.status = status;
      client.end(`HTTP/1.1 ${status} ${reason}\r\n${extra}Content-Length: 0\r\n\r\n`);
    };
    if (!this.authorised(req)) return refuse(407, 'Proxy Authentication Required', 'Proxy-Authenticate: Basic realm="egress-test"\r\n');
    const port = Number(portText);
    const status = this.options.refuseConnect?.(host, port);
    if (status !== undefined) return refuse(status, 'Refused');
    const upstream = connect({ host, port, localAddress: this.options.outboundAddress ?? '127.0.0.2' });
    this.sockets.add(upstream);
    upstream.once('close', () => this.sockets.delete(upstream));
    upstream.once('connect', () => {
      record.status = 200;
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => {
      if (record.status === 0) refuse(502, 'Bad Gateway');
      client.destroy();
    });
    client.on('error', () => upstream.destroy());
    client.once('close', () => upstream.destroy());
  }
}

function splitTarget(target: string): [string, string] {
  const at = target.lastIndexOf(':');
  const host = target.slice(0, at).replace(/^\[|\]$/g, '');
  return [host, target.slice(at + 1)];
}
