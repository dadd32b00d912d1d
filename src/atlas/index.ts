export * from './atlas.js';
export * from './census.js';
export * from './hemisphere.js';
export * from './names.js';
export * from './stats.js';
export { packageRoot } from './package-root.js';
