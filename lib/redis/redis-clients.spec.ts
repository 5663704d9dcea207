import { inspect } from 'node:util';
import { parseSentinelUrl, topologyHint } from './redis-clients';
import { RedisTokenLock } from './redis-token-lock';

describe('parseSentinelUrl', () => {
  it('reads sentinels, master name, credentials and database', () => {
    expect(parseSentinelUrl('redis+sentinel://user:p%40ss@10.0.0.1:26379,10.0.0.2:26380/mymaster/2')).toEqual({
      name: 'mymaster',
      sentinelRootNodes: [
        { host: '10.0.0.1', port: 26379 },
        { host: '10.0.0.2', port: 26380 },
      ],
      username: 'user',
      password: 'p@ss',
      database: 2,
    });
    expect(parseSentinelUrl('redis+sentinel://sentinel/mymaster')).toEqual({ name: 'mymaster', sentinelRootNodes: [{ host: 'sentinel', port: 26379 }] });
  });

  it.each(['redis+sentinel://h:1', 'redis+sentinel:///mymaster', 'redis+sentinel://h:0/m', 'redis+sentinel://h:99999/m', 'redis+sentinel://h:x/m'])(
    'rejects %s with a TypeError naming the expected form',
    (url) => {
      expect(() => parseSentinelUrl(url)).toThrow(TypeError);
    },
  );

  it('never echoes a password in its errors', () => {
    const attempt = () => parseSentinelUrl('redis+sentinel://u:topsecretpw@h:notaport/m');
    expect(attempt).toThrow(TypeError);
    try {
      attempt();
    } catch (error) {
      expect(String(error)).not.toContain('topsecretpw');
    }
  });
});

describe('topologyHint', () => {
  it('names the option that fixes MOVED and READONLY', () => {
    expect(topologyHint('MOVED 3999 127.0.0.1:7001')).toContain('rootNodes');
    expect(topologyHint("READONLY You can't write against a read only replica.")).toContain('sentinelRootNodes');
    expect(topologyHint('ECONNREFUSED')).toBeUndefined();
  });
});

describe('RedisTokenLock options', () => {
  it.each([
    [{ rootNodes: [] }, 'rootNodes'],
    [{ rootNodes: [{ url: '' }] }, 'rootNodes'],
    [{ sentinelRootNodes: [{ host: 'h', port: 1 }] }, "'name'"],
    [{ sentinelRootNodes: [], name: 'mymaster' }, 'sentinelRootNodes'],
    [{ url: '' }, 'redis+sentinel://'],
    [{ client: { eval: () => Promise.resolve(0) } }, 'ioredis'],
  ])('%j is refused, naming %s', (options, named) => {
    expect(() => new RedisTokenLock(options as never)).toThrow(named);
  });

  it('shows where a Cluster or Sentinel lock points, never a password', () => {
    const cluster = new RedisTokenLock({ rootNodes: [{ url: 'redis://:clusterpw@10.0.0.1:7000' }] });
    const sentinel = new RedisTokenLock({ url: 'redis+sentinel://:sentinelpw@10.0.0.2:26379/mymaster' });
    expect(inspect(cluster)).toContain('Redis Cluster (redis://10.0.0.1:7000)');
    expect(inspect(sentinel)).toContain("Redis Sentinel 'mymaster' (10.0.0.2:26379)");
    expect(JSON.stringify([cluster, sentinel]) + inspect([cluster, sentinel])).not.toMatch(/clusterpw|sentinelpw/);
  });
});
