/**
 * What the client and the interceptor need of a credential: how to get it, how to report its rejection, where it
 * may be sent and under which query parameter. An app's access token, an authorised corp's token, the suite's and
 * the provider's tokens all bind the same way, so one client and one interceptor serve them all.
 */
import type { CredentialKind } from '../observability/diagnostics.js';
import type { EgressAxiosConfig } from '../common/credential-request.js';
import type { AppRef } from '../common/wecom-token.messages.js';

/** One credential as the HTTP layer sees it. */
export interface CredentialBinding {
  /** What the credential is, for the rejection channel and metrics. */
  readonly kind: CredentialKind;
  /** The corp and the registered name, for errors. */
  readonly ref: AppRef;
  /** The only origin and base path the credential is ever sent to. */
  readonly baseUrl: string;
  /** The query parameter it travels in: `access_token`, `suite_access_token`, `provider_access_token`. */
  readonly param: string;
  /** errcodes that mean "this credential was rejected": invalidate it, fetch once, replay once. */
  readonly rejectedErrcodes: ReadonlySet<number>;
  /** Bounded retry of idempotent calls answered -1 / 45033. */
  readonly retry: { readonly attempts: number; readonly baseDelayMs: number; readonly maxDelayMs: number };
  /** Bound on one whole call, headers and body. */
  readonly timeoutMs: number;
  /**
   * How the app's requests leave the process (its proxy agents, `proxy: false`): applied to every request the
   * credential is attached to, also through an HttpService of the application's own.
   */
  readonly egress?: EgressAxiosConfig;
  /** A valid credential. */
  getToken(): Promise<string>;
  /** WeCom rejected `rejected`: forget it, if it is still the one held (compare-and-delete). */
  invalidate(rejected: string): Promise<void>;
}

/** Something that carries a binding (an `AccessTokenService`), or a binding itself. */
export type CredentialSource = CredentialBinding | { readonly binding: CredentialBinding };

/** The binding of a source. */
export function bindingOf(source: CredentialSource): CredentialBinding {
  return 'binding' in source ? source.binding : source;
}
