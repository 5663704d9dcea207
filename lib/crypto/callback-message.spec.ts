import { inspect } from 'node:util';
import * as published from '@wecom/crypto';
import {
  buildEncryptedEnvelope,
  buildSuiteCallbackXml,
  buildUrlVerification,
  KnownSuiteCallbackEvent,
  MAX_CALLBACK_XML_CHARS,
  openEncryptedEnvelope,
  parseCallbackEnvelope,
  parseSuiteCallback,
} from './callback-message.js';
import { WeComCallbackError, WeComCallbackFailure } from './wecom-callback.error.js';
import { WeComCrypto } from './wecom-crypto.js';
import { caughtOf } from '../../test/support/caught';

const TOKEN = 'QDG6eK';
const KEY = 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C';
const SUITE_ID = 'ww4asffe99e54c0f4c';
const suiteCrypto = new WeComCrypto({ token: TOKEN, encodingAESKey: KEY, receiveId: SUITE_ID });
const TICKET = 'Cfp0_givEagXcYJIztF6sfbdmIZCmpaR8ZBsvJEFFNBrWmnD5-CGYJ3_NhYexMyw';

/** The error `fn` throws (fails the test if it throws nothing). */
const caught = caughtOf(WeComCallbackError);

/** Everything an error or an object shows when it is logged in any usual way. */
function printed(value: unknown): string {
  return [inspect(value, { showHidden: true, depth: Infinity }), JSON.stringify(value), String(value), value instanceof Error ? value.stack : ''].join('\n');
}

