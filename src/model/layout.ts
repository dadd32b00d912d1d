/**
 * Where the grid axes of our data sit in a model's input tensor, and the copies between the two
 * memory orders.
 *
 * Our memory order (what src/volume and the image readers hold):
 * - volumes: NIfTI order, x fastest: index = i + nx·(j + ny·k); one channel;
 * - images: planar [C][H][W], row-major: index = x + nx·(y + ny·c), x = column fastest.
 * In general: grid axis 0 (x) fastest, then y, (z,) then the channel plane.
 *
 * A model's sample tensor (batch excluded) is in C order (last axis fastest) with a layout
 * (NCDHW, NDHWC, NCHW, NHWC). Which grid axis each spatial tensor axis holds is the axis order:
 * - 'xyz': the first spatial axis is x, e.g. D=x, H=y, W=z — the nibabel/MONAI convention
 *   (array [x][y][z], z fastest in memory); the default for volumes;
 * - 'zyx': the first spatial axis is the slowest of our grid, e.g. D=z, H=y, W=x — the NIfTI
 *   on-disk order (x fastest). For images this is the usual row-major [H][W] = [y][x] and is
 *   the default there; 'xyz' on an image means a transposed [W][H] = [x][y] model.
 */
import { ModelError } from '../errors.js';

export type Layout = 'NCDHW' | 'NDHWC' | 'NCHW' | 'NHWC';
export type AxisOrder = 'xyz' | 'zyx';

export const LAYOUTS: readonly Layout[] = ['NCDHW', 'NDHWC', 'NCHW', 'NHWC'];

/** Where each grid axis and the channel axis sit in a model's sample tensor. */
export interface GridAxes {
  layout: Layout;
  axisOrder: AxisOrder;
  /** Sample shape (batch excluded) in the model's memory order. */
  sampleShape: readonly number[];
  /** tensorAxis[g]: index of the sample-tensor axis that holds grid axis g (0 = x, 1 = y, 2 = z). */
  tensorAxis: readonly number[];
  /** Size of each grid axis (x, y[, z]), as the model wants it. */
  gridDims: readonly number[];
  channelAxis: number;
  channels: number;
}

/** Number of grid (spatial) axes of a layout: 3 for volumes, 2 for images. */
export const spatialRank = (layout: Layout): number => (layout.length === 5 ? 3 : 2);

/** Volumes default to 'xyz' (nibabel/MONAI), images to 'zyx' (row-major [H][W]). */
export const defaultAxisOrder = (layout: Layout): AxisOrder =>
  spatialRank(layout) === 3 ? 'xyz' : 'zyx';

export function gridAxesOf(
  layout: Layout,
  axisOrder: AxisOrder,
  inputShape: readonly number[],
): GridAxes {
  const g = spatialRank(layout);
  if (inputShape.length !== g + 1)
    throw new ModelError(
      `layout ${layout} needs a sample of rank ${g + 1} (batch excluded) but the model input is [${inputShape}]`,
    );
  const channelsFirst = layout[1] === 'C';
  const channelAxis = channelsFirst ? 0 : g;
  const firstSpatial = channelsFirst ? 1 : 0;
  // Spatial tensor axes in order; 'xyz' puts x first, 'zyx' puts x last.
  const tensorAxis = Array.from({ length: g }, (_, a) =>
    axisOrder === 'xyz' ? firstSpatial + a : firstSpatial + g - 1 - a,
  );
  return {
    layout,
    axisOrder,
    sampleShape: [...inputShape],
    tensorAxis,
    gridDims: tensorAxis.map((t) => inputShape[t]),
    channelAxis,
    channels: inputShape[channelAxis],
  };
}

export const isChannelCount = (d: number) => d === 1 || d === 3;

/**
 * Guess the layout from a sample shape (batch excluded): rank 4 → NCDHW or NDHWC, rank 3 → NCHW
 * or NHWC, when exactly one end has a channel-like size (1 or 3).
 */
export function inferLayout(inputShape: readonly number[]): Layout {
  const rank = inputShape.length;
  if (rank !== 3 && rank !== 4)
    throw new ModelError(
      `cannot tell the layout of a model input of sample shape [${inputShape}]: glas3d takes images (rank 3: NCHW/NHWC) or volumes (rank 4: NCDHW/NDHWC), batch excluded`,
    );
  const first = isChannelCount(inputShape[0]);
  const last = isChannelCount(inputShape[rank - 1]);
  if (first !== last) return rank === 4 ? (first ? 'NCDHW' : 'NDHWC') : first ? 'NCHW' : 'NHWC';
  const options = rank === 4 ? 'NCDHW or NDHWC' : 'NCHW or NHWC';
  throw new ModelError(
    `cannot tell whether the channels of sample shape [${inputShape}] come first or last; pass --layout ${options}`,
  );
}

