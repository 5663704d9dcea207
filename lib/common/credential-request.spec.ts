import { WeComApiError } from './errors/wecom-api.error.js';
import { WeComTransportError } from './errors/wecom-transport.error.js';
import { backoffMs } from './bounded.js';
import { isTransient } from './credential-request.js';

const ref = { corpId: 'ww', app: 'a' };

describe('token-fetcher policy', () => {
  it('retries -1, 45033 and transport failures, not credentials, 45009 or 4xx', () => {
    expect(isTransient(new WeComApiError(ref, '/p', -1, ''))).toBe(true);
    expect(isTransient(new WeComApiError(ref, '/p', 45033, ''))).toBe(true);
    expect(isTransient(new WeComApiError(ref, '/p', 45009, ''))).toBe(false);
    expect(isTransient(new WeComApiError(ref, '/p', 40001, ''))).toBe(false);
    expect(isTransient(new WeComTransportError(ref, { failure: 'network', method: 'GET', path: '/p', problem: 'x' }))).toBe(true);
    expect(isTransient(new WeComTransportError(ref, { failure: 'http-status', status: 502, method: 'GET', path: '/p', problem: 'x' }))).toBe(true);
    expect(isTransient(new WeComTransportError(ref, { failure: 'http-status', status: 404, method: 'GET', path: '/p', problem: 'x' }))).toBe(false);
    expect(isTransient(new TypeError('x'))).toBe(false);
  });

  it('backs off exponentially with jitter, bounded', () => {
    for (let attempt = 0; attempt < 10; attempt++) {
      const ceiling = Math.min(3000, 200 * 2 ** attempt);
      const delay = backoffMs(attempt, 200, 3000);
      expect(delay).toBeGreaterThanOrEqual(ceiling / 2);
      expect(delay).toBeLessThanOrEqual(ceiling);
    }
  });
});
