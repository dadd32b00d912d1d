/**
 * RISE (Petsiuk, Das & Saenko, BMVC 2018): randomized input sampling for explanation, the
 * baseline GLAS is compared with. N random binary grids of s × s cells, each cell kept with
 * probability p, are upsampled bilinearly to (s + 1)·⌈H/s⌉ × (s + 1)·⌈W/s⌉ and cropped at a
 * random shift of less than one cell, giving smooth masks M_i over the image; then
 *
 *     S_y = Σ_i P(y | I ⊙ M_i) · M_i / (N · p).
 *
 * "I ⊙ M" blends toward a baseline as GLAS does (B + (I − B)·M; B = 0 is the product itself), so
 * both methods hide parts of the photo the same way. The upsampling samples the grid at pixel
 * centres ((u + ½)·s/U − ½ in cell units, edges clamped), as skimage's resize(order=1) does up to
 * its edge mode. Masks come from a seeded generator: the same seed gives the same masks for every
 * photo. One set of forward passes serves every target class.
 */
import { ModelError, OptionError } from '../errors.js';
import {
  ForwardPassRunner,
  gridStridesPerTensorAxis,
  resolveGridLayout,
  argmaxRow,
  type Classifier,
} from '../glas3d/index.js';
import { mulberry32 } from '../model/prng.js';

export interface RiseInput {
  /** One sample in the model's layout. */
  readonly sample: Float32Array;
  /** What hidden pixels blend toward: a sample-sized array or one number. */
  readonly baseline: Float32Array | number;
  /** For grid axes x and y, the tensor axes that hold them. */
  readonly gridAxes: readonly number[];
}

export interface RiseOptions {
  /** N, the number of masks (default 2000). */
  readonly masks?: number;
  /** s, cells per side of the random grid (default 7, the paper's for ImageNet). */
  readonly cells?: number;
  /** p, the probability that a cell is kept (default 0.5). */
  readonly keep?: number;
  readonly seed?: number;
  /** Classes to explain (default: the top class). */
  readonly targets?: readonly number[];
  /** P(c | I) when already known: the unperturbed pass is then not run. */
  readonly probabilities?: Float32Array;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface RiseResult {
  readonly targets: number[];
  /** One saliency map per target, grid order (x fastest), width × height. */
  readonly maps: Float32Array[];
  readonly width: number;
  readonly height: number;
  readonly probabilities: Float32Array;
  /** N, plus 1 unless the probabilities were given. */
  readonly forwardPasses: number;
  readonly timing: { readonly totalMs: number; readonly modelMs: number };
}

/** Generates RISE masks in order from a seed; `next(out)` writes one W × H mask (x fastest). */
export class RiseMasks {
  private readonly random: () => number;
  private readonly grid: Float64Array;
  private readonly row: Float64Array;
  private readonly cellW: number;
  private readonly cellH: number;

  constructor(
    readonly width: number,
    readonly height: number,
    readonly cells: number,
    readonly keep: number,
    seed: number,
  ) {
    this.random = mulberry32(seed);
    this.grid = new Float64Array(cells * cells);
    this.row = new Float64Array(cells);
    this.cellW = Math.ceil(width / cells);
    this.cellH = Math.ceil(height / cells);
  }

