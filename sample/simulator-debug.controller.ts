import { BadRequestException, Controller, Get, Inject, Query } from '@nestjs/common';
import type { WeComSimulator } from 'nestjs-wecom-token/testing';

/** Injection token of the simulator the sample started in-process (provided only in simulator mode). */
export const SAMPLE_SIMULATOR = 'SampleWeComSimulator';

/**
 * SIMULATOR-ONLY debug endpoints, mounted only when the sample runs against its in-process WeCom simulator (no
 * WECOM_CORP_ID / WECOM_SECRET). They let a test, or a curious developer, ask the simulator what real WeCom would
 * decide: whether a page's JS-SDK signature verifies. Real WeCom has no such endpoints; never mount them elsewhere.
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
}
