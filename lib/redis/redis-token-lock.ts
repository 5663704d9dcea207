/**
 * The fleet's lock, in Redis: a lease taken with `SET key owner NX PX ttl` and released only by its owner (one Lua
 * script compares and deletes). It also deletes the shared cache entry only while it holds a rejected token, in one
 * atomic step, so that a revocation wave across the fleet costs one gettoken.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { inspect } from 'node:util';
import type { TokenLock } from '../common/interfaces/token-lock.interface.js';
import { bounded, describeError } from '../common/bounded.js';
import { loadOptionalPeer } from '../common/optional-peer.js';
import { fingerprint, redisUrlWithoutPassword } from '../common/redaction.js';
import type { AtomicTokenInvalidation, TokenInvalidationFeed } from '../engine/token-store.js';

/**
 * Every compare-and-delete publishes `{origin} {key} {sha256(token)[0..16]}` here, whether it deleted or not, so
 * that the other instances drop that token from their in-process copies. Documented for services in other languages.
 */
export const INVALIDATION_CHANNEL = 'wecom:v1:invalidated';

/**
 * The part of a connected node-redis client (v4 or v5, single node or cluster) that the lock uses.
 * `createClient()` and `createCluster()` of `redis` / `@redis/client` fit it.
 */
export interface RedisLockClient {
  set(key: string, value: string, options: { NX: true; PX: number }): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  /** For announcing new entries to waiting instances; node-redis clients have it. */
  publish?(channel: string, message: string): Promise<unknown>;
  /** A second connection for the invalidation feed (SUBSCRIBE takes a connection over); node-redis clients have it. */
  duplicate?(): unknown;
}

/** The subscriber connection of the invalidation feed, as far as it is used here. */
interface Subscriber {
  connect(): Promise<unknown>;
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  close?(): Promise<unknown>;
  destroy?(): void;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
}

/** Settings shared by both ways of building a `RedisTokenLock`. */
export interface RedisTokenLockCommonOptions {
  /**
   * Bound on one Redis command, and on the first connection before the first command. Default 1000 ms. A lease
   * that Redis grants after this bound is given back at once.
   */
  commandTimeoutMs?: number;
}

/** Build the lock with its own client: it connects on first use, reconnects forever, and is closed by `close()`. */
export interface RedisTokenLockUrlOptions extends RedisTokenLockCommonOptions {
  /** `redis://[[user]:password@]host[:port][/db]` or `rediss://…`. */
  url: string;
  /** Longest pause between two reconnection attempts while Redis is away. Default 2000 ms. */
  maxReconnectDelayMs?: number;
}

/** Build the lock on a connected client that the application owns (and closes). */
export interface RedisTokenLockClientOptions extends RedisTokenLockCommonOptions {
  /** A connected node-redis v4/v5 client; the lock never closes it. */
  client: RedisLockClient;
}

/** Options of {@link RedisTokenLock}: `{ url }` or `{ client }`. */
export type RedisTokenLockOptions = RedisTokenLockUrlOptions | RedisTokenLockClientOptions;

/** The lock's own `@redis/client` v5 client, as far as it is used here. */
interface OwnClient extends RedisLockClient {
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  close(): Promise<unknown>;
  destroy(): void;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
}

/**
 * Take the lease; when someone else holds it, repair a lease that outlives its maximum: a key without expiry (left
 * by another tool or an old version) or with a longer one is given the lease's own, so it is taken over after one
 * lease instead of making every fetch wait forever.
 */
const ACQUIRE_SCRIPT = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -1 or ttl > tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

/** Marks an announcement of a new entry on the invalidation channel (in place of a fingerprint). */
const WRITTEN_MARK = '*';

/** Delete the lease only while it is still ours. */
const RELEASE_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/**
 * Delete the cache entry only while it holds the rejected token (or ticket). The entry is JSON: either
 * cache-manager/Keyv's wrapper `{"value":{"token":…},"expires":…}` (Keyv escapes a string that starts with ':' by doubling the ':') or a
 * bare `{"token":…,"expiresAt":…}` written by a service in another language. Anything else is left alone.
 */
