/** The options of `RedisTokenLock`, and how the lock builds its own client from them. */
import { redisUrlWithoutPassword } from '../common/redaction.js';
import { parseSentinelUrl, type IoRedisLockClient, type RedisLockClient, type RedisNodeAddress } from './redis-clients.js';

/** Settings shared by every way of building a `RedisTokenLock`. */
export interface RedisTokenLockCommonOptions {
  /**
   * Bound on one Redis command, and on the first connection before the first command. Default 1000 ms. A lease
   * that Redis grants after this bound is given back at once.
   */
  commandTimeoutMs?: number;
}

/** Settings of a lock that builds its own client (`url`, `rootNodes`, `sentinelRootNodes`). */
export interface RedisTokenLockOwnClientOptions extends RedisTokenLockCommonOptions {
  /** Longest pause between two reconnection attempts while Redis is away. Default 2000 ms. */
  maxReconnectDelayMs?: number;
}

/** Build the lock with its own client: it connects on first use, reconnects forever, and is closed by `close()`. */
export interface RedisTokenLockUrlOptions extends RedisTokenLockOwnClientOptions {
  /**
   * One standalone Redis: `redis://[[user]:password@]host[:port][/db]` or `rediss://…`; or a Sentinel set:
   * `redis+sentinel://[[user]:password@]host:port[,host:port…]/masterName[/db]`. A URL of a Cluster node or of a
   * replica is reported once, at start, naming the option to use instead.
   */
  url: string;
}

/** A Redis Cluster, as node-redis' `createCluster({ rootNodes })` takes it: a few nodes, the rest is discovered. */
export interface RedisTokenLockClusterOptions extends RedisTokenLockOwnClientOptions {
  rootNodes: ReadonlyArray<{ url: string }>;
  /** Credentials of every node (the discovered ones too). */
  defaults?: { username?: string; password?: string };
}

/** A Sentinel set, as node-redis' `createSentinel({ name, sentinelRootNodes })` takes it. */
export interface RedisTokenLockSentinelOptions extends RedisTokenLockOwnClientOptions {
  /** The master's name in the sentinels' configuration (`mymaster`). */
  name: string;
  sentinelRootNodes: ReadonlyArray<RedisNodeAddress>;
  /** Credentials and database of the data nodes (master and replicas). */
  nodeClientOptions?: { username?: string; password?: string; database?: number };
  /** Credentials of the sentinels themselves, when they have any. */
  sentinelClientOptions?: { username?: string; password?: string };
}

/** Build the lock on a connected client that the application owns (and closes). */
export interface RedisTokenLockClientOptions extends RedisTokenLockCommonOptions {
  /**
   * A connected node-redis v4/v5 client, cluster or sentinel, or an ioredis v5 `Redis` or `Cluster`; the lock
   * never closes it (only the feed's own connection, duplicated from it).
   */
  client: RedisLockClient | IoRedisLockClient;
}

/** Options of {@link RedisTokenLock}: `{ url }`, `{ rootNodes }`, `{ sentinelRootNodes, name }` or `{ client }`. */
export type RedisTokenLockOptions = RedisTokenLockUrlOptions | RedisTokenLockClusterOptions | RedisTokenLockSentinelOptions | RedisTokenLockClientOptions;

/** How the lock builds its own client, from the options it was given. */
export type OwnSpec =
  | { kind: 'standalone'; url: string }
  | { kind: 'cluster'; rootNodes: Array<{ url: string }>; defaults?: { username?: string; password?: string } }
  | ({ kind: 'sentinel' } & Pick<RedisTokenLockSentinelOptions, 'name' | 'sentinelRootNodes' | 'nodeClientOptions' | 'sentinelClientOptions'>);

export function ownSpec(options: RedisTokenLockOptions): { spec: OwnSpec; target: string } {
  if ('rootNodes' in options && options.rootNodes !== undefined) {
    const { defaults } = options;
    const rootNodes: ReadonlyArray<{ url?: unknown } | null> = Array.isArray(options.rootNodes) ? options.rootNodes : [];
    if (rootNodes.length === 0 || rootNodes.some((node) => typeof node?.url !== 'string' || node.url === '')) {
      throw new TypeError("RedisTokenLock: option 'rootNodes' must be a non-empty array of { url: 'redis://host:port' } (a few nodes of the Cluster)");
    }
    const urls = rootNodes.map((node) => String(node!.url));
    const where = urls.map((url) => redisUrlWithoutPassword(url, 'a node')).join(', ');
    return { spec: { kind: 'cluster', rootNodes: urls.map((url) => ({ url })), ...(defaults ? { defaults } : {}) }, target: `Redis Cluster (${where})` };
  }
  if ('sentinelRootNodes' in options && options.sentinelRootNodes !== undefined) {
    const { name, sentinelRootNodes, nodeClientOptions, sentinelClientOptions } = options;
    if (typeof name !== 'string' || name === '')
      throw new TypeError("RedisTokenLock: option 'name' (the master's name in the sentinels' configuration) is required with 'sentinelRootNodes'");
    if (
      !Array.isArray(sentinelRootNodes) ||
      sentinelRootNodes.length === 0 ||
      sentinelRootNodes.some((n: Partial<RedisNodeAddress>) => typeof n?.host !== 'string' || typeof n.port !== 'number')
    ) {
      throw new TypeError("RedisTokenLock: option 'sentinelRootNodes' must be a non-empty array of { host, port } (the sentinels)");
    }
    return sentinelSpec({ name, sentinelRootNodes, nodeClientOptions, sentinelClientOptions });
  }
  const { url } = options as RedisTokenLockUrlOptions;
  if (typeof url !== 'string' || url.trim() === '') throw new TypeError("RedisTokenLock: option 'url' must be a redis://, rediss:// or redis+sentinel:// URL");
  if (url.trim().startsWith('redis+sentinel:')) {
    const { name, sentinelRootNodes, username, password, database } = parseSentinelUrl(url);
    const nodeClientOptions = { ...(username ? { username } : {}), ...(password ? { password } : {}), ...(database !== undefined ? { database } : {}) };
    const sentinelClientOptions = { ...(username ? { username } : {}), ...(password ? { password } : {}) };
    return sentinelSpec({ name, sentinelRootNodes, nodeClientOptions, sentinelClientOptions });
  }
  return { spec: { kind: 'standalone', url }, target: redisUrlWithoutPassword(url, 'the configured Redis') };
}

function sentinelSpec(spec: Omit<Extract<OwnSpec, { kind: 'sentinel' }>, 'kind'>): { spec: OwnSpec; target: string } {
  const where = spec.sentinelRootNodes.map((n) => `${n.host}:${n.port}`).join(', ');
  return { spec: { kind: 'sentinel', ...spec }, target: `Redis Sentinel '${spec.name}' (${where})` };
}
