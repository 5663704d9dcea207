// The type fixture of test/packaging.e2e-spec.ts, written by it as src/consumer.cts (a CommonJS file, resolving the
// package through the `require` condition of its exports map) and src/consumer.mts (an ES-module file, through the
// `import` condition) into test/consumers/types-min and types-min-nest12 before tsc runs.
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import {
  AccessTokenService,
  getAccessTokenServiceToken,
  InjectAccessTokenService,
  InjectWeComClient,
  WeComApiError,
  WeComClient,
  WeComTokenModule,
  type TokenEntry,
  type TokenLock,
  type WeComTokenModuleOptions,
  type WeComTokenOptionsFactory,
} from 'nestjs-wecom-token';
import { WeComSimulator, type SimulatedFault } from 'nestjs-wecom-token/testing';

class NoLock implements TokenLock {
  async acquire(_key: string, _ttlMs: number): Promise<(() => Promise<void>) | null> {
    return async () => undefined;
  }
}

@Injectable()
class OptionsFactory implements WeComTokenOptionsFactory {
  createWeComTokenOptions(): WeComTokenModuleOptions {
    return { corpId: 'ww0123', secret: 's', name: 'crm', lock: new NoLock(), refreshAheadSeconds: 300, agentId: 1000002 };
  }
}

@Injectable()
class Sender {
  constructor(
    readonly tokens: AccessTokenService,
    readonly client: WeComClient,
    @InjectAccessTokenService('contacts') readonly contacts: AccessTokenService,
    @InjectWeComClient('contacts') readonly contactsClient: WeComClient,
  ) {}

  async send(): Promise<string> {
    const token: string = await this.tokens.getToken();
    await this.tokens.invalidate(token);
    const body = await this.client.post<{ msgid: string }>('/cgi-bin/message/send', { touser: '@all' }, { debug: 1 });
    const user = await this.contactsClient.get<{ name: string }>('/cgi-bin/user/get', { userid: 'zhangsan' });
    return `${body.msgid} ${user.name} ${await this.contacts.refresh()}`;
  }
}

@Module({
  imports: [
    WeComTokenModule.forRoot({ corpId: 'ww0123', secret: 's', baseUrl: 'http://127.0.0.1:1', timeoutMs: 5000, backgroundRefresh: false }),
    WeComTokenModule.forRootAsync({ name: 'contacts', isGlobal: true, useFactory: async () => ({ corpId: 'ww0123', secret: 's' }), inject: [] }),
    WeComTokenModule.forRootAsync({ name: 'crm', useClass: OptionsFactory }),
  ],
  providers: [Sender],
})
export class AppModule {}

export function describeError(error: unknown): string {
  return error instanceof WeComApiError ? `${error.errcode} ${error.errmsg} ${error.path}` : String(error);
}

export async function simulate(): Promise<TokenEntry | undefined> {
  const sim: WeComSimulator = await WeComSimulator.start({ apps: [{ name: 'default', secret: 'secret-0123', kind: 'app' }] });
  const fault: SimulatedFault = { errcode: 40014 };
  sim.failNext('api', fault).revokeTokens();
  const count: number = sim.gettokenCalls();
  await sim.close();
  return count > 0 ? undefined : { token: 't', expiresAt: 0, fetchedAt: 0 };
}

export const contactsToken: string | typeof AccessTokenService = getAccessTokenServiceToken('contacts');

// The declarations are real types, not `any`: each of these must be an error.
// @ts-expect-error corpId is required
WeComTokenModule.forRoot({ secret: 's' });
// @ts-expect-error getToken resolves a string
export const wrong: Promise<number> = ({} as AccessTokenService).getToken();
// @ts-expect-error errcode is a number
export const code: string = ({} as WeComApiError).errcode;
// @ts-expect-error the simulator has no such method
(({}) as WeComSimulator).noSuchMethod();
