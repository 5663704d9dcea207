/**
 * The Redis clients `RedisTokenLock` accepts, adapted to the few operations it uses: a Lua script on one key, a
 * PUBLISH, and a feed (SUBSCRIBE on a connection of its own). node-redis (`createClient`, `createCluster`,
 * `createSentinel`, v4/v5) and ioredis (`Redis`, `Cluster`) are told apart by their shape: neither library is
 * imported here, so the public types stay free of both.
 */
import { describeError } from '../common/bounded.js';

/**
 * The part of a connected node-redis client (v4 or v5: `createClient()`, `createCluster()`, `createSentinel()` of
 * `redis` / `@redis/client`) that the lock uses.
 */
export interface RedisLockClient {
  set(key: string, value: string, options: { NX: true; PX: number }): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  /** For announcing new entries to waiting instances; node-redis clients have it. */
  publish?(channel: string, message: string): Promise<unknown>;
  /** A second connection for the invalidation feed (SUBSCRIBE takes a connection over); client and cluster have it. */
  duplicate?(): unknown;
}

/**
 * The part of an ioredis (v5) `Redis` or `Cluster` that the lock uses (structural: ioredis is not imported). Its
 * `duplicate()` opens the feed's own connection with the same options (sentinels and cluster nodes included).
 */
export interface IoRedisLockClient {
  eval(script: string, numKeys: number, ...keysAndArguments: string[]): Promise<unknown>;
  publish(channel: string, message: string): Promise<unknown>;
  duplicate(): unknown;
  defineCommand(name: string, definition: { lua: string; numberOfKeys?: number }): void;
  readonly status: string;
}

/** Which Redis the lock talks to: named in its start-up line and in its errors. */
export type RedisTopology = 'standalone' | 'cluster' | 'sentinel';

/** The feed's subscription, opened on a connection of its own. */
export interface LockFeed {
  /** True once subscribed; false when that failed (`onError` has been told). */
  readonly subscribed: Promise<boolean>;
  /** Close the feed's connection (or drop the subscription on a client the application owns). */
  close(): Promise<void>;
}

/** One client, whatever its library and topology, as the lock uses it. */
export interface LockConnection {
  readonly topology: RedisTopology;
  readonly library: 'node-redis' | 'ioredis';
  evalScript(script: string, keys: string[], args: string[]): Promise<unknown>;
  publish?(channel: string, message: string): Promise<unknown>;
  /** Open the feed, or say why this client cannot have one. */
  /** `connected`: settles once the client is connected (the lock's own client); a sentinel subscribes only then. */
  openFeed(channel: string, onMessage: (message: string) => void, onError: (error: unknown) => void, connected?: Promise<unknown>): LockFeed | string;
}

/** Whether `client` is an ioredis `Redis` or `Cluster` (it has `defineCommand` and a `status` string). */
export function isIoRedis(client: unknown): client is IoRedisLockClient {
  const c = client as Partial<IoRedisLockClient> | null;
  return !!c && typeof c.defineCommand === 'function' && typeof c.status === 'string' && typeof c.eval === 'function';
}

/** The topology of a node-redis client: a cluster has `masters`, a sentinel `getMasterNode()`. */
function nodeRedisTopology(client: object): RedisTopology {
  if (typeof (client as { getMasterNode?: unknown }).getMasterNode === 'function') return 'sentinel';
  if (Array.isArray((client as { masters?: unknown }).masters)) return 'cluster';
  return 'standalone';
}

/** An ioredis `Cluster` has `nodes()`; a `Redis` given sentinels says so in its options. */
function ioRedisTopology(client: object): RedisTopology {
  if (typeof (client as { nodes?: unknown }).nodes === 'function') return 'cluster';
  const options = (client as { options?: { sentinels?: unknown } }).options;
  return Array.isArray(options?.sentinels) && options.sentinels.length > 0 ? 'sentinel' : 'standalone';
}

/** A node-redis connection as far as subscribing and closing go. */
interface NodeRedisSubscriber {
  readonly isReady?: boolean;
  connect(): Promise<unknown>;
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  unsubscribe?(channel: string, listener: (message: string) => void): Promise<unknown>;
  close?(): Promise<unknown>;
  destroy?(): unknown;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
}

/** An ioredis connection as far as subscribing and closing go. */
interface IoRedisSubscriber {
  subscribe(channel: string): Promise<unknown>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  disconnect(): void;
}

/** Close a node-redis connection that is up, destroy one that is not. */
export async function shutDown(connection: { readonly isReady?: boolean; close?(): Promise<unknown>; destroy?(): unknown }): Promise<void> {
  try {
    if (connection.isReady !== false && connection.close) await connection.close();
    else await destroyQuietly(connection);
  } catch {
    await destroyQuietly(connection);
  }
}

async function destroyQuietly(connection: { destroy?(): unknown }): Promise<void> {
  try {
    await connection.destroy?.();
  } catch {
    // already closed
  }
}

/**
 * Adapt `client` (node-redis client / cluster / sentinel, ioredis Redis / Cluster). `owned`: the lock made it and
 * closes it; a client of the application is never closed, only the feed's own connection is.
 */
export function adaptClient(client: RedisLockClient | IoRedisLockClient, owned: boolean): LockConnection {
  if (isIoRedis(client)) return adaptIoRedis(client);
  return adaptNodeRedis(client, owned);
}

