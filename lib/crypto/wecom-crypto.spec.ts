import { createCipheriv, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import * as published from '@wecom/crypto';
import { WeComConfigError } from '../common/errors/wecom-config.error.js';
import { WeComCallbackError, WeComCallbackFailure } from './wecom-callback.error.js';
import { WeComCrypto } from './wecom-crypto.js';
import { caughtOf } from '../../test/support/caught';

// WeCom's published example (doc 91144): the URL check of a callback.
const TOKEN = 'QDG6eK';
const KEY = 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C';
const RECEIVE_ID = 'wx5823bf96d3bd56c7';
const TIMESTAMP = '1409659589';
const NONCE = '263014780';
const MSG_SIGNATURE = '5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3';
const ECHOSTR = 'P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==';
const ECHO = '1616140317555161061';

const AES_KEY = Buffer.from(`${KEY}=`, 'base64');
const crypto = new WeComCrypto({ token: TOKEN, encodingAESKey: KEY, receiveId: RECEIVE_ID });

/** A distinctive message, so that a test can look for any piece of it in an error. */
const PLAINTEXT = 'PLAINTEXT-MUST-NOT-LEAK-0123456789';

/** AES-256-CBC with WeCom's key and IV and no padding of its own: the tests choose every plaintext byte. */
function rawEncrypt(plain: Buffer): string {
  const cipher = createCipheriv('aes-256-cbc', AES_KEY, AES_KEY.subarray(0, 16));
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(plain), cipher.final()]).toString('base64');
}

/** random16 | msg_len | msg | receiveId, without padding. */
function frame(message: Buffer, receiveId = RECEIVE_ID, msgLength = message.length): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(msgLength, 0);
  return Buffer.concat([randomBytes(16), length, message, Buffer.from(receiveId)]);
}

/** PKCS#7 to 32-byte blocks, as WeCom pads. */
function pad32(data: Buffer): Buffer {
  const pad = 32 - (data.length % 32);
  return Buffer.concat([data, Buffer.alloc(pad, pad)]);
}

/** The error `fn` throws (fails the test if it throws nothing). */
const caught = caughtOf(WeComCallbackError);

/** Signs as WeCom would, then decrypts through the verifying entry point, so strictness is shown past the signature. */
function openSigned(encrypt: string): string {
  return crypto.decryptVerified(crypto.signature(TIMESTAMP, NONCE, encrypt), TIMESTAMP, NONCE, encrypt);
}

/** Everything an error shows when it is logged in any usual way. */
function printed(error: Error): string {
  return [error.message, error.stack, inspect(error, { showHidden: true, depth: Infinity }), JSON.stringify(error), String(error)].join('\n');
}

/** Anything of the secrets or of the plaintext, in the forms a careless message would print them. */
const FORBIDDEN = [TOKEN, KEY, AES_KEY.toString('hex'), AES_KEY.toString('base64'), PLAINTEXT, PLAINTEXT.slice(0, 12), ECHO];

describe('WeComCrypto against WeCom’s published example', () => {
  it('computes the published msg_signature', () => {
    expect(crypto.signature(TIMESTAMP, NONCE, ECHOSTR)).toBe(MSG_SIGNATURE);
    expect(crypto.signature(Number(TIMESTAMP), Number(NONCE), ECHOSTR)).toBe(MSG_SIGNATURE);
    expect(crypto.verify(MSG_SIGNATURE, TIMESTAMP, NONCE, ECHOSTR)).toBe(true);
  });

  it('decrypts the published echostr', () => {
    expect(crypto.decrypt(ECHOSTR)).toBe(ECHO);
    expect(crypto.decryptVerified(MSG_SIGNATURE, TIMESTAMP, NONCE, ECHOSTR)).toBe(ECHO);
  });

  it('accepts any of several receiveIds (a suite URL check: suiteId or providerCorpId)', () => {
    const both = new WeComCrypto({ token: TOKEN, encodingAESKey: KEY, receiveId: ['ww0000000000000001', RECEIVE_ID] });
    expect(both.decrypt(ECHOSTR)).toBe(ECHO);
    expect(both.receiveIds).toEqual(['ww0000000000000001', RECEIVE_ID]);
    const other = new WeComCrypto({ token: TOKEN, encodingAESKey: KEY, receiveId: 'ww0000000000000001' });
    expect(caught(() => other.decrypt(ECHOSTR)).reason).toBe('receiver');
  });
});

