/*
 * A one-off job as a scheduler runs it (cron, a Kubernetes Job): boot a NestJS application context with the BUILT
 * package, await one thing, print the outcome, close, and let the process end on its own. Its exit code is what the
 * scheduler records. Configuration comes as JSON in argv[2]: { baseUrl, what: 'token' | 'send' | 'get', close: boolean }.
 */
'use strict';
require('reflect-metadata');
const { join } = require('node:path');
const { NestFactory } = require('@nestjs/core');
const { AccessTokenService, WeComClient, WeComTokenModule } = require(join(__dirname, '..', '..', 'dist'));

const config = JSON.parse(process.argv[2]);

async function main() {
  class JobModule {}
  const app = await NestFactory.createApplicationContext(
    { module: JobModule, imports: [WeComTokenModule.forRoot({ corpId: 'wwjob0000000001', secret: 'job-secret-0123456789', baseUrl: config.baseUrl })] },
    { logger: false, abortOnError: false },
  );
  try {
    if (config.what === 'get') {
      await app.get(WeComClient).get('/cgi-bin/user/get', { userid: 'zhangsan' });
      process.stdout.write('read\n');
    } else if (config.what === 'send') {
      await app.get(WeComClient).post('/cgi-bin/message/send', { touser: '@all', msgtype: 'text', agentid: 1000002, text: { content: 'nightly report' } });
      process.stdout.write('sent\n');
    } else {
      const token = await app.get(AccessTokenService).getToken();
      process.stdout.write(`token of ${token.length} characters\n`);
    }
  } finally {
    if (config.close !== false) await app.close();
  }
}

main().catch((error) => {
  process.stderr.write(`job failed: ${error && error.name}: ${error && error.message}\n`);
  process.exitCode = 1;
});
