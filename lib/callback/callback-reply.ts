/** A passive reply as WeCom expects it: `<xml><Encrypt/><MsgSignature/><TimeStamp/><Nonce/></xml>`. */
import { randomInt } from 'node:crypto';
import { timestampSeconds } from '../crypto/jsapi-signature.js';
import type { WeComCrypto } from '../crypto/wecom-crypto.js';

/** The body of a passive reply: `inner` encrypted, signed with a fresh timestamp and nonce. */
export function sealReply(crypto: WeComCrypto, inner: string): string {
  const timestamp = String(timestampSeconds());
  const nonce = String(randomInt(100_000_000, 10_000_000_000));
  const encrypt = crypto.encrypt(inner);
  return (
    `<xml><Encrypt>${cdata(encrypt)}</Encrypt><MsgSignature>${cdata(crypto.signature(timestamp, nonce, encrypt))}</MsgSignature>` +
    `<TimeStamp>${timestamp}</TimeStamp><Nonce>${cdata(nonce)}</Nonce></xml>`
  );
}

/** The decrypted XML of a passive text reply to `message`'s sender. */
export function textReplyXml(to: string, from: string, content: string): string {
  return (
    `<xml><ToUserName>${cdata(to)}</ToUserName><FromUserName>${cdata(from)}</FromUserName>` +
    `<CreateTime>${timestampSeconds()}</CreateTime><MsgType>${cdata('text')}</MsgType><Content>${cdata(content)}</Content></xml>`
  );
}

/** A CDATA section holding `value`, a `]]>` inside split across two sections. */
function cdata(value: string): string {
  return `<![CDATA[${value.replaceAll(']]>', ']]]]><![CDATA[>')}]]>`;
}
