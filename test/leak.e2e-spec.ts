/**
 * A fault-injection run with every log level captured: every line logged and every error thrown (message,
 * stack, util.inspect with hidden fields, JSON) is scanned for the secrets and for every token ever issued.
 */
import { HttpService } from '@nestjs/axios';
import { CacheModule } from '@nestjs/cache-manager';
import { ScheduleModule } from '@nestjs/schedule';
import axios from 'axios';
import { AccessTokenInterceptor, AccessTokenService, WeComClient, WeComTokenModule } from '../lib';
import { WeComSimulator } from '../lib/testing';
import { bootContext } from './support/app';
import { expectNoneOf, renderError } from './support/capture';

it('no secret and no whole token in any log line or error of a fault-injection run', async () => {
  const sim = await WeComSimulator.start({
    tokenLifetimeSeconds: 3,
    repeatedGettoken: 'new-token',
    apps: [
      { name: 'default', secret: 'leak-secret-default-AAAAAAAA', agentId: 1000002 },
      { name: 'contacts', secret: 'leak-secret-contacts-BBBBBBBB', kind: 'contacts' },
    ],
  });
  const { app, logger } = await bootContext([
    ScheduleModule.forRoot(),
    CacheModule.register({ isGlobal: true }),
    WeComTokenModule.forRoot({
      corpId: sim.corpId,
      secret: sim.secretOf(),
      baseUrl: sim.baseUrl,
      agentId: 1000002,
      timeoutMs: 300,
      retry: { attempts: 1 },
      errorCooldownMs: 0,
      rateLimitCooldownMs: 0,
      failureCooldownMs: 0,
    }),
    WeComTokenModule.forRoot({ name: 'contacts', corpId: sim.corpId, secret: sim.secretOf('contacts'), baseUrl: sim.baseUrl, timeoutMs: 300, retry: { attempts: 1 } }),
  ]);
  const errors: unknown[] = [];
  const attempt = (p: Promise<unknown>) => p.catch((e: unknown) => void errors.push(e));
  try {
    const tokens = app.get(AccessTokenService);
    const client = app.get(WeComClient);
    const contacts = app.get<WeComClient>('WeComClient(contacts)');
    const own = new HttpService(axios.create({ baseURL: sim.baseUrl, timeout: 300 }));
    app.get(AccessTokenInterceptor).attach(own);

    // One attempt per fault: the fetch budget (10 gettoken requests in 60 s) leaves room for the rest of the run.
    for (const fault of [
      { errcode: 45009 },
      { errcode: 40001 },
      { errcode: 40013 },
      { kind: 'drop' },
      { kind: 'html-502' },
      { kind: 'truncated-json' },
      { kind: 'hang' },
      { errcode: -1 },
    ] as const) {
      sim.failNext('gettoken', fault, 2);
      await attempt(tokens.refresh());
      sim.clearFaults();
    }
    await attempt(tokens.getToken());
    for (const fault of [
      { kind: 'drop' },
      { kind: 'html-502' },
      { kind: 'truncated-json' },
      { kind: 'hang' },
      { errcode: 60020 },
      { errcode: 48002 },
      { errcode: 40014 },
      { errcode: 41001 },
    ] as const) {
      sim.failNext('api', fault, 2);
      await attempt(client.get('/cgi-bin/user/get', { userid: 'zhangsan' }));
      await attempt(new Promise((resolve, reject) => own.get('/cgi-bin/department/list').subscribe({ next: resolve, error: reject })));
      sim.clearFaults();
    }
    sim.revokeTokens();
    await attempt(Promise.all(Array.from({ length: 20 }, () => client.get('/cgi-bin/department/list'))));
    await attempt(contacts.post('/cgi-bin/message/send', { touser: 'zhangsan', msgtype: 'text', agentid: 1, text: { content: 'x' } }));
    await attempt(client.download('/cgi-bin/media/get', { media_id: 'missing' }));
    // A background refresh that fails while the held token is valid is logged (at warn) and keeps the token.
    sim.failNext('gettoken', { kind: 'html-502' }, 5);
    await new Promise((r) => setTimeout(r, 1_700));
    await attempt(tokens.getToken());
    await new Promise((r) => setTimeout(r, 100));
  } finally {
    await app.close();
    await sim.close();
  }

  // The run must have produced material to scan, or the scan proves nothing.
  expect(errors.length).toBeGreaterThanOrEqual(15);
  expect(logger.matching(/^(warn|error) /).length).toBeGreaterThan(3);
  expect(logger.matching(/^debug fetched access_token \S{4}…\S{4} /).length).toBeGreaterThan(0);
  const printed = [...logger.lines, ...errors.map(renderError)].join('\n');
  expectNoneOf(printed, [sim.secretOf('default'), sim.secretOf('contacts'), ...sim.issuedTokens()]);
  expect(sim.issuedTokens().length).toBeGreaterThan(2);
});
