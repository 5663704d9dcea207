import { DynamicModule, Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { WeComTokenModule } from 'nestjs-wecom-token';
import { WeComDemoController } from './wecom-demo.controller';
import { WeComDemoService } from './wecom-demo.service';

/** Where the sample's WeCom app lives: real WeCom, or the simulator started by main.ts. */
export interface SampleWeComSettings {
  corpId: string;
  secret: string;
  agentId?: string;
  baseUrl?: string;
}

/** The sample application: one WeCom app, background refresh through @nestjs/schedule. */
@Module({})
export class AppModule {
  static register(settings: SampleWeComSettings): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ScheduleModule.forRoot(),
        WeComTokenModule.forRootAsync({
          useFactory: () => ({
            corpId: settings.corpId,
            secret: settings.secret,
            ...(settings.agentId ? { agentId: settings.agentId } : {}),
            ...(settings.baseUrl ? { baseUrl: settings.baseUrl } : {}),
          }),
        }),
      ],
      controllers: [WeComDemoController],
      providers: [WeComDemoService],
    };
  }
}
