/**
 * Two small readers of what reaches a suite from outside: the corp a 数据回调 envelope names (read before any other
 * check, bounded), and the authorised agentid of get_permanent_code's answer (kept only when plausible).
 */
import { MAX_CALLBACK_BODY_BYTES } from '../callback/inbound.js';
import { WeComCallbackError } from '../crypto/wecom-callback.error.js';

/**
 * The authorised corp a 数据回调 is for: the envelope's ToUserName, read by a bounded scan before anything else (the
 * pipeline then checks size, timestamp and signature, and the decryption checks that the ciphertext is for this corp).
 */
export function dataCallbackCorp(body: string | Buffer | undefined): string {
  const text = typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('latin1') : '';
  if (text.length > MAX_CALLBACK_BODY_BYTES) throw new WeComCallbackError('length', `the callback's body is larger than ${MAX_CALLBACK_BODY_BYTES} bytes`);
  const start = text.indexOf('<ToUserName>');
  const end = start < 0 ? -1 : text.indexOf('</ToUserName>', start);
  const raw = start < 0 || end < 0 ? '' : text.slice(start + '<ToUserName>'.length, end).trim();
  const corpId = raw.startsWith('<![CDATA[') && raw.endsWith(']]>') ? raw.slice('<![CDATA['.length, -']]>'.length) : raw;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(corpId)) throw new WeComCallbackError('format', 'the 数据回调 envelope names no authorised corp in ToUserName');
  return corpId;
}

/** The agentid of get_permanent_code's `auth_info.agent[0]`, when it is a plausible one (digits only). */
export function authorisedAgentId(agents: unknown): string | undefined {
  const first: unknown = Array.isArray(agents) ? agents[0] : undefined;
  const id = typeof first === 'object' && first !== null ? (first as { agentid?: unknown }).agentid : undefined;
  const text = typeof id === 'number' || typeof id === 'string' ? String(id) : '';
  return /^\d{1,12}$/.test(text) ? text : undefined;
}
