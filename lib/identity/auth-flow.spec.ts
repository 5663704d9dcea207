import { splitUrl } from './auth-flow';
import { cookieValue, parseCookies, serializeCookie } from './http-context';

describe('splitUrl', () => {
  it.each([
    ['/me?code=1&state=2&tab=3', '/me'],
    ['//evil.example/me?x=1', '/evil.example/me'],
    ['/\\evil.example/me', '/evil.example/me'],
    ['\\\\evil.example', '/evil.example'],
    ['http://evil.example/me', '/http://evil.example/me'],
    ['/a\r\nSet-Cookie: x=1', '/aSet-Cookie: x=1'],
    ['/me#frag', '/me'],
  ])('%s stays on this origin: %s', (url, path) => {
    const split = splitUrl(url);
    expect(split.path).toBe(path);
    expect(split.path.startsWith('//') || split.path.startsWith('/\\')).toBe(false);
  });

  it('keeps the query', () => {
    expect(splitUrl('/me?code=1&state=2&tab=3').query.get('tab')).toBe('3');
  });
});

describe('cookies', () => {
  it('reads the first of repeated names, quoted and encoded values, and ignores junk', () => {
    const c = parseCookies('a=1; b="two"; a=3; junk; =x; c=%E5%BC%A0; d=%E0%A4%A');
    expect([...c]).toEqual([
      ['a', '1'],
      ['b', 'two'],
      ['c', '张'],
      ['d', '%E0%A4%A'],
    ]);
    expect(parseCookies('x'.repeat(20_000)).size).toBe(0);
  });

  it('reads one cookie exactly as parseCookies reads it (the signed-in fast path)', () => {
    const headers = ['a=1; b="two"; a=3; junk; =x; c=%E5%BC%A0; d=%E0%A4%A', ' a = 1 ;b=2', 'junk; a=1', 'a', 'b=1;a', ';;a=;a=2', 'x'.repeat(20_000) + '; a=1', ''];
    for (const header of [...headers, ['a=1', 'a=2; b=3']]) {
      const all = parseCookies(header);
      for (const name of ['a', 'b', 'c', 'd', 'junk', 'x']) expect([header, name, cookieValue(header, name)]).toEqual([header, name, all.get(name)]);
    }
    expect(cookieValue(undefined, 'a')).toBeUndefined();
  });

  it('writes HttpOnly, SameSite=Lax, a lifetime, and Secure only when asked', () => {
    expect(serializeCookie({ name: 's', value: 'v', maxAgeSeconds: 60, secure: false })).toMatch(/^s=v; Path=\/; Max-Age=60; Expires=.+; HttpOnly; SameSite=Lax$/);
    expect(serializeCookie({ name: 's', value: 'v', maxAgeSeconds: 60, secure: true })).toMatch(/; Secure$/);
  });
});
