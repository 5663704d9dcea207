import { createHash } from 'node:crypto';
import { WeComSimulator } from '../wecom-simulator.js';
import type { SimulatedApp, WeComSimulatorOptions } from '../wecom-simulator.js';

interface WeComBody {
  errcode?: number;
  errmsg?: string;
  access_token?: string;
  ticket?: string;
  expires_in?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const CORP_PATH = '/cgi-bin/get_jsapi_ticket';
const AGENT_PATH = '/cgi-bin/ticket/get';

/** WeCom's published example (doc 96909). */
const EXAMPLE = {
  ticket: 'sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg',
  nonceStr: 'Wm3WZYTPz0wzccnW',
  timestamp: 1414587457,
  url: 'http://mp.weixin.qq.com?params=value',
  signature: '0f9de62fce790f9a083d5c99e95740ceb90c27ed',
};

const APPS: SimulatedApp[] = [
  { name: 'default', secret: 'sim-secret-default-0123456789', agentId: 1000002 },
  { name: 'crm', secret: 'sim-secret-crm-0123456789', agentId: 1000003 },
  { name: 'noagent', secret: 'sim-secret-noagent-0123456789' },
  { name: 'contacts', secret: 'sim-secret-contacts-0123456789', kind: 'contacts' },
];

function sign(ticket: string, nonceStr: string, timestamp: number, url: string): string {
  const text = `jsapi_ticket=${ticket}&noncestr=${nonceStr}&timestamp=${timestamp}&url=${url}`;
  return createHash('sha1').update(text).digest('hex');
}

describe('WeComSimulator JS-SDK tickets', () => {
  const opened: WeComSimulator[] = [];

  async function start(options: WeComSimulatorOptions = {}): Promise<WeComSimulator> {
    const simulator = await WeComSimulator.start({ apps: APPS, ...options });
    opened.push(simulator);
    return simulator;
  }

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((simulator) => simulator.close()));
  });

  async function getJson(sim: WeComSimulator, pathAndQuery: string, init?: RequestInit): Promise<WeComBody> {
    const response = await fetch(`${sim.baseUrl}${pathAndQuery}`, init);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json; charset=UTF-8');
    return (await response.json()) as WeComBody;
  }

  async function token(sim: WeComSimulator, appName = 'default'): Promise<string> {
    const query = new URLSearchParams({ corpid: sim.corpId, corpsecret: sim.secretOf(appName) });
    const body = await getJson(sim, `/cgi-bin/gettoken?${query.toString()}`);
    expect(body.errcode).toBe(0);
    return body.access_token!;
  }

  function corpTicket(sim: WeComSimulator, accessToken: string): Promise<WeComBody> {
    return getJson(sim, `${CORP_PATH}?access_token=${encodeURIComponent(accessToken)}`);
  }

  function agentTicket(sim: WeComSimulator, accessToken: string, type = 'agent_config'): Promise<WeComBody> {
    return getJson(sim, `${AGENT_PATH}?access_token=${encodeURIComponent(accessToken)}&type=${type}`);
  }

  describe('fetching', () => {
    it('issues a corp ticket, and the same one with the remaining expires_in on a repeat', async () => {
      const sim = await start({ ticketLifetimeSeconds: 3 });
      const accessToken = await token(sim);
      const first = await corpTicket(sim, accessToken);
      expect(first).toEqual({ errcode: 0, errmsg: 'ok', ticket: expect.any(String), expires_in: 3 });
      expect(first.ticket).toMatch(/^[A-Za-z0-9_-]{86}$/);
      await sleep(1100);
      const second = await corpTicket(sim, accessToken);
      expect(second.ticket).toBe(first.ticket);
      expect(second.expires_in).toBe(2);
      expect(sim.currentTicket('corp')).toBe(first.ticket);
      expect(sim.issuedTickets('corp')).toEqual([first.ticket]);
      expect(sim.ticketCalls('corp', 'default')).toBe(2);
      expect(sim.ticketCalls('agent')).toBe(0);
    });

    it('issues an agent ticket per app, apart from the corp ticket', async () => {
      const sim = await start();
      const agent = await agentTicket(sim, await token(sim));
      expect(agent).toEqual({ errcode: 0, errmsg: 'ok', ticket: expect.any(String), expires_in: 7200 });
      const corp = await corpTicket(sim, await token(sim));
      const crmAgent = await agentTicket(sim, await token(sim, 'crm'));
      expect(new Set([agent.ticket, corp.ticket, crmAgent.ticket]).size).toBe(3);
      expect(sim.currentTicket('agent')).toBe(agent.ticket);
      expect(sim.currentTicket('agent', 'crm')).toBe(crmAgent.ticket);
      expect(sim.issuedTickets('agent')).toEqual([agent.ticket, crmAgent.ticket]);
      expect(sim.ticketCalls()).toBe(3);
      expect(sim.ticketCalls('agent', 'crm')).toBe(1);
    });

    it("issues a new ticket in 'new-ticket' mode, the old staying valid; new lifetimes apply to new ones", async () => {
      const sim = await start({ repeatedTicket: 'new-ticket' });
      const accessToken = await token(sim);
      const first = (await corpTicket(sim, accessToken)).ticket!;
      sim.setTicketLifetime(60);
      const second = await corpTicket(sim, accessToken);
      expect(second.ticket).not.toBe(first);
      expect(second.expires_in).toBe(60);
      expect(sim.currentTicket('corp')).toBe(second.ticket);
      const nonce = 'n0nce';
      const check = { kind: 'corp' as const, url: 'https://a.example/p', nonceStr: nonce, timestamp: 1700000000 };
      const signature = sign(first, nonce, 1700000000, check.url);
      expect(sim.verifySignature({ ...check, signature })).toEqual({ valid: true });
      sim.setRepeatedTicket('same-ticket');
      expect((await corpTicket(sim, accessToken)).ticket).toBe(second.ticket);
    });

    it('issues a new ticket once the old one expired', async () => {
      const sim = await start({ ticketLifetimeSeconds: 0.2 });
      const accessToken = await token(sim);
      const first = await corpTicket(sim, accessToken);
      expect(first.expires_in).toBe(1);
      await sleep(250);
      expect(sim.currentTicket('corp')).toBeUndefined();
      expect((await corpTicket(sim, accessToken)).ticket).not.toBe(first.ticket);
      sim.expireTickets('corp');
      expect(sim.currentTicket('corp')).toBeUndefined();
    });
  });

  describe('checks', () => {
    it.each([CORP_PATH, `${AGENT_PATH}?type=agent_config`])('checks the access_token on %s', async (path) => {
      const sim = await start({ tokenLifetimeSeconds: 0.2 });
      const join = path.includes('?') ? '&' : '?';
      expect((await getJson(sim, path)).errcode).toBe(41001);
      expect((await getJson(sim, `${path}${join}access_token=not-a-token`)).errcode).toBe(40014);
      const revoked = await token(sim);
      sim.revokeToken(revoked);
      expect((await getJson(sim, `${path}${join}access_token=${revoked}`)).errcode).toBe(40014);
      const expiring = await token(sim);
      await sleep(250);
      expect((await getJson(sim, `${path}${join}access_token=${expiring}`)).errcode).toBe(42001);
      expect(sim.issuedTickets('corp')).toEqual([]);
      expect(sim.issuedTickets('agent')).toEqual([]);
    });

    it('answers 40058 without type=agent_config, 40056 without agentId, 48002 for a contacts token', async () => {
      const sim = await start();
      expect((await agentTicket(sim, await token(sim), 'jsapi')).errcode).toBe(40058);
      expect((await getJson(sim, `${AGENT_PATH}?access_token=${await token(sim)}`)).errcode).toBe(40058);
      expect((await agentTicket(sim, await token(sim, 'noagent'))).errcode).toBe(40056);
      expect((await corpTicket(sim, await token(sim, 'noagent'))).errcode).toBe(0);
      expect((await corpTicket(sim, await token(sim, 'contacts'))).errcode).toBe(48002);
      expect((await agentTicket(sim, await token(sim, 'contacts'))).errcode).toBe(48002);
      const post = await getJson(sim, `${CORP_PATH}?access_token=${await token(sim)}`, { method: 'POST' });
      expect(post.errcode).toBe(43001);
      expect(() => sim.setTicket('agent', 'noagent', 'x')).toThrow(/no agentId/);
    });

    it('applies injected faults to ticket paths like any path', async () => {
      const sim = await start();
      const accessToken = await token(sim);
      sim.failNext(CORP_PATH, { errcode: -1 }).failNext('api', { errcode: 45033 }).failNext(AGENT_PATH, { kind: 'html-502' });
      expect((await corpTicket(sim, accessToken)).errcode).toBe(-1);
      expect((await corpTicket(sim, accessToken)).errcode).toBe(45033);
      const response = await fetch(`${sim.baseUrl}${AGENT_PATH}?access_token=${accessToken}&type=agent_config`);
      expect(response.status).toBe(502);
      expect(sim.requests.filter((r) => r.fault).map((r) => r.app)).toEqual(['default', 'default', 'default']);
      expect(sim.ticketCalls(undefined, 'default')).toBe(3);
      expect(sim.issuedTickets('corp')).toEqual([]);
    });
  });

  describe('limits', () => {
    it('answers 45009 past 100 fetches per app per hour by default', async () => {
      const sim = await start();
      const accessToken = await token(sim);
      for (let i = 0; i < 100; i += 1) expect((await corpTicket(sim, accessToken)).errcode).toBe(0);
      const limited = await agentTicket(sim, accessToken);
      expect(limited.errcode).toBe(45009);
      expect(limited.errmsg).toMatch(/^api freq out of limit, hint: /);
      expect((await corpTicket(sim, await token(sim, 'crm'))).errcode).toBe(0);
    });

    it('counts both kinds per app and per corp, and lifts the block when the window has passed', async () => {
      const sim = await start({ ticketLimits: { perApp: 3, perCorp: 5, windowSeconds: 0.5 } });
      const mine = await token(sim);
      const crm = await token(sim, 'crm');
      expect((await corpTicket(sim, mine)).errcode).toBe(0);
      expect((await agentTicket(sim, mine)).errcode).toBe(0);
      expect((await corpTicket(sim, mine)).errcode).toBe(0);
      expect((await agentTicket(sim, mine)).errcode).toBe(45009);
      expect((await corpTicket(sim, mine)).errcode).toBe(45009);
      expect((await corpTicket(sim, crm)).errcode).toBe(0);
      expect((await agentTicket(sim, crm)).errcode).toBe(0);
      // The corp's 5 are spent although crm has used only 2 of its 3.
      expect((await corpTicket(sim, crm)).errcode).toBe(45009);
      expect(sim.ticketCalls()).toBe(8);
      await sleep(550);
      expect((await agentTicket(sim, mine)).errcode).toBe(0);
    });

    it('takes new limits with setTicketLimits and rejects nonsense', async () => {
      const sim = await start();
      sim.setTicketLimits({ perApp: 1 });
      const accessToken = await token(sim);
      expect((await corpTicket(sim, accessToken)).errcode).toBe(0);
      expect((await corpTicket(sim, accessToken)).errcode).toBe(45009);
      expect(() => sim.setTicketLimits({ perCorp: -1 })).toThrow(/perCorp/);
      expect(() => new WeComSimulator({ ticketLimits: { windowSeconds: 0 } })).toThrow(/windowSeconds/);
    });
  });

  describe('verifySignature', () => {
    const example = { kind: 'corp' as const, ...EXAMPLE };

    it("accepts WeCom's published example once its ticket is seeded, and the page's url with a #fragment", async () => {
      const sim = await start();
      expect(sim.verifySignature(example)).toEqual({
        valid: false,
        reason: expect.stringMatching(/^invalid signature: app 'default' has no valid corp ticket/),
      });
      sim.setTicket('corp', 'default', EXAMPLE.ticket);
      expect(sim.currentTicket('corp')).toBe(EXAMPLE.ticket);
      expect(sim.verifySignature(example)).toEqual({ valid: true });
      expect(sim.verifySignature({ ...example, timestamp: String(EXAMPLE.timestamp) })).toEqual({ valid: true });
      expect(sim.verifySignature({ ...example, url: `${EXAMPLE.url}#/home` })).toEqual({ valid: true });
      expect(sim.verifySignature({ ...example, nonceStr: 'Wm3WZYTPz0wzccnX' }).valid).toBe(false);
      const escaped = 'http://mp.weixin.qq.com?params=value&amp;x=1';
      expect(sim.verifySignature({ ...example, url: escaped }).valid).toBe(false);
    });

    it('serves a seeded ticket over HTTP and checks it is the kind and app asked for', async () => {
      const sim = await start();
      sim.setTicket('corp', 'default', EXAMPLE.ticket);
      expect((await corpTicket(sim, await token(sim))).ticket).toBe(EXAMPLE.ticket);
      const agent = (await agentTicket(sim, await token(sim))).ticket!;
      const asAgent = sim.verifySignature({ ...example, kind: 'agent' });
      expect(asAgent).toEqual({
        valid: false,
        reason: expect.stringMatching(/signed with the corp ticket where the agent ticket is needed/),
      });
      const signature = sign(agent, EXAMPLE.nonceStr, EXAMPLE.timestamp, EXAMPLE.url);
      expect(sim.verifySignature({ ...example, kind: 'agent', signature })).toEqual({ valid: true });
      expect(sim.verifySignature({ ...example, kind: 'agent', appName: 'crm', signature }).valid).toBe(false);
      const noAgent = sim.verifySignature({ ...example, kind: 'agent', appName: 'noagent', signature });
      expect(noAgent.reason).toMatch(/no agentId/);
    });

    it('names a url signed with its #fragment', async () => {
      const sim = await start();
      sim.setTicket('corp', 'default', EXAMPLE.ticket);
      const url = 'https://app.example/page?a=1#/tab';
      const signature = sign(EXAMPLE.ticket, 'abc', 1700000000, url);
      const check = sim.verifySignature({ kind: 'corp', url, nonceStr: 'abc', timestamp: 1700000000, signature });
      expect(check).toEqual({ valid: false, reason: expect.stringMatching(/kept its #fragment/) });
    });

    it('fails for a revoked or expired ticket, and the next fetch issues a new one', async () => {
      const sim = await start();
      sim.setTicket('corp', 'default', EXAMPLE.ticket);
      expect(sim.revokeTickets('corp', 'default')).toEqual([EXAMPLE.ticket]);
      expect(sim.verifySignature(example)).toEqual({
        valid: false,
        reason: 'invalid signature: signed with a revoked corp ticket',
      });
      const fresh = (await corpTicket(sim, await token(sim))).ticket!;
      expect(fresh).not.toBe(EXAMPLE.ticket);
      expect(sim.issuedTickets('corp', 'default')).toEqual([EXAMPLE.ticket, fresh]);
      const signature = sign(fresh, EXAMPLE.nonceStr, EXAMPLE.timestamp, EXAMPLE.url);
      expect(sim.verifySignature({ ...example, signature }).valid).toBe(true);
      sim.expireTickets();
      const expired = sim.verifySignature({ ...example, signature });
      expect(expired.reason).toBe('invalid signature: signed with an expired corp ticket');
      expect(sim.revokeTickets()).toEqual([]);
    });
  });
});
