import { DynamicModule, INestApplicationContext, Type } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { WeComSimulator, WeComSimulatorOptions } from '../../lib/testing';
import { CapturingLogger } from './capture';

/** An application context with the given imports, logging into a CapturingLogger. */
export async function bootContext(imports: Array<DynamicModule | Type<unknown>>, logger = new CapturingLogger()): Promise<{ app: INestApplicationContext; logger: CapturingLogger }> {
  const moduleRef = await Test.createTestingModule({ imports }).setLogger(logger).compile();
  const app = await moduleRef.init();
  return { app, logger };
}

/** A simulator on loopback, closed by the returned function. */
export async function startSimulator(options?: WeComSimulatorOptions): Promise<WeComSimulator> {
  return WeComSimulator.start(options);
}

/** Short, deterministic retry settings so failure tests stay fast. */
export const FAST_RETRY = { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 };
