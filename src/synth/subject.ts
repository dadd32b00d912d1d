/**
 * One synthetic subject: what is drawn for it (its plan) and its image.
 *
 * From the output voxel x the image looks up the template through one composed backward map,
 *   x → y = anatomy(x) → z = y + Σ contraction_k(y),
 * samples Colin27 at z once (trilinear), turns vacated tissue into CSF, then multiplies by the
 * bias field and the global gain and adds Gaussian noise inside the brain.
 */
import { cloneAffine, invertAffine } from '../volume/affine.js';
import type { Grid, Volume } from '../volume/index.js';
import {
  contract,
  solveContractions,
  vacatedWeight,
  type RegionShape,
  type SolvedContraction,
} from './atrophy.js';
import { biasField, drawBias, type BiasSpec } from './bias.js';
import {
  anatomyPoint,
  buildAnatomyWarp,
  drawAnatomy,
  type AnatomySpec,
  type AnatomyWarp,
} from './deformation.js';
import { addNoise } from './noise.js';
import { deriveSeed, Rng } from './rng.js';
import type { SynthTemplate } from './template.js';

/** The ranges every subject's draws come from (uniform in [lo, hi) unless said otherwise). */
export interface SynthParameters {
  /** Planted (AD) atrophy: fraction of each planted region's volume lost. */
  plantedLoss: [number, number];
  /** Age-like atrophy, both groups: how many regions (integers, both ends included)… */
  ageRegions: [number, number];
  /** …and the fraction each loses; drawn from non-planted regions of ≥ ageMinVoxels voxels. */
  ageLoss: [number, number];
  ageMinVoxels: number;
  /** Global isotropic scale about the brain centre. */
  scale: [number, number];
  /** Largest length of the smooth anatomical displacement inside the brain, mm. */
  maxDisplacementMm: [number, number];
  /** Cosine products per displacement component, and their highest frequency (cycles per grid
   *  extent; 1.5 on the 2 mm grid: wavelengths ≥ 120 mm). */
  deformationTerms: number;
  deformationMaxCycles: number;
  /** Bias field 1 + β: largest |β| inside the brain, terms and frequency as above. */
  biasAmplitude: [number, number];
  biasTerms: number;
  biasMaxCycles: number;
  /** Noise standard deviation as a fraction of the white-matter intensity. */
  noise: [number, number];
  /** Global intensity gain. */
  gain: [number, number];
  /** Intensity of vacated tissue as a fraction of the white-matter intensity. */
  csfLevel: [number, number];
  /** Falloff reach of a contraction: this × the region's 95th-percentile Mahalanobis distance
   *  (see DEFAULT_SUPPORT_SCALE). */
  supportScale: number;
  /** White matter's intensity in the written images (before bias and gain). */
  outputWhiteMatter: number;
}

export const DEFAULT_SYNTH_PARAMETERS: Readonly<SynthParameters> = Object.freeze({
  plantedLoss: [0.1, 0.35],
  ageRegions: [2, 4],
  ageLoss: [0.01, 0.05],
  ageMinVoxels: 50,
  scale: [0.95, 1.05],
  maxDisplacementMm: [3, 4],
  deformationTerms: 6,
  deformationMaxCycles: 1.5,
  biasAmplitude: [0.05, 0.1],
  biasTerms: 4,
  biasMaxCycles: 1,
  noise: [0.02, 0.04],
  gain: [0.95, 1.05],
  csfLevel: [0.15, 0.25],
  supportScale: 1.25,
  outputWhiteMatter: 1000,
} as SynthParameters);

export type Group = 'AD' | 'NC';

export interface AtrophyPlan {
  shape: RegionShape;
  /** Fraction of the region's volume to lose (rounded to 1e-4: what participants.tsv says). */
  loss: number;
  kind: 'planted' | 'age';
}

