import { readCallbackXml, readFully, readWeComShape } from './callback-xml.js';
import { WeComCallbackError } from './wecom-callback.error.js';

/** What a reader did with a document: its fields, or the reason and message of its refusal. */
function outcome(read: (xml: string) => unknown, xml: string): unknown {
  try {
    return { fields: JSON.stringify(read(xml)) };
  } catch (error) {
    if (!(error instanceof WeComCallbackError)) throw error;
    return { refused: error.reason, message: error.message };
  }
}

/** readCallbackXml does what the full way does, and the scan, when it answers, answers the same. */
function expectSameAsFull(xml: string): boolean {
  expect({ xml, ...(outcome(readCallbackXml, xml) as object) }).toEqual({ xml, ...(outcome(readFully, xml) as object) });
  const scanned = readWeComShape(xml);
  if (scanned !== undefined) expect({ xml, fields: scanned }).toEqual({ xml, fields: readFully(xml) });
  return scanned !== undefined;
}

/** A deterministic generator (mulberry32), so that a failure names a reproducible document. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TEXTS = ['', ' ', 'x', ' 1796417433 ', '成员 名字', 'a]]>b', '<b>&amp;</b>', '&lt;', 'tab\there', 'line\nbreak', 'emoji 😀', '\u0001', 'a\r\nb', ' padded '];
const NAMES = ['ToUserName', 'FromUserName', 'CreateTime', 'MsgType', 'Event', 'Item', 'Name', 'Value', 'ExtAttr', 'a_b', 'A1'];

function cdata(text: string): string {
  return `<![CDATA[${text.replace(/]]>/g, ']]]]><![CDATA[>')}]]>`;
}

/** A document WeCom could send, or close to it: nested, repeated, CDATA and plain text, whitespace between. */
function document(next: () => number, depth = 0): string {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)];
  const ws = (): string => pick(['', '', ' ', '\n', '\n  ', '\t']);
  const children = 1 + Math.floor(next() * 5);
  let out = '';
  for (let i = 0; i < children; i++) {
    const name = pick(NAMES);
    const kind = next();
    let inner: string;
    if (kind < 0.45) inner = cdata(pick(TEXTS));
    else if (kind < 0.6) inner = `${ws()}${cdata(pick(TEXTS))}${ws()}${next() < 0.3 ? cdata(pick(TEXTS)) : ''}${ws()}`;
    else if (kind < 0.8) inner = pick(['1796417433', ' 42 ', '', 'plain text', '1000002']);
    else inner = depth < 3 ? document(next, depth + 1) : '';
    out += `${ws()}<${name}>${inner}</${name}>`;
  }
  return depth === 0 ? `<xml>${out}${ws()}</xml>${pick(['', '\n'])}` : out;
}

const MUTATIONS = ['<', '>', '/', '!', '&', ']', ' ', '\r', 'x', '<!DOCTYPE a>', '<!-- c -->', '<?pi?>', '<![CDATA[', ']]>', '<a>', '</a>', '<Encrypt>', '&amp;', '="1"'];

