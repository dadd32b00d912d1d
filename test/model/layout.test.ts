import { describe, expect, it } from 'vitest';
import { ModelError } from '../../src/errors.js';
import {
  fromModelTensor,
  gridAxesOf,
  inferLayout,
  toModelTensor,
  type AxisOrder,
  type Layout,
} from '../../src/model/layout.js';

/** Deterministic test data without the code under test: a small LCG in [-1, 1). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
}
const randomArray = (n: number, seed: number) => Float32Array.from({ length: n }, lcg(seed));

describe('inferLayout', () => {
  it.each([
    [[1, 91, 109, 91], 'NCDHW'],
    [[91, 109, 91, 1], 'NDHWC'],
    [[3, 20, 20, 20], 'NCDHW'],
    [[3, 224, 224], 'NCHW'],
    [[224, 224, 3], 'NHWC'],
    [[1, 28, 28], 'NCHW'],
    [[28, 28, 1], 'NHWC'],
  ])('%j → %s', (shape, layout) => {
    expect(inferLayout(shape)).toBe(layout);
  });

  it.each([[[1, 91, 109, 1]], [[3, 10, 3]], [[2, 91, 109, 91]], [[64, 64, 64, 64]]])(
    '%j is ambiguous and asks for --layout',
    (shape) => {
      expect(() => inferLayout(shape)).toThrow(ModelError);
      expect(() => inferLayout(shape)).toThrow(/--layout/);
    },
  );

  it('refuses ranks that are neither images nor volumes', () => {
    expect(() => inferLayout([100])).toThrow(ModelError);
    expect(() => inferLayout([1, 2, 3, 4, 5])).toThrow(ModelError);
  });
});

describe('gridAxesOf', () => {
  it('maps x, y, z and the channel for each volume layout and axis order', () => {
    expect(gridAxesOf('NCDHW', 'xyz', [1, 5, 4, 3])).toMatchObject({
      tensorAxis: [1, 2, 3],
      gridDims: [5, 4, 3],
      channelAxis: 0,
      channels: 1,
    });
    expect(gridAxesOf('NCDHW', 'zyx', [1, 3, 4, 5])).toMatchObject({
      tensorAxis: [3, 2, 1],
      gridDims: [5, 4, 3],
      channelAxis: 0,
    });
    expect(gridAxesOf('NDHWC', 'xyz', [5, 4, 3, 1])).toMatchObject({
      tensorAxis: [0, 1, 2],
      channelAxis: 3,
    });
    expect(gridAxesOf('NDHWC', 'zyx', [3, 4, 5, 1])).toMatchObject({
      tensorAxis: [2, 1, 0],
      gridDims: [5, 4, 3],
    });
  });

  it('maps images row-major (x = column = W) under zyx', () => {
    expect(gridAxesOf('NCHW', 'zyx', [3, 4, 6])).toMatchObject({
      tensorAxis: [2, 1],
      gridDims: [6, 4],
      channelAxis: 0,
      channels: 3,
    });
    expect(gridAxesOf('NHWC', 'zyx', [4, 6, 3])).toMatchObject({
      tensorAxis: [1, 0],
      gridDims: [6, 4],
      channelAxis: 2,
    });
  });

  it('refuses a shape of the wrong rank for the layout', () => {
    expect(() => gridAxesOf('NCDHW', 'xyz', [3, 4, 6])).toThrow(ModelError);
  });
});

/**
 * The model-order index of grid point (x, y, z) in channel c, written out per layout by hand.
 * Our order: x fastest, then y, z, channel.
 */
function modelIndex(
  layout: Layout,
  axes: AxisOrder,
  dims: number[],
  channels: number,
  x: number,
  y: number,
  z: number,
  c: number,
): number {
  const [nx, ny, nz] = dims;
  const is3d = layout === 'NCDHW' || layout === 'NDHWC';
  // Spatial coordinates and sizes in tensor order.
  const p = is3d ? (axes === 'xyz' ? [x, y, z] : [z, y, x]) : axes === 'xyz' ? [x, y] : [y, x];
  const n = is3d
    ? axes === 'xyz'
      ? [nx, ny, nz]
      : [nz, ny, nx]
    : axes === 'xyz'
      ? [nx, ny]
      : [ny, nx];
  let spatial = 0;
  for (let a = 0; a < p.length; a++) spatial = spatial * n[a] + p[a];
  const count = n.reduce((s, d) => s * d, 1);
  return layout[1] === 'C' ? c * count + spatial : spatial * channels + c;
}

describe('toModelTensor / fromModelTensor', () => {
  const cases: [Layout, AxisOrder, number[], number][] = [
    ['NCDHW', 'xyz', [5, 4, 3], 1],
    ['NCDHW', 'zyx', [5, 4, 3], 1],
    ['NDHWC', 'xyz', [5, 4, 3], 1],
    ['NDHWC', 'zyx', [5, 4, 3], 1],
    ['NCHW', 'zyx', [6, 4], 3],
    ['NCHW', 'xyz', [6, 4], 3],
    ['NHWC', 'zyx', [6, 4], 3],
    ['NHWC', 'xyz', [6, 4], 1],
  ];

  it.each(cases)('%s %s grid %j with %i channel(s)', (layout, axes, dims, channels) => {
    const [nx, ny, nz = 1] = dims;
    const is3d = dims.length === 3;
    const spatialShape = is3d
      ? axes === 'xyz'
        ? [nx, ny, nz]
        : [nz, ny, nx]
      : axes === 'xyz'
        ? [nx, ny]
        : [ny, nx];
    const shape = layout[1] === 'C' ? [channels, ...spatialShape] : [...spatialShape, channels];
    const info = gridAxesOf(layout, axes, shape);
    expect(info.gridDims).toEqual(dims);

    const grid = randomArray(nx * ny * nz * channels, 7);
    const expected = new Float32Array(grid.length);
    let i = 0;
    for (let c = 0; c < channels; c++)
      for (let z = 0; z < nz; z++)
        for (let y = 0; y < ny; y++)
          for (let x = 0; x < nx; x++)
            expected[modelIndex(layout, axes, dims, channels, x, y, z, c)] = grid[i++];

    const model = toModelTensor(grid, dims, channels, info);
    expect(model).toEqual(expected);
    expect(fromModelTensor(model, info)).toEqual(grid);

    // Writing into a batch buffer at an offset, and reading back from it.
    const batch = new Float32Array(grid.length * 3).fill(NaN);
    toModelTensor(grid, dims, channels, info, batch, grid.length);
    expect(batch.subarray(grid.length, 2 * grid.length)).toEqual(expected);
    expect(Number.isNaN(batch[0]) && Number.isNaN(batch[2 * grid.length])).toBe(true);
    expect(fromModelTensor(batch, info, undefined, grid.length)).toEqual(grid);
  });

  it('refuses data that does not fit, and multi-channel models for a volume', () => {
    const info = gridAxesOf('NCDHW', 'xyz', [1, 5, 4, 3]);
    expect(() => toModelTensor(new Float32Array(60), [3, 4, 5], 1, info)).toThrow(ModelError);
    expect(() => toModelTensor(new Float32Array(59), [5, 4, 3], 1, info)).toThrow(ModelError);
    const rgbVolume = gridAxesOf('NCDHW', 'xyz', [3, 5, 4, 3]);
    expect(() => toModelTensor(new Float32Array(60), [5, 4, 3], 1, rgbVolume)).toThrow(
      /3 channels per voxel/,
    );
  });
});
