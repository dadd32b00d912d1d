/**
 * Synthetic AD/NC cohorts with known disease regions: Colin27 deformed per subject (scale,
 * smooth displacement, regional tissue loss that shrinks planted AAL regions), with bias field,
 * gain and noise; written with a participants table and a truth file.
 */
export * from './atrophy.js';
export * from './bias.js';
export * from './cohort.js';
export * from './deformation.js';
export * from './measure.js';
export * from './noise.js';
export * from './regions.js';
export * from './rng.js';
export * from './smooth-field.js';
export * from './subject.js';
export * from './template.js';
