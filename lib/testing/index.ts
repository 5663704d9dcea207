import '../common/single-copy.js';
export * from './wecom-simulator.js';
