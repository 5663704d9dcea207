import { DynamicModule, Module, Provider, Type } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { TerminusModule } from '@nestjs/terminus';
import { WeComHealthIndicator } from 'nestjs-wecom-token/health';
import { WeComSuiteModule, WeComTokenModule } from 'nestjs-wecom-token';
import type { WeComSimulator } from 'nestjs-wecom-token/testing';
import { IdentityController } from './identity.controller';
import { JssdkController } from './jssdk.controller';
import { InMemoryPermanentCodeStore } from './in-memory-permanent-code.store';
import { SAMPLE_PERMANENT_CODES, SuiteCallbackController } from './suite-callback.controller';
import { AppCallbackController, SampleCallbackHandlers } from './app-callback.controller';
import { OnDemandMetricReader, SAMPLE_METRIC_READER } from './metrics';
import { ObservabilityController } from './observability.controller';
import { SAMPLE_SIMULATOR, SimulatorDebugController } from './simulator-debug.controller';
import { TenantTable, TenantsController } from './tenants.controller';
import { WeComDemoController } from './wecom-demo.controller';
import { WeComDemoService } from './wecom-demo.service';

/** Where the sample's WeCom app lives: real WeCom, or the simulator started by main.ts. */
export interface SampleWeComSettings {
  corpId: string;
  secret: string;
  agentId?: string;
  baseUrl?: string;
  /** Where WeCom's OAuth2 page and web login live (the simulator serves both); default: WeCom's. */
  oauthBaseUrl?: string;
  loginBaseUrl?: string;
  /** Key material of the session cookie (WECOM_SESSION_SECRET); default: derived from the app's secret. */
  sessionSecret?: string;
  /** The app's 接收消息 Token and EncodingAESKey (WECOM_CALLBACK_TOKEN, WECOM_CALLBACK_AES_KEY): serves /wecom/callback. */
  callback?: { token: string; encodingAESKey: string };
}

/** A third-party suite (服务商) of the sample: from the simulator, or from WECOM_SUITE_* for real WeCom. */
export interface SampleSuiteSettings {
  suiteId: string;
  suiteSecret: string;
  callbackToken: string;
  encodingAESKey: string;
  providerCorpId?: string;
  providerSecret?: string;
  baseUrl?: string;
}

/** What else the sample runs with, beside its WeCom app. */
export interface SampleExtras {
  /** The reader of the OpenTelemetry SDK registered before the application was created: GET /metrics reads it. */
  metricReader: OnDemandMetricReader;
  /** The suite whose callback the sample mounts; none → no suite endpoints. */
  suite?: SampleSuiteSettings;
  /** The in-process simulator, when there is one: mounts the simulator-only debug endpoints. */
  simulator?: WeComSimulator;
}

/**
 * The sample application: one WeCom app, background refresh through @nestjs/schedule, JS-SDK signatures, health
 * and metrics, a third-party suite's callback when one is configured; in simulator mode also the simulator-only
 * debug endpoints.
 */
@Module({})
export class AppModule {
  static register(settings: SampleWeComSettings, extras: SampleExtras): DynamicModule {
    const controllers: Type[] = [WeComDemoController, JssdkController, ObservabilityController, IdentityController, TenantsController];
    // WeComHealthIndicator is listed here, in a module that imports TerminusModule, as the indicator expects.
    const providers: Provider[] = [WeComDemoService, WeComHealthIndicator, { provide: SAMPLE_METRIC_READER, useValue: extras.metricReader }];
    // Many tenants: a table of customers' apps (here in memory, with the sample's own app as tenant 'demo') behind
    // WeComAppRegistry; GET /tenants/demo/departments uses it, GET /tenants/other/… is a 404.
    const tenants = new TenantTable();
    tenants.set('demo', { corpId: settings.corpId, secret: settings.secret, ...(settings.agentId ? { agentId: settings.agentId } : {}) });
    const imports: NonNullable<DynamicModule['imports']> = [
      WeComTokenModule.forRegistry({ ...(settings.baseUrl ? { baseUrl: settings.baseUrl } : {}), loader: (key) => tenants.find(key) }),
    ];
    if (settings.callback) {
      controllers.push(AppCallbackController);
      providers.push(SampleCallbackHandlers);
    }
    if (extras.suite) {
      const permanentCodes = new InMemoryPermanentCodeStore();
      imports.push(WeComSuiteModule.forRoot({ ...extras.suite, permanentCodes }));
      controllers.push(SuiteCallbackController);
      providers.push({ provide: SAMPLE_PERMANENT_CODES, useValue: permanentCodes });
    }
    if (extras.simulator) {
      // Only against the simulator: real WeCom has nothing to answer these debug endpoints with.
      controllers.push(SimulatorDebugController);
      providers.push({ provide: SAMPLE_SIMULATOR, useValue: extras.simulator });
    }
    return {
      module: AppModule,
      imports: [
        ScheduleModule.forRoot(),
        TerminusModule,
        WeComTokenModule.forRootAsync({
          useFactory: () => ({
            corpId: settings.corpId,
            secret: settings.secret,
            ...(settings.agentId ? { agentId: settings.agentId } : {}),
            ...(settings.baseUrl ? { baseUrl: settings.baseUrl } : {}),
            ...(settings.oauthBaseUrl ? { oauthBaseUrl: settings.oauthBaseUrl } : {}),
            ...(settings.loginBaseUrl ? { loginBaseUrl: settings.loginBaseUrl } : {}),
            ...(settings.sessionSecret ? { auth: { sessionSecret: settings.sessionSecret } } : {}),
            ...(settings.callback ? { callback: settings.callback } : {}),
          }),
        }),
        ...imports,
      ],
      controllers,
      providers,
    };
  }
}
