export * from './wecom-api.error.js';
export * from './wecom-transport.error.js';
export * from './wecom-config.error.js';
export * from './wecom-cooldown.error.js';
export * from './wecom-suite-state.error.js';
export * from './wecom-shutdown.error.js';
export { WeComTrustedIpError } from './wecom-trusted-ip.error.js';
export type { WeComIpWhitelist } from './wecom-trusted-ip.error.js';
export { WeComUnknownAppError, WeComRegistryLoaderError } from './wecom-unknown-app.error.js';