describe('parseCallbackEnvelope', () => {
  // As in WeCom's documentation, whitespace and all.
  const body = `<xml>
   <ToUserName><![CDATA[${SUITE_ID}]]></ToUserName>
   <Encrypt><![CDATA[RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==]]></Encrypt>
   <AgentID><![CDATA[1000002]]></AgentID>
</xml>`;

  it('gives the ciphertext and the clear fields', () => {
    const envelope = parseCallbackEnvelope(body);
    expect(envelope.encrypt).toMatch(/^RypEvHKD8QQK.*\+E7Q==$/);
    expect(envelope).toEqual({ encrypt: envelope.encrypt, toUserName: SUITE_ID, agentId: '1000002' });
    expect(parseCallbackEnvelope(Buffer.from(body))).toEqual(envelope);
  });

  it('keeps digits as text and leaves out what is empty or absent', () => {
    expect(parseCallbackEnvelope('<xml><Encrypt>AAAA</Encrypt><AgentID>0012</AgentID></xml>')).toEqual({ encrypt: 'AAAA', agentId: '0012' });
    expect(parseCallbackEnvelope('<?xml version="1.0" encoding="UTF-8"?><xml><ToUserName></ToUserName><Encrypt>AAAA</Encrypt><AgentID/></xml>')).toEqual({
      encrypt: 'AAAA',
    });
  });

  const refusals: Array<[string, string | Buffer, WeComCallbackFailure, RegExp]> = [
    ['an empty body', '', 'format', /is empty/],
    ['no Encrypt', '<xml><ToUserName>x</ToUserName></xml>', 'format', /<Encrypt> in the envelope is missing/],
    ['an empty Encrypt', '<xml><Encrypt><![CDATA[]]></Encrypt></xml>', 'format', /<Encrypt> in the envelope is missing/],
    ['two Encrypt elements', '<xml><Encrypt>AAAA</Encrypt><Encrypt>BBBB</Encrypt></xml>', 'format', /appears more than once/],
    ['an Encrypt with elements inside', '<xml><Encrypt><A>AAAA</A></Encrypt></xml>', 'format', /not a text value/],
    ['an unclosed element', '<xml><Encrypt>AAAA</xml>', 'format', /is malformed \(InvalidTag at line 1/],
    ['text that is not XML', 'Encrypt=AAAA', 'format', /is malformed/],
    ['JSON', '{"Encrypt":"AAAA"}', 'format', /is malformed/],
    ['two root elements', '<xml><Encrypt>AAAA</Encrypt></xml><xml><Encrypt>BBBB</Encrypt></xml>', 'format', /malformed/],
    ['a second, empty root element (which the validator lets through)', '<xml><Encrypt>AAAA</Encrypt></xml><xml2/>', 'format', /one <xml> element/],
    ['another root element', '<root><Encrypt>AAAA</Encrypt></root>', 'format', /one <xml> element/],
    ['an <xml> without fields', '<xml>AAAA</xml>', 'format', /one <xml> element/],
    ['a DOCTYPE with an entity', '<!DOCTYPE xml [<!ENTITY e "AAAA">]><xml><Encrypt>&e;</Encrypt></xml>', 'format', /DOCTYPE/],
    ['an external entity (XXE)', '<!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Encrypt>&e;</Encrypt></xml>', 'format', /DOCTYPE/],
    ['a DOCTYPE inside the root element', '<xml><!DOCTYPE x [<!ENTITY e "AAAA">]><Encrypt>&e;</Encrypt></xml>', 'format', /DOCTYPE/],
    [
      'a DOCTYPE hidden behind a CDATA opener inside a comment',
      '<xml><!-- <![CDATA[ --><!DOCTYPE x [<!ENTITY e "AAAA">]><!-- ]]> --><Encrypt>&e;</Encrypt></xml>',
      'format',
      /DOCTYPE/,
    ],
    ['a billion laughs', `<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><xml><Encrypt>&b;</Encrypt></xml>`, 'format', /DOCTYPE/],
    ['an element named __proto__', '<xml><__proto__><Encrypt>AAAA</Encrypt></__proto__><Encrypt>AAAA</Encrypt></xml>', 'format', /could not be parsed/],
    ['a Buffer that is not UTF-8', Buffer.from([0x3c, 0x78, 0x6d, 0x6c, 0x3e, 0xff, 0xfe, 0x3c, 0x2f, 0x78, 0x6d, 0x6c, 0x3e]), 'format', /not UTF-8/],
    ['a body longer than the bound', `<xml><Encrypt>${'A'.repeat(MAX_CALLBACK_XML_CHARS)}</Encrypt></xml>`, 'length', /longer than/],
  ];

  it.each(refusals)('refuses %s', (_, input, reason, why) => {
    const error = caught(() => parseCallbackEnvelope(input));
    expect(error.reason).toBe(reason);
    expect(error.message).toMatch(why);
    expect(printed(error)).not.toContain('AAAA');
  });

  it('keeps a DOCTYPE-like text inside CDATA as text', () => {
    expect(parseCallbackEnvelope('<xml><Encrypt><![CDATA[<!DOCTYPE x>]]></Encrypt></xml>').encrypt).toBe('<!DOCTYPE x>');
    expect(parseCallbackEnvelope('<xml><!-- <!DOCTYPE x> --><Encrypt>AAAA</Encrypt></xml>').encrypt).toBe('AAAA');
  });

  it("decodes XML's predefined entities in plain text, and leaves CDATA as it is", () => {
    expect(parseCallbackEnvelope('<xml><Encrypt>a&amp;b&lt;c</Encrypt></xml>').encrypt).toBe('a&b<c');
    expect(parseCallbackEnvelope('<xml><Encrypt><![CDATA[a&amp;b]]></Encrypt></xml>').encrypt).toBe('a&amp;b');
  });
});

describe('parseSuiteCallback', () => {
  // WeCom's documented examples, with their quirks (a space before CDATA, TimeStamp without CDATA).
  it('reads suite_ticket', () => {
    const xml = `<xml>
      <SuiteId><![CDATA[${SUITE_ID}]]></SuiteId>
      <InfoType> <![CDATA[suite_ticket]]></InfoType>
      <TimeStamp>1403610513</TimeStamp>
      <SuiteTicket><![CDATA[${TICKET}]]></SuiteTicket>
    </xml>`;
    expect(parseSuiteCallback(xml)).toEqual({ infoType: 'suite_ticket', suiteId: SUITE_ID, suiteTicket: TICKET, timeStamp: 1403610513 });
  });

  it('reads create_auth, with and without State', () => {
    const xml = (state: string) =>
      `<xml><SuiteId><![CDATA[${SUITE_ID}]]></SuiteId><AuthCode><![CDATA[AUTHCODE-1]]></AuthCode><InfoType><![CDATA[create_auth]]></InfoType><TimeStamp>1403610513</TimeStamp>${state}</xml>`;
    expect(parseSuiteCallback(xml('<State><![CDATA[123]]></State>'))).toEqual({
      infoType: 'create_auth',
      suiteId: SUITE_ID,
      authCode: 'AUTHCODE-1',
      timeStamp: 1403610513,
      state: '123',
    });
    const without = parseSuiteCallback(xml(''));
    expect(without).toEqual({ infoType: 'create_auth', suiteId: SUITE_ID, authCode: 'AUTHCODE-1', timeStamp: 1403610513 });
    expect('state' in without).toBe(false);
  });

  it('reads change_auth, cancel_auth and reset_permanent_code', () => {
    const head = `<SuiteId><![CDATA[${SUITE_ID}]]></SuiteId><TimeStamp>1403610513</TimeStamp>`;
    expect(
      parseSuiteCallback(`<xml>${head}<InfoType><![CDATA[change_auth]]></InfoType><AuthCorpId><![CDATA[wxf8b4f85f3a794e77]]></AuthCorpId><State><![CDATA[abc]]></State></xml>`),
    ).toEqual({ infoType: 'change_auth', suiteId: SUITE_ID, authCorpId: 'wxf8b4f85f3a794e77', timeStamp: 1403610513, state: 'abc' });
    expect(parseSuiteCallback(`<xml>${head}<InfoType><![CDATA[cancel_auth]]></InfoType><AuthCorpId><![CDATA[wxf8b4f85f3a794e77]]></AuthCorpId></xml>`)).toEqual({
      infoType: 'cancel_auth',
      suiteId: SUITE_ID,
      authCorpId: 'wxf8b4f85f3a794e77',
      timeStamp: 1403610513,
    });
    expect(parseSuiteCallback(`<xml><SuiteId>${SUITE_ID}</SuiteId><AuthCode>AC</AuthCode><InfoType>reset_permanent_code</InfoType></xml>`)).toEqual({
      infoType: 'reset_permanent_code',
      suiteId: SUITE_ID,
      authCode: 'AC',
    });
  });

  it('hands on an InfoType it does not know, with the XML', () => {
    const xml = `<xml><SuiteId><![CDATA[${SUITE_ID}]]></SuiteId><AuthCorpId>wxf8b4f85f3a794e77</AuthCorpId><InfoType><![CDATA[change_contact]]></InfoType><ChangeType>create_user</ChangeType><Department><Id>1</Id></Department></xml>`;
    expect(parseSuiteCallback(xml)).toEqual({ infoType: 'unknown', receivedInfoType: 'change_contact', suiteId: SUITE_ID, raw: xml });
  });

  it.each([
    ['no InfoType', `<xml><SuiteId>${SUITE_ID}</SuiteId></xml>`, /<InfoType> in the callback is missing/],
    [
      'suite_ticket without SuiteTicket',
      `<xml><SuiteId>x</SuiteId><InfoType>suite_ticket</InfoType><TimeStamp>1</TimeStamp></xml>`,
      /<SuiteTicket> in the 'suite_ticket' callback is missing/,
    ],
    ['suite_ticket without TimeStamp', `<xml><SuiteId>x</SuiteId><InfoType>suite_ticket</InfoType><SuiteTicket>t</SuiteTicket></xml>`, /<TimeStamp> in the 'suite_ticket'/],
    ['suite_ticket without SuiteId', `<xml><InfoType>suite_ticket</InfoType><TimeStamp>1</TimeStamp><SuiteTicket>t</SuiteTicket></xml>`, /<SuiteId>/],
    ['create_auth without AuthCode', `<xml><SuiteId>x</SuiteId><InfoType>create_auth</InfoType><TimeStamp>1</TimeStamp></xml>`, /<AuthCode> in the 'create_auth'/],
    ['change_auth without AuthCorpId', `<xml><SuiteId>x</SuiteId><InfoType>change_auth</InfoType></xml>`, /<AuthCorpId> in the 'change_auth'/],
    [
      'cancel_auth with an empty AuthCorpId',
      `<xml><SuiteId>x</SuiteId><InfoType>cancel_auth</InfoType><AuthCorpId><![CDATA[]]></AuthCorpId></xml>`,
      /<AuthCorpId> in the 'cancel_auth' callback is missing/,
    ],
    ['reset_permanent_code without AuthCode', `<xml><SuiteId>x</SuiteId><InfoType>reset_permanent_code</InfoType></xml>`, /<AuthCode>/],
    [
      'a TimeStamp that is not seconds',
      `<xml><SuiteId>x</SuiteId><InfoType>suite_ticket</InfoType><TimeStamp>2014-06-24</TimeStamp><SuiteTicket>t</SuiteTicket></xml>`,
      /not a timestamp/,
    ],
    ['a negative TimeStamp', `<xml><SuiteId>x</SuiteId><InfoType>cancel_auth</InfoType><AuthCorpId>c</AuthCorpId><TimeStamp>-1</TimeStamp></xml>`, /not a timestamp/],
    [
      'two SuiteTickets',
      `<xml><SuiteId>x</SuiteId><InfoType>suite_ticket</InfoType><TimeStamp>1</TimeStamp><SuiteTicket>${TICKET}</SuiteTicket><SuiteTicket>t2</SuiteTicket></xml>`,
      /<SuiteTicket> in the 'suite_ticket' callback appears more than once/,
    ],
    ['two InfoTypes', `<xml><SuiteId>x</SuiteId><InfoType>cancel_auth</InfoType><InfoType>suite_ticket</InfoType></xml>`, /<InfoType> in the callback appears more than once/],
    ['an unknown InfoType with a SuiteId of elements', `<xml><SuiteId><A>1</A></SuiteId><InfoType>${TICKET}</InfoType></xml>`, /<SuiteId> in the callback is not a text value/],
    [
      'a DOCTYPE',
      `<!DOCTYPE xml [<!ENTITY t "${TICKET}">]><xml><SuiteId>x</SuiteId><InfoType>suite_ticket</InfoType><TimeStamp>1</TimeStamp><SuiteTicket>&t;</SuiteTicket></xml>`,
      /DOCTYPE/,
    ],
    ['malformed XML', `<xml><SuiteId>x</SuiteId><InfoType>suite_ticket<SuiteTicket>${TICKET}</SuiteTicket></xml>`, /malformed/],
  ])('refuses %s as format, naming the field and never a value', (_, xml, why) => {
    const error = caught(() => parseSuiteCallback(xml));
    expect(error.reason).toBe('format');
    expect(error.message).toMatch(why);
    expect(printed(error)).not.toContain(TICKET);
  });

  it('masks tickets and codes and leaves out raw XML when an event is printed', () => {
    const ticket = parseSuiteCallback(buildSuiteCallbackXml({ infoType: 'suite_ticket', suiteId: SUITE_ID, suiteTicket: TICKET, timeStamp: 1 }));
    const auth = parseSuiteCallback(buildSuiteCallbackXml({ infoType: 'create_auth', suiteId: SUITE_ID, authCode: `code-${TICKET}`, timeStamp: 1 }));
    const unknown = parseSuiteCallback(`<xml><InfoType>change_contact</InfoType><Secret>${TICKET}</Secret></xml>`);
    for (const event of [ticket, auth, unknown]) {
      expect(printed(event)).not.toContain(TICKET.slice(4, -4));
      expect(printed({ event })).not.toContain(TICKET.slice(4, -4));
    }
    expect(JSON.parse(JSON.stringify(ticket))).toEqual({ infoType: 'suite_ticket', suiteId: SUITE_ID, suiteTicket: 'Cfp0…xMyw', timeStamp: 1 });
    expect(inspect(unknown)).toMatch(/raw: '\[\d+ characters of XML\]'/);
    // Still the plain data its type describes.
    expect(ticket.infoType === 'suite_ticket' && ticket.suiteTicket).toBe(TICKET);
    expect({ ...ticket }).toEqual({ infoType: 'suite_ticket', suiteId: SUITE_ID, suiteTicket: TICKET, timeStamp: 1 });
    expect(Object.isFrozen(ticket)).toBe(true);
  });
});

describe('buildSuiteCallbackXml', () => {
  const hostile = 'a]]>b<c>&amp;"\'中文 ';
  const events: KnownSuiteCallbackEvent[] = [
    { infoType: 'suite_ticket', suiteId: SUITE_ID, suiteTicket: TICKET, timeStamp: 1403610513 },
    { infoType: 'suite_ticket', suiteId: '00123', suiteTicket: '000456', timeStamp: 0 },
    { infoType: 'create_auth', suiteId: SUITE_ID, authCode: 'AUTHCODE', timeStamp: 1403610513, state: hostile },
    { infoType: 'create_auth', suiteId: SUITE_ID, authCode: 'AUTHCODE', timeStamp: 1403610513 },
    { infoType: 'change_auth', suiteId: SUITE_ID, authCorpId: 'wxf8b4f85f3a794e77', timeStamp: 1403610513, state: 'abc' },
    { infoType: 'change_auth', suiteId: SUITE_ID, authCorpId: 'wxf8b4f85f3a794e77' },
    { infoType: 'cancel_auth', suiteId: SUITE_ID, authCorpId: 'wxf8b4f85f3a794e77', timeStamp: 1403610513 },
    { infoType: 'reset_permanent_code', suiteId: hostile, authCode: hostile, timeStamp: 1403610513 },
  ];

  it.each(events.map((event) => [`${event.infoType} ${JSON.stringify(Object.keys(event))}`, event] as const))('round-trips %s through parseSuiteCallback', (_, event) => {
    expect(parseSuiteCallback(buildSuiteCallbackXml(event))).toEqual(event);
  });

  it('writes what WeCom writes', () => {
    expect(buildSuiteCallbackXml({ infoType: 'suite_ticket', suiteId: SUITE_ID, suiteTicket: 'T', timeStamp: 1403610513 })).toBe(
      `<xml><SuiteId><![CDATA[${SUITE_ID}]]></SuiteId><InfoType><![CDATA[suite_ticket]]></InfoType><TimeStamp>1403610513</TimeStamp><SuiteTicket><![CDATA[T]]></SuiteTicket></xml>`,
    );
  });
});

describe('encrypted envelopes', () => {
  const event: KnownSuiteCallbackEvent = { infoType: 'suite_ticket', suiteId: SUITE_ID, suiteTicket: TICKET, timeStamp: 1403610513 };

  it('round-trip: build, open, parse', () => {
    const { query, body } = buildEncryptedEnvelope(suiteCrypto, buildSuiteCallbackXml(event), { timestamp: 1403610513, nonce: '1372623149' });
    expect(query).toEqual({ msg_signature: expect.stringMatching(/^[0-9a-f]{40}$/), timestamp: '1403610513', nonce: '1372623149' });
    expect(parseCallbackEnvelope(body)).toEqual({ encrypt: expect.any(String), toUserName: SUITE_ID });
    expect(body).toContain('<AgentID><![CDATA[]]></AgentID>');
    expect(parseSuiteCallback(openEncryptedEnvelope(suiteCrypto, query, body))).toEqual(event);
    expect(parseSuiteCallback(openEncryptedEnvelope(suiteCrypto, query, Buffer.from(body)))).toEqual(event);
  });

  it('defaults to now and a numeric nonce, as WeCom sends them', () => {
    const { query } = buildEncryptedEnvelope(suiteCrypto, '<xml/>');
    expect(Math.abs(Number(query.timestamp) - Date.now() / 1000)).toBeLessThan(5);
    expect(query.nonce).toMatch(/^\d{9,10}$/);
  });

  it('is what @wecom/crypto reads and signs', () => {
    const inner = buildSuiteCallbackXml(event);
    const { query, body } = buildEncryptedEnvelope(suiteCrypto, inner, { toUserName: 'someone', agentId: '1000002' });
    const { encrypt, toUserName, agentId } = parseCallbackEnvelope(body);
    expect([toUserName, agentId]).toEqual(['someone', '1000002']);
    expect(published.getSignature(TOKEN, query.timestamp, query.nonce, encrypt)).toBe(query.msg_signature);
    expect(published.decrypt(KEY, encrypt)).toMatchObject({ message: inner, id: SUITE_ID });
  });

  it('opens what @wecom/crypto builds', () => {
    const inner = buildSuiteCallbackXml({ infoType: 'cancel_auth', suiteId: SUITE_ID, authCorpId: 'wxf8b4f85f3a794e77', timeStamp: 1 });
    const encrypt = published.encrypt(KEY, inner, SUITE_ID);
    const query = { msg_signature: published.getSignature(TOKEN, '1', '2', encrypt), timestamp: '1', nonce: '2' };
    const body = `<xml><ToUserName><![CDATA[${SUITE_ID}]]></ToUserName><Encrypt><![CDATA[${encrypt}]]></Encrypt><AgentID><![CDATA[]]></AgentID></xml>`;
    expect(openEncryptedEnvelope(suiteCrypto, query, body)).toBe(inner);
  });

  it("opens WeCom's published example as a POST body", () => {
    const crypto = new WeComCrypto({ token: TOKEN, encodingAESKey: KEY, receiveId: 'wx5823bf96d3bd56c7' });
    const body =
      '<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA[P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==]]></Encrypt></xml>';
    const query = { msg_signature: '5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3', timestamp: '1409659589', nonce: '263014780' };
    expect(openEncryptedEnvelope(crypto, query, body)).toBe('1616140317555161061');
  });

  it('refuses a changed query, a changed body, and a message for another suite', () => {
    const { query, body } = buildEncryptedEnvelope(suiteCrypto, buildSuiteCallbackXml(event));
    expect(caught(() => openEncryptedEnvelope(suiteCrypto, { ...query, nonce: `${query.nonce}1` }, body)).reason).toBe('signature');
    expect(caught(() => openEncryptedEnvelope(suiteCrypto, { ...query, msg_signature: '' }, body)).reason).toBe('signature');
    const other = buildEncryptedEnvelope(suiteCrypto, '<xml><InfoType>x</InfoType></xml>', query);
    expect(caught(() => openEncryptedEnvelope(suiteCrypto, query, other.body)).reason).toBe('signature');
    expect(caught(() => openEncryptedEnvelope(suiteCrypto, query, '<xml><Encrypt/></xml>')).reason).toBe('format');

    const otherSuite = new WeComCrypto({ token: TOKEN, encodingAESKey: KEY, receiveId: 'ww0000000000000001' });
    const foreign = buildEncryptedEnvelope(otherSuite, buildSuiteCallbackXml(event));
    const error = caught(() => openEncryptedEnvelope(suiteCrypto, foreign.query, foreign.body));
    expect(error.reason).toBe('receiver');
    expect(printed(error)).not.toContain(TICKET);
  });

  it('builds the URL check, which opens with either accepted receiveId', () => {
    const check = buildUrlVerification(suiteCrypto, '1616140317555161061', { timestamp: 1409659589, nonce: '263014780' });
    expect(check).toEqual({ msg_signature: expect.any(String), timestamp: '1409659589', nonce: '263014780', echostr: expect.any(String) });
    const both = new WeComCrypto({ token: TOKEN, encodingAESKey: KEY, receiveId: ['wwprovider0000001', SUITE_ID] });
    expect(both.decryptVerified(check.msg_signature, check.timestamp, check.nonce, check.echostr)).toBe('1616140317555161061');
    expect(published.decrypt(KEY, check.echostr)).toMatchObject({ message: '1616140317555161061', id: SUITE_ID });
  });
});
