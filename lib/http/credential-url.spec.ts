import { axiosFullPath, CredentialParam, CredentialScope, decodeLeniently } from './credential-url.js';

describe('CredentialParam', () => {
  const suite = new CredentialParam('suite_access_token');

  it.each([
    ['/service/get_pre_auth_code', '/service/get_pre_auth_code?suite_access_token=S2'],
    ['/p?suite_access_token=S1', '/p?suite_access_token=S2'],
    ['/p?a=1&suite_access_token=S1&suite_access_token=S0&b=2', '/p?a=1&b=2&suite_access_token=S2'],
    ['/p?access_token=A&x=1', '/p?access_token=A&x=1&suite_access_token=S2'],
    ['/p?', '/p?suite_access_token=S2'],
    ['/p?a=1&', '/p?a=1&suite_access_token=S2'],
  ])('%s -> %s', (url, expected) => {
    expect(suite.attach(url, 'S2')).toBe(expected);
    expect(suite.read(expected)).toBe('S2');
  });

  it('reads only its own parameter, and never throws on a malformed escape', () => {
    expect(suite.read('/p?access_token=A')).toBeUndefined();
    expect(new CredentialParam('access_token').read('/p?suite_access_token=S&access_token=A')).toBe('A');
    expect(suite.read('/p?suite_access_token=100%')).toBe('100%');
  });

  it.each([
    ['http://x/moved?suite_access_token=S&keep=1#f', 'http://x/moved?keep=1#f'],
    ['/p?a=1&suite_access_token=S1&suite_access_token=S0&b=2', '/p?a=1&b=2'],
    ['/p?suite_access_token=S', '/p'],
    ['/p?access_token=A', '/p?access_token=A'],
    ['/p#suite_access_token=S', '/p#suite_access_token=S'],
    ['/p', '/p'],
  ])('removes its parameter: %s -> %s', (url, expected) => {
    expect(suite.remove(url)).toBe(expected);
    expect(suite.read(suite.remove(url))).toBeUndefined();
  });

  it('strips its key from params and leaves other objects alone', () => {
    const params = { userid: 'a' };
    expect(suite.strip(params)).toBe(params);
    expect(suite.strip({ userid: 'a', suite_access_token: 'x' })).toEqual({ userid: 'a' });
  });
});

describe('decodeLeniently', () => {
  it.each([
    ['plain.png', 'plain.png'],
    ['%E6%8A%A5%E5%91%8A.csv', '报告.csv'],
    ['100%.png', '100%.png'],
    ['100%25 %E6%8A%A5 %zz %E6%8A', '100% 报 %zz %E6%8A'],
  ])('%s -> %s', (input, expected) => expect(decodeLeniently(input)).toBe(expected));
});

describe('axiosFullPath (axios buildFullPath semantics)', () => {
  it.each([
    ['http://h/wecom', '/x', undefined, 'http://h/wecom/x'],
    ['http://h/wecom/', '//x', false, 'http://h/wecom/x'],
    ['http://h/wecom', '//other/x', undefined, '//other/x'],
    ['http://h/wecom', 'https://other/x', undefined, 'https://other/x'],
    ['http://h/wecom', 'https://other/x', false, 'http://h/wecom/https://other/x'],
    ['http://h/wecom', '', undefined, 'http://h/wecom'],
    [undefined, '/x', undefined, '/x'],
  ])('%s + %s (allowAbsoluteUrls %s)', (base, url, allow, expected) => expect(axiosFullPath(base, url, allow)).toBe(expected));
});

describe('CredentialScope', () => {
  const base = 'http://127.0.0.1:8080/wecom';
  const scope = new CredentialScope(base);
  const inScope = (url: string, extra: { baseURL?: string; allowAbsoluteUrls?: boolean } = {}) => scope.contains({ baseURL: base, url, ...extra });

  it.each(['/cgi-bin/user/get', '/cgi-bin/user/get?userid=a/../b', '/cgi-bin/a.b/c', '', '/x/./y', '/a%20b', 'http://127.0.0.1:8080/wecom/x', '/cgi-bin/..%2fy'])(
    '%j is in scope',
    (url) => {
      expect(inScope(url)).toBe(true);
    },
  );

  it.each([
    '//127.0.0.2:8080/wecom/x',
    '//evil.example/x',
    '/../x',
    '/./../x',
    '/%2e%2e/x',
    '/%2E%2e/x',
    '/.%2e/x',
    '/..%2fx',
    '/..%2Fx',
    '/%2e%2e%2fx',
    '/%252e%252e/x',
    '/..\\x',
    '/..;/x',
    '/a/..%2f..%2fx',
    '/.\t./x',
    'http://127.0.0.1:8080/wecomx',
    'http://127.0.0.1:8080/x',
    'http://127.0.0.1:8081/wecom/x',
    'https://127.0.0.1:8080/wecom/x',
    'http://127.0.0.1.evil:8080/wecom/x',
    'http://127.0.0.1:8080@evil.example/wecom/x',
    'http://user:pw@127.0.0.1:8080/wecom/x',
    'http://localhost:8080/wecom/x',
    'ftp://127.0.0.1:8080/wecom/x',
    'http://[::1:8080/wecom/x',
  ])('%j is not', (url) => {
    expect(inScope(url)).toBe(false);
  });

  it('follows the request’s own baseURL and allowAbsoluteUrls, as axios does', () => {
    expect(inScope('/x', { baseURL: 'http://127.0.0.1:8080' })).toBe(false);
    expect(inScope('/wecom/x', { baseURL: 'http://127.0.0.1:8080' })).toBe(true);
    expect(inScope('//evil.example/x', { allowAbsoluteUrls: false })).toBe(true);
    expect(scope.contains({ url: '/cgi-bin/x' })).toBe(false);
  });

  it('a baseUrl without a path scopes the whole origin', () => {
    const root = new CredentialScope('http://127.0.0.1:8080');
    expect(root.contains({ baseURL: 'http://127.0.0.1:8080', url: '/../x' })).toBe(true);
    expect(root.contains({ baseURL: 'http://127.0.0.1:8080', url: '//127.0.0.1:8081/x' })).toBe(false);
  });
});
