import { ModelError, OptionError } from '../errors.js';

/**
 * How the spatial grid sits inside one model sample. The sample keeps the model's own memory
 * layout (C order, last axis fastest); `gridAxes[a]` names the tensor axis that holds grid axis a
 * (0 = x, 1 = y, 2 = z). Tensor axes outside `gridAxes` (channels) are broadcast.
 */
export interface GridLayout {
  /** Tensor shape of one sample, batch excluded. */
  readonly shape: readonly number[];
  /** For each grid axis, the tensor axis that holds it. */
  readonly gridAxes: readonly number[];
  /** Physical size of one step along each grid axis. */
  readonly spacing: readonly number[];
  /** Extent of each grid axis: shape[gridAxes[a]]. */
  readonly gridDims: readonly number[];
  /** Floats in one sample: prod(shape). */
  readonly sampleSize: number;
  /** Voxels (pixels) in the grid: prod(gridDims). Maps in grid order have this length. */
  readonly gridSize: number;
}

/** Checks the shape, grid axes and spacing against each other and returns the layout. */
export function resolveGridLayout(
  inputShape: readonly number[],
  gridAxes: readonly number[],
  spacing: readonly number[],
): GridLayout {
  if (inputShape.length === 0 || inputShape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new ModelError(
      `Model input shape [${inputShape.join(', ')}] is not usable: every axis needs a positive whole size.`,
    );
  }
  if (gridAxes.length === 0) {
    throw new OptionError('gridAxes is empty: name the tensor axis of at least one grid axis.');
  }
  const seen = new Set<number>();
  for (const t of gridAxes) {
    if (!Number.isInteger(t) || t < 0 || t >= inputShape.length) {
      throw new OptionError(
        `gridAxes [${gridAxes.join(', ')}] names tensor axis ${t}, but the model input ` +
          `[${inputShape.join(', ')}] has axes 0..${inputShape.length - 1}.`,
      );
    }
    if (seen.has(t)) {
      throw new OptionError(`gridAxes [${gridAxes.join(', ')}] names tensor axis ${t} twice.`);
    }
    seen.add(t);
  }
  if (spacing.length !== gridAxes.length) {
    throw new OptionError(
      `spacing has ${spacing.length} values but there are ${gridAxes.length} grid axes; give one spacing per grid axis.`,
    );
  }
  for (const s of spacing) {
    if (!Number.isFinite(s) || s <= 0) {
      throw new OptionError(
        `spacing [${spacing.join(', ')}] must hold positive finite step sizes.`,
      );
    }
  }
  const gridDims = gridAxes.map((t) => inputShape[t]);
  return {
    shape: [...inputShape],
    gridAxes: [...gridAxes],
    spacing: [...spacing],
    gridDims,
    sampleSize: product(inputShape),
    gridSize: product(gridDims),
  };
}

export function product(values: readonly number[]): number {
  let p = 1;
  for (const v of values) p *= v;
  return p;
}

/**
 * For each tensor axis, the step it makes through a grid-order map (grid axis 0 fastest);
 * 0 for broadcast axes. Lets model-layout loops read a grid-order map without division.
 */
export function gridStridesPerTensorAxis(layout: GridLayout): Int32Array {
  const strides = new Int32Array(layout.shape.length);
  let stride = 1;
  for (let a = 0; a < layout.gridAxes.length; a++) {
    strides[layout.gridAxes[a]] = stride;
    stride *= layout.gridDims[a];
  }
  return strides;
}
