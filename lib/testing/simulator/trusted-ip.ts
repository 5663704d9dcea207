/**
 * Trusted IPs (WeCom notes §7): since 2022-06-20 a self-built app answers 60020 to a caller whose IP is not in its
 * 企业可信IP, and suites (with their authorised corps' tokens) are checked against the provider's IP whitelist. A
 * rule set here for an app or a suite makes the simulator answer 60020 to every call from another IP, naming the IP
 * it saw: the simulator's `clientIp` when one is configured (as if behind a NAT), else the peer's address (a proxy's,
 * when one is in between).
 *
 * Choices where WeCom's docs are silent:
 * - gettoken is never refused for its IP (users report tokens that work nowhere: the block comes at the API call);
 *   everything that carries the app's token is, JS-SDK tickets included.
 * - A suite's rule covers every `/cgi-bin/service/*` call of the suite (get_suite_token included: it is the provider's
 *   server calling) and every call with one of its authorised corps' tokens.
 * - Single IPs only, as users report them: the docs give no figure for ranges.
 */
import { isIP } from 'node:net';
import type { Replies, Reply } from './replies.js';

/** What a trusted-IP rule applies to: an app by name, or a suite by suiteId. */
export type SimulatedTrustTarget = { readonly app: string } | { readonly suite: string };

/** The errmsg WeCom answers 60020 with (before the hint). */
const NOT_TRUSTED = 'not allow to access from your ip';

/** The trusted-IP rules of one simulator. */
export class TrustedIpRules {
  private readonly apps = new Map<string, ReadonlySet<string>>();
  private readonly suites = new Map<string, ReadonlySet<string>>();

  constructor(private readonly replies: Replies) {}

  /** Sets the trusted IPs of an app or suite; `undefined` removes the rule (every IP is accepted again). */
  set(target: SimulatedTrustTarget, ips: readonly string[] | undefined): void {
    const map = 'app' in target ? this.apps : this.suites;
    const key = 'app' in target ? target.app : target.suite;
    if (ips === undefined) {
      map.delete(key);
      return;
    }
    for (const ip of ips) if (isIP(ip) === 0) throw new Error(`trusted IP '${String(ip).slice(0, 50)}' is not an IP address`);
    map.set(key, new Set(ips));
  }

  /**
   * 60020 for a call with the token of app `appName` (of the request being answered), when the app (or, for an
   * authorised corp's token, `suite-corp:SUITE:CORP`, its suite) has a rule that does not list the caller's IP.
   */
  checkApp(appName: string): Reply | undefined {
    const corp = /^suite-corp:([^:]+):/.exec(appName);
    return corp ? this.checkSuite(corp[1]) : this.refuse(this.apps.get(appName));
  }

  /** 60020 for a call of suite `suiteId` when the suite's rule does not list the caller's IP. */
  checkSuite(suiteId: string | undefined): Reply | undefined {
    return suiteId === undefined ? undefined : this.refuse(this.suites.get(suiteId));
  }

  private refuse(trusted: ReadonlySet<string> | undefined): Reply | undefined {
    const ip = this.replies.callerIp();
    if (!trusted || trusted.has(ip)) return undefined;
    return this.replies.error(60020, NOT_TRUSTED, ip);
  }
}
