/**
 * The XML of a suite's 指令回调 (doc 90600 and following): the envelope WeCom POSTs, the decrypted event inside it,
 * and the reverse (building both as WeCom would), for the suite module and for the simulator.
 *
 * XML is read by callback-xml.ts: WeCom's shape by a bounded scan, anything else with fast-xml-parser, after refusing every markup declaration (`<!DOCTYPE`, `<!ENTITY`, …) outside
 * CDATA sections and comments: WeCom never sends one, and without them no entity beyond XML's five predefined ones
 * can exist, so there is nothing to expand, nothing external to fetch. (The parser would otherwise expand a DOCTYPE's
 * entities, even one placed inside the root element, and its own validator accepts that.)
 */
import { randomInt } from 'node:crypto';
import { inspect } from 'node:util';
import { maskToken } from '../common/redaction.js';
import { MAX_CALLBACK_XML_CHARS, readCallbackXml } from './callback-xml.js';
import { callbackFieldMessage, callbackXmlMessage } from './crypto.messages.js';
import { timestampSeconds } from './jsapi-signature.js';
import { WeComCallbackError } from './wecom-callback.error.js';
import { WeComCrypto } from './wecom-crypto.js';

export { MAX_CALLBACK_XML_CHARS };

/** WeCom pushes a new suite_ticket every 10 minutes; it is valid for 30 and the latest one is to be used. */
export interface SuiteTicketEvent {
  readonly infoType: 'suite_ticket';
  readonly suiteId: string;
  /** The ticket for get_suite_token. Masked when the event is printed or serialised. */
  readonly suiteTicket: string;
  /** When WeCom sent it, in seconds. */
  readonly timeStamp: number;
}

/** A corp authorised the suite: exchange `authCode` for the permanent code (get_permanent_code) within 10 minutes. */
export interface CreateAuthEvent {
  readonly infoType: 'create_auth';
  readonly suiteId: string;
  /** The temporary authorisation code. Masked when the event is printed or serialised. */
  readonly authCode: string;
  readonly timeStamp: number;
  /** The `state` the install link carried, when it had one. */
  readonly state?: string;
}

/** A corp changed what the suite may see or do (visible range, permissions). */
export interface ChangeAuthEvent {
  readonly infoType: 'change_auth';
  readonly suiteId: string;
  readonly authCorpId: string;
  readonly timeStamp?: number;
  readonly state?: string;
}

/** A corp removed the suite: its permanent code and tokens are no longer valid. */
export interface CancelAuthEvent {
  readonly infoType: 'cancel_auth';
  readonly suiteId: string;
  readonly authCorpId: string;
  readonly timeStamp?: number;
}

/** A corp's permanent code was reset: exchange `authCode` for the new one; the old one no longer works. */
export interface ResetPermanentCodeEvent {
  readonly infoType: 'reset_permanent_code';
  readonly suiteId: string;
  /** The temporary code for get_permanent_code. Masked when the event is printed or serialised. */
  readonly authCode: string;
  readonly timeStamp?: number;
}

/**
 * An InfoType this module does not handle (change_contact, change_external_contact, …): handed on, not refused,
 * because WeCom adds InfoTypes and a callback answered with an error is retried.
 */
export interface UnknownSuiteEvent {
  readonly infoType: 'unknown';
  /** The InfoType as WeCom sent it. */
  readonly receivedInfoType: string;
  readonly suiteId?: string;
  /** The decrypted XML, to read with any XML parser. Not shown when the event is printed or serialised. */
  readonly raw: string;
}

/** The events the suite module acts on. */
export type KnownSuiteCallbackEvent = SuiteTicketEvent | CreateAuthEvent | ChangeAuthEvent | CancelAuthEvent | ResetPermanentCodeEvent;

/** A decrypted 指令回调, by `infoType`. */
export type SuiteCallbackEvent = KnownSuiteCallbackEvent | UnknownSuiteEvent;