describe('WeComCrypto interoperates with @wecom/crypto', () => {
  const chineseXml = (bytes: number): string => {
    let xml = '<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Content><![CDATA[';
    while (Buffer.byteLength(xml) < bytes) xml += '企业微信回调消息，中文内容与 ASCII mixed 123。';
    return `${xml}]]></Content></xml>`;
  };
  const sizes: Array<[string, string]> = [
    ['0 bytes', ''],
    ['1 byte', 'a'],
    ['26 bytes (plaintext a whole 64 bytes: a full block of padding)', 'x'.repeat(26)],
    ['31 bytes', 'y'.repeat(31)],
    ['32 bytes', 'z'.repeat(32)],
    ['33 bytes', 'w'.repeat(33)],
    ['4 KB of UTF-8 Chinese XML', chineseXml(4096)],
    ['64 KB of UTF-8 Chinese XML', chineseXml(65536)],
  ];

  it.each(sizes)('ours encrypts, theirs decrypts: %s', (_, message) => {
    const encrypt = crypto.encrypt(message);
    const theirs = published.decrypt(KEY, encrypt);
    expect(theirs.message).toBe(message);
    expect(theirs.id).toBe(RECEIVE_ID);
    expect(published.getSignature(TOKEN, TIMESTAMP, NONCE, encrypt)).toBe(crypto.signature(TIMESTAMP, NONCE, encrypt));
  });

  it.each(sizes)('theirs encrypts, ours decrypts: %s', (_, message) => {
    const encrypt = published.encrypt(KEY, message, RECEIVE_ID);
    const signature = published.getSignature(TOKEN, TIMESTAMP, NONCE, encrypt);
    expect(crypto.verify(signature, TIMESTAMP, NONCE, encrypt)).toBe(true);
    expect(crypto.decryptVerified(signature, TIMESTAMP, NONCE, encrypt)).toBe(message);
  });

  it('produces the same bytes as theirs for the same random prefix', () => {
    const random = randomBytes(16);
    for (const [, message] of sizes) expect(crypto.encrypt(message, random)).toBe(published.encrypt(KEY, message, RECEIVE_ID, random));
  });

  it('writes the first receiveId when given several', () => {
    const both = new WeComCrypto({ token: TOKEN, encodingAESKey: KEY, receiveId: ['ww0000000000000001', RECEIVE_ID] });
    expect(published.decrypt(KEY, both.encrypt('hello')).id).toBe('ww0000000000000001');
  });

  it('refuses a random prefix that is not 16 bytes', () => {
    expect(() => crypto.encrypt('x', Buffer.alloc(15))).toThrow(TypeError);
  });
});