/** Everything drawn for one subject; the image follows from it deterministically. */
export interface SubjectPlan {
  id: string;
  group: Group;
  /** 1-based number within the group. */
  number: number;
  seed: number;
  anatomy: AnatomySpec;
  bias: BiasSpec;
  noiseFraction: number;
  gain: number;
  csfFraction: number;
  atrophy: AtrophyPlan[];
}

/** The regions a cohort draws from. */
export interface AtrophyRegions {
  planted: RegionShape[];
  /** Candidates for age-like atrophy (non-planted, big enough). */
  agePool: RegionShape[];
}

export function subjectId(group: Group, number: number, width: number): string {
  return `sub-${group.toLowerCase()}${String(number).padStart(width, '0')}`;
}

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;

/**
 * Draw a subject. Its stream depends only on (cohort seed, group, number): subjects do not
 * change when the cohort grows. Draw order is fixed; changing it changes every cohort.
 */
export function planSubject(
  template: SynthTemplate,
  regions: AtrophyRegions,
  params: SynthParameters,
  cohortSeed: number,
  group: Group,
  number: number,
  idWidth = 3,
): SubjectPlan {
  const seed = deriveSeed('glas3d-synth', cohortSeed, group, number);
  const rng = new Rng(seed);
  const anatomy = drawAnatomy(
    rng,
    {
      scale: params.scale,
      maxDisplacementMm: params.maxDisplacementMm,
      terms: params.deformationTerms,
      maxCycles: params.deformationMaxCycles,
    },
    template.brainCentreMm,
  );
  const bias = drawBias(rng, {
    amplitude: params.biasAmplitude,
    terms: params.biasTerms,
    maxCycles: params.biasMaxCycles,
  });
  const noiseFraction = rng.range(params.noise[0], params.noise[1]);
  const gain = rng.range(params.gain[0], params.gain[1]);
  const csfFraction = rng.range(params.csfLevel[0], params.csfLevel[1]);
  const nAge = rng.int(params.ageRegions[0], params.ageRegions[1]);
  const atrophy: AtrophyPlan[] = rng.sample(regions.agePool, nAge).map((shape) => ({
    shape,
    loss: round4(rng.range(params.ageLoss[0], params.ageLoss[1])),
    kind: 'age' as const,
  }));
  if (group === 'AD') {
    for (const shape of regions.planted) {
      atrophy.push({
        shape,
        loss: round4(rng.range(params.plantedLoss[0], params.plantedLoss[1])),
        kind: 'planted',
      });
    }
  }
  return {
    id: subjectId(group, number, idWidth),
    group,
    number,
    seed,
    anatomy,
    bias,
    noiseFraction,
    gain,
    csfFraction,
    atrophy,
  };
}

/** A subject's deformation: the backward map from its grid into the template, in two stages. */
export interface SubjectWarp {
  grid: Grid;
  anatomy: AnatomyWarp;
  contractions: SolvedContraction[];
}

export interface AtrophyOutcome {
  index: number;
  name: string;
  kind: 'planted' | 'age';
  targetLoss: number;
  /** Measured on the template grid's labels, warped by the contractions (nearest). */
  achievedLoss: number;
  strength: number;
}

export interface SynthSubject {
  plan: SubjectPlan;
  warp: SubjectWarp;
  atrophy: AtrophyOutcome[];
  /** The image on the template's grid (float32; written as int16 or float32). */
  volume: Volume;
}

