import { accessTokenOf, withAccessToken } from './access-token.interceptor.js';

describe('access_token in the URL', () => {
  it.each([
    ['/cgi-bin/user/get', '/cgi-bin/user/get?access_token=T2'],
    ['/cgi-bin/user/get?userid=a', '/cgi-bin/user/get?userid=a&access_token=T2'],
    ['/cgi-bin/user/get?access_token=T1', '/cgi-bin/user/get?access_token=T2'],
    ['/cgi-bin/user/get?access_token=T1&userid=a', '/cgi-bin/user/get?userid=a&access_token=T2'],
    ['/cgi-bin/user/get?userid=a&access_token=T1', '/cgi-bin/user/get?userid=a&access_token=T2'],
    ['/cgi-bin/user/get?userid=a&access_token=T1&x=1', '/cgi-bin/user/get?userid=a&x=1&access_token=T2'],
    ['/p#frag', '/p?access_token=T2'],
  ])('%s -> %s', (url, expected) => {
    expect(withAccessToken(url, 'T2')).toBe(expected);
    expect(accessTokenOf(expected)).toBe('T2');
  });

  it('encodes a token that needs it and reads it back', () => {
    const url = withAccessToken('/p', 'a+b/c=');
    expect(url).toBe('/p?access_token=a%2Bb%2Fc%3D');
    expect(accessTokenOf(url)).toBe('a+b/c=');
  });
});
