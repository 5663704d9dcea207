/**
 * Reading a callback's XML (the decrypted event, a suite's 指令回调, the envelope of `parseCallbackEnvelope`) into its
 * fields: the checks every callback XML goes through, then one of two readers that give the same result.
 *
 * - The shape WeCom sends (`<xml>` holding elements, each holding CDATA, plain ASCII text or further elements, no
 *   attribute, comment, declaration, entity reference or carriage return) is read by one linear, bounded scan
 *   (`readWeComShape`): well-formed by construction, so there is nothing for a validator to find.
 * - Anything else, however small the difference, goes the full way: no markup declaration (`refuseDeclarations`),
 *   fast-xml-parser's validator, then its parser. Every refusal comes from there, with the same typed error.
 *
 * The scan never accepts what the full way refuses, and returns exactly what the parser would
 * (callback-xml.spec.ts compares both on generated documents and on every truncation and mutation of them).
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { callbackXmlMessage } from './crypto.messages.js';
import { WeComCallbackError } from './wecom-callback.error.js';
import { MAX_CIPHERTEXT_BYTES } from './wecom-crypto.js';

/**
 * The longest XML read, in characters: the envelope of the longest ciphertext `WeComCrypto` accepts, with room for
 * the tags. Bounds the parser's work on a body sent by anyone who knows the URL.
 */
export const MAX_CALLBACK_XML_CHARS = Math.ceil(MAX_CIPHERTEXT_BYTES / 3) * 4 + 4096;

const parser = new XMLParser({
  ignoreAttributes: true,
  // Every value stays text: a SuiteTicket or a corpid of digits must not become a number (or lose leading zeros).
  parseTagValue: false,
  // Trims the whitespace around values (WeCom's own examples have `<InfoType> <![CDATA[…]]>`), never inside CDATA.
  trimValues: true,
  // XML's five predefined entities only: no DOCTYPE reaches the parser (see refuseDeclarations).
  processEntities: true,
  htmlEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  maxNestedTags: 16,
});

/**
 * The child elements of `<xml>`, after the checks every callback XML goes through (not empty, bounded length, no
 * declaration, well-formed, one `<xml>` root with elements inside).
 *
 * @throws WeComCallbackError('format' | 'length').
 */
export function readCallbackXml(xml: string): Record<string, unknown> {
  checkSize(xml);
  return readWeComShape(xml) ?? readFully(xml);
}

/** @internal The full way alone (size, declarations, validator, parser), for the spec comparing both readers. */
export function readFully(xml: string): Record<string, unknown> {
  checkSize(xml);
  refuseDeclarations(xml);
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    // The validator's own message can quote the document; its code and position cannot.
    throw new WeComCallbackError('format', callbackXmlMessage(`is malformed (${valid.err.code} at line ${valid.err.line}, column ${valid.err.col})`));
  }
  let document: unknown;
  try {
    document = parser.parse(xml);
  } catch {
    // e.g. an element named __proto__, which the parser refuses rather than pollute a prototype.
    throw new WeComCallbackError('format', callbackXmlMessage('could not be parsed'));
  }
  const roots = isRecord(document) ? Object.keys(document) : [];
  const root = isRecord(document) ? document['xml'] : undefined;
  if (roots.length !== 1 || !isRecord(root)) throw new WeComCallbackError('format', callbackXmlMessage('is not one <xml> element with fields inside'));
  return root;
}

function checkSize(xml: string): void {
  if (typeof xml !== 'string' || xml.trim().length === 0) throw new WeComCallbackError('format', callbackXmlMessage('is empty'));
  if (xml.length > MAX_CALLBACK_XML_CHARS) {
    throw new WeComCallbackError('length', callbackXmlMessage(`is longer than ${MAX_CALLBACK_XML_CHARS} characters`));
  }
}

/**
 * Refuses `<!` anywhere but in a CDATA section or a comment. One left-to-right scan, so that neither hides the other:
 * a `<![CDATA[` inside a comment does not open a section that would swallow a DOCTYPE after the comment.
 */
