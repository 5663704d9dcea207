/**
 * The fleet's lock, in Redis: a lease taken with `SET key owner NX PX ttl` and released only by its owner (one Lua
 * script compares and deletes). It also deletes the shared cache entry only while it holds a rejected token, in one
 * atomic step, so that a revocation wave across the fleet costs one gettoken.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { inspect } from 'node:util';
import { Logger } from '@nestjs/common';
import type { TokenLock } from '../common/interfaces/token-lock.interface.js';
import { bounded, describeError } from '../common/bounded.js';
import { loadOptionalPeer } from '../common/optional-peer.js';
import { fingerprint } from '../common/redaction.js';
import type { AtomicTokenInvalidation, TokenInvalidationFeed } from '../engine/token-store.js';
import { adaptClient, isIoRedis, shutDown, topologyHint, type LockConnection, type LockFeed, type RedisLockClient } from './redis-clients.js';
import { ownSpec, type OwnSpec, type RedisTokenLockOptions, type RedisTokenLockOwnClientOptions } from './redis-options.js';
import { ACQUIRE_SCRIPT, COMPARE_AND_DELETE_TOKEN_SCRIPT, RELEASE_SCRIPT, WRITTEN_MARK } from './redis-scripts.js';

export type { IoRedisLockClient, RedisLockClient, RedisNodeAddress, RedisTopology } from './redis-clients.js';
export type {
  RedisTokenLockClientOptions,
  RedisTokenLockClusterOptions,
  RedisTokenLockCommonOptions,
  RedisTokenLockOptions,
  RedisTokenLockOwnClientOptions,
  RedisTokenLockSentinelOptions,
  RedisTokenLockUrlOptions,
} from './redis-options.js';

/**
 * Every compare-and-delete publishes `{origin} {key} {sha256(token)[0..16]}` here, whether it deleted or not, so
 * that the other instances drop that token from their in-process copies. Documented for services in other languages.
 */
export const INVALIDATION_CHANNEL = 'wecom:v1:invalidated';

/** The lock's own `@redis/client` v5 client, cluster or sentinel, as far as it is used here. */
interface OwnClient extends RedisLockClient {
  /** A client and a sentinel have it; a cluster only has `isOpen`. */
  readonly isReady?: boolean;
  readonly isOpen?: boolean;
  connect(): Promise<unknown>;
  close(): Promise<unknown>;
  destroy(): unknown;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  sendCommand?(...args: unknown[]): Promise<unknown>;
}