/** C-order strides of a shape. */
function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

const sameDims = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);

function checkFits(gridDims: readonly number[], channels: number, axes: GridAxes): void {
  if (spatialRank(axes.layout) === 3 && axes.channels !== 1)
    throw new ModelError(
      `the model wants ${axes.channels} channels per voxel (layout ${axes.layout}, sample [${axes.sampleShape}]) but a volume has 1`,
    );
  if (!sameDims(gridDims, axes.gridDims) || channels !== axes.channels)
    throw new ModelError(
      `the data (grid ${gridDims.join('×')}, ${channels} channel(s)) does not fit the model sample [${axes.sampleShape}] (${axes.layout}, axes ${axes.axisOrder}: grid ${axes.gridDims.join('×')}, ${axes.channels} channel(s))`,
    );
}

/**
 * Copy one sample from our memory order (grid axis 0 fastest, channel planes last) into the
 * model's. Writes into `out` at `outOffset` when given (to fill a batch in place), else returns
 * a new array.
 */
export function toModelTensor(
  gridData: Float32Array,
  gridDims: readonly number[],
  channels: number,
  axes: GridAxes,
  out?: Float32Array,
  outOffset = 0,
): Float32Array {
  checkFits(gridDims, channels, axes);
  const size = gridDims.reduce((a, b) => a * b, channels);
  if (gridData.length !== size)
    throw new ModelError(`grid data has ${gridData.length} values, expected ${size}`);
  const dst = out ?? new Float32Array(size);
  if (dst.length < outOffset + size)
    throw new ModelError(`output buffer too small: ${dst.length} < ${outOffset + size}`);
  permute(gridData, 0, dst, outOffset, gridDims, channels, axes, true);
  return dst;
}

/** The inverse of toModelTensor: one model-order sample back into our memory order. */
export function fromModelTensor(
  modelData: Float32Array,
  axes: GridAxes,
  out?: Float32Array,
  inOffset = 0,
): Float32Array {
  const size = axes.gridDims.reduce((a, b) => a * b, axes.channels);
  if (modelData.length < inOffset + size)
    throw new ModelError(`model data has ${modelData.length - inOffset} values, expected ${size}`);
  const dst = out ?? new Float32Array(size);
  permute(modelData, inOffset, dst, 0, axes.gridDims, axes.channels, axes, false);
  return dst;
}

/**
 * Walk our order sequentially (x fastest, then y, z, channel) and address the model order by
 * strides; `toModel` chooses the copy direction. 2D grids are handled as 3D with nz = 1.
 */
function permute(
  src: Float32Array,
  srcOffset: number,
  dst: Float32Array,
  dstOffset: number,
  gridDims: readonly number[],
  channels: number,
  axes: GridAxes,
  toModel: boolean,
): void {
  const strides = stridesOf(axes.sampleShape);
  const nx = gridDims[0];
  const ny = gridDims[1];
  const nz = gridDims.length === 3 ? gridDims[2] : 1;
  const sx = strides[axes.tensorAxis[0]];
  const sy = strides[axes.tensorAxis[1]];
  const sz = gridDims.length === 3 ? strides[axes.tensorAxis[2]] : 0;
  const sc = strides[axes.channelAxis];
  let ours = toModel ? srcOffset : dstOffset;
  const model = toModel ? dstOffset : srcOffset;
  if (sx === 1 && sy === nx && sz === nx * ny && sc === nx * ny * nz) {
    // Same order (e.g. NCDHW with 'zyx'): one contiguous copy.
    const size = nx * ny * nz * channels;
    dst.set(src.subarray(srcOffset, srcOffset + size), dstOffset);
    return;
  }
  for (let c = 0; c < channels; c++) {
    for (let z = 0; z < nz; z++) {
      for (let y = 0; y < ny; y++) {
        let m = model + c * sc + z * sz + y * sy;
        if (toModel) {
          for (let x = 0; x < nx; x++, m += sx) dst[m] = src[ours++];
        } else {
          for (let x = 0; x < nx; x++, m += sx) dst[ours++] = src[m];
        }
      }
    }
  }
}
