import { SessionCodec } from './session';
import { deriveKey } from './signing';

describe('SessionCodec', () => {
  const codec = new SessionCodec(deriveKey('m', 'session\u0000a'), 3_600_000);
  const t0 = 1_800_000_000_000;

  it('seals who the user is and nothing else; opens until its lifetime ends', () => {
    const identity = { corpId: 'ww1', userId: 'zhangsan' };
    Object.defineProperty(identity, 'userTicket', { get: () => 'TICKET-0123456789abcdef', enumerable: false });
    const value = codec.seal(identity, t0);
    expect(Buffer.from(value.split('.')[0], 'base64url').toString()).not.toContain('TICKET');
    expect(codec.open(value, t0 + 3_599_000)).toEqual({ corpId: 'ww1', userId: 'zhangsan' });
    expect(codec.open(value, t0 + 3_600_000)).toBeUndefined();
  });

  it('refuses an altered, foreign or malformed value', () => {
    const value = codec.seal({ corpId: 'ww1', userId: 'u' }, t0);
    const other = new SessionCodec(deriveKey('m', 'session\u0000b'), 3_600_000);
    expect(other.open(value, t0)).toBeUndefined();
    const [body, mac] = value.split('.') as [string, string];
    const forged = Buffer.from(JSON.stringify({ v: 1, c: 'ww1', u: 'admin', iat: 0, exp: 9e9 })).toString('base64url');
    for (const bad of [`${forged}.${mac}`, `${body}.`, `.${mac}`, `${body}.${mac}.x`, 'x'.repeat(5_000), '', `${body}x.${mac}`]) expect(codec.open(bad, t0)).toBeUndefined();
  });

  it('keeps what a verified value opens to, frozen, until its end; never keeps a refused one', () => {
    const value = codec.seal({ corpId: 'ww1', userId: 'wangwu' }, t0);
    const first = codec.open(value, t0);
    expect(Object.isFrozen(first)).toBe(true);
    expect(codec.open(value, t0 + 1_000)).toBe(first);
    expect(codec.open(value, t0 + 3_600_000)).toBeUndefined();
    expect(codec.open(value, t0)).toEqual(first);
    const [body, mac] = value.split('.') as [string, string];
    const altered = `${body}.${mac.slice(0, -2)}AA`;
    expect(codec.open(altered, t0)).toBeUndefined();
    expect(codec.open(altered, t0)).toBeUndefined();
  });
});
