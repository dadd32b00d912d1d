/**
 * Smooth random scalar fields on a grid: a sum of a few separable cosine products with low
 * spatial frequencies, f(i, j, k) = Σ_t a_t · cos(2π u_t i/nx + φ) · cos(2π v_t j/ny + ψ) ·
 * cos(2π w_t k/nz + χ). Built from 1-D tables, so a field costs one multiply-add per term per
 * voxel. Used for the displacement components of the anatomical deformation and for the bias
 * field.
 */
import type { Rng } from './rng.js';

export interface CosineTerm {
  amplitude: number;
  /** Cycles over the grid's extent along each voxel axis. */
  cycles: [number, number, number];
  /** Phases in radians. */
  phase: [number, number, number];
}

/** A recipe: the field is fully determined by its terms (what truth.json could record). */
export interface SmoothField {
  terms: CosineTerm[];
}

/**
 * A random smooth field: `terms` products with frequencies uniform in [0, maxCycles] cycles per
 * grid extent along each axis, random phases and standard-normal amplitudes. Scale it afterwards
 * (see `scaleToMax`); the amplitudes only set the mix.
 */
export function randomSmoothField(rng: Rng, terms: number, maxCycles: number): SmoothField {
  const out: CosineTerm[] = [];
  for (let t = 0; t < terms; t++) {
    const cycles: [number, number, number] = [
      rng.range(0, maxCycles),
      rng.range(0, maxCycles),
      rng.range(0, maxCycles),
    ];
    const phase: [number, number, number] = [
      rng.range(0, 2 * Math.PI),
      rng.range(0, 2 * Math.PI),
      rng.range(0, 2 * Math.PI),
    ];
    out.push({ amplitude: rng.normal(), cycles, phase });
  }
  return { terms: out };
}

/** The field's values on a grid of `dims`, x fastest. */
export function evaluateField(field: SmoothField, dims: readonly number[]): Float32Array {
  const [nx, ny, nz] = dims;
  const out = new Float32Array(nx * ny * nz);
  const tx = new Float64Array(nx);
  const ty = new Float64Array(ny);
  const tz = new Float64Array(nz);
  for (const term of field.terms) {
    table(tx, term.cycles[0], term.phase[0], term.amplitude);
    table(ty, term.cycles[1], term.phase[1], 1);
    table(tz, term.cycles[2], term.phase[2], 1);
    let o = 0;
    for (let k = 0; k < nz; k++) {
      const zk = tz[k];
      for (let j = 0; j < ny; j++) {
        const yz = ty[j] * zk;
        for (let i = 0; i < nx; i++, o++) out[o] += tx[i] * yz;
      }
    }
  }
  return out;
}

function table(t: Float64Array, cycles: number, phase: number, amplitude: number): void {
  const n = t.length;
  for (let i = 0; i < n; i++) t[i] = amplitude * Math.cos((2 * Math.PI * cycles * i) / n + phase);
}

/**
 * The largest magnitude of the vector field (a, b, c) — or of the scalar field a when b and c
 * are left out — over the voxels where `mask` > 0.
 */
export function maxMagnitude(
  mask: Float32Array,
  a: Float32Array,
  b?: Float32Array,
  c?: Float32Array,
): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    if (!(mask[i] > 0)) continue;
    const m = b && c ? a[i] * a[i] + b[i] * b[i] + c[i] * c[i] : a[i] * a[i];
    if (m > max) max = m;
  }
  return Math.sqrt(max);
}

/** Multiply arrays in place by one factor. */
export function scaleInPlace(factor: number, ...arrays: Float32Array[]): void {
  for (const a of arrays) for (let i = 0; i < a.length; i++) a[i] *= factor;
}