describe('WeComCrypto is strict where the published library is lenient', () => {
  const message = Buffer.from(PLAINTEXT);
  const framed = frame(message); // 16 + 4 + 34 + 18 = 72 bytes: 24 bytes of padding to 96
  const cases: Array<[string, () => string, WeComCallbackFailure]> = [
    [
      'pad bytes that differ from the pad value',
      () => {
        const padded = pad32(framed);
        padded[padded.length - 5] ^= 0x01;
        return rawEncrypt(padded);
      },
      'padding',
    ],
    ['a pad value of 0', () => rawEncrypt(Buffer.concat([framed, Buffer.alloc(24, 0)])), 'padding'],
    ['a pad value of 33', () => rawEncrypt(Buffer.concat([framed, Buffer.alloc(23, 7), Buffer.from([33])])), 'padding'],
    ['padding to 16-byte blocks (a 16-byte pad where 32 would be)', () => rawEncrypt(Buffer.concat([framed, Buffer.alloc(8, 8)])), 'length'],
    ['a ciphertext truncated by one AES block', () => rawEncrypt(pad32(framed).subarray(0, 80)), 'length'],
    ['a ciphertext truncated by one 32-byte block', () => rawEncrypt(pad32(framed).subarray(0, 64)), 'padding'],
    ['msg_len larger than the rest of the plaintext', () => rawEncrypt(pad32(frame(message, RECEIVE_ID, message.length + 19))), 'length'],
    ['msg_len of 0xffffffff', () => rawEncrypt(pad32(frame(message, RECEIVE_ID, 0xffffffff))), 'length'],
    ['another receiveId', () => rawEncrypt(pad32(frame(message, 'wx5823bf96d3bd56c8'))), 'receiver'],
    ['a receiveId with a suffix', () => rawEncrypt(pad32(frame(message, `${RECEIVE_ID}x`))), 'receiver'],
    ['no receiveId at all', () => rawEncrypt(pad32(frame(message, ''))), 'receiver'],
    ['a plaintext shorter than its header', () => rawEncrypt(Buffer.concat([randomBytes(16), Buffer.alloc(16, 16)])), 'length'],
    ['a message that is not UTF-8', () => rawEncrypt(pad32(frame(Buffer.from([0x50, 0xc3, 0x28, 0xff])))), 'format'],
    ['a message with an overlong UTF-8 form', () => rawEncrypt(pad32(frame(Buffer.from([0x3c, 0xc0, 0xbc, 0x3e])))), 'format'],
    ['a message with an encoded surrogate', () => rawEncrypt(pad32(frame(Buffer.from([0x61, 0xed, 0xa0, 0x80])))), 'format'],
    ['a message cut inside a UTF-8 sequence', () => rawEncrypt(pad32(frame(Buffer.from('成员', 'utf8').subarray(0, 4)))), 'format'],
  ];

  it.each(cases)('refuses %s', (_, make, reason) => {
    const encrypt = make();
    const error = caught(() => openSigned(encrypt));
    expect(error.reason).toBe(reason);
    expect(error.name).toBe('WeComCallbackError');
    for (const secret of FORBIDDEN) expect(printed(error)).not.toContain(secret);
    expect(caught(() => crypto.decrypt(encrypt)).reason).toBe(reason);
  });

  it('where @wecom/crypto hands the caller something instead', () => {
    // Not a test of theirs: a record of why ours exists. Each of these decrypts without an error in the published library.
    const lenient = cases.filter(([name]) => /pad bytes|pad value|msg_len larger|another receiveId|no receiveId/.test(name));
    expect(lenient).toHaveLength(6);
    for (const [, make] of lenient) expect(() => published.decrypt(KEY, make())).not.toThrow();
  });

  it.each([
    ['not base64', 'P9nAzCzyDtyTWESHep1vC5X9xho*qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==', 'format'],
    ['base64 with a length that is not a multiple of 4', ECHOSTR.slice(0, -1), 'format'],
    ['base64 with "=" inside', `${ECHOSTR.slice(0, 40)}=${ECHOSTR.slice(41)}`, 'format'],
    // Node's decoder reads these as base64 too; the re-encoding differs, and the pattern refuses them.
    ['base64url ("-" for "+")', ECHOSTR.replace('+', '-'), 'format'],
    ['base64url ("_" for "/")', ECHOSTR.replace('/', '_'), 'format'],
    ['base64 with a newline inside', `${ECHOSTR.slice(0, 40)}\n${ECHOSTR.slice(40, -1)}`, 'format'],
    ['base64 with "===" at its end', `${ECHOSTR.slice(0, -3)}===`, 'format'],
    ['empty', '', 'length'],
    ['one AES block', Buffer.alloc(16).toString('base64'), 'length'],
    ['longer than 4 MiB', 'A'.repeat(6 * 1024 * 1024), 'length'],
  ] as const)('refuses a ciphertext that is %s', (_, encrypt, reason) => {
    expect(caught(() => crypto.decrypt(encrypt)).reason).toBe(reason);
  });

  it('decrypts base64 whose unused last bits are set, as before (the pattern accepts what re-encoding does not reproduce)', () => {
    // ECHOSTR ends in 'qQ==': 'Q' carries 4 unused bits of 0; 'R' sets one of them and decodes to the same bytes.
    const loose = `${ECHOSTR.slice(0, -3)}R==`;
    expect(Buffer.from(loose, 'base64').toString('base64')).not.toBe(loose);
    expect(crypto.decrypt(loose)).toBe(ECHO);
  });

  it('keeps a byte-order mark and every character of the message as sent', () => {
    const message = '\ufeff<xml>成员 😀</xml>';
    expect(crypto.decrypt(crypto.encrypt(message))).toBe(message);
  });

  it("says so when a query parser turned the ciphertext's '+' into a space", () => {
    const mangled = ECHOSTR.replace(/\+/g, ' ');
    const atDecrypt = caught(() => crypto.decrypt(mangled));
    expect(atDecrypt.reason).toBe('format');
    expect(atDecrypt.message).toMatch(/decoded its '\+' as ' '/);
    const atVerify = caught(() => crypto.decryptVerified(MSG_SIGNATURE, TIMESTAMP, NONCE, mangled));
    expect(atVerify.reason).toBe('signature');
    expect(atVerify.message).toMatch(/decoded its '\+' as ' '/);
  });
});

