/**
 * `nestjs-wecom-token/health`: the `@nestjs/terminus` health indicator. A subpath of its own, so that only
 * applications that use it need `@nestjs/terminus` (an optional peer).
 */
export * from './wecom-health.indicator.js';
