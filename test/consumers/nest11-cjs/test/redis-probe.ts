import { spawnSync } from 'node:child_process';

/** REDIS_URL, default redis://127.0.0.1:6379. */
export const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

/**
 * Whether a Redis server answers at REDIS_URL, decided before the tests are declared (jest has no async describe):
 * a child process opens a socket and sends PING; any RESP reply (+PONG, or -NOAUTH from a protected server) counts.
 */
export function redisReachable(url = REDIS_URL): boolean {
  const probe = `
    const { hostname, port } = new URL(process.argv[1]);
    const socket = require('node:net').connect(Number(port) || 6379, hostname.replace(/^\\[|\\]$/g, ''));
    socket.setTimeout(1500, () => process.exit(1));
    socket.on('error', () => process.exit(1));
    socket.on('connect', () => socket.write('PING\\r\\n'));
    socket.on('data', (d) => process.exit(/^[+-]/.test(d.toString()) ? 0 : 1));`;
  return spawnSync(process.execPath, ['-e', probe, url], { timeout: 3000 }).status === 0;
}