/** Whether the own client can take commands now. */
function up(own: OwnClient): boolean {
  return own.isReady ?? own.isOpen ?? false;
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
 * (see docs/redis-topologies.md: the cache key must stay `wecom:v1:…`, no `keyv::` prefix), so that
 * `invalidate(rejectedToken)` is one atomic compare-and-delete of the shared entry.
 *
 * ```ts
 * WeComTokenModule.forRoot({ corpId, secret, lock: new RedisTokenLock({ url: process.env.REDIS_URL }) })
 * ```
 *
 * Standalone Redis (`{ url }`), Cluster (`{ rootNodes }`), Sentinel (`{ sentinelRootNodes, name }` or a
 * `redis+sentinel://` URL), or a client of the application (`{ client }`: node-redis client, cluster or sentinel,
 * ioredis `Redis` or `Cluster`). Every script touches one key, so each runs on the key's own slot of a Cluster; the
 * feed is classic PUBLISH/SUBSCRIBE, which a Cluster delivers to every node.
 *
 * Built from options, it loads `@redis/client` (an optional peer dependency) on first use, connects lazily,
 * never queues commands while Redis is away (they fail at once, and the module coordinates within the process
 * until Redis returns), reconnects with capped backoff for as long as it lives, and is closed by `close()`, which
 * `WeComTokenModule` calls on shutdown.
 */
export class RedisTokenLock implements TokenLock, AtomicTokenInvalidation, TokenInvalidationFeed {
  /** Names this lock's own messages on the invalidation channel, so that it does not act on them. */
  private readonly origin = `${hostname()}:${process.pid}:${randomUUID()}`;
  private readonly listeners = new Map<string, Set<{ listener: (tokenFingerprint: string) => void; written?: (() => void) | undefined }>>();
  private readonly logger = new Logger('RedisTokenLock');
  private feed?: LockFeed;
  private feedTried = false;
  private readonly commandTimeoutMs: number;
  private readonly spec?: OwnSpec;
  private readonly maxReconnectDelayMs: number;
  private readonly target: string;
  private connection?: LockConnection;
  private own?: OwnClient;
  private firstConnect?: Promise<unknown>;
  private everReady = false;
  /** The first connection already had its wait: until Redis answers, fail at once. */
  private gaveUpWaiting = false;
  private initialWait?: Promise<unknown>;
  private lastError?: string;
  /** Set when the own client turned out to point at the wrong kind of node (a Cluster node, a replica). */
  private misconfigured?: string;
  private closed = false;

  constructor(options: RedisTokenLockOptions) {
    if (!options || typeof options !== 'object') throw new TypeError('RedisTokenLock: options must be { url }, { rootNodes }, { sentinelRootNodes, name } or { client }');
    this.commandTimeoutMs = positive(options.commandTimeoutMs, DEFAULT_COMMAND_TIMEOUT_MS, 'commandTimeoutMs');
    if ('client' in options && options.client !== undefined) {
      const client = options.client as Partial<RedisLockClient> | null;
      if (!client || typeof client.eval !== 'function' || (!isIoRedis(client) && typeof client.set !== 'function')) {
        throw new TypeError("RedisTokenLock: option 'client' must be a connected node-redis client, cluster or sentinel, or an ioredis Redis or Cluster");
      }
      this.connection = adaptClient(options.client, false);
      this.target = `the given ${this.connection.library} ${this.connection.topology} client`;
      this.maxReconnectDelayMs = DEFAULT_MAX_RECONNECT_DELAY_MS;
    } else {
      const { spec, target } = ownSpec(options);
      this.spec = spec;
      this.target = target;
      const own = options as RedisTokenLockOwnClientOptions;
      this.maxReconnectDelayMs = positive(own.maxReconnectDelayMs, DEFAULT_MAX_RECONNECT_DELAY_MS, 'maxReconnectDelayMs');
    }
  }

  /** Take the lease `key` for `ttlMs`, or resolve null at once when another owner holds it. */
  async acquire(key: string, ttlMs: number): Promise<(() => Promise<void>) | null> {
    const client = await this.ready();
    const owner = `${hostname()}:${process.pid}:${randomUUID()}`;
    const px = Math.max(1, Math.ceil(ttlMs));
    const reply = await this.bounded(client.evalScript(ACQUIRE_SCRIPT, [key], [owner, String(px)]), 'SET NX', (late) => {
      // Granted after we gave up: give it back, so nobody waits for a lease that no one uses.
      if (late === 1) client.evalScript(RELEASE_SCRIPT, [key], [owner]).catch(() => undefined);
    });
    if (reply !== 1) return null;
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      await this.bounded(client.evalScript(RELEASE_SCRIPT, [key], [owner]), 'release');
    };
  }

  /** Delete the shared cache entry `key` only while it holds `token` (atomic; Keyv's wrapper or a bare entry). */
  async compareAndDeleteToken(key: string, token: string): Promise<void> {
    const client = await this.ready();
    const message = `${this.origin} ${key} ${fingerprint(token)}`;
    await this.bounded(client.evalScript(COMPARE_AND_DELETE_TOKEN_SCRIPT, [key], [token, INVALIDATION_CHANNEL, message]), 'compare-and-delete');
  }

  /**
   * Tell the fleet that a new entry was written under `key` (published as `{origin} {key} *`), so that instances
   * waiting on the lease read it at once instead of polling on. Best effort: a waiter still polls.
   */
  async announceEntry(key: string): Promise<void> {
    const client = await this.ready();
    if (!client.publish) return;
    await this.bounded(client.publish(INVALIDATION_CHANNEL, `${this.origin} ${key} ${WRITTEN_MARK}`), 'publish');
  }

  /**
   * Call `listener` with the fingerprint of every token another instance invalidates under `key`, and `written`
   * when another instance announces a new entry there. The feed has a connection of its own (a duplicate of the
   * client, or a sentinel client's pub/sub connection), which the client re-subscribes after a reconnect or a
   * failover; while Redis is away nothing arrives, and a process then learns of a rejection from its own calls.
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

  /** Open the feed once, and say at start-up which feed this process has. */
  private subscribe(): void {
    if (this.feedTried || this.closed) return;
    let connection: LockConnection;
    try {
      if (this.spec && !this.own) this.connect();
      connection = this.connection!;
    } catch {
      return; // no @redis/client: the feed is off, compare-and-delete and the lease fail (and are warned about) as before
    }
    this.feedTried = true;
    const feed = connection.openFeed(
      INVALIDATION_CHANNEL,
      (message) => this.dispatch(message),
      (error: unknown) => {
        this.lastError = describeError(error);
      },
      this.firstConnect,
    );
    if (typeof feed === 'string') {
      this.logger.warn(
        `no invalidation feed on ${this.target}: ${feed}. Each process learns of a rejected token only from its own calls, and instances waiting on another's fetch poll the shared cache`,
      );
      return;
    }
    this.feed = feed;
    void feed.subscribed.then((subscribed) => {
      if (this.closed || this.misconfigured) return; // a misconfigured lock has said so, loudly, already
      if (!subscribed || !this.connectionReady()) {
        this.logger.warn(`invalidation feed on ${this.target} not subscribed yet (${this.lastError}); it subscribes when Redis answers`);
        return;
      }
      this.logger.log(`invalidation feed: pub/sub on ${connection.topology} Redis (${this.target}, ${connection.library}), channel ${INVALIDATION_CHANNEL}`);
    });
  }

  private connectionReady(): boolean {
    return this.own ? up(this.own) : true;
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
    if (this.closed || this.misconfigured) return false;
    return this.own ? up(this.own) : this.connection !== undefined && !this.spec;
  }

  /** Close the lock's own client and the feed's connection (a client given by the application is left open). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const feed = this.feed;
    this.feed = undefined;
    this.listeners.clear();
    // A connection still being made is let finish (bounded) and then closed: node-redis does not abort a connect in
    // progress on destroy(), so closing first would leave its socket open and keep the process alive.
    const pending = [feed?.subscribed, this.firstConnect].filter((p): p is Promise<unknown> => p !== undefined);
    if (pending.length) await bounded(Promise.all(pending.map((p) => p.catch(() => undefined))), this.commandTimeoutMs, 'connect').catch(() => undefined);
    if (feed) await bounded(feed.close(), this.commandTimeoutMs, 'closing the feed').catch(() => undefined);
    const own = this.own;
    this.own = undefined;
    if (own) await shutDown(own);
  }

  /** Same as {@link close}. */
  disconnect(): Promise<void> {
    return this.close();
  }

  /** The client, connecting the own one on first use; afterwards a client that is away fails at once. */
  private async ready(): Promise<LockConnection> {
    if (this.closed) throw new Error(`RedisTokenLock for ${this.target} is closed`);
    if (!this.spec) return this.connection!;
    const own = this.own ?? this.connect();
    if (this.listeners.size > 0) this.subscribe();
    if (!up(own) && !this.everReady && !this.gaveUpWaiting && this.firstConnect) {
      // The first connection gets one bounded wait, shared by concurrent callers; afterwards a client that is
      // away fails at once.
      this.initialWait ??= this.bounded(this.firstConnect, 'connect').finally(() => {
        this.gaveUpWaiting = true;
      });
      await this.initialWait.catch(() => undefined);
    }
    if (this.misconfigured) throw new Error(this.misconfigured);
    if (!up(own)) throw new Error(`Redis at ${this.target} is offline${this.lastError ? ` (${this.lastError})` : ''}`);
    return this.connection!;
  }

  private connect(): OwnClient {
    if (this.closed) throw new Error(`RedisTokenLock for ${this.target} is closed`);
    let redis: { createClient(options: object): unknown; createCluster(options: object): unknown; createSentinel(options: object): unknown };
    try {
      // Loaded here, not at the top: applications without Redis never load it.
      redis = loadOptionalPeer('@redis/client') as typeof redis;
    } catch {
      throw new Error('RedisTokenLock needs the package @redis/client (npm install @redis/client), or pass { client }');
    }
    const maxDelay = this.maxReconnectDelayMs;
    const socket = {
      connectTimeout: this.commandTimeoutMs,
      // Keep trying for as long as the lock lives, so that the fleet goes back to Redis when it returns.
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 16), maxDelay) + Math.floor(Math.random() * 50),
    };
    // Fail at once while Redis is away instead of queueing: callers fall back to in-process coordination.
    const node = { disableOfflineQueue: true, socket };
    const spec = this.spec!;
    const own = (
      spec.kind === 'standalone'
        ? redis.createClient({ url: spec.url, ...node })
        : spec.kind === 'cluster'
          ? redis.createCluster({ rootNodes: spec.rootNodes, defaults: { ...spec.defaults, ...node } })
          : redis.createSentinel({
              name: spec.name,
              sentinelRootNodes: spec.sentinelRootNodes.map(({ host, port }) => ({ host, port })),
              nodeClientOptions: { ...spec.nodeClientOptions, socket },
              sentinelClientOptions: { ...spec.sentinelClientOptions, socket },
            })
    ) as OwnClient;
    own.on('error', (error: unknown) => {
      this.lastError = describeError(error);
    });
    own.on('ready', () => {
      // A reconnection of a `{ url }` client (after a Sentinel failover the old master comes back as a replica):
      // look at the node again.
      if (this.everReady && spec.kind === 'standalone') void this.checkTopology(own).catch(() => undefined);
      this.everReady = true;
      this.lastError = undefined;
    });
    this.own = own;
    this.connection = adaptClient(own, true);
    this.firstConnect = own
      .connect()
      .then(() => {
        // A cluster or a sentinel client emits no 'ready' of its own.
        this.everReady = true;
        return spec.kind === 'standalone' ? this.checkTopology(own) : undefined;
      })
      .catch((error: unknown) => {
        this.lastError = describeError(error);
      });
    return own;
  }

  /**
   * A `{ url }` of a Cluster node or of a replica would fail on every call (MOVED, READONLY) or, worse, pass while
   * the keys happen to hash to that node: say so once, loudly, naming the option to use, and fail every call with it.
   */
  private async checkTopology(own: OwnClient): Promise<void> {
    if (typeof own.sendCommand !== 'function') return;
    const info = String(await this.bounded(own.sendCommand(['INFO', 'cluster']), 'INFO cluster').catch(() => ''));
    let problem: string | undefined;
    if (/cluster_enabled:1/.test(info)) {
      problem = `RedisTokenLock({ url }) points at ${this.target}, a node of a Redis Cluster: the lock and the shared cache would fail with MOVED for the keys of the other nodes. Use new RedisTokenLock({ rootNodes: [{ url: '${this.target}' }, …] }) (and a Cluster store for the cache: docs/redis-topologies.md)`;
    } else {
      const role: unknown = await this.bounded(own.sendCommand(['ROLE']), 'ROLE').catch(() => undefined);
      if (Array.isArray(role) && String(role[0]) === 'slave') {
        problem = `RedisTokenLock({ url }) points at ${this.target}, a replica: every write fails with READONLY (a Sentinel failover turns the old master into one). Use new RedisTokenLock({ sentinelRootNodes: [{ host, port }], name }) or a redis+sentinel:// URL (docs/redis-topologies.md)`;
      }
    }
    if (this.closed) return;
    const before = this.misconfigured;
    this.misconfigured = problem;
    // Once per change, not per call: the module's own warning about the lock says the rest.
    if (problem && problem !== before) this.logger.error(problem);
    else if (!problem && before) this.logger.log(`${this.target} is a writable standalone node again`);
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
        const reason = describeError(error);
        const hint = topologyHint(reason);
        throw new Error(`Redis at ${this.target} failed ${operation}: ${reason}${hint ? ` (${hint})` : ''}`);
      },
    );
    settled.catch(() => undefined);
    return Promise.race([settled, timeout]).finally(() => clearTimeout(timer));
  }
}
