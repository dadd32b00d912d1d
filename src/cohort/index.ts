export * from './cohort-outputs.js';
export * from './derivatives.js';
export * from './merge.js';
export * from './out-lock.js';
export * from './run.js';
export * from './stats.js';
export * from './subjects.js';
export * from './template-space.js';