/** Solve the atrophy, compose the warps and render the image. */
export function renderSubject(
  template: SynthTemplate,
  plan: SubjectPlan,
  params: SynthParameters,
): SynthSubject {
  const { grid, image, brain } = template;
  const labels = template.atlas.labels;
  const contractions = solveContractions(
    labels,
    plan.atrophy.map((a) => ({ shape: a.shape, loss: a.loss })),
  );
  const anatomy = buildAnatomyWarp(plan.anatomy, grid, brain);
  const bias = biasField(plan.bias, grid, brain);

  const [nx, ny, nz] = grid.dims;
  const [sx, sy, sz] = image.dims;
  const sxy = sx * sy;
  const a = grid.affine;
  const inv = invertAffine(image.affine);
  const labelInv = invertAffine(labels.affine);
  const src = image.data;
  const msk = brain.data;
  const out = new Float32Array(nx * ny * nz);
  const weight = new Float32Array(nx * ny * nz);
  const outScale = params.outputWhiteMatter / template.whiteMatter;
  const csf = plan.csfFraction * template.whiteMatter;
  const gain = plan.gain * outScale;
  const y = new Float64Array(3);
  const z = new Float64Array(3);
  let o = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, o++) {
        const x0 = a[0][0] * i + a[0][1] * j + a[0][2] * k + a[0][3];
        const x1 = a[1][0] * i + a[1][1] * j + a[1][2] * k + a[1][3];
        const x2 = a[2][0] * i + a[2][1] * j + a[2][2] * k + a[2][3];
        anatomyPoint(anatomy, o, x0, x1, x2, y);
        contract(contractions, y[0], y[1], y[2], z);
        // Trilinear lookup of the template and its brain mask at z, one set of weights.
        const ci = inv[0][0] * z[0] + inv[0][1] * z[1] + inv[0][2] * z[2] + inv[0][3];
        const cj = inv[1][0] * z[0] + inv[1][1] * z[1] + inv[1][2] * z[2] + inv[1][3];
        const ck = inv[2][0] * z[0] + inv[2][1] * z[1] + inv[2][2] * z[2] + inv[2][3];
        if (ci < 0 || cj < 0 || ck < 0 || ci > sx - 1 || cj > sy - 1 || ck > sz - 1) continue;
        const i0 = Math.min(Math.floor(ci), sx - 2);
        const j0 = Math.min(Math.floor(cj), sy - 2);
        const k0 = Math.min(Math.floor(ck), sz - 2);
        const fx = ci - i0;
        const fy = cj - j0;
        const fz = ck - k0;
        const p = i0 + sx * j0 + sxy * k0;
        const w000 = (1 - fx) * (1 - fy) * (1 - fz);
        const w100 = fx * (1 - fy) * (1 - fz);
        const w010 = (1 - fx) * fy * (1 - fz);
        const w110 = fx * fy * (1 - fz);
        const w001 = (1 - fx) * (1 - fy) * fz;
        const w101 = fx * (1 - fy) * fz;
        const w011 = (1 - fx) * fy * fz;
        const w111 = fx * fy * fz;
        const b =
          w000 * msk[p] +
          w100 * msk[p + 1] +
          w010 * msk[p + sx] +
          w110 * msk[p + sx + 1] +
          w001 * msk[p + sxy] +
          w101 * msk[p + sxy + 1] +
          w011 * msk[p + sxy + sx] +
          w111 * msk[p + sxy + sx + 1];
        if (!(b > 0)) continue;
        let t =
          w000 * src[p] +
          w100 * src[p + 1] +
          w010 * src[p + sx] +
          w110 * src[p + sx + 1] +
          w001 * src[p + sxy] +
          w101 * src[p + sxy + 1] +
          w011 * src[p + sxy + sx] +
          w111 * src[p + sxy + sx + 1];
        if (contractions.length > 0) {
          const v = vacatedWeight(labels, labelInv, contractions, y, z);
          if (v > 0) t = t * (1 - v) + csf * v * b;
        }
        out[o] = gain * bias[o] * t;
        weight[o] = b;
      }
    }
  }
  addNoise(
    out,
    weight,
    plan.noiseFraction * params.outputWhiteMatter,
    deriveSeed(plan.seed, 'noise'),
  );
  return {
    plan,
    warp: { grid, anatomy, contractions },
    atrophy: contractions.map((c, n) => ({
      index: c.shape.index,
      name: c.shape.name,
      kind: plan.atrophy[n].kind,
      targetLoss: c.targetLoss,
      achievedLoss: c.achievedLoss,
      strength: c.strength,
    })),
    volume: { dims: [nx, ny, nz], affine: cloneAffine(grid.affine), data: out },
  };
}
