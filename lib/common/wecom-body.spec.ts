import { WeComApiError } from './errors/wecom-api.error.js';
import { WeComTransportError } from './errors/wecom-transport.error.js';
import { assertOk, decodeDownload, decodeResponse, failedErrcode, jsonObjectOf, toTransportError } from './wecom-body.js';

const ref = { corpId: 'wwcorp', app: 'default' };

describe('wecom-body', () => {
  it('a body fails only when errcode is present and non-zero', () => {
    expect(failedErrcode({ errcode: 0 })).toBeUndefined();
    expect(failedErrcode({ media_id: 'x' })).toBeUndefined();
    expect(failedErrcode({ errcode: 40014 })).toBe(40014);
    expect(() => assertOk(ref, '/p', { errcode: 48002, errmsg: 'api forbidden' }, [])).toThrow(WeComApiError);
  });

  it('an errmsg that echoes what was sent keeps none of it: not whole, encoded, nor a piece of 8 characters', () => {
    const secret = 'S3cr3t/Value+With=Chars_0123456789';
    const errmsg = `invalid corpsecret=${encodeURIComponent(secret)} "${secret}" cut:${secret.slice(5, 19)}`;
    let error: WeComApiError | undefined;
    try {
      assertOk(ref, '/cgi-bin/gettoken', { errcode: 40001, errmsg }, [secret]);
    } catch (e) {
      error = e as WeComApiError;
    }
    const shown = `${error?.message} ${error?.errmsg} ${JSON.stringify(error)} ${String(error?.stack)}`;
    for (let i = 0; i + 8 <= secret.length; i++) expect(shown).not.toContain(secret.slice(i, i + 8));
    expect(error?.errmsg).toBe('invalid corpsecret=[redacted] "[redacted]" cut:[redacted]');
  });

  it('decodes JSON from text, bytes or objects, and files by Content-Type', () => {
    expect(decodeResponse(ref, 'GET', '/p', { status: 200, headers: { 'content-type': 'application/json' }, data: '{"a":1}' })).toEqual({ kind: 'json', body: { a: 1 } });
    expect(decodeResponse(ref, 'GET', '/p', { status: 200, headers: { 'content-type': 'application/json' }, data: Buffer.from('{"a":2}') })).toEqual({
      kind: 'json',
      body: { a: 2 },
    });
    const file = decodeResponse(ref, 'GET', '/p', { status: 200, headers: { 'content-type': 'image/png' }, data: Buffer.from([1, 2]) });
    expect(file).toEqual({ kind: 'binary', bytes: Buffer.from([1, 2]), contentType: 'image/png' });
  });

  it('a truncated body, an HTML page or a bad status is a WeComTransportError naming the app', () => {
    const truncated = () => decodeResponse(ref, 'GET', '/cgi-bin/gettoken', { status: 200, headers: { 'content-type': 'application/json' }, data: '{"errcode":0,"acc' });
    expect(truncated).toThrow(/invalid JSON|not valid JSON/);
    expect(truncated).toThrow(WeComTransportError);
    expect(() => decodeResponse(ref, 'GET', '/p', { status: 502, headers: { 'content-type': 'text/html' }, data: '<html>' })).toThrow(/HTTP 502 with a text\/html body/);
    expect(() => decodeResponse(ref, 'GET', '/p', { status: 200, headers: { 'content-type': 'text/html' }, data: '<html>' })).toThrow(WeComTransportError);
  });

  it('maps network errors to clean transport errors and keeps nothing of the original', () => {
    const raw = Object.assign(new Error('connect ECONNREFUSED http://x/cgi-bin/gettoken?corpsecret=LEAK'), { code: 'ECONNREFUSED', config: { url: '?corpsecret=LEAK' } });
    const error = toTransportError(ref, 'GET', '/cgi-bin/gettoken', raw, 1000) as WeComTransportError;
    expect(error.message).toBe("WeCom GET /cgi-bin/gettoken for corp wwcorp, app 'default' failed: connection refused (ECONNREFUSED)");
    expect(JSON.stringify(error) + String(error.stack)).not.toContain('LEAK');
    expect((toTransportError(ref, 'GET', '/p', { code: 'ECONNABORTED' }, 250) as WeComTransportError).failure).toBe('timeout');
  });

  it('a 3xx is a transport error that says WeCom never redirects', () => {
    const redirect = () => decodeResponse(ref, 'POST', '/p', { status: 302, headers: { location: 'http://elsewhere/' }, data: '' });
    expect(redirect).toThrow(/HTTP 302 redirect: WeCom never redirects an API call, so it was not followed/);
    expect(() => decodeDownload(ref, 'GET', '/p', { status: 307, data: Buffer.alloc(0) }, [])).toThrow(WeComTransportError);
  });

  it('jsonObjectOf finds a JSON object in any body, and nothing in files, arrays or large bodies', () => {
    expect(jsonObjectOf(Buffer.from('\uFEFF {"errcode":40007}'))).toEqual({ errcode: 40007 });
    expect(jsonObjectOf('{"errcode":40014')).toBeUndefined();
    expect(jsonObjectOf('[{"errcode":1}]')).toBeUndefined();
    expect(jsonObjectOf('a,b\n1,2')).toBeUndefined();
    expect(jsonObjectOf({ errcode: 1 })).toEqual({ errcode: 1 });
    expect(jsonObjectOf(Buffer.from(`{"errcode":1,"pad":"${'x'.repeat(70_000)}"}`))).toBeUndefined();
  });

  it('decodeDownload: an error only for a JSON object with a non-zero errcode', () => {
    const file = (data: string, type: string) => decodeDownload(ref, 'GET', '/p', { status: 200, headers: { 'content-type': type }, data: Buffer.from(data) }, []);
    expect(file('{"errcode":0,"rows":[]}', 'application/json').bytes.toString()).toBe('{"errcode":0,"rows":[]}');
    expect(file('hello', 'text/plain').bytes.toString()).toBe('hello');
    expect(file('<html>', 'text/html').contentType).toBe('text/html');
    expect(() => file('{"errcode":40007,"errmsg":"invalid media_id"}', 'text/plain')).toThrow(WeComApiError);
    expect(() => file('{"errcode":40007}', 'application/octet-stream')).toThrow(WeComApiError);
  });
});