function refuseDeclarations(xml: string): void {
  for (const match of xml.matchAll(/<!\[CDATA\[[\s\S]*?\]\]>|<!--[\s\S]*?-->|<!/g)) {
    if (match[0] === '<!') {
      throw new WeComCallbackError('format', callbackXmlMessage('holds a DOCTYPE or another markup declaration, which WeCom never sends'));
    }
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deeper than this is left to the full way (whose parser allows 16); WeCom nests 3 levels at most. */
const MAX_SCAN_DEPTH = 8;
/** An element name the scan reads: ASCII letters, digits and '_' (no namespace, no '-' or '.'). */
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Plain (non-CDATA) text the scan reads: printable ASCII, tab and newline, without '<', '>' and '&'. */
const PLAIN = /^[\t\n\x20-\x25\x27-\x3b\x3d\x3f-\x7e]*$/;
const CDATA_OPEN = '<![CDATA[';
const CDATA_CLOSE = ']]>';
const GT = 0x3e;
const SLASH = 0x2f;

/** Where the scan is in the document; the scan is synchronous and not reentrant, so one cursor serves every call. */
let cursor = 0;

/**
 * The fields of a document of exactly WeCom's shape, or undefined when it is not of that shape (to be read the full
 * way, which then accepts or refuses it). Linear: each character is looked at a bounded number of times.
 */
export function readWeComShape(xml: string): Record<string, unknown> | undefined {
  // The parser turns \r\n into \n; a document with \r is left to it.
  if (!xml.startsWith('<xml>') || xml.includes('\r')) return undefined;
  cursor = 5;
  const root = elementContent(xml, 'xml', 1);
  if (root === undefined || typeof root === 'string') return undefined;
  for (let i = cursor; i < xml.length; i++) if (!isBlank(xml.charCodeAt(i))) return undefined;
  return root;
}

/**
 * What follows the start tag of `name` (at the cursor) up to its end tag, which the cursor is then past: its text
 * (CDATA sections joined, or plain text trimmed, as the parser does), its child elements, or undefined when the
 * content is not of WeCom's shape (mixed text and elements, a mismatched or missing end tag, anything else).
 */
function elementContent(xml: string, name: string, depth: number): string | Record<string, unknown> | undefined {
  let text = '';
  let sawText = false;
  let cdata = '';
  let sawCdata = false;
  let fields: Record<string, unknown> | undefined;
  for (;;) {
    const lt = xml.indexOf('<', cursor);
    if (lt < 0) return undefined;
    if (!blank(xml, cursor, lt)) {
      if (sawText || sawCdata || fields !== undefined) return undefined;
      const segment = xml.slice(cursor, lt);
      if (!PLAIN.test(segment)) return undefined;
      text = segment.trim();
      sawText = true;
    }
    if (xml.startsWith(CDATA_OPEN, lt)) {
      if (sawText || fields !== undefined) return undefined;
      const end = xml.indexOf(CDATA_CLOSE, lt + CDATA_OPEN.length);
      if (end < 0) return undefined;
      cdata += xml.slice(lt + CDATA_OPEN.length, end);
      sawCdata = true;
      cursor = end + CDATA_CLOSE.length;
      continue;
    }
    if (xml.charCodeAt(lt + 1) === SLASH) {
      const after = lt + 2 + name.length;
      if (!xml.startsWith(name, lt + 2) || xml.charCodeAt(after) !== GT) return undefined;
      cursor = after + 1;
      return fields ?? (sawCdata ? cdata : text);
    }
    if (sawText || sawCdata || depth >= MAX_SCAN_DEPTH) return undefined;
    const gt = xml.indexOf('>', lt + 1);
    if (gt < 0) return undefined;
    const child = xml.slice(lt + 1, gt);
    // A name Object.prototype has (__proto__, constructor, toString, …) is the parser's to refuse or accept.
    if (!NAME.test(child) || child in Object.prototype) return undefined;
    cursor = gt + 1;
    const value = elementContent(xml, child, depth + 1);
    if (value === undefined) return undefined;
    fields ??= {};
    if (!Object.prototype.hasOwnProperty.call(fields, child)) fields[child] = value;
    else {
      // A repeated element becomes the list of its values, in order, as the parser makes it.
      const previous = fields[child];
      if (Array.isArray(previous)) previous.push(value);
      else fields[child] = [previous, value];
    }
  }
}

/** Whether xml[from, to) is only spaces, tabs and newlines (or empty). */
function blank(xml: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (!isBlank(xml.charCodeAt(i))) return false;
  return true;
}

function isBlank(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0a;
}
