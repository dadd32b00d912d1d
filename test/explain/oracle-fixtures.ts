/**
 * Oracle models whose right answer is known by construction, on the MNI 2 mm grid with the
 * Colin27 template resampled there: the logit is a weighted sum over chosen AAL regions.
 */
import { atlasOnGrid, loadAal, type Atlas } from '../../src/atlas/index.js';
import {
  buildLinearOracle,
  type LinearOracleSpec,
  type OracleOutput,
} from '../../src/model/index.js';
import { MNI_GRIDS, readVolume, resample, type Volume } from '../../src/volume/index.js';

/** AAL indices of two oracle targets ≥ 40 mm apart (57 mm): a Gaussian on one's neighbours does not cover the other. */
export const HIPPOCAMPUS_L = 37;
export const AMYGDALA_R = 42;

export interface OracleWorld {
  atlas: Atlas;
  /** The atlas on the 2 mm grid. */
  onGrid: Atlas;
  /** Colin27 on the 2 mm grid. */
  volume: Volume;
}

let world: Promise<OracleWorld> | undefined;

export function oracleWorld(): Promise<OracleWorld> {
  world ??= (async () => {
    const atlas = await loadAal();
    const grid = MNI_GRIDS.mni2mm;
    const volume = resample(await readVolume(atlas.template!), grid, 'linear');
    return { atlas, onGrid: atlasOnGrid(atlas, grid), volume };
  })();
  return world;
}

/** W on the grid (x fastest): `weight / |region|` inside each region, 0 elsewhere. */
export function regionWeights(w: OracleWorld, regions: Record<number, number>): Float32Array {
  const W = new Float32Array(w.volume.data.length);
  for (const [index, weight] of Object.entries(regions)) {
    const label = Number(index);
    const n = w.onGrid.regions.find((r) => r.index === label)!.voxels;
    for (let o = 0; o < W.length; o++) if (w.onGrid.labels.data[o] === label) W[o] += weight / n;
  }
  return W;
}

/** 'NDHW': a volume model without a channel axis. */
export type OracleLayout = 'NCDHW' | 'NDHWC' | 'NDHW';
export type OracleAxes = 'xyz' | 'zyx';

/**
 * The grid-order weights written in a model's memory order, by plain nested loops:
 * 'xyz' → tensor [x][y][z] (z fastest), 'zyx' → [z][y][x] (x fastest); one channel, so NCDHW
 * and NDHWC differ only in where the channel axis of size 1 sits (NDHW has none).
 */
export function weightsInLayout(
  W: Float32Array,
  dims: readonly number[],
  layout: OracleLayout,
  axes: OracleAxes,
): { weights: Float32Array; inputShape: number[] } {
  const [nx, ny, nz] = dims;
  const out = new Float32Array(W.length);
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        const g = i + nx * (j + ny * k);
        const t = axes === 'xyz' ? (i * ny + j) * nz + k : (k * ny + j) * nx + i;
        out[t] = W[g];
      }
  const spatial = axes === 'xyz' ? [nx, ny, nz] : [nz, ny, nx];
  const inputShape =
    layout === 'NCDHW' ? [1, ...spatial] : layout === 'NDHWC' ? [...spatial, 1] : spatial;
  return { weights: out, inputShape };
}

/** Σ W·x over the world's volume (grid order). */
export function weightedSum(w: OracleWorld, W: Float32Array): number {
  let s = 0;
  for (let o = 0; o < W.length; o++) s += W[o] * w.volume.data[o];
  return s;
}

/**
 * A linear oracle z = a·Σ W·x − b, with a = gain / Σ W·volume and b set so that z = zAtVolume
 * on the world's volume: by default two logits [0, z], P(class 1 | volume) = sigmoid(0.8) ≈ 0.69;
 * `output` 'one-logit' with zAtVolume 70 is a "predicted age" of 70. `spec` adds or overrides
 * builder options (output names, extra outputs).
 */
export function linearOracle(
  w: OracleWorld,
  W: Float32Array,
  options: {
    layout?: OracleLayout;
    axes?: OracleAxes;
    gain?: number;
    zAtVolume?: number;
    /** Declare the spatial dims symbolic (a model exported with dynamic axes). */
    symbolic?: boolean;
    output?: OracleOutput;
    spec?: Partial<LinearOracleSpec>;
  } = {},
): Uint8Array {
  const s = weightedSum(w, W);
  const gain = options.gain ?? 4;
  const z = options.zAtVolume ?? 0.8;
  const { weights, inputShape } = weightsInLayout(
    W,
    w.volume.dims,
    options.layout ?? 'NCDHW',
    options.axes ?? 'xyz',
  );
  const symbolic = inputShape.map((d, i) => (d === 1 ? 1 : `s${i}`));
  return buildLinearOracle({
    inputShape,
    weights,
    scale: gain / s,
    bias: gain - z,
    output: options.output ?? 'two-logits',
    ...(options.symbolic && { declaredShape: symbolic }),
    ...options.spec,
  });
}

/** The atlas label of the map's maximum voxel. */
export function labelAtMax(w: OracleWorld, map: Float32Array): number {
  let best = 0;
  for (let o = 1; o < map.length; o++) if (map[o] > map[best]) best = o;
  return w.onGrid.labels.data[best];
}

/** Parse a CSV written by glas3d (no quoted fields in AAL names). */
export function parseCsv(text: string): Record<string, string>[] {
  const [head, ...lines] = text.trim().split('\n');
  const cols = head.split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i], v])));
}
