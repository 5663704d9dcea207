/**
 * The doctor's one way of asking WeCom: a GET through the app's egress, reduced to what a check needs, described
 * without its URL (which carries `corpsecret` or `access_token`).
 */
import axios from 'axios';
import { proxyFailureOf } from '../common/proxy-url.js';
import { quoteUntrusted, redactSent, sentSecretsOf } from '../common/redaction.js';
import type { WeComEgress } from '../http/egress.js';

/** WeCom's answer to one call, reduced to what a check needs. */
export type Answer = { kind: 'ok'; body: Record<string, unknown> } | { kind: 'errcode'; errcode: number; errmsg: string } | { kind: 'transport'; problem: string };

/**
 * One GET to WeCom through the app's egress (WECOM_PROXY, else HTTPS_PROXY / NO_PROXY): never follows a redirect,
 * bounded as a whole (headers and body), and described without its URL (which carries `corpsecret` or `access_token`).
 */
export async function call(settings: { baseUrl: string; egress: WeComEgress }, path: string, query: Record<string, string>, timeoutMs: number): Promise<Answer> {
  const { baseUrl } = settings;
  const search = new URLSearchParams(query).toString();
  const url = `${baseUrl}${path}${search ? `?${search}` : ''}`;
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const response = await axios.request<string>({
      ...settings.egress.axios,
      url,
      method: 'GET',
      maxRedirects: 0,
      validateStatus: () => true,
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
      signal,
    });
    const text = typeof response.data === 'string' ? response.data : '';
    const contentType = String(response.headers['content-type'] ?? '') || 'no content type';
    if (response.status >= 300 && response.status < 400) {
      return {
        kind: 'transport',
        problem: `${path} answered with a redirect (HTTP ${response.status}); WeCom calls never follow redirects: set WECOM_BASE_URL to the address that answers itself`,
      };
    }
    if (response.status === 407) {
      return { kind: 'transport', problem: `${path}: the proxy answered HTTP 407 (Proxy Authentication Required): check the user and password in WECOM_PROXY` };
    }
    if (response.status < 200 || response.status >= 300) {
      return { kind: 'transport', problem: `${path} answered HTTP ${response.status}: check WECOM_BASE_URL and any proxy or gateway in between` };
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return { kind: 'transport', problem: `${path} answered with something other than JSON (${quoteUntrusted(contentType)}): check WECOM_BASE_URL` };
    }
    if (typeof body !== 'object' || body === null) return { kind: 'transport', problem: `${path} answered with JSON that is not an object: check WECOM_BASE_URL` };
    const record = body as Record<string, unknown>;
    // What was sent (corpsecret, access_token) is redacted from an errmsg that echoes the URL, before any cut of it.
    if (typeof record.errcode === 'number' && record.errcode !== 0)
      return { kind: 'errcode', errcode: record.errcode, errmsg: redactSent(String(record.errmsg ?? ''), sentSecretsOf({ params: query })) };
    return { kind: 'ok', body: record };
  } catch (error) {
    const proxied = proxyFailureOf(error);
    if (proxied) return { kind: 'transport', problem: `${path} could not go through the proxy: ${proxied.problem}; check WECOM_PROXY (or HTTPS_PROXY / NO_PROXY)` };
    if (signal.aborted) return { kind: 'transport', problem: `${path} gave no answer within ${timeoutMs} ms: check that this machine reaches ${baseUrl} (firewall, proxy, DNS)` };
    const code = networkCode(error);
    return { kind: 'transport', problem: `${path} could not be reached${code ? ` (${code})` : ''}: check that this machine reaches ${baseUrl} (firewall, proxy, DNS)` };
  }
}

/** `ECONNREFUSED`, `ENOTFOUND`, … from the error or its cause; never the error's message (it may hold the URL). */
function networkCode(error: unknown): string | undefined {
  for (let current: unknown = error, depth = 0; current && depth < 4; current = (current as { cause?: unknown }).cause, depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z_]+$/.test(code)) return code;
  }
  return undefined;
}