const COMPARE_AND_DELETE_TOKEN_SCRIPT = `
redis.call('PUBLISH', ARGV[2], ARGV[3])
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local ok, decoded = pcall(cjson.decode, raw)
if not ok or type(decoded) ~= 'table' then return 0 end
local token = decoded.token or decoded.ticket
local value = decoded.value
if type(value) == 'string' then
  local okInner, inner = pcall(cjson.decode, value)
  if okInner and type(inner) == 'table' then value = inner end
end
if type(value) == 'table' then
  token = value.token or value.ticket
  if type(token) == 'string' and string.sub(token, 1, 1) == ':' then token = string.sub(token, 2) end
end
if token == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** A connection that can be closed: node-redis' client and its duplicates. */
interface Closable {
  readonly isReady?: boolean;
  close?(): Promise<unknown>;
  destroy?(): void;
}

/** Close a connection that is up, destroy one that is not. */
async function shutDown(connection: Closable): Promise<void> {
  try {
    if (connection.isReady !== false && connection.close) await connection.close();
    else destroyQuietly(connection);
  } catch {
    destroyQuietly(connection);
  }
}

function destroyQuietly(connection: Closable): void {
  try {
    connection.destroy?.();
  } catch {
    // already closed
  }
}

const DEFAULT_COMMAND_TIMEOUT_MS = 1_000;
const DEFAULT_MAX_RECONNECT_DELAY_MS = 2_000;


function positive(value: number | undefined, fallback: number, option: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new TypeError(`RedisTokenLock: option '${option}' must be a positive number, got ${String(value)}`);
  }
  return value;
}

/**
 * A `TokenLock` shared by every instance of a fleet through Redis. Give it the same Redis as the shared cache
 * (`createKeyv(url)` of `@keyv/redis`, no namespace), so that `invalidate(rejectedToken)` is one atomic
 * compare-and-delete of the shared entry.
 *
 * ```ts
 * WeComTokenModule.forRoot({ corpId, secret, lock: new RedisTokenLock({ url: process.env.REDIS_URL }) })
 * ```
 *
 * Built from `{ url }`, it loads `@redis/client` (an optional peer dependency) on first use, connects lazily,
 * never queues commands while Redis is away (they fail at once, and the module coordinates within the process
 * until Redis returns), reconnects with capped backoff for as long as it lives, and is closed by `close()`, which
 * `WeComTokenModule` calls on shutdown.
 */
export class RedisTokenLock implements TokenLock, AtomicTokenInvalidation, TokenInvalidationFeed {
  /** Names this lock's own messages on the invalidation channel, so that it does not act on them. */
  private readonly origin = `${hostname()}:${process.pid}:${randomUUID()}`;
  private readonly listeners = new Map<string, Set<{ listener: (tokenFingerprint: string) => void; written?: (() => void) | undefined }>>();
  private subscriber?: Subscriber;
  private readonly commandTimeoutMs: number;
  private readonly url?: string;
  private readonly maxReconnectDelayMs: number;
  private readonly target: string;
  private client?: RedisLockClient;
  private own?: OwnClient;
  private firstConnect?: Promise<unknown>;
  private everReady = false;
  /** The first connection already had its wait: until Redis answers, fail at once. */
  private gaveUpWaiting = false;
  private initialWait?: Promise<unknown>;
  private subscriberConnect?: Promise<unknown>;
  private lastError?: string;
  private closed = false;

  constructor(options: RedisTokenLockOptions) {
    if (!options || typeof options !== 'object') throw new TypeError('RedisTokenLock: options must be { url } or { client }');
    this.commandTimeoutMs = positive(options.commandTimeoutMs, DEFAULT_COMMAND_TIMEOUT_MS, 'commandTimeoutMs');
    if ('client' in options && options.client !== undefined) {
      const client = options.client as Partial<RedisLockClient> | null;
      if (!client || typeof client.set !== 'function' || typeof client.eval !== 'function') {
        throw new TypeError('RedisTokenLock: option \'client\' must be a connected node-redis client (with set and eval)');
      }
      this.client = options.client;
      this.target = 'the given Redis client';
      this.maxReconnectDelayMs = DEFAULT_MAX_RECONNECT_DELAY_MS;
    } else {
      const { url } = options as RedisTokenLockUrlOptions;
      if (typeof url !== 'string' || url.trim() === '') throw new TypeError('RedisTokenLock: option \'url\' must be a redis:// or rediss:// URL');
      this.url = url;
      this.target = redisUrlWithoutPassword(url, 'the configured Redis');
      this.maxReconnectDelayMs = positive((options as RedisTokenLockUrlOptions).maxReconnectDelayMs, DEFAULT_MAX_RECONNECT_DELAY_MS, 'maxReconnectDelayMs');
    }
  }

  /** Take the lease `key` for `ttlMs`, or resolve null at once when another owner holds it. */
  async acquire(key: string, ttlMs: number): Promise<(() => Promise<void>) | null> {
    const client = await this.ready();
    const owner = `${hostname()}:${process.pid}:${randomUUID()}`;
    const px = Math.max(1, Math.ceil(ttlMs));
    const reply = await this.bounded(client.eval(ACQUIRE_SCRIPT, { keys: [key], arguments: [owner, String(px)] }), 'SET NX', (late) => {
      // Granted after we gave up: give it back, so nobody waits for a lease that no one uses.
      if (late === 1) client.eval(RELEASE_SCRIPT, { keys: [key], arguments: [owner] }).catch(() => undefined);
    });
    if (reply !== 1) return null;
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      await this.bounded(client.eval(RELEASE_SCRIPT, { keys: [key], arguments: [owner] }), 'release');
    };
  }

  /** Delete the shared cache entry `key` only while it holds `token` (atomic; Keyv's wrapper or a bare entry). */
  async compareAndDeleteToken(key: string, token: string): Promise<void> {
    const client = await this.ready();
    const message = `${this.origin} ${key} ${fingerprint(token)}`;
    await this.bounded(client.eval(COMPARE_AND_DELETE_TOKEN_SCRIPT, { keys: [key], arguments: [token, INVALIDATION_CHANNEL, message] }), 'compare-and-delete');
  }

  /**
   * Tell the fleet that a new entry was written under `key` (published as `{origin} {key} *`), so that instances
   * waiting on the lease read it at once instead of polling on. Best effort: a waiter still polls.
   */
  async announceEntry(key: string): Promise<void> {
    const client = await this.ready();
    if (typeof client.publish !== 'function') return;
    await this.bounded(client.publish(INVALIDATION_CHANNEL, `${this.origin} ${key} ${WRITTEN_MARK}`), 'publish');
  }

  /**
   * Call `listener` with the fingerprint of every token another instance invalidates under `key`, and `written`
   * when another instance announces a new entry there. The subscriber connection (a duplicate of the client, which
   * node-redis re-subscribes after a reconnect) opens with the first listener; while Redis is away
   * nothing arrives, and a process then learns of a rejection from its own calls.
   */
  onTokenInvalidated(key: string, listener: (tokenFingerprint: string) => void, written?: () => void): () => void {
    let forKey = this.listeners.get(key);
    if (!forKey) this.listeners.set(key, (forKey = new Set()));
    const entry = { listener, written };
    forKey.add(entry);
    // The module registers its listeners as the application starts: connecting then (never in the constructor)
    // has the fleet's lock and feed ready before the first caller, and close() still wins against the connect.
    this.subscribe();
    return () => {
      forKey.delete(entry);
      if (forKey.size === 0 && this.listeners.get(key) === forKey) this.listeners.delete(key);
    };
  }

  private subscribe(): void {
    if (this.subscriber || this.closed) return;
    let base: RedisLockClient;
    try {
      base = this.client && !this.url ? this.client : (this.own ?? this.connect());
    } catch {
      return; // no @redis/client: the feed is off, compare-and-delete and the lease fail (and are warned about) as before
    }
    if (typeof base.duplicate !== 'function') return;
    const subscriber = base.duplicate() as Subscriber;
    this.subscriber = subscriber;
    subscriber.on('error', (error: unknown) => {
      this.lastError = describeError(error);
    });
    this.subscriberConnect = subscriber
      .connect()
      .then(() => (this.closed ? undefined : subscriber.subscribe(INVALIDATION_CHANNEL, (message) => this.dispatch(message))))
      .catch((error: unknown) => {
        this.lastError = describeError(error);
      });
  }

  private dispatch(message: string): void {
    const [origin, key, mark] = message.split(' ');
    if (origin === this.origin || !key || !mark) return;
    for (const { listener, written } of this.listeners.get(key) ?? []) {
      if (mark === WRITTEN_MARK) written?.();
      else listener(mark);
    }
  }

  /** Shows where the lock points, never a password. */
  [inspect.custom](): string {
    return `RedisTokenLock { target: '${this.target}', ready: ${this.isReady} }`;
  }

  /** Where the lock points, never a password. */
  toJSON(): { target: string; ready: boolean } {
    return { target: this.target, ready: this.isReady };
  }

  /** Whether the lock can talk to Redis right now (always true for a client given by the application). */
  get isReady(): boolean {
    if (this.closed) return false;
    return this.own ? this.own.isReady : this.client !== undefined;
  }

  /** Close the lock's own client (a client given by the application is left open). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    this.listeners.clear();
    // A connection still being made is let finish (bounded) and then closed: node-redis does not abort a connect in
    // progress on destroy(), so closing first would leave its socket open and keep the process alive.
    const pending = [this.subscriberConnect, this.firstConnect].filter((p): p is Promise<unknown> => p !== undefined);
    if (pending.length) await bounded(Promise.all(pending.map((p) => p.catch(() => undefined))), this.commandTimeoutMs, 'connect').catch(() => undefined);
    if (subscriber) await shutDown(subscriber);
    const own = this.own;
    this.own = undefined;
    if (own) await shutDown(own);
  }

  /** Same as {@link close}. */
  disconnect(): Promise<void> {
    return this.close();
  }

  /** The client, connecting the own one on first use; afterwards a client that is away fails at once. */
  private async ready(): Promise<RedisLockClient> {
    if (this.closed) throw new Error(`RedisTokenLock for ${this.target} is closed`);
    if (this.client && !this.own) return this.client;
    const own = this.own ?? this.connect();
    if (this.listeners.size > 0) this.subscribe();
    if (!own.isReady && !this.everReady && !this.gaveUpWaiting && this.firstConnect) {
      // The first connection gets one bounded wait, shared by concurrent callers; afterwards a client that is
      // away fails at once.
      this.initialWait ??= this.bounded(this.firstConnect, 'connect').finally(() => {
        this.gaveUpWaiting = true;
      });
      await this.initialWait.catch(() => undefined);
    }
    if (!own.isReady) throw new Error(`Redis at ${this.target} is offline${this.lastError ? ` (${this.lastError})` : ''}`);
    return own;
  }

  private connect(): OwnClient {
    if (this.closed) throw new Error(`RedisTokenLock for ${this.target} is closed`);
    let redis: { createClient(options: object): unknown };
    try {
      // Loaded here, not at the top: applications without Redis never load it.
      redis = loadOptionalPeer('@redis/client') as typeof redis;
    } catch {
      throw new Error('RedisTokenLock({ url }) needs the package @redis/client (npm install @redis/client), or pass { client }');
    }
    const maxDelay = this.maxReconnectDelayMs;
    const own = redis.createClient({
      url: this.url,
      // Fail at once while Redis is away instead of queueing: callers fall back to in-process coordination.
      disableOfflineQueue: true,
      socket: {
        connectTimeout: this.commandTimeoutMs,
        // Keep trying for as long as the lock lives, so that the fleet goes back to Redis when it returns.
        reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 16), maxDelay) + Math.floor(Math.random() * 50),
      },
    }) as OwnClient;
    own.on('error', (error: unknown) => {
      this.lastError = describeError(error);
    });
    own.on('ready', () => {
      this.everReady = true;
      this.lastError = undefined;
    });
    this.own = own;
    this.client = own;
    this.firstConnect = own.connect().catch((error: unknown) => {
      this.lastError = describeError(error);
    });
    return own;
  }

  /** `promise`, or a rejection after `commandTimeoutMs`; `late` sees a value that arrives after the bound. */
  private bounded<T>(promise: Promise<T>, operation: string, late?: (value: T) => void): Promise<T> {
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(new Error(`Redis at ${this.target} did not answer ${operation} within ${this.commandTimeoutMs} ms`));
      }, this.commandTimeoutMs);
      timer.unref?.();
    });
    const settled = promise.then(
      (value) => {
        if (timedOut) late?.(value);
        return value;
      },
      (error: unknown) => {
        throw new Error(`Redis at ${this.target} failed ${operation}: ${describeError(error)}`);
      },
    );
    settled.catch(() => undefined);
    return Promise.race([settled, timeout]).finally(() => clearTimeout(timer));
  }
}
