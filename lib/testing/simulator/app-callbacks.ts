/**
 * An app's 接收消息 URL as WeCom calls it: messages and events built as WeCom's XML, encrypted for the corp
 * (receiveId = corpId), signed, POSTed; repeated when no 200 came in time, as WeCom does (three retries after 5 s).
 */
import { buildEncryptedEnvelope, buildUrlVerification } from '../../crypto/callback-message.js';
import { WeComCrypto } from '../../crypto/wecom-crypto.js';

/** A message or event to send; each has WeCom-like defaults. */
export type SimulatedAppCallback =
  | { type: 'text'; content: string; fromUserName?: string; msgId?: string; createTime?: number }
  | { type: 'enter_agent'; fromUserName?: string; eventKey?: string; createTime?: number }
  | { type: 'change_contact'; changeType: string; userId?: string; fromUserName?: string; createTime?: number; fields?: Record<string, string> };

/** Options of one delivery. */
export interface AppCallbackDeliveryOptions {
  /** How long an attempt waits for an answer before the next one; WeCom waits 5 s. */
  waitMs?: number;
  /** Retries after the first attempt when no 200 came; WeCom makes 3. */
  retries?: number;
  /** Pause between a failed attempt and the next; none by default. */
  retryIntervalMs?: number;
  /** Timestamp in seconds of the query (now by default), to send stale callbacks. */
  timestamp?: number;
}

/** What one attempt got. `status` is 0 when no answer came within `waitMs`. */
export interface AppCallbackAttempt {
  readonly status: number;
  readonly body: string;
}

/** The settings of an app's callback URL: configure the app's `callback` option with `token` and `encodingAESKey`. */
export interface SimulatedAppCallbackSettings {
  readonly corpId: string;
  readonly agentId: string;
  readonly token: string;
  readonly encodingAESKey: string;
}

let sequence = 0;

/** Sends an app's callbacks; `crypto` (receiveId = corpId) also decrypts passive replies. */
export class AppCallbackSender {
  readonly crypto: WeComCrypto;

  constructor(readonly settings: SimulatedAppCallbackSettings) {
    this.crypto = new WeComCrypto({ token: settings.token, encodingAESKey: settings.encodingAESKey, receiveId: settings.corpId });
  }

  /** The decrypted XML WeCom would send for this message or event. */
  xml(callback: SimulatedAppCallback): string {
    const { corpId, agentId } = this.settings;
    const createTime = callback.createTime ?? Math.floor(Date.now() / 1000);
    const from = callback.fromUserName ?? (callback.type === 'change_contact' ? 'sys' : 'zhangsan');
    const head = `<ToUserName>${cdata(corpId)}</ToUserName><FromUserName>${cdata(from)}</FromUserName><CreateTime>${createTime}</CreateTime>`;
    switch (callback.type) {
      case 'text':
        sequence += 1;
        return (
          `<xml>${head}<MsgType>${cdata('text')}</MsgType><Content>${cdata(callback.content)}</Content>` +
          `<MsgId>${callback.msgId ?? `${Date.now()}${sequence}`}</MsgId><AgentID>${agentId}</AgentID></xml>`
        );
      case 'enter_agent':
        return `<xml>${head}<MsgType>${cdata('event')}</MsgType><Event>${cdata('enter_agent')}</Event><EventKey>${cdata(callback.eventKey ?? '')}</EventKey><AgentID>${agentId}</AgentID></xml>`;
      case 'change_contact': {
        const extra = Object.entries({ ...(callback.userId !== undefined && { UserID: callback.userId }), ...callback.fields })
          .map(([name, value]) => `<${name}>${cdata(value)}</${name}>`)
          .join('');
        return `<xml>${head}<MsgType>${cdata('event')}</MsgType><Event>${cdata('change_contact')}</Event><ChangeType>${cdata(callback.changeType)}</ChangeType>${extra}</xml>`;
      }
    }
  }

  /** The query and body of one POST of `xml` (any XML: tests send malformed ones too). */
  envelope(xml: string, timestamp?: number): { query: { msg_signature: string; timestamp: string; nonce: string }; body: string } {
    return buildEncryptedEnvelope(this.crypto, xml, { agentId: this.settings.agentId, ...(timestamp !== undefined && { timestamp }) });
  }

  /** The URL check (GET) and the echo expected back. */
  urlVerification(): { query: { msg_signature: string; timestamp: string; nonce: string; echostr: string }; expected: string } {
    const expected = `${Date.now()}${Math.floor(Math.random() * 1e6)}`;
    return { query: buildUrlVerification(this.crypto, expected), expected };
  }

  /**
   * POST one callback to `url` as WeCom does: the same request again while no attempt got a 200 in time, up to
   * `retries` more times. Returns every attempt's answer.
   */
  async deliver(url: string, callback: SimulatedAppCallback | { xml: string }, options: AppCallbackDeliveryOptions = {}): Promise<AppCallbackAttempt[]> {
    const xml = 'xml' in callback ? callback.xml : this.xml(callback);
    return this.deliverEnvelope(url, this.envelope(xml, options.timestamp), options);
  }

  /** Like {@link deliver}, for an envelope built (or tampered with) by the caller. */
  async deliverEnvelope(url: string, envelope: { query: Record<string, string>; body: string }, options: AppCallbackDeliveryOptions = {}): Promise<AppCallbackAttempt[]> {
    const waitMs = options.waitMs ?? 5_000;
    const retries = options.retries ?? 3;
    const target = new URL(url);
    for (const [key, value] of Object.entries(envelope.query)) target.searchParams.set(key, value);
    const attempts: AppCallbackAttempt[] = [];
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (attempt > 0 && options.retryIntervalMs) await new Promise((resolve) => setTimeout(resolve, options.retryIntervalMs));
      const answer = await post(target, envelope.body, waitMs);
      attempts.push(answer);
      if (answer.status === 200) break;
    }
    return attempts;
  }
}

async function post(url: URL, body: string, waitMs: number): Promise<AppCallbackAttempt> {
  try {
    const response = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'text/xml' }, signal: AbortSignal.timeout(waitMs) });
    return { status: response.status, body: await response.text() };
  } catch {
    // WeCom gave up waiting (or could not connect): it retries.
    return { status: 0, body: '' };
  }
}

function cdata(value: string): string {
  return `<![CDATA[${value.replaceAll(']]>', ']]]]><![CDATA[>')}]]>`;
}
