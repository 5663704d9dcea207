export * from './wecom-simulator';
