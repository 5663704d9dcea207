/**
 * Ground floor: what the module reports through `node:diagnostics_channel`, the way undici does. Zero dependencies,
 * and free while nobody subscribes. Payloads never carry a secret or a whole credential.
 */
import diagnostics from 'node:diagnostics_channel';

/** Every credential the module fetches, by the name WeCom gives its parameter. */
export type CredentialKind = 'access_token' | 'jsapi_ticket' | 'agent_ticket' | 'suite_access_token' | 'provider_access_token' | 'corp_access_token';

/** Published on `nestjs-wecom-token:fetch` after every credential request to WeCom (each attempt). */
export interface CredentialFetchEvent {
  kind: CredentialKind;
  corpId: string;
  app: string;
  outcome: 'ok' | 'error';
  durationMs: number;
  /** WeCom's errcode, when it answered one. */
  errcode?: number;
  /** When the fetched credential expires (epoch ms), on success. */
  expiresAt?: number;
}

/** Published on `nestjs-wecom-token:rejected` when WeCom rejects a credential that was sent (40014, 42001, 40082, …). */
export interface CredentialRejectedEvent {
  kind: CredentialKind;
  corpId: string;
  app: string;
  errcode: number;
}

/** Published on `nestjs-wecom-token:refresh-failed` when a refresh fails while a valid credential is still served. */
export interface CredentialRefreshFailedEvent {
  kind: CredentialKind;
  corpId: string;
  app: string;
  /** What went wrong, redacted (the error's message). */
  error: string;
  /** WeCom's errcode, when it answered one. */
  errcode?: number;
  /** How long the credential still served stays valid. */
  validForMs: number;
}

/** Channel names, fixed by the public contract. */
export const FETCH_CHANNEL = 'nestjs-wecom-token:fetch';
export const REJECTED_CHANNEL = 'nestjs-wecom-token:rejected';
export const REFRESH_FAILED_CHANNEL = 'nestjs-wecom-token:refresh-failed';

const fetchChannel = diagnostics.channel(FETCH_CHANNEL);
const rejectedChannel = diagnostics.channel(REJECTED_CHANNEL);
const refreshFailedChannel = diagnostics.channel(REFRESH_FAILED_CHANNEL);

/** Report one credential request to WeCom. */
export function publishFetch(event: CredentialFetchEvent): void {
  if (fetchChannel.hasSubscribers) fetchChannel.publish(event);
}

/** Report WeCom's rejection of a credential. */
export function publishRejected(event: CredentialRejectedEvent): void {
  if (rejectedChannel.hasSubscribers) rejectedChannel.publish(event);
}

/** Report a failed refresh while a valid credential stays in service. */
export function publishRefreshFailed(event: CredentialRefreshFailedEvent): void {
  if (refreshFailedChannel.hasSubscribers) refreshFailedChannel.publish(event);
}