/** The outer XML that WeCom POSTs to a callback URL. */
export interface CallbackEnvelope {
  /** The ciphertext, for `WeComCrypto.decryptVerified`. */
  readonly encrypt: string;
  /** The receiver named in clear (suiteId or corpId); informative only, the decrypted receiveId is what is checked. */
  readonly toUserName?: string;
  /** The app's AgentID, when WeCom sent one. */
  readonly agentId?: string;
}

/** The query WeCom adds to a callback URL. */
export interface CallbackQuery {
  msg_signature: string;
  timestamp: string;
  nonce: string;
  /** Only on the URL check (GET). */
  echostr?: string;
}

/** A callback as WeCom would send it: the query string's values and the POST body. */
export interface EncryptedCallback {
  readonly query: { msg_signature: string; timestamp: string; nonce: string };
  readonly body: string;
}

/** Values for `buildEncryptedEnvelope` / `buildUrlVerification`; each has a default WeCom-like value. */
export interface EnvelopeOptions {
  /** Seconds; now by default. */
  timestamp?: number | string;
  /** WeCom sends digits; a random 9- or 10-digit one by default. */
  nonce?: string;
  /** The receiver named in clear; the crypto's first receiveId by default. */
  toUserName?: string;
  /** The AgentID element's text; empty by default, as in a suite's 指令回调. */
  agentId?: string;
}

const KNOWN_INFO_TYPES: ReadonlySet<string> = new Set<KnownSuiteCallbackEvent['infoType']>(['suite_ticket', 'create_auth', 'change_auth', 'cancel_auth', 'reset_permanent_code']);

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * The ciphertext and clear fields of the body WeCom POSTs: `<xml><ToUserName/><Encrypt/><AgentID/></xml>`.
 *
 * @throws WeComCallbackError('format') for a body that is not such XML (malformed, with a DOCTYPE, without Encrypt).
 */
export function parseCallbackEnvelope(body: string | Buffer): CallbackEnvelope {
  const fields = readCallbackXml(typeof body === 'string' ? body : decodeBody(body));
  const where = 'the envelope';
  const encrypt = textField(fields, 'Encrypt', where);
  if (encrypt === undefined) throw new WeComCallbackError('format', callbackFieldMessage(where, 'Encrypt', 'missing'));
  const toUserName = textField(fields, 'ToUserName', where);
  const agentId = textField(fields, 'AgentID', where);
  return { encrypt, ...(toUserName !== undefined && { toUserName }), ...(agentId !== undefined && { agentId }) };
}

/**
 * The event in a decrypted 指令回调. An InfoType this module does not know gives `{ infoType: 'unknown', … }`.
 * Tickets and codes in the result are masked when it is printed (`util.inspect`, `JSON.stringify`).
 *
 * @throws WeComCallbackError('format') for XML that is malformed, has a DOCTYPE, lacks InfoType, or lacks a field
 *   its InfoType needs (each such field must appear once, as non-empty text).
 */
export function parseSuiteCallback(xml: string): SuiteCallbackEvent {
  const fields = readCallbackXml(xml);
  const infoType = textField(fields, 'InfoType', 'the callback');
  if (infoType === undefined) throw new WeComCallbackError('format', callbackFieldMessage('the callback', 'InfoType', 'missing'));
  // Only an InfoType of ours goes into a message; an unknown one is text from the sender.
  const where = KNOWN_INFO_TYPES.has(infoType) ? `the '${infoType}' callback` : 'the callback';
  const need = (field: string): string => {
    const value = textField(fields, field, where);
    if (value === undefined) throw new WeComCallbackError('format', callbackFieldMessage(where, field, 'missing'));
    return value;
  };
  const may = (field: string): string | undefined => textField(fields, field, where);

  switch (infoType) {
    case 'suite_ticket':
      return printable({ infoType, suiteId: need('SuiteId'), suiteTicket: need('SuiteTicket'), timeStamp: seconds(need('TimeStamp'), where) });
    case 'create_auth':
      return printable({
        infoType,
        suiteId: need('SuiteId'),
        authCode: need('AuthCode'),
        timeStamp: seconds(need('TimeStamp'), where),
        ...optional('state', may('State')),
      });
    case 'change_auth':
      return printable({
        infoType,
        suiteId: need('SuiteId'),
        authCorpId: need('AuthCorpId'),
        ...optional('timeStamp', seconds(may('TimeStamp'), where)),
        ...optional('state', may('State')),
      });
    case 'cancel_auth':
      return printable({ infoType, suiteId: need('SuiteId'), authCorpId: need('AuthCorpId'), ...optional('timeStamp', seconds(may('TimeStamp'), where)) });
    case 'reset_permanent_code':
      return printable({ infoType, suiteId: need('SuiteId'), authCode: need('AuthCode'), ...optional('timeStamp', seconds(may('TimeStamp'), where)) });
    default:
      return printable({ infoType: 'unknown', receivedInfoType: infoType, ...optional('suiteId', may('SuiteId')), raw: xml });
  }
}

