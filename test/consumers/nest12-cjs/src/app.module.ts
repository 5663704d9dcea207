import { Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { WeComTokenModule } from 'nestjs-wecom-token';
import { DirectoryService } from './directory.service';

/**
 * The application: the default app and the contacts-sync app, both configured from the environment through
 * @nestjs/config (WECOM_CORP_ID, WECOM_SECRET, WECOM_CONTACTS_SECRET, WECOM_BASE_URL).
 */
@Module({
  imports: [
    ConfigModule.forRoot({ ignoreEnvFile: true }),
    WeComTokenModule.forRootAsync({
      imports: [ConfigModule],
      inject: [ConfigService],
      useFactory: (config: ConfigService) => ({
        corpId: config.getOrThrow<string>('WECOM_CORP_ID'),
        secret: config.getOrThrow<string>('WECOM_SECRET'),
        baseUrl: config.getOrThrow<string>('WECOM_BASE_URL'),
      }),
    }),
    WeComTokenModule.forRootAsync({
      name: 'contacts',
      imports: [ConfigModule],
      inject: [ConfigService],
      useFactory: (config: ConfigService) => ({
        corpId: config.getOrThrow<string>('WECOM_CORP_ID'),
        secret: config.getOrThrow<string>('WECOM_CONTACTS_SECRET'),
        baseUrl: config.getOrThrow<string>('WECOM_BASE_URL'),
      }),
    }),
  ],
  providers: [DirectoryService],
  exports: [DirectoryService],
})
export class AppModule {}
