/**
 * A tiny node:http server on loopback that answers whatever a test wants (HTML, 5xx, absurd JSON, trickles,
 * redirects), counting requests per path. For answers the simulator has no fault for; no HTTP is mocked.
 */
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** A running hostile server. */
export interface HostileServer {
  readonly url: string;
  /** Requests received per path (no query). */
  count(path?: string): number;
  /** Full request URLs received, query included, for checking what was sent where. */
  readonly received: string[];
  close(): Promise<void>;
}

/** Start a server whose `handler` answers every request. */
export async function startHostile(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<HostileServer> {
  const counts = new Map<string, number>();
  const received: string[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    received.push(req.url ?? '/');
    handler(req, res);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    count: (path?: string) => (path === undefined ? [...counts.values()].reduce((a, b) => a + b, 0) : (counts.get(path) ?? 0)),
    close: async () => {
      for (const timer of timers) clearInterval(timer);
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Answer JSON `body` with HTTP 200. */
export function json(res: ServerResponse, body: unknown, status = 200): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

/** Send headers, then one byte every `intervalMs`, forever (until the socket closes). */
export function trickle(res: ServerResponse, intervalMs: number): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.write('{');
  const timer = setInterval(() => res.write(' '), intervalMs);
  res.on('close', () => clearInterval(timer));
}
