/**
 * The guard for a third-party suite's members (`@WeComAuth({ suite })`), over real HTTP on Express and Fastify: the
 * web login with login_type=ServiceApp and the suiteId, the exchange through service/auth/getuserinfo3rd with the
 * suite token, and an identity whose corpId is the member's authorised corp.
 */
import { Controller, Get } from '@nestjs/common';
import { WeComAuth, WeComSuiteModule, WeComUser, type PermanentCodeStore } from '../../lib';
import type { WeComIdentity } from '../../lib';
import { SuiteService } from '../../lib';
import { WeComSimulator } from '../../lib/testing';
import { expectNoneOf } from '../support/capture';
import { Browser, cookieText, PLATFORMS, serve } from './identity-harness';

@Controller('saas')
@WeComAuth({ suite: 'default' })
class SaasController {
  @Get('me')
  me(@WeComUser() user: WeComIdentity): WeComIdentity {
    return user;
  }
}

const codes: PermanentCodeStore = { get: async () => undefined, set: async () => undefined, delete: async () => undefined };

describe.each(PLATFORMS)('@WeComAuth({ suite }) on %s', (platform) => {
  it('logs a member of an authorised corp in through getuserinfo3rd', async () => {
    const sim = await WeComSimulator.start();
    const suite = sim.suite();
    const served = await serve(
      platform,
      [
        WeComSuiteModule.forRoot({
          suiteId: suite.suiteId,
          suiteSecret: suite.suiteSecret,
          callbackToken: suite.callbackToken,
          encodingAESKey: suite.encodingAESKey,
          permanentCodes: codes,
          baseUrl: sim.baseUrl,
          oauthBaseUrl: sim.baseUrl,
          loginBaseUrl: sim.baseUrl,
        }),
      ],
      { controllers: [SaasController] },
    );
    try {
      const cb = sim.suiteCallback('suite_ticket');
      await served.app.get(SuiteService).handleCallback(cb.query, cb.body);
      sim.oauth.signIn({ userId: 'wangwu', corpId: 'wwauthcorp000002' });
      const b = new Browser();
      const { final, steps } = await b.follow(`${served.url}/saas/me`);
      const login = new URL(steps[0].location!);
      expect(login.searchParams.get('login_type')).toBe('ServiceApp');
      expect(login.searchParams.get('appid')).toBe(suite.suiteId);
      expect(final.status).toBe(200);
      expect(JSON.parse(final.body)).toEqual({ corpId: 'wwauthcorp000002', userId: 'wangwu', openUserId: 'wowangwu' });
      expect(sim.calls('/cgi-bin/service/auth/getuserinfo3rd')).toBe(1);
      expect(sim.calls('/cgi-bin/auth/getuserinfo')).toBe(0);
      const secrets = [suite.suiteSecret, ...sim.issuedSuiteValues().suiteTokens, ...sim.oauth.issuedUserTickets()];
      expectNoneOf(cookieText(b.setCookies), secrets);
      expectNoneOf(served.logger.lines.join('\n'), secrets);
    } finally {
      await served.close();
      await sim.close();
    }
  });
});
