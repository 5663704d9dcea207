import { peerContext, Replies } from './replies.js';
import { TrustedIpRules } from './trusted-ip.js';

function errmsgOf(reply: { body: Buffer } | undefined): string {
  return reply ? (JSON.parse(reply.body.toString()) as { errmsg: string }).errmsg : '';
}

describe('TrustedIpRules', () => {
  it('refuses the token of an app with a rule from any other peer, naming the peer in from ip', () => {
    const rules = new TrustedIpRules(new Replies());
    rules.set({ app: 'default' }, ['127.0.0.2']);
    const refused = peerContext.run('127.0.0.1', () => rules.checkApp('default'));
    expect(refused?.errcode).toBe(60020);
    expect(errmsgOf(refused)).toMatch(/^not allow to access from your ip, hint: \[.*\], from ip: 127\.0\.0\.1, more info at .*e=60020$/);
    expect(peerContext.run('127.0.0.2', () => rules.checkApp('default'))).toBeUndefined();
    // Apps without a rule accept every peer.
    expect(peerContext.run('127.0.0.1', () => rules.checkApp('contacts'))).toBeUndefined();
  });

  it("a suite's rule covers its calls and its authorised corps' tokens; removing a rule accepts every peer again", () => {
    const rules = new TrustedIpRules(new Replies());
    rules.set({ suite: 'wwsuite1' }, ['10.0.0.1']);
    expect(peerContext.run('127.0.0.1', () => rules.checkSuite('wwsuite1'))?.errcode).toBe(60020);
    expect(peerContext.run('127.0.0.1', () => rules.checkApp('suite-corp:wwsuite1:wwcorp9'))?.errcode).toBe(60020);
    expect(peerContext.run('127.0.0.1', () => rules.checkApp('suite-corp:wwsuite2:wwcorp9'))).toBeUndefined();
    expect(peerContext.run('127.0.0.1', () => rules.checkSuite(undefined))).toBeUndefined();
    rules.set({ suite: 'wwsuite1' }, undefined);
    expect(peerContext.run('127.0.0.1', () => rules.checkSuite('wwsuite1'))).toBeUndefined();
  });

  it('a configured clientIp is the IP WeCom sees (as behind a NAT), whatever the peer', () => {
    const rules = new TrustedIpRules(new Replies('203.0.113.7'));
    rules.set({ app: 'default' }, ['203.0.113.7']);
    expect(peerContext.run('127.0.0.1', () => rules.checkApp('default'))).toBeUndefined();
    rules.set({ app: 'default' }, ['127.0.0.1']);
    expect(errmsgOf(peerContext.run('127.0.0.1', () => rules.checkApp('default')))).toContain('from ip: 203.0.113.7');
  });

  it('refuses a rule that is not an IP address', () => {
    const rules = new TrustedIpRules(new Replies());
    expect(() => rules.set({ app: 'default' }, ['10.0.0.0/8'])).toThrow(/not an IP address/);
    expect(() => rules.set({ app: 'default' }, ['example.com'])).toThrow(/not an IP address/);
  });
});