  next(out: Float32Array): void {
    const { width: W, height: H, cells: s, grid, row, random } = this;
    for (let i = 0; i < grid.length; i++) grid[i] = random() < this.keep ? 1 : 0;
    const dx = Math.floor(random() * this.cellW);
    const dy = Math.floor(random() * this.cellH);
    const upW = (s + 1) * this.cellW;
    const upH = (s + 1) * this.cellH;
    // Cell coordinate of up-sampled pixel u: (u + ½)·s/U − ½, clamped to [0, s − 1].
    const at = (u: number, up: number) => Math.min(s - 1, Math.max(0, ((u + 0.5) * s) / up - 0.5));
    for (let y = 0; y < H; y++) {
      const gy = at(y + dy, upH);
      const i0 = Math.min(s - 2, Math.floor(gy));
      const fy = gy - i0;
      for (let j = 0; j < s; j++)
        row[j] = grid[i0 * s + j] * (1 - fy) + grid[(i0 + 1) * s + j] * fy;
      const o = y * W;
      for (let x = 0; x < W; x++) {
        const gx = at(x + dx, upW);
        const j0 = Math.min(s - 2, Math.floor(gx));
        const fx = gx - j0;
        out[o + x] = row[j0] * (1 - fx) + row[j0 + 1] * fx;
      }
    }
  }
}

/** RISE saliency of one sample for one or more classes. */
export async function runRise(
  classifier: Classifier,
  input: RiseInput,
  options: RiseOptions = {},
): Promise<RiseResult> {
  const start = performance.now();
  const n = options.masks ?? 2000;
  const s = options.cells ?? 7;
  const keep = options.keep ?? 0.5;
  if (!Number.isInteger(n) || n < 1)
    throw new OptionError(`RISE masks ${n} must be a whole number ≥ 1.`);
  if (!Number.isInteger(s) || s < 2)
    throw new OptionError(`RISE cells ${s} must be a whole number ≥ 2.`);
  if (!(keep > 0 && keep <= 1))
    throw new OptionError(`RISE keep probability ${keep} must be in (0, 1].`);
  const layout = resolveGridLayout(
    classifier.inputShape,
    input.gridAxes,
    input.gridAxes.map(() => 1),
  );
  if (layout.gridDims.length !== 2) {
    throw new ModelError(`RISE here takes images (2 grid axes), not ${layout.gridDims.length}.`);
  }
  if (input.sample.length !== layout.sampleSize) {
    throw new ModelError(
      `RISE: the sample has ${input.sample.length} values, the model input ${layout.sampleSize}.`,
    );
  }
  const [W, H] = layout.gridDims;
  const plane = W * H;
  // For each element of a sample (model layout), the pixel it belongs to.
  const strides = gridStridesPerTensorAxis(layout);
  const pixelOf = new Int32Array(layout.sampleSize);
  {
    const shape = layout.shape;
    const index = new Int32Array(shape.length);
    for (let e = 0; e < layout.sampleSize; e++) {
      let p = 0;
      for (let a = 0; a < shape.length; a++) p += index[a] * strides[a];
      pixelOf[e] = p;
      for (let a = shape.length - 1; a >= 0; a--) {
        if (++index[a] < shape[a]) break;
        index[a] = 0;
      }
    }
  }
  const sample = input.sample;
  const baseline =
    typeof input.baseline === 'number'
      ? new Float32Array(layout.sampleSize).fill(input.baseline)
      : input.baseline;
  if (baseline.length !== layout.sampleSize) {
    throw new OptionError(
      `RISE: the baseline has ${baseline.length} values, the sample ${layout.sampleSize}.`,
    );
  }
  const difference = new Float32Array(layout.sampleSize);
  for (let e = 0; e < difference.length; e++) difference[e] = sample[e] - baseline[e];

  const classes = classifier.classes;
  const runner = new ForwardPassRunner(classifier);
  let probabilities = options.probabilities;
  if (probabilities === undefined) {
    runner.buffer.set(sample, 0);
    probabilities = Float32Array.from((await runner.run(1)).subarray(0, classes));
  } else if (probabilities.length !== classes) {
    throw new OptionError(
      `RISE: ${probabilities.length} probabilities given for ${classes} classes.`,
    );
  }
  const targets = options.targets ? [...options.targets] : [argmaxRow(probabilities, 0, classes)];
  for (const t of targets) {
    if (!Number.isInteger(t) || t < 0 || t >= classes) {
      throw new OptionError(
        `class ${t} is out of range: the model has ${classes} classes (0–${classes - 1}).`,
      );
    }
  }
  const sums = targets.map(() => new Float64Array(plane));
  const generator = new RiseMasks(W, H, s, keep, options.seed ?? 0);
  const batchMasks = Array.from({ length: runner.batchSize }, () => new Float32Array(plane));
  const first = runner.forwardPasses;
  const total = first + n;
  options.onProgress?.(first, total);
  for (let done = 0; done < n;) {
    const count = Math.min(runner.batchSize, n - done);
    for (let k = 0; k < count; k++) {
      const m = batchMasks[k];
      generator.next(m);
      const o = runner.offset(k);
      const buf = runner.buffer;
      for (let e = 0; e < pixelOf.length; e++)
        buf[o + e] = baseline[e] + difference[e] * m[pixelOf[e]];
    }
    const p = await runner.run(count);
    for (let k = 0; k < count; k++) {
      const m = batchMasks[k];
      targets.forEach((t, ti) => {
        const w = p[k * classes + t];
        const sum = sums[ti];
        for (let i = 0; i < plane; i++) sum[i] += w * m[i];
      });
    }
    done += count;
    options.onProgress?.(first + done, total);
  }
  runner.release();
  const maps = sums.map((sum) => {
    const map = new Float32Array(plane);
    for (let i = 0; i < plane; i++) map[i] = sum[i] / (n * keep);
    return map;
  });
  return {
    targets,
    maps,
    width: W,
    height: H,
    probabilities,
    forwardPasses: runner.forwardPasses,
    timing: { totalMs: performance.now() - start, modelMs: runner.modelMs },
  };
}
