import { BadRequestException, Body, Controller, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import type { WeComSimulator } from 'nestjs-wecom-token/testing';

/** Injection token of the simulator the sample started in-process (provided only in simulator mode). */
export const SAMPLE_SIMULATOR = 'SampleWeComSimulator';

/**
 * SIMULATOR-ONLY debug endpoints, mounted only when the sample runs against its in-process WeCom simulator (no
 * WECOM_CORP_ID / WECOM_SECRET). They let a test, or a curious developer, ask the simulator what real WeCom would
 * decide (whether a page's JS-SDK signature verifies), and what it would send (the encrypted suite callbacks, which
 * the caller then POSTs to the sample's callback path like WeCom would). Real WeCom has no such endpoints; never mount them elsewhere.
 */
@Controller('simulator')
export class SimulatorDebugController {
  constructor(@Inject(SAMPLE_SIMULATOR) private readonly simulator: WeComSimulator) {}

  /**
   * `GET /simulator/verify-signature?kind=corp|agent&url=…&nonceStr=…&timestamp=…&signature=…`: what the JS-SDK
   * inside WeCom would decide about this signature (`{ valid, reason? }`).
   */
  @Get('verify-signature')
  verifySignature(@Query() query: Record<string, unknown>): { valid: boolean; reason?: string } {
    const field = (name: string): string => {
      const value = query[name];
      if (typeof value !== 'string' || value === '') throw new BadRequestException(`query parameter '${name}' is required`);
      return value;
    };
    const kind = field('kind');
    if (kind !== 'corp' && kind !== 'agent') throw new BadRequestException("query parameter 'kind' must be 'corp' or 'agent'");
    const check = this.simulator.verifySignature({ kind, url: field('url'), nonceStr: field('nonceStr'), timestamp: field('timestamp'), signature: field('signature') });
    return { valid: check.valid, ...(check.reason !== undefined ? { reason: check.reason } : {}) };
  }

  /**
   * `GET /simulator/suite-url-verification`: the query WeCom sends to check the callback URL when it is saved, and
   * the echo it expects back (`{ query, expected }`). GET the callback path with `query` to answer it.
   */
  @Get('suite-url-verification')
  suiteUrlVerification(): { query: Record<string, string>; expected: string } {
    return this.simulator.urlVerification();
  }

  /**
   * `POST /simulator/suite-callback/:event` (suite_ticket, create_auth, cancel_auth, change_auth,
   * reset_permanent_code; JSON body `{ "corpId": … }` where the event needs a corp): the encrypted callback WeCom
   * would POST, as `{ query, body, corpId? }`. POST `body` (text/xml) to the callback path with `query`. The
   * suite_ticket and auth_code inside stay encrypted: the point is that the sample's callback finds them.
   */
  @Post('suite-callback/:event')
  @HttpCode(200)
  suiteCallback(@Param('event') event: string, @Body() options: { corpId?: unknown } | undefined): { query: Record<string, string>; body: string; corpId?: string } {
    if (!SUITE_EVENTS.includes(event as SuiteEvent)) throw new BadRequestException(`event must be one of ${SUITE_EVENTS.join(', ')}`);
    const corpId = typeof options?.corpId === 'string' && options.corpId !== '' ? options.corpId : undefined;
    if (corpId === undefined && event !== 'suite_ticket' && event !== 'create_auth') throw new BadRequestException(`a ${event} callback needs a JSON body { "corpId": … }`);
    const callback = this.simulator.suiteCallback(event as SuiteEvent, corpId !== undefined ? { corpId } : {});
    return { query: { ...callback.query }, body: callback.body, ...(callback.corpId !== undefined ? { corpId: callback.corpId } : {}) };
  }

  /**
   * `POST /simulator/app-callback` (JSON body `{ "content": … }`): the encrypted text message WeCom would POST to the
   * app's callback URL (`/wecom/callback`), as `{ query, body }`. POST `body` (text/xml) there with `query`.
   */
  @Post('app-callback')
  @HttpCode(200)
  appCallback(@Body() options: { content?: unknown } | undefined): { query: Record<string, string>; body: string } {
    const sender = this.simulator.appCallbacks({ agentId: this.simulator.app().agentId });
    const content = typeof options?.content === 'string' ? options.content : 'hello';
    const envelope = sender.envelope(sender.xml({ type: 'text', content }));
    return { query: { ...envelope.query }, body: envelope.body };
  }
}

/** The suite callbacks the simulator can build. */
const SUITE_EVENTS = ['suite_ticket', 'create_auth', 'cancel_auth', 'change_auth', 'reset_permanent_code'] as const;
type SuiteEvent = (typeof SUITE_EVENTS)[number];
