export * from './token-entry.interface.js';
export * from './token-lock.interface.js';
export * from './wecom-token-options.interface.js';
export * from './wecom-auth-options.interface.js';
