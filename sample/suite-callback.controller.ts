import { Controller, Get, Header, HttpCode, Inject, Param, Post, Query, Req, type RawBodyRequest } from '@nestjs/common';
import type { Request } from 'express';
import { SuiteService, type CallbackQuery } from 'nestjs-wecom-token';
import { InMemoryPermanentCodeStore } from './in-memory-permanent-code.store';

/** Injection token of the sample's permanent-code store. */
export const SAMPLE_PERMANENT_CODES = 'SamplePermanentCodes';

/** The path configured as the suite's 指令回调 URL in the provider console: one path, GET and POST. */
export const SUITE_CALLBACK_PATH = 'wecom/suite/callback';

/** The query values WeCom adds to a callback URL, taken as strings (a repeated parameter is not WeCom's). */
function callbackQuery(query: Record<string, unknown>): CallbackQuery {
  const text = (name: string): string => (typeof query[name] === 'string' ? query[name] : '');
  return {
    msg_signature: text('msg_signature'),
    timestamp: text('timestamp'),
    nonce: text('nonce'),
    ...(typeof query.echostr === 'string' ? { echostr: query.echostr } : {}),
  };
}

/**
 * A third-party suite's callback (指令回调) and a call made with an authorised corp's token. `SuiteService` verifies
 * and decrypts; a forged or tampered callback rejects with WeComCallbackError, which the error filter answers 400.
 */
@Controller()
export class SuiteCallbackController {
  constructor(
    private readonly suite: SuiteService,
    @Inject(SAMPLE_PERMANENT_CODES) private readonly permanentCodes: InMemoryPermanentCodeStore,
  ) {}

  /** The URL check WeCom makes when the callback URL is saved: answer the decrypted echostr, as plain text. */
  @Get(SUITE_CALLBACK_PATH)
  @Header('content-type', 'text/plain; charset=utf-8')
  verifyUrl(@Query() query: Record<string, unknown>): Promise<string> {
    return this.suite.handleCallback(callbackQuery(query));
  }

  /**
   * The encrypted events (suite_ticket every 10 minutes, create_auth, cancel_auth, …). The body is passed as the
   * raw bytes received: the signature covers the ciphertext exactly as sent. WeCom expects `success` back.
   */
  @Post(SUITE_CALLBACK_PATH)
  @HttpCode(200)
  @Header('content-type', 'text/plain; charset=utf-8')
  receive(@Query() query: Record<string, unknown>, @Req() req: RawBodyRequest<Request>): Promise<string> {
    // No rawBody: a content type the text parser was not set up for; the empty body is refused as 'format' (400).
    return this.suite.handleCallback(callbackQuery(query), req.rawBody ?? '');
  }

  /** The corps that authorised the suite (their IDs; never the permanent codes). */
  @Get('suite/corps')
  corps(): { corps: string[] } {
    return { corps: this.permanentCodes.corps() };
  }

  /** A business call in an authorised corp, with that corp's token (get_corp_token with its permanent code). */
  @Get('suite/corps/:corpId/users/:userId')
  user(@Param('corpId') corpId: string, @Param('userId') userId: string): Promise<Record<string, unknown>> {
    return this.suite.clientFor(corpId).get<Record<string, unknown>>('/cgi-bin/user/get', { userid: userId });
  }
}