describe('WeComCrypto signatures', () => {
  const flip = (s: string, i: number): string => s.slice(0, i) + (s[i] === 'a' ? 'b' : 'a') + s.slice(i + 1);

  it.each([
    ['a flipped first character', flip(MSG_SIGNATURE, 0)],
    ['a flipped last character', flip(MSG_SIGNATURE, 39)],
    ['one character short', MSG_SIGNATURE.slice(0, -1)],
    ['one character more', `${MSG_SIGNATURE}0`],
    ['empty', ''],
    ['upper case', MSG_SIGNATURE.toUpperCase()],
    ['a multi-byte character in place of one hex digit', `${MSG_SIGNATURE.slice(0, 39)}é`],
  ])('refuses %s', (_, signature) => {
    expect(crypto.verify(signature, TIMESTAMP, NONCE, ECHOSTR)).toBe(false);
    const error = caught(() => crypto.decryptVerified(signature, TIMESTAMP, NONCE, ECHOSTR));
    expect(error.reason).toBe('signature');
    for (const secret of FORBIDDEN) expect(printed(error)).not.toContain(secret);
  });

  it('refuses a signature over another timestamp, nonce or ciphertext', () => {
    expect(crypto.verify(MSG_SIGNATURE, '1409659590', NONCE, ECHOSTR)).toBe(false);
    expect(crypto.verify(MSG_SIGNATURE, TIMESTAMP, '263014781', ECHOSTR)).toBe(false);
    expect(crypto.verify(MSG_SIGNATURE, TIMESTAMP, NONCE, crypto.encrypt(ECHO))).toBe(false);
  });

  it('returns false, never throws, for values that are not single strings (repeated query parameters)', () => {
    const asString = (value: unknown) => value as string;
    expect(crypto.verify(asString([MSG_SIGNATURE]), TIMESTAMP, NONCE, ECHOSTR)).toBe(false);
    expect(crypto.verify(asString(undefined), TIMESTAMP, NONCE, ECHOSTR)).toBe(false);
    expect(crypto.verify(MSG_SIGNATURE, asString([TIMESTAMP, TIMESTAMP]), NONCE, ECHOSTR)).toBe(false);
    expect(caught(() => crypto.decryptVerified(MSG_SIGNATURE, TIMESTAMP, asString(undefined), ECHOSTR)).message).toMatch(/'nonce' is missing/);
  });

  it('a token of another callback does not verify', () => {
    const other = new WeComCrypto({ token: 'QDG6eL', encodingAESKey: KEY, receiveId: RECEIVE_ID });
    expect(other.verify(MSG_SIGNATURE, TIMESTAMP, NONCE, ECHOSTR)).toBe(false);
  });
});

