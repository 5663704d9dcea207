import { createHash } from 'node:crypto';
import { getJsApiSignature } from '@wecom/crypto';
import { hasHtmlEscapes, jsapiSignature, nonce, signableUrl, timestampSeconds } from './jsapi-signature.js';

// WeCom's published example (doc 96909).
const EXAMPLE = {
  ticket: 'sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg',
  nonceStr: 'Wm3WZYTPz0wzccnW',
  timestamp: 1414587457,
  url: 'http://mp.weixin.qq.com?params=value',
};

describe('jsapiSignature', () => {
  it("matches WeCom's published example", () => {
    expect(jsapiSignature(EXAMPLE)).toBe('0f9de62fce790f9a083d5c99e95740ceb90c27ed');
  });

  it('takes the timestamp as a number or as the string the page echoes back', () => {
    expect(jsapiSignature({ ...EXAMPLE, timestamp: '1414587457' })).toBe('0f9de62fce790f9a083d5c99e95740ceb90c27ed');
  });

  it('agrees with the published @wecom/crypto helper', () => {
    const theirs = getJsApiSignature({ ...EXAMPLE, url: 'https://example.com/page?a=1&b=中文' });
    expect(jsapiSignature({ ...EXAMPLE, url: 'https://example.com/page?a=1&b=中文' })).toBe(theirs.signature);
  });

  it('signs the url exactly as given: no encoding, no decoding, no normalising', () => {
    const sign = (url: string) => jsapiSignature({ ...EXAMPLE, url });
    const raw = (url: string) => createHash('sha1').update(`jsapi_ticket=${EXAMPLE.ticket}&noncestr=${EXAMPLE.nonceStr}&timestamp=${EXAMPLE.timestamp}&url=${url}`).digest('hex');
    for (const url of ['https://a.example/p?x=1&y=2', 'https://a.example/p?q=%E4%B8%AD', 'https://a.example/p?q=中', 'https://a.example/p?x=1&amp;y=2']) {
      expect(sign(url)).toBe(raw(url));
    }
    // The &amp; mistake: the page's location.href has '&', so a URL escaped for HTML gives another signature.
    expect(sign('https://a.example/p?x=1&amp;y=2')).not.toBe(sign('https://a.example/p?x=1&y=2'));
    expect(sign('https://a.example/p?q=%E4%B8%AD')).not.toBe(sign('https://a.example/p?q=中'));
    expect(sign('http://mp.weixin.qq.com?params=value')).not.toBe(sign('http://mp.weixin.qq.com/?params=value'));
  });
});

describe('signableUrl', () => {
  it('strips the #fragment and nothing else', () => {
    expect(signableUrl('http://mp.weixin.qq.com?params=value')).toBe('http://mp.weixin.qq.com?params=value');
    expect(signableUrl('https://a.example/p?x=1&y=2#/route?z=3')).toBe('https://a.example/p?x=1&y=2');
    expect(signableUrl('https://a.example/#')).toBe('https://a.example/');
    expect(signableUrl('HTTPS://A.example:8443/P%20q?x=%41')).toBe('HTTPS://A.example:8443/P%20q?x=%41');
    expect(signableUrl('https://a.example/p?x=1&amp;y=2')).toBe('https://a.example/p?x=1&amp;y=2');
  });

  it.each([
    ['', /is empty/],
    ['/relative/path?x=1', /is relative/],
    ['a.example/p', /is relative/],
    ['//a.example/p', /is relative/],
    ['ftp://a.example/p', /scheme 'ftp:'/],
    ['javascript:alert(1)', /scheme 'javascript:'/],
    ['http:a.example', /no host/],
    ['https:///path', /no host|not a valid URL/],
    ['https://a.example/p q', /whitespace/],
    [' https://a.example/', /whitespace/],
    ['https://a.example/\n', /whitespace/],
    ['https://[bad/', /not a valid URL/],
  ])('rejects %j with a TypeError that says why', (url, why) => {
    expect(() => signableUrl(url)).toThrow(TypeError);
    expect(() => signableUrl(url)).toThrow(why);
  });

  it('never repeats the URL (its query may carry a code) in the error', () => {
    const url = '/oauth/callback?code=CODE-VALUE-123456';
    expect(() => signableUrl(url)).toThrow(/^JS-SDK signature: the url is relative/);
    try {
      signableUrl(url);
    } catch (error) {
      expect(String(error)).not.toContain('CODE-VALUE');
    }
  });

  it('rejects a value that is not a string (an array from a repeated query parameter)', () => {
    expect(() => signableUrl(['https://a.example/'] as unknown as string)).toThrow(TypeError);
  });
});

describe('hasHtmlEscapes', () => {
  it('spots a URL that went through HTML escaping', () => {
    expect(hasHtmlEscapes('https://a.example/p?x=1&amp;y=2')).toBe(true);
    expect(hasHtmlEscapes('https://a.example/p?x=1&#38;y=2')).toBe(true);
    expect(hasHtmlEscapes('https://a.example/p?x=1&#x26;y=2')).toBe(true);
    expect(hasHtmlEscapes('https://a.example/p?x=1&y=2&amp=3')).toBe(false);
    expect(hasHtmlEscapes('https://a.example/p?x=1&y=2')).toBe(false);
  });
});

describe('nonce', () => {
  it('is 16 alphanumeric characters', () => {
    for (let i = 0; i < 50; i += 1) expect(nonce()).toMatch(/^[A-Za-z0-9]{16}$/);
  });

  it('does not repeat and uses the whole alphabet', () => {
    const seen = new Set<string>();
    const chars = new Set<string>();
    for (let i = 0; i < 1000; i += 1) {
      const value = nonce();
      seen.add(value);
      for (const c of value) chars.add(c);
    }
    expect(seen.size).toBe(1000);
    expect(chars.size).toBe(62);
  });
});

describe('timestampSeconds', () => {
  it('gives whole seconds', () => {
    expect(timestampSeconds(1414587457999)).toBe(1414587457);
    const now = timestampSeconds();
    expect(Number.isInteger(now)).toBe(true);
    expect(Math.abs(now - Date.now() / 1000)).toBeLessThan(2);
  });
});