/** The decrypted XML WeCom would send for an event, fields in the order of WeCom's documentation. */
export function buildSuiteCallbackXml(event: KnownSuiteCallbackEvent): string {
  const fields: Array<[string, string | number | undefined]> = [['SuiteId', event.suiteId]];
  switch (event.infoType) {
    case 'suite_ticket':
      fields.push(['InfoType', event.infoType], ['TimeStamp', event.timeStamp], ['SuiteTicket', event.suiteTicket]);
      break;
    case 'create_auth':
      fields.push(['AuthCode', event.authCode], ['InfoType', event.infoType], ['TimeStamp', event.timeStamp], ['State', event.state]);
      break;
    case 'change_auth':
      fields.push(['InfoType', event.infoType], ['TimeStamp', event.timeStamp], ['AuthCorpId', event.authCorpId], ['State', event.state]);
      break;
    case 'cancel_auth':
      fields.push(['InfoType', event.infoType], ['TimeStamp', event.timeStamp], ['AuthCorpId', event.authCorpId]);
      break;
    case 'reset_permanent_code':
      fields.push(['AuthCode', event.authCode], ['InfoType', event.infoType], ['TimeStamp', event.timeStamp]);
      break;
  }
  const body = fields
    .filter((field): field is [string, string | number] => field[1] !== undefined)
    .map(([name, value]) => (typeof value === 'number' ? `<${name}>${value}</${name}>` : `<${name}>${cdata(value)}</${name}>`))
    .join('');
  return `<xml>${body}</xml>`;
}

/**
 * Encrypt `innerXml` and wrap it as WeCom POSTs it: the body and the query values (`msg_signature`, `timestamp`,
 * `nonce`) to append to the callback URL, URL-encoded by whoever builds the URL.
 */
export function buildEncryptedEnvelope(crypto: WeComCrypto, innerXml: string, options: EnvelopeOptions = {}): EncryptedCallback {
  const { timestamp, nonce } = queryValues(options);
  const encrypt = crypto.encrypt(innerXml);
  const toUserName = options.toUserName ?? crypto.receiveIds[0];
  const body = `<xml><ToUserName>${cdata(toUserName)}</ToUserName><Encrypt>${cdata(encrypt)}</Encrypt>` + `<AgentID>${cdata(options.agentId ?? '')}</AgentID></xml>`;
  return { query: { msg_signature: crypto.signature(timestamp, nonce, encrypt), timestamp, nonce }, body };
}

/** The query of the URL check (the GET WeCom sends when a callback URL is saved): `echostr` encrypts `echo`. */
export function buildUrlVerification(crypto: WeComCrypto, echo: string, options: Pick<EnvelopeOptions, 'timestamp' | 'nonce'> = {}): Required<CallbackQuery> {
  const { timestamp, nonce } = queryValues(options);
  const echostr = crypto.encrypt(echo);
  return { msg_signature: crypto.signature(timestamp, nonce, echostr), timestamp, nonce, echostr };
}

