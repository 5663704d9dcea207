import { DynamicModule, INestApplicationContext, Type } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { CapturingLogger } from './capture';

/** An application context with the given imports, logging into a CapturingLogger. */
export async function bootContext(
  imports: Array<DynamicModule | Type<unknown>>,
  logger = new CapturingLogger(),
): Promise<{ app: INestApplicationContext; logger: CapturingLogger }> {
  const moduleRef = await Test.createTestingModule({ imports }).setLogger(logger).compile();
  const app = await moduleRef.init();
  return { app, logger };
}

/** Resolve once `condition` holds (polled every 10 ms), or fail after `timeoutMs`: never a fixed sleep. */
export async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Short, deterministic retry settings so failure tests stay fast. */
export const FAST_RETRY = { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 };
