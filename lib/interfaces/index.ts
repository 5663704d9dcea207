export * from './token-entry.interface';
export * from './token-lock.interface';
export * from './wecom-token-options.interface';
