/**
 * The sample: `npm start`. Without WECOM_CORP_ID / WECOM_SECRET it starts the WeCom simulator in-process and
 * talks to it; with them, it talks to real WeCom. It shows the token (masked), makes real calls through
 * WeComClient, then serves a few HTTP endpoints that do the same. `--once` stops after the demonstration.
 */
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { WeComApiError } from 'nestjs-wecom-token';
import { WeComSimulator } from 'nestjs-wecom-token/testing';
import { AppModule, SampleWeComSettings } from './app.module';
import { registerSampleMetrics } from './metrics';
import { WeComErrorFilter } from './wecom-error.filter';
import { WeComDemoService } from './wecom-demo.service';

const logger = new Logger('Sample');

async function settings(): Promise<{ settings: SampleWeComSettings; simulator?: WeComSimulator }> {
  const { WECOM_CORP_ID: corpId, WECOM_SECRET: secret, WECOM_AGENT_ID: agentId, WECOM_BASE_URL: baseUrl } = process.env;
  if (corpId && secret) {
    logger.log(`using real WeCom for corp ${corpId}${baseUrl ? ` at ${baseUrl}` : ''}`);
    return { settings: { corpId, secret, ...(agentId ? { agentId } : {}), ...(baseUrl ? { baseUrl } : {}) } };
  }
  const simulator = await WeComSimulator.start();
  const app = simulator.app();
  logger.log(`WECOM_CORP_ID / WECOM_SECRET not set: started the built-in WeCom simulator at ${simulator.baseUrl}`);
  return { settings: { corpId: simulator.corpId, secret: simulator.secretOf(), agentId: String(app.agentId), baseUrl: simulator.baseUrl }, simulator };
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

async function main(): Promise<void> {
  const once = process.argv.includes('--once');
  const { settings: wecom, simulator } = await settings();
  // Before NestFactory.create: the module takes its meter when the application starts.
  const telemetry = registerSampleMetrics();
  const app = await NestFactory.create(AppModule.register(wecom, { metricReader: telemetry.reader, ...(simulator ? { simulator } : {}) }), { logger: ['log', 'warn', 'error'] });
  app.useGlobalFilters(new WeComErrorFilter());
  app.enableShutdownHooks();
  const port = Number(process.env.PORT ?? 3000);
  await app.listen(port, '127.0.0.1').catch(async (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EADDRINUSE') throw error;
    logger.warn(`port ${port} is in use; listening on a free port instead (set PORT to choose one)`);
    await app.listen(0, '127.0.0.1');
  });
  const url = (await app.getUrl()).replace('[::1]', 'localhost');

  try {
    await demonstrate(app.get(WeComDemoService), simulator !== undefined);
  } catch (error) {
    logger.error(error instanceof WeComApiError ? `${error.message}` : error instanceof Error ? error.message : 'unknown error');
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
    ...(simulator ? [`curl '${url}/simulator/verify-signature?kind=corp&url=…&nonceStr=…&timestamp=…&signature=…' (simulator only)`] : []),
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
