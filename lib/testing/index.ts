export * from './wecom-simulator.js';