function adaptNodeRedis(client: RedisLockClient, owned: boolean): LockConnection {
  const topology = nodeRedisTopology(client);
  return {
    topology,
    library: 'node-redis',
    evalScript: (script, keys, args) => client.eval(script, { keys, arguments: args }),
    ...(typeof client.publish === 'function' ? { publish: (channel: string, message: string) => client.publish!(channel, message) } : {}),
    openFeed(channel, onMessage, onError, connected) {
      const listener = (message: string) => onMessage(message);
      if (topology === 'sentinel') {
        // A sentinel client subscribes on a connection of its own (its pub/sub proxy), which follows the master
        // through a failover: no duplicate needed (it has none).
        const sentinel = client as unknown as NodeRedisSubscriber;
        if (typeof sentinel.subscribe !== 'function') return 'the given sentinel client has no subscribe()';
        const subscribed = subscribedOrReported(
          Promise.resolve(connected).then(() => sentinel.subscribe(channel, listener)),
          onError,
        );
        return {
          subscribed,
          close: async () => {
            await subscribed;
            if (owned) return; // closed with the client itself
            await sentinel.unsubscribe?.(channel, listener).catch(() => undefined);
          },
        };
      }
      if (typeof client.duplicate !== 'function') return 'the given client has no duplicate() for a second connection';
      const subscriber = client.duplicate() as NodeRedisSubscriber;
      subscriber.on('error', (error: unknown) => onError(error));
      const subscribed = subscribedOrReported(
        subscriber.connect().then(() => subscriber.subscribe(channel, listener)),
        onError,
      );
      return {
        subscribed,
        close: async () => {
          await subscribed;
          await shutDown(subscriber);
        },
      };
    },
  };
}

function adaptIoRedis(client: IoRedisLockClient): LockConnection {
  return {
    topology: ioRedisTopology(client),
    library: 'ioredis',
    // ioredis: eval(script, numKeys, ...keys, ...args) (node-redis' { keys, arguments } form would be sent as
    // numKeys and fail with "ERR value is not an integer").
    evalScript: (script, keys, args) => client.eval(script, keys.length, ...keys, ...args),
    publish: (channel, message) => client.publish(channel, message),
    openFeed(channel, onMessage, onError) {
      // Same options as the application's client (sentinels, cluster nodes, password); ioredis re-subscribes after
      // a reconnect or a failover, and the lock disconnects it on close (it would keep the process alive).
      const subscriber = client.duplicate() as IoRedisSubscriber;
      subscriber.on('error', (error: unknown) => onError(error));
      subscriber.on('message', (...args: unknown[]) => {
        const [from, message] = args;
        if (String(from) === channel && typeof message === 'string') onMessage(message);
      });
      const subscribed = subscribedOrReported(subscriber.subscribe(channel), onError);
      return {
        subscribed,
        close: async () => {
          try {
            subscriber.disconnect();
          } catch (error) {
            onError(new Error(`closing the feed's connection failed: ${describeError(error)}`));
          }
        },
      };
    },
  };
}

/** One node of a Cluster or Sentinel set, in node-redis' form. */
export interface RedisNodeAddress {
  host: string;
  port: number;
}

/**
 * `redis+sentinel://[[user]:password@]host:port[,host:port…]/name[/db]` → node-redis' `createSentinel` options.
 * Throws a TypeError naming what is wrong (never echoing a password).
 */
export function parseSentinelUrl(url: string): {
  name: string;
  sentinelRootNodes: RedisNodeAddress[];
  username?: string;
  password?: string;
  database?: number;
} {
  const match = /^redis\+sentinel:\/\/(?:([^@/]*)@)?([^/]+)\/([^/?#]+)(?:\/(\d+))?\/?$/.exec(url.trim());
  if (!match) throw new TypeError("RedisTokenLock: a Sentinel URL reads 'redis+sentinel://[[user]:password@]host:port[,host:port]/masterName[/db]'");
  const [, auth, hosts, name, db] = match;
  const sentinelRootNodes = hosts.split(',').map((hostPort) => {
    const at = hostPort.lastIndexOf(':');
    const host = at > 0 ? hostPort.slice(0, at).replace(/^\[|\]$/g, '') : hostPort;
    const port = at > 0 ? Number(hostPort.slice(at + 1)) : 26379;
    if (!host || !Number.isInteger(port) || port <= 0 || port > 65535) {
      throw new TypeError(`RedisTokenLock: the Sentinel URL has an invalid host:port '${hostPort.replace(/[^\w.:[\]-]/g, '?')}'`);
    }
    return { host, port };
  });
  let username: string | undefined;
  let password: string | undefined;
  if (auth) {
    const colon = auth.indexOf(':');
    username = colon >= 0 ? decodeURIComponent(auth.slice(0, colon)) || undefined : decodeURIComponent(auth) || undefined;
    password = colon >= 0 ? decodeURIComponent(auth.slice(colon + 1)) || undefined : undefined;
  }
  return {
    name: decodeURIComponent(name),
    sentinelRootNodes,
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    ...(db ? { database: Number(db) } : {}),
  };
}

/** What an error of a single-node connection says about the topology behind it, with the fix; undefined otherwise. */
export function topologyHint(error: string): string | undefined {
  if (/\b(MOVED|ASK|CLUSTERDOWN)\b/.test(error)) return 'this is a Redis Cluster node: give RedisTokenLock { rootNodes: [...] } or a createCluster() / ioredis Cluster client';
  if (/\bREADONLY\b/.test(error)) return 'this is a replica (after a failover?): give RedisTokenLock { sentinelRootNodes, name }, a redis+sentinel:// URL, or a sentinel client';
  return undefined;
}

/** True once `subscribing` has settled well; false, with the error given to `onError`, when it failed. */
function subscribedOrReported(subscribing: Promise<unknown>, onError: (error: unknown) => void): Promise<boolean> {
  return subscribing.then(
    () => true,
    (error: unknown) => {
      onError(error);
      return false;
    },
  );
}
