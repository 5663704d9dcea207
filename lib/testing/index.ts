import '../single-copy.js';
export * from './wecom-simulator.js';