describe('readCallbackXml: the scan of WeCom’s shape and the full way agree', () => {
  it('reads a WeCom event by the scan, with the parser’s result', () => {
    const xml =
      '<xml><ToUserName><![CDATA[ww1]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName><CreateTime>1796417433</CreateTime>' +
      '<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_contact]]></Event><ExtAttr><Item><Name><![CDATA[爱好]]></Name></Item>' +
      '<Item><Name><![CDATA[b]]></Name></Item></ExtAttr><AgentID></AgentID></xml>';
    const fields = readWeComShape(xml);
    expect(fields).toEqual({
      ToUserName: 'ww1',
      FromUserName: 'sys',
      CreateTime: '1796417433',
      MsgType: 'event',
      Event: 'change_contact',
      ExtAttr: { Item: [{ Name: '爱好' }, { Name: 'b' }] },
      AgentID: '',
    });
    expect(fields).toEqual(readFully(xml));
  });

  it.each([
    ['an entity reference', '<xml><A>&lt;</A></xml>'],
    ['a carriage return', '<xml><A>a\r\nb</A></xml>'],
    ['an attribute', '<xml><A x="1">v</A></xml>'],
    ['a self-closing element', '<xml><A/></xml>'],
    ['a comment', '<xml><!-- c --><A>1</A></xml>'],
    ['an XML declaration', '<?xml version="1.0"?><xml><A>1</A></xml>'],
    ['mixed text and elements', '<xml><A>t<B>1</B></A></xml>'],
    ['text then CDATA', '<xml><A>t<![CDATA[x]]></A></xml>'],
    ['an element named after Object.prototype', '<xml><constructor>1</constructor></xml>'],
    ['deep nesting', `<xml>${'<A>'.repeat(9)}1${'</A>'.repeat(9)}</xml>`],
    ['text after the root', '<xml><A>1</A></xml>x'],
    ['a root without elements', '<xml>text</xml>'],
    ['an entity the parser leaves as text', '<xml><A>&nbsp;</A></xml>'],
  ])('leaves %s to the full way', (_what, xml) => {
    expect(readWeComShape(xml)).toBeUndefined();
    expectSameAsFull(xml);
  });

  it.each([
    ['truncated', '<xml><A><![CDATA[x]]></A>'],
    ['an unclosed CDATA section', '<xml><A><![CDATA[x</A></xml>'],
    ['a mismatched end tag', '<xml><A>1</B></xml>'],
    ['an end tag with a longer name', '<xml><A>1</AB></xml>'],
    ['a DOCTYPE with an entity', '<!DOCTYPE x [<!ENTITY e "boom">]><xml><A>&e;</A></xml>'],
    ['a DOCTYPE inside the root', '<xml><!DOCTYPE x [<!ENTITY e "boom">]><A>&e;</A></xml>'],
    ['a DOCTYPE after a comment holding a CDATA opener', '<xml><!-- <![CDATA[ --><!DOCTYPE x><A>1</A></xml>'],
    ['an element named __proto__', '<xml><__proto__><polluted>1</polluted></__proto__></xml>'],
    ['two roots', '<xml><A>1</A></xml><xml><A>2</A></xml>'],
    ['a stray "<"', '<xml><A>1 < 2</A></xml>'],
    ['a CDATA opener inside CDATA then a declaration', '<xml><A><![CDATA[<![CDATA[]]><!DOCTYPE x></A></xml>'],
  ])('refuses %s with the full way’s typed error', (_what, xml) => {
    expect(readWeComShape(xml)).toBeUndefined();
    expect(() => readCallbackXml(xml)).toThrow(WeComCallbackError);
    expectSameAsFull(xml);
  });

  it('keeps CDATA as it is: markup, entities and "]]>" split across sections are text', () => {
    const xml = `<xml><A>${cdata('<!DOCTYPE x><b>&amp;</b> ]]> ')}</A><B> ${cdata(' x ')} </B></xml>`;
    expect(readWeComShape(xml)).toEqual({ A: '<!DOCTYPE x><b>&amp;</b> ]]> ', B: ' x ' });
    expectSameAsFull(xml);
  });

  it('reads repeated <Encrypt> elements as the parser does (a list, refused by the field readers)', () => {
    const xml = '<xml><Encrypt><![CDATA[a]]></Encrypt><Encrypt><![CDATA[b]]></Encrypt></xml>';
    expect(readWeComShape(xml)).toEqual({ Encrypt: ['a', 'b'] });
    expectSameAsFull(xml);
  });

  it('refuses oversized and empty documents before reading them', () => {
    expect(() => readCallbackXml(`<xml><A>${'x'.repeat(6 * 1024 * 1024)}</A></xml>`)).toThrow(expect.objectContaining({ reason: 'length' }));
    expect(() => readCallbackXml('  ')).toThrow(expect.objectContaining({ reason: 'format' }));
  });

  it('agrees on generated documents and on every truncation of them', () => {
    const next = random(25);
    let scanned = 0;
    for (let n = 0; n < 60; n++) {
      const xml = document(next);
      if (expectSameAsFull(xml)) scanned++;
      // A document cut short (more than its trailing newline) is never read by the scan: the full way refuses it.
      for (let cut = 1; cut < xml.trimEnd().length; cut++) expect(expectSameAsFull(xml.slice(0, cut))).toBe(false);
    }
    // The generator mostly writes WeCom's shape, so the comparison covers the scan's results, not only its refusals.
    expect(scanned).toBeGreaterThan(20);
  });

  it('agrees on generated documents with a character deleted, or markup inserted, anywhere', () => {
    const next = random(2);
    for (let n = 0; n < 25; n++) {
      const xml = document(next);
      for (let at = 0; at < xml.length; at++) {
        expectSameAsFull(xml.slice(0, at) + xml.slice(at + 1));
        const insert = MUTATIONS[Math.floor(next() * MUTATIONS.length)];
        expectSameAsFull(xml.slice(0, at) + insert + xml.slice(at));
      }
    }
  });
});
