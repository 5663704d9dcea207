import { inspect } from 'node:util';
import { maskToken, pathOf, quoteUntrusted, redactSent, Secret, sentSecretsOf, fingerprint } from './redaction.js';

describe('redaction', () => {
  it('masks tokens to their first and last four characters, short ones whole', () => {
    expect(maskToken('abcdefghijklmnopqrstuvwxyz')).toBe('abcd…wxyz');
    expect(maskToken('short')).toBe('****');
    expect(maskToken(undefined)).toBe('(none)');
  });

  it('keeps only the path of a URL', () => {
    expect(pathOf('https://qyapi.weixin.qq.com/cgi-bin/gettoken?corpid=a&corpsecret=b')).toBe('/cgi-bin/gettoken');
    expect(pathOf('/cgi-bin/user/get?access_token=x&userid=y')).toBe('/cgi-bin/user/get');
    expect(pathOf('http://127.0.0.1:8080')).toBe('/');
  });

  it('a Secret prints as [secret] however it is printed', () => {
    const secret = new Secret('super-secret-value');
    const holder = { secret };
    // eslint-disable-next-line @typescript-eslint/restrict-template-expressions -- the template's own stringification is under test
    for (const printed of [String(secret), `${secret}`, JSON.stringify(holder), inspect(holder, { showHidden: true, depth: Infinity })]) {
      expect(printed).not.toContain('super-secret-value');
    }
    expect(secret.reveal()).toBe('super-secret-value');
    expect(secret.fingerprint()).toBe(fingerprint('super-secret-value'));
    expect(secret.fingerprint()).toMatch(/^[0-9a-f]{16}$/);
  });

  it('redactSent: whole, URL-encoded and JSON-escaped values, and every piece of 8 characters; short values left alone', () => {
    const secret = 'aB3/dE6+gH9=jK2_mN5-pQ8';
    expect(redactSent(`x ${secret} y ${encodeURIComponent(secret)} z ${JSON.stringify(secret)}`, [secret])).toBe('x [redacted] y [redacted] z "[redacted]"');
    expect(redactSent(`cut: ${secret.slice(3, 12)}|${secret.slice(0, 7)}`, [secret])).toBe(`cut: [redacted]|${secret.slice(0, 7)}`);
    expect(redactSent('type=jsapi ok', ['jsapi'])).toBe('type=jsapi ok');
    expect(redactSent('nothing sent', [])).toBe('nothing sent');
    // Cut at max after redaction: a value crossing the cut leaves no piece before it; the work stays bounded.
    expect(redactSent(`${'a'.repeat(95)}${secret}${'b'.repeat(70_000)}`, [secret], 100)).toBe(`${'a'.repeat(95)}[redacted]…`);
    expect(redactSent('x'.repeat(5000), [secret])).toBe(`${'x'.repeat(4096)}…`);
  });

  it('sentSecretsOf: secret, ticket, token, code and key fields of the query, params and JSON or form bodies; ids left out', () => {
    const found = sentSecretsOf({
      url: '/cgi-bin/user/get?access_token=TOKEN-123456&userid=zhangsan',
      params: { corpid: 'wwcorp000001', corpsecret: 'SECRET-123456', wrapped: new Secret('WRAPPED-123456') },
      data: JSON.stringify({ suite_id: 'wwsuite00001', suite_secret: 'SUITE-SECRET-1', suite_ticket: 'TICKET-123456', nested: { permanent_code: 'PERMANENT-1234' } }),
    });
    expect(found.sort()).toEqual(['PERMANENT-1234', 'SECRET-123456', 'SUITE-SECRET-1', 'TICKET-123456', 'TOKEN-123456']);
    expect(sentSecretsOf({ data: 'auth_code=AUTHCODE-1234&x=1' })).toEqual(['AUTHCODE-1234']);
    expect(sentSecretsOf({ data: { code: 'OAUTHCODE-123' } })).toEqual(['OAUTHCODE-123']);
  });

  it('quoteUntrusted: plain short values unchanged; newlines escaped, never a line break; 10 KB cut with its length said', () => {
    expect(quoteUntrusted('wwcorp000001')).toBe('wwcorp000001');
    expect(quoteUntrusted('ww1\nERROR forged line')).toBe('"ww1\\nERROR forged line"');
    expect(quoteUntrusted('ww1\nERROR forged\r\u2028line\u202e')).toBe('"ww1\\nERROR forged\\r\\u2028line\\u202e"');
    const huge = quoteUntrusted('w'.repeat(10_240));
    expect(huge).toBe(`"${'w'.repeat(64)}"…(10240 characters)`);
    expect(quoteUntrusted('\n'.repeat(10_240)).length).toBeLessThan(1024);
    expect(quoteUntrusted('wwcorp', 64, true)).toBe('"wwcorp"');
    for (const c of ['\n', '\r', '\u2028', '\u2029', '\u0085']) expect(quoteUntrusted(`a${c}b`)).not.toMatch(/[\r\n\u2028\u2029\u0085]/);
  });
});
