/**
 * The shared cache entry of one app: reads, writes and compare-and-delete, each bounded in time. When the store
 * fails, the caller carries on with its in-process copy; the failure is logged once, and its return once.
 */
import type { Logger } from '@nestjs/common';
import type { Cache } from 'cache-manager';
import { bounded, describeError } from '../common/bounded.js';
import type { TokenEntry } from '../common/interfaces/token-entry.interface.js';
import type { CredentialSpec } from './credential-spec.js';
import { MAX_LIFETIME_SECONDS } from '../common/wecom-token.constants.js';
import { cacheRecoveredMessage, cacheUnavailableMessage } from '../common/wecom-token.messages.js';

/** A store that can delete an entry only while it still holds a given token, in one atomic step. */
export interface AtomicTokenInvalidation {
  /** Delete `key` only while its entry's token is `token`. */
  compareAndDeleteToken(key: string, token: string): Promise<void>;
}

/**
 * A lock that tells every instance of a fleet when any of them invalidated a token, so that none keeps serving
 * it from its in-process copy. Messages name the token by its fingerprint only.
 */
export interface TokenInvalidationFeed {
  /**
   * Call `listener` with the fingerprint of each token another instance invalidated under `key`, and `written`
   * (where the lock hears of it) when another instance wrote a new entry under `key`; returns unsubscribe.
   */
  onTokenInvalidated(key: string, listener: (tokenFingerprint: string) => void, written?: () => void): () => void;
  /** Tell the other instances that a new entry was written under `key` (optional). */
  announceEntry?(key: string): Promise<void>;
}

/** Parse an entry written by this module or by a service in another language (object or JSON text). */
export function parseEntry(value: unknown, field: 'token' | 'ticket' = 'token'): TokenEntry | undefined {
  let v = value;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      return undefined;
    }
  }
  if (!v || typeof v !== 'object') return undefined;
  const { [field]: token, expiresAt, fetchedAt } = v as Record<string, unknown>;
  if (typeof token !== 'string' || token === '' || typeof expiresAt !== 'number' || !Number.isFinite(expiresAt)) return undefined;
  // No credential lives longer than a day: an entry claiming more was not written by WeCom's answer (poisoned).
  if (expiresAt > Date.now() + MAX_LIFETIME_SECONDS * 1000) return undefined;
  return { token, expiresAt, fetchedAt: typeof fetchedAt === 'number' && Number.isFinite(fetchedAt) ? fetchedAt : expiresAt - 7_200_000 };
}

/** What the store needs of a credential's spec. */
export type StoreSettings = Pick<CredentialSpec, 'ref' | 'cacheKey' | 'valueField' | 'cacheTimeoutMs'>;

/** The shared cache entry of one credential. */
export class TokenStore {
  private healthy = true;

  constructor(
    private readonly config: StoreSettings,
    private readonly cache: Cache,
    private readonly logger: Logger,
    private readonly atomic?: AtomicTokenInvalidation,
  ) {}

  /** The entry, or undefined when there is none, it is malformed, or the store did not answer in time. */
  async read(): Promise<TokenEntry | undefined> {
    // cache-manager 7 turns a store error on get into a miss: only a hit proves that the store answers again.
    const value = await this.guard(
      'get',
      () => this.cache.get<unknown>(this.config.cacheKey),
      (found) => found !== undefined && found !== null,
    );
    return value === failed ? undefined : parseEntry(value, this.config.valueField);
  }

  /** Write an entry; the store's TTL is a courtesy for clean-up, `expiresAt` decides validity. */
  async write(entry: TokenEntry): Promise<void> {
    const ttlMs = Math.max(1_000, entry.expiresAt - Date.now());
    await this.guard('set', () => this.cache.set(this.config.cacheKey, { [this.config.valueField]: entry.token, expiresAt: entry.expiresAt, fetchedAt: entry.fetchedAt }, ttlMs));
  }

  /** Delete the entry, whatever it holds. */
  async delete(): Promise<void> {
    await this.guard('del', () => this.cache.del(this.config.cacheKey));
  }

  /** Delete the entry only while it still holds `token`, so a newer token written by someone else survives. */
  async deleteIf(token: string): Promise<void> {
    const { atomic } = this;
    if (atomic) {
      await this.guard('compare-and-delete', () => atomic.compareAndDeleteToken(this.config.cacheKey, token));
      return;
    }
    const current = await this.read();
    if (current?.token === token) await this.guard('del', () => this.cache.del(this.config.cacheKey));
  }

  private async guard<T>(operation: string, op: () => Promise<T>, proves: (result: T) => boolean = () => true): Promise<T | typeof failed> {
    try {
      const result = await bounded(Promise.resolve().then(op), this.config.cacheTimeoutMs, `cache ${operation}`);
      if (!this.healthy && proves(result)) {
        this.healthy = true;
        this.logger.log(cacheRecoveredMessage(this.config.ref));
      }
      return result;
    } catch (error) {
      if (this.healthy) {
        this.healthy = false;
        this.logger.warn(cacheUnavailableMessage(this.config.ref, operation, describeError(error)));
      }
      return failed;
    }
  }
}

const failed: unique symbol = Symbol('failed');
