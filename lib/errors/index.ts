export * from './wecom-api.error';
export * from './wecom-transport.error';
export * from './wecom-config.error';
