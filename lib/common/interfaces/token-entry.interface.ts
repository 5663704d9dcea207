/**
 * The cached value under `wecom:v1:{corpId}:{sha256(secret)[0..16]}:access_token`, documented so that services in
 * other languages can share it. `expiresAt` decides validity, never the store's TTL.
 */
export interface TokenEntry {
  /** The access_token. */
  token: string;
  /** Epoch ms after which the token is no longer valid: the moment gettoken was sent plus `expires_in`. */
  expiresAt: number;
  /** Epoch ms when the gettoken request that produced it was sent. */
  fetchedAt: number;
}
