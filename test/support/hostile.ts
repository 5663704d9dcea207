import { randomBytes } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';

/** One request a test server received, as it arrived on the wire. */
export interface Received {
  method: string;
  /** The request target as sent (path and query, undecoded). */
  url: string;
  body: string;
}

/** A route of a test server: answer the request, or return false to fall through to a 404. */
// eslint-disable-next-line @typescript-eslint/no-invalid-void-type -- a route returns true when it answered, or nothing
export type Route = (req: IncomingMessage, res: ServerResponse, received: Received) => boolean | void;

/** A node:http server on 127.0.0.1, port 0, that records everything it receives. */
export interface TestServer {
  readonly url: string;
  readonly port: number;
  readonly seen: Received[];
  close(): Promise<void>;
}

/** Start a recording server; `route` answers (a JSON `{"ok":true}` when it is absent or falls through). */
export async function startServer(route?: Route): Promise<TestServer> {
  const seen: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const received = { method: req.method ?? 'GET', url: req.url ?? '', body: Buffer.concat(chunks).toString('utf8') };
      seen.push(received);
      if (route && route(req, res, received) !== false) return;
      res.setHeader('content-type', 'application/json');
      res.end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Send a JSON body. */
export function json(res: ServerResponse, body: unknown, status = 200, contentType = 'application/json'): void {
  res.writeHead(status, { 'content-type': contentType });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

/**
 * A WeCom stand-in under `basePath` that issues long random tokens from `<basePath>/cgi-bin/gettoken` and hands every
 * other request to `route`. `issued` lists every token it gave out, for leak scans.
 */
export async function startHostileWeCom(basePath: string, route: Route): Promise<TestServer & { baseUrl: string; issued: string[] }> {
  const issued: string[] = [];
  const server = await startServer((req, res, received) => {
    if (received.url.split('?')[0] === `${basePath}/cgi-bin/gettoken`) {
      const token = `HOSTILE_${issued.length}_${randomBytes(24).toString('hex')}`;
      issued.push(token);
      json(res, { errcode: 0, errmsg: 'ok', access_token: token, expires_in: 7200 });
      return true;
    }
    return route(req, res, received);
  });
  return Object.assign(server, { baseUrl: `${server.url}${basePath}`, issued });
}

/** How many requests a test server received for `path` (query ignored). */
export function countOf(server: TestServer, path: string): number {
  return server.seen.filter((r) => r.url.split('?')[0] === path).length;
}

/** Send headers, then one byte every `intervalMs`, until the socket closes: a body that never completes. */
export function trickle(res: ServerResponse, intervalMs: number): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.write('{');
  const timer = setInterval(() => res.write(' '), intervalMs);
  res.on('close', () => clearInterval(timer));
}
