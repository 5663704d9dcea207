/**
 * An HTTPS front for the simulator, so the egress tests reach it through CONNECT as they would reach WeCom: TLS is
 * terminated here with a self-signed certificate made at test time (`openssl`, for 127.0.0.1 and localhost), and each
 * connection is passed on to the simulator FROM THE SAME loopback address it came from, so the simulator still sees
 * the real peer (127.0.0.2 through the test proxy, 127.0.0.1 direct). Clients trust the certificate through
 * NODE_EXTRA_CA_CERTS, which Node reads at start-up: the tests that use this front run their client in a child process.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, Server } from 'node:tls';

/** A self-signed certificate for 127.0.0.1 / localhost, its files in a temporary directory. */
export interface TestCertificate {
  key: string;
  cert: string;
  /** Path of the certificate (PEM), for NODE_EXTRA_CA_CERTS. */
  certPath: string;
  /** Removes the directory. */
  remove(): void;
}

/** Makes a certificate valid for a day, with openssl. */
export function makeCertificate(): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'wecom-egress-tls-'));
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyPath,
      '-out',
      certPath,
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'ignore', timeout: 20_000 },
  );
  return { key: readFileSync(keyPath, 'utf8'), cert: readFileSync(certPath, 'utf8'), certPath, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Why the TLS front cannot run here, or undefined. */
export function opensslUnavailableReason(): string | undefined {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore', timeout: 5_000 });
    return undefined;
  } catch {
    return 'no openssl binary on PATH (needed to make the test certificate)';
  }
}

/** TLS on 127.0.0.1 in front of a plain-HTTP port on 127.0.0.1. */
export class TlsFront {
  /** TLS connections accepted. */
  connections = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server) {}

  static async start(targetPort: number, certificate: Pick<TestCertificate, 'key' | 'cert'>): Promise<TlsFront> {
    const holder: { front?: TlsFront } = {};
    const server = createServer({ key: certificate.key, cert: certificate.cert }, (socket) => {
      const front = holder.front!;
      front.connections += 1;
      const from = socket.remoteAddress?.replace(/^::ffff:/, '') ?? '127.0.0.1';
      const upstream = connect({ host: '127.0.0.1', port: targetPort, localAddress: from });
      for (const s of [socket, upstream]) {
        front.sockets.add(s);
        s.once('close', () => front.sockets.delete(s));
        s.on('error', () => {
          socket.destroy();
          upstream.destroy();
        });
      }
      socket.pipe(upstream).pipe(socket);
    });
    const front = new TlsFront(server);
    holder.front = front;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return front;
  }

  /** `https://127.0.0.1:PORT`. */
  get baseUrl(): string {
    return `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
