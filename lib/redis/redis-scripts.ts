/**
 * The Lua scripts of `RedisTokenLock`. Each touches exactly one key (KEYS[1]), so on a Redis Cluster each runs on
 * that key's own slot and no hash tag is needed: the shared cache key stays exactly as documented.
 */

/**
 * Take the lease; when someone else holds it, repair a lease that outlives its maximum: a key without expiry (left
 * by another tool or an old version) or with a longer one is given the lease's own, so it is taken over after one
 * lease instead of making every fetch wait forever.
 */
export const ACQUIRE_SCRIPT = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -1 or ttl > tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

/** Marks an announcement of a new entry on the invalidation channel (in place of a fingerprint). */
export const WRITTEN_MARK = '*';

/** Delete the lease only while it is still ours. */
export const RELEASE_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/**
 * Delete the cache entry only while it holds the rejected token (or ticket). The entry is JSON: either
 * cache-manager/Keyv's wrapper `{"value":{"token":…},"expires":…}` (Keyv escapes a string that starts with ':' by doubling the ':') or a
 * bare `{"token":…,"expiresAt":…}` written by a service in another language. Anything else is left alone.
 */
export const COMPARE_AND_DELETE_TOKEN_SCRIPT = `
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