describe('WeComCrypto keeps its secrets', () => {
  it('shows neither token nor key through inspect, JSON or string conversion', () => {
    const holder = { crypto };
    const shown = [
      inspect(crypto),
      inspect(holder, { showHidden: true, depth: Infinity }),
      inspect(crypto, { customInspect: false, showHidden: true }),
      JSON.stringify(holder),
      String(crypto),
      Object.keys(crypto).join(','),
    ].join('\n');
    for (const secret of [TOKEN, KEY, AES_KEY.toString('hex'), AES_KEY.toString('base64')]) expect(shown).not.toContain(secret);
    expect(inspect(crypto)).toContain(RECEIVE_ID);
    expect(JSON.parse(JSON.stringify(crypto))).toEqual({ receiveIds: [RECEIVE_ID], token: '[secret]', encodingAESKey: '[secret]' });
  });

  it.each([
    ['no token', { token: '', encodingAESKey: KEY, receiveId: RECEIVE_ID }, /'token' is missing/],
    ['a token with a trailing newline', { token: `${TOKEN}\n`, encodingAESKey: KEY, receiveId: RECEIVE_ID }, /'token' starts or ends with whitespace/],
    ['no key', { token: TOKEN, encodingAESKey: '', receiveId: RECEIVE_ID }, /'encodingAESKey' is missing/],
    ['a 44-character key (with the "=")', { token: TOKEN, encodingAESKey: `${KEY}=`, receiveId: RECEIVE_ID }, /must be 43 characters, got 44/],
    ['a key with a trailing space', { token: TOKEN, encodingAESKey: `${KEY} `, receiveId: RECEIVE_ID }, /got 44 \(with whitespace/],
    ['a 42-character key', { token: TOKEN, encodingAESKey: KEY.slice(1), receiveId: RECEIVE_ID }, /must be 43 characters, got 42/],
    ['a key with a non-base64 character', { token: TOKEN, encodingAESKey: `${KEY.slice(0, 42)}-`, receiveId: RECEIVE_ID }, /only base64/],
    ['no receiveId', { token: TOKEN, encodingAESKey: KEY, receiveId: '' }, /'receiveId' must be/],
    ['an empty list of receiveIds', { token: TOKEN, encodingAESKey: KEY, receiveId: [] }, /'receiveId' must be/],
    ['a list with an empty receiveId', { token: TOKEN, encodingAESKey: KEY, receiveId: [RECEIVE_ID, ''] }, /'receiveId' must be/],
  ])('refuses %s with a WeComConfigError that names the option, not its value', (_, options, why) => {
    let error: unknown;
    try {
      new WeComCrypto(options);
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(WeComConfigError);
    expect((error as Error).message).toMatch(why);
    for (const secret of [TOKEN, KEY.slice(1), KEY.slice(0, 42)]) expect(printed(error as Error)).not.toContain(secret);
  });

  it('accepts a key whose last character carries bits the key does not use, as WeCom generates them', () => {
    // 'C' (000010) sets a bit beyond the 256 the key uses; the published example key ends that way.
    expect(KEY.endsWith('C')).toBe(true);
    expect(() => new WeComCrypto({ token: TOKEN, encodingAESKey: `${KEY.slice(0, 42)}A`, receiveId: RECEIVE_ID })).not.toThrow();
  });
});
