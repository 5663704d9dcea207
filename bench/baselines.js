'use strict';
/**
 * The baselines our figures are divided by. Each is written the way it is written in real projects, small and
 * honest: no deliberate slowness, no features it would not have.
 *
 *   (a) floor:  a bare Map lookup plus an expiry check, awaited. Nothing can be faster and still be async.
 *   (b) wrap:   what a NestJS developer writes first: cache-manager's `wrap` around gettoken on every call, with
 *               a real `createCache()` (cache-manager 7, in-memory Keyv), the TTL taken from `expires_in`.
 *   (c) naive:  the static holder most projects start from: refreshed 30 s before expiry, no single flight.
 */
const http = require('node:http');
const axios = require('axios');
const { createCache } = require('cache-manager');

const GETTOKEN_PATH = '/cgi-bin/gettoken';

/**
 * (a) The floor: one Map entry, one expiry check, a resolved promise awaited by the caller like ours. A plain
 * function returning Promise.resolve, not an `async function`, which costs a little more: the floor is the cheapest.
 */
function createFloor(entries) {
  const map = new Map(entries.map((e) => [e.key, { token: e.token, expiresAt: e.expiresAt }]));
  return {
    map,
    get(key) {
      const entry = map.get(key);
      if (entry !== undefined && Date.now() < entry.expiresAt) return Promise.resolve(entry.token);
      return Promise.reject(new Error(`floor: no valid token for ${key}`));
    },
  };
}

/**
 * An axios instance for the baselines' gettoken. The keep-alive agent caps sockets at 256 only so that (c) with
 * 10,000 concurrent callers does not run out of file descriptors: requests beyond the cap queue in the agent, and
 * every one of them still reaches gettoken, so the counts are what an uncapped client would cause.
 */
function gettokenClient(baseUrl, httpAgent = new http.Agent({ keepAlive: true, maxSockets: 256 })) {
  return axios.create({ baseURL: baseUrl, timeout: 10_000, httpAgent });
}

async function gettoken(client, corpId, secret) {
  const { data } = await client.get(GETTOKEN_PATH, { params: { corpid: corpId, corpsecret: secret } });
  if (data.errcode) throw new Error(`gettoken failed: ${data.errcode} ${data.errmsg}`);
  return data;
}

/** (b) cache-manager `wrap` around gettoken, on every call. Its TTL is the token's lifetime less 5 minutes. */
function createWrapHolder({ baseUrl, corpId, secret }) {
  const cache = createCache();
  const client = gettokenClient(baseUrl);
  const key = `wecom_token:${corpId}`;
  const fetchToken = () => gettoken(client, corpId, secret);
  const ttl = (body) => Math.max(1_000, (body.expires_in - 300) * 1000);
  return {
    cache,
    async getToken() {
      const body = await cache.wrap(key, fetchToken, ttl);
      return body.access_token;
    },
    async close() {
      await cache.disconnect().catch(() => undefined);
      client.defaults.httpAgent.destroy();
    },
  };
}

/**
 * (c) The naive static holder: one class per app with static fields, refreshed 30 s before expiry, no single
 * flight. A factory only so that each measurement starts from a cold class, as a fresh process would.
 */
function createNaiveHolder({ baseUrl, corpId, secret, httpAgent }) {
  const client = gettokenClient(baseUrl, httpAgent);
  class TokenHolder {
    static token = undefined;
    static expiresAt = 0;

    static async getToken() {
      if (TokenHolder.token && Date.now() < TokenHolder.expiresAt - 30_000) return TokenHolder.token;
      const body = await gettoken(client, corpId, secret);
      TokenHolder.token = body.access_token;
      TokenHolder.expiresAt = Date.now() + body.expires_in * 1000;
      return TokenHolder.token;
    }

    static close() {
      client.defaults.httpAgent.destroy();
    }
  }
  return TokenHolder;
}

module.exports = { createFloor, createWrapHolder, createNaiveHolder };
