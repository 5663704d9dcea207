/**
 * Optional peers (`@nestjs/schedule`, `@redis/client`, `@opentelemetry/api`, `@nestjs/event-emitter`), loaded the way the application loads them, so that the
 * application's own copy is the one used: the `SchedulerRegistry` this package injects must be the very class the
 * application's `ScheduleModule` provides, or the optional injection finds nothing.
 *
 * This file is the CommonJS build's: it loads with this module's own `require`, which is the host's (Node's, or
 * jest's module registry under jest). The ES-module build gets its own copy, written by `scripts/build-esm.mjs`:
 * there `require` does not exist, and inside jest's or vitest's ES-module runtime only `import()` reaches the
 * registry the application's modules live in, so that copy imports the peers once, when it is loaded.
 */

/** The optional peers this package loads; the ES-module build loads exactly these. */
export const OPTIONAL_PEERS = ['@nestjs/schedule', '@redis/client', '@opentelemetry/api', '@nestjs/event-emitter'] as const;

/** One of {@link OPTIONAL_PEERS}. */
export type OptionalPeer = (typeof OPTIONAL_PEERS)[number];

/** Which build this file belongs to (the ES-module build's copy says `'ES module'`). */
export const MODULE_SYSTEM: 'CommonJS' | 'ES module' = 'CommonJS';

/** The module `name`, as the application has it installed; throws as `require` does when it is not installed. */
export function loadOptionalPeer(name: OptionalPeer): unknown {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(name);
}