/**
 * The decrypted XML of a POSTed callback: reads the envelope, checks the signature in constant time, then decrypts
 * (strictly, receiveId included).
 *
 * @throws WeComCallbackError with the reason of the first check that failed.
 */
export function openEncryptedEnvelope(crypto: WeComCrypto, query: CallbackQuery, body: string | Buffer): string {
  const { encrypt } = parseCallbackEnvelope(body);
  return crypto.decryptVerified(query?.msg_signature, query?.timestamp, query?.nonce, encrypt);
}

/**
 * The fields of a decrypted callback (an app's message or event), every value text or nested fields, after the same
 * checks as every callback XML (no declaration, well-formed, one `<xml>` root, bounded length).
 *
 * @throws WeComCallbackError('format' | 'length').
 */
export function parseCallbackFields(xml: string): Record<string, unknown> {
  return readCallbackXml(xml);
}

/** A TimeStamp field's value: whole seconds, as digits. */
function seconds(value: string, where: string): number;
function seconds(value: string | undefined, where: string): number | undefined;
function seconds(value: string | undefined, where: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,12}$/.test(value)) throw new WeComCallbackError('format', callbackFieldMessage(where, 'TimeStamp', 'not-timestamp'));
  return Number(value);
}

/** `{ [key]: value }`, or nothing when the value is absent: optional fields stay absent rather than undefined. */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/** A field's text: undefined when absent or empty; refused when repeated or when it has child elements. */
function textField(fields: Record<string, unknown>, name: string, where: string): string | undefined {
  if (!Object.prototype.hasOwnProperty.call(fields, name)) return undefined;
  const value = fields[name];
  if (Array.isArray(value)) throw new WeComCallbackError('format', callbackFieldMessage(where, name, 'repeated'));
  if (typeof value !== 'string') throw new WeComCallbackError('format', callbackFieldMessage(where, name, 'not-text'));
  return value === '' ? undefined : value;
}

function decodeBody(body: Buffer): string {
  if (!Buffer.isBuffer(body)) throw new WeComCallbackError('format', callbackXmlMessage('is not a string or a Buffer'));
  if (body.length > MAX_CALLBACK_XML_CHARS * 4) {
    throw new WeComCallbackError('length', callbackXmlMessage(`is longer than ${MAX_CALLBACK_XML_CHARS} characters`));
  }
  try {
    return utf8.decode(body);
  } catch {
    throw new WeComCallbackError('format', callbackXmlMessage('is not UTF-8'));
  }
}

/** Text as CDATA; a `]]>` inside is split across two sections, the standard way to carry it. */
function cdata(text: string): string {
  return `<![CDATA[${text.replace(/]]>/g, ']]]]><![CDATA[>')}]]>`;
}

function queryValues(options: Pick<EnvelopeOptions, 'timestamp' | 'nonce'>): { timestamp: string; nonce: string } {
  return {
    timestamp: String(options.timestamp ?? timestampSeconds()),
    nonce: options.nonce ?? String(randomInt(100_000_000, 10_000_000_000)),
  };
}

/**
 * Freezes an event and gives it a `toJSON` and a `util.inspect` view in which tickets and codes are masked and raw XML
 * is left out: events get logged, and a suite_ticket or an auth code in a log is a credential in a log. Both are
 * non-enumerable, so the event still compares, spreads and destructures as the plain object its type describes.
 */
function printable<T extends SuiteCallbackEvent>(event: T): T {
  const view = (): Record<string, unknown> => {
    const shown: Record<string, unknown> = { ...event };
    for (const key of ['suiteTicket', 'authCode'] as const) if (typeof shown[key] === 'string') shown[key] = maskToken(shown[key]);
    if (typeof shown['raw'] === 'string') shown['raw'] = `[${shown['raw'].length} characters of XML]`;
    return shown;
  };
  Object.defineProperty(event, 'toJSON', { value: view, enumerable: false });
  Object.defineProperty(event, inspect.custom, { value: view, enumerable: false });
  return Object.freeze(event);
}
