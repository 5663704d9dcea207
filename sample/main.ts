/**
 * The sample: `npm start`. Without WECOM_CORP_ID / WECOM_SECRET it starts the WeCom simulator in-process and
 * talks to it; with them, it talks to real WeCom. It shows the token (masked), makes real calls through
 * WeComClient, then serves a few HTTP endpoints that do the same. `--once` stops after the demonstration.
 */
import 'reflect-metadata';
import { INestApplication, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { WeComApiError } from 'nestjs-wecom-token';
import { WeComSimulator } from 'nestjs-wecom-token/testing';
import { AppModule, SampleSuiteSettings, SampleWeComSettings } from './app.module';
import { registerSampleMetrics } from './metrics';
import { WeComErrorFilter } from './wecom-error.filter';
import { WeComDemoService } from './wecom-demo.service';

const logger = new Logger('Sample');

/**
 * A real suite from WECOM_SUITE_ID, WECOM_SUITE_SECRET, WECOM_SUITE_TOKEN and WECOM_SUITE_AES_KEY (all four, or no
 * suite endpoints at all), optionally WECOM_PROVIDER_CORP_ID / WECOM_PROVIDER_SECRET.
 */
function realSuite(baseUrl: string | undefined): SampleSuiteSettings | undefined {
  const { WECOM_SUITE_ID: suiteId, WECOM_SUITE_SECRET: suiteSecret, WECOM_SUITE_TOKEN: callbackToken, WECOM_SUITE_AES_KEY: encodingAESKey } = process.env;
  if (!suiteId || !suiteSecret || !callbackToken || !encodingAESKey) return undefined;
  const { WECOM_PROVIDER_CORP_ID: providerCorpId, WECOM_PROVIDER_SECRET: providerSecret } = process.env;
  return {
    suiteId,
    suiteSecret,
    callbackToken,
    encodingAESKey,
    ...(providerCorpId && providerSecret ? { providerCorpId, providerSecret } : {}),
    ...(baseUrl ? { baseUrl } : {}),
  };
}

async function settings(): Promise<{ settings: SampleWeComSettings; suite?: SampleSuiteSettings; simulator?: WeComSimulator }> {
  const { WECOM_CORP_ID: corpId, WECOM_SECRET: secret, WECOM_AGENT_ID: agentId, WECOM_BASE_URL: baseUrl } = process.env;
  if (corpId && secret) {
    logger.log(`using real WeCom for corp ${corpId}${baseUrl ? ` at ${baseUrl}` : ''}`);
    const suite = realSuite(baseUrl);
    const sessionSecret = process.env.WECOM_SESSION_SECRET;
    // The app's 接收消息 URL (/wecom/callback), when both of its settings are given.
    const { WECOM_CALLBACK_TOKEN: token, WECOM_CALLBACK_AES_KEY: encodingAESKey } = process.env;
    const callback = token && encodingAESKey ? { callback: { token, encodingAESKey } } : {};
    return {
      settings: { corpId, secret, ...(agentId ? { agentId } : {}), ...(baseUrl ? { baseUrl } : {}), ...(sessionSecret ? { sessionSecret } : {}), ...callback },
      ...(suite ? { suite } : {}),
    };
  }
  const simulator = await WeComSimulator.start();
  const app = simulator.app();
  logger.log(`WECOM_CORP_ID / WECOM_SECRET not set: started the built-in WeCom simulator at ${simulator.baseUrl}`);
  // The simulator's suite and provider: the callback controller receives what sim.suiteCallback(...) encrypts.
  const { suiteId, suiteSecret, callbackToken, encodingAESKey } = simulator.suite();
  const suite: SampleSuiteSettings = {
    suiteId,
    suiteSecret,
    callbackToken,
    encodingAESKey,
    providerCorpId: simulator.provider.corpId,
    providerSecret: simulator.provider.secret,
    baseUrl: simulator.baseUrl,
  };
  // The simulator's OAuth2 and login pages show a consent page (a button), as WeCom asks a member.
  simulator.oauth.setConsent('page');
  const pages = { oauthBaseUrl: simulator.baseUrl, loginBaseUrl: simulator.baseUrl };
  // The app's callback settings: what simulator.appCallbacks(...).deliver(...) signs and encrypts with.
  const callbacks = simulator.appCallbacks({ agentId: app.agentId }).settings;
  return {
    settings: {
      corpId: simulator.corpId,
      secret: simulator.secretOf(),
      agentId: String(app.agentId),
      baseUrl: simulator.baseUrl,
      ...pages,
      callback: { token: callbacks.token, encodingAESKey: callbacks.encodingAESKey },
    },
    suite,
    simulator,
  };
}

async function demonstrate(demo: WeComDemoService, simulated: boolean): Promise<void> {
  const token = await demo.tokenInfo();
  logger.log(`access_token ${token.token}, expires at ${token.expiresAt} (in ${token.validForSeconds} s)`);
  const departments = await demo.departments();
  logger.log(`department/list: ${departments.map((d) => `${d.id} ${d.name}`).join(', ')}`);
  const touser = process.env.WECOM_TO_USER ?? (simulated ? 'zhangsan' : undefined);
  if (touser) {
    const user = await demo.user(touser);
    logger.log(`user/get ${touser}: ${String(user.name)} (${String(user.position ?? 'no position')})`);
    if (simulated || process.env.WECOM_SEND === '1') {
      const sent = await demo.sendText(touser, 'Hello from the nestjs-wecom-token sample');
      logger.log(`message/send to ${touser}: msgid ${sent.msgid}`);
    }
  }
  if (simulated) {
    const file = await demo.download('MEDIA_SAMPLE');
    logger.log(`media/get MEDIA_SAMPLE: ${file.filename ?? '(no name)'}, ${file.contentType}, ${file.bytes.length} bytes`);
  }
}

/** The application on Fastify (`@nestjs/platform-fastify`, loaded only when asked for), XML bodies kept raw. */
async function createOnFastify(module: Parameters<typeof NestFactory.create>[0], options: { logger: ('log' | 'warn' | 'error')[]; rawBody: boolean }): Promise<INestApplication> {
  const { FastifyAdapter } = await import('@nestjs/platform-fastify');
  const app = await NestFactory.create<NestFastifyApplication>(module, new FastifyAdapter(), options);
  app.useBodyParser(['text/xml', 'application/xml', 'text/plain'], { bodyLimit: 1024 * 1024 });
  return app;
}

async function main(): Promise<void> {
  const once = process.argv.includes('--once');
  const { settings: wecom, suite, simulator } = await settings();
  // Before NestFactory.create: the module takes its meter when the application starts.
  const telemetry = registerSampleMetrics();
  // rawBody: the suite callback's signature covers the ciphertext exactly as WeCom sent it.
  const module = AppModule.register(wecom, { metricReader: telemetry.reader, ...(suite ? { suite } : {}), ...(simulator ? { simulator } : {}) });
  const options = { logger: ['log', 'warn', 'error'] as ('log' | 'warn' | 'error')[], rawBody: true };
  // SAMPLE_PLATFORM=fastify runs the same application on Fastify (the identity guard works on both).
  const app = process.env.SAMPLE_PLATFORM === 'fastify' ? await createOnFastify(module, options) : await NestFactory.create<NestExpressApplication>(module, options);
  if (process.env.SAMPLE_PLATFORM !== 'fastify') {
    // WeCom POSTs callbacks as XML, which Nest does not parse by default; with rawBody on, req.rawBody keeps the bytes.
    (app as NestExpressApplication).useBodyParser('text', { type: ['text/xml', 'application/xml', 'text/plain'], limit: '1mb' });
  }
  app.useGlobalFilters(new WeComErrorFilter());
  app.enableShutdownHooks();
  const port = Number(process.env.PORT ?? 3000);
  await app.listen(port, '127.0.0.1').catch(async (error: unknown) => {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    logger.warn(`port ${port} is in use; listening on a free port instead (set PORT to choose one)`);
    await app.listen(0, '127.0.0.1');
  });
  const url = (await app.getUrl()).replace('[::1]', 'localhost');
  if (simulator && suite) {
    // What WeCom does for an installed suite (every 10 minutes): push a suite_ticket to its 指令回调 URL. Until one
    // arrives, the suite has no token, and /health says so (40085).
    const ticket = simulator.suiteCallback('suite_ticket');
    const pushed = await fetch(`${url}/wecom/suite/callback?${new URLSearchParams(ticket.query).toString()}`, {
      method: 'POST',
      headers: { 'content-type': 'text/xml' },
      body: ticket.body,
    });
    if (!pushed.ok) logger.warn(`the simulator's suite_ticket was refused by /wecom/suite/callback (HTTP ${pushed.status})`);
  }

  try {
    await demonstrate(app.get(WeComDemoService), simulator !== undefined);
  } catch (error) {
    logger.error(error instanceof WeComApiError ? error.message : error instanceof Error ? error.message : 'unknown error');
    process.exitCode = 1;
  }

  if (once) {
    await app.close();
    await telemetry.shutdown();
    await simulator?.close();
    logger.log('done (--once)');
    return;
  }
  logger.log(`listening on ${url}; try:`);
  for (const line of [
    `curl ${url}/token`,
    `curl ${url}/departments`,
    `curl ${url}/users/zhangsan`,
    `curl -X POST ${url}/messages -H 'content-type: application/json' -d '{"touser":"zhangsan","content":"hi"}'`,
    `curl -o sample.bin ${url}/media/MEDIA_SAMPLE?download`,
    `curl '${url}/jssdk/config?url=https%3A%2F%2Fexample.com%2Fpage'`,
    `curl '${url}/jssdk/agent-config?url=https%3A%2F%2Fexample.com%2Fpage'`,
    `open ${url}/jssdk/ (the front-end side of ww.register)`,
    `curl ${url}/health`,
    `curl ${url}/metrics`,
    `open ${url}/me/page (who you are: the guard sends you to WeCom's login and back)`,
    ...(suite ? [`GET|POST ${url}/wecom/suite/callback (the suite's 指令回调 URL)`, `curl ${url}/suite/corps`, `curl ${url}/suite/corps/{corpId}/users/zhangsan`] : []),
    ...(simulator
      ? [
          `curl '${url}/simulator/verify-signature?kind=corp&url=…&nonceStr=…&timestamp=…&signature=…' (simulator only)`,
          `curl ${url}/simulator/suite-url-verification (simulator only)`,
          `curl -X POST ${url}/simulator/suite-callback/create_auth (simulator only: the encrypted callback to POST)`,
        ]
      : []),
  ]) {
    logger.log(`  ${line}`);
  }
  logger.log('Ctrl+C to stop');
  const stop = async () => {
    await app.close();
    await telemetry.shutdown();
    await simulator?.close();
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

void main();
