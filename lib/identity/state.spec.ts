import { deriveKey } from './signing';
import { STATE_MAX_AGE_MS, StateCodec } from './state';

describe('StateCodec', () => {
  const key = deriveKey('app-secret\u0000sim-secret', 'state\u0000test');
  const codec = new StateCodec(key);
  const binding = StateCodec.newBinding();
  const t0 = 1_800_000_000_000;

  it("issues states in WeCom's alphabet, at most 128 characters, each different", () => {
    const a = codec.issue(binding, 0, t0);
    const b = codec.issue(binding, 0, t0);
    expect(a).toMatch(/^[A-Za-z0-9]{1,128}$/);
    expect(a).not.toBe(b);
    expect(codec.open(a, binding, t0)).toEqual({ kind: 'valid', nonce: a.slice(0, 32), attempt: 0 });
    expect(codec.open(codec.issue(binding, 1, t0), binding, t0)).toEqual(expect.objectContaining({ kind: 'valid', attempt: 1 }));
  });

  it('is stale after 10 minutes, forged before its issue time (past the skew), for another browser or another key', () => {
    const s = codec.issue(binding, 0, t0);
    expect(codec.open(s, binding, t0 + STATE_MAX_AGE_MS).kind).toBe('valid');
    expect(codec.open(s, binding, t0 + STATE_MAX_AGE_MS + 1_000)).toEqual({ kind: 'stale', nonce: s.slice(0, 32), attempt: 0 });
    expect(codec.open(s, binding, t0 - 120_000).kind).toBe('forged');
    expect(codec.open(s, StateCodec.newBinding(), t0).kind).toBe('forged');
    expect(codec.open(s, undefined, t0).kind).toBe('forged');
    expect(new StateCodec(deriveKey('other', 'state\u0000test')).open(s, binding, t0).kind).toBe('forged');
  });

  it('any altered character, a longer or shorter value, or junk is forged', () => {
    const s = codec.issue(binding, 0, t0);
    for (let i = 0; i < s.length; i++) {
      const c = s[i] === '0' ? '1' : '0';
      expect(codec.open(s.slice(0, i) + c + s.slice(i + 1), binding, t0).kind).toBe('forged');
    }
    for (const junk of [s + '0', s.slice(1), '', 'STATE', 'x'.repeat(10_000), s.toUpperCase()]) expect(codec.open(junk, binding, t0).kind).toBe('forged');
  });
});
