import { inspect } from 'node:util';
import { maskToken, pathOf, Secret, fingerprint } from './redaction.js';

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
});
