/**
 * The benches' real inputs, the same for bench:engine and bench:gpu: Colin27 for the 3-D model,
 * a photo for the 2-D one.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { aalDir, atlasOnGrid, loadAal } from '../src/atlas/index.js';
import type { GlasInput, GlasOptions } from '../src/glas3d/index.js';
import { toModelTensor, type GridAxes } from '../src/model/index.js';
import { MNI_GRIDS, readVolume, resample, type Grid } from '../src/volume/index.js';

export interface Colin27Subject {
  /** MNI 2 mm (91×109×91). */
  grid: Grid;
  /** The 116 AAL search points (voxels). */
  points: number[][];
  /** The GLAS input for a model whose grid axes are `axes`. */
  input(axes: GridAxes): GlasInput;
  /** Fusion at the AAL points, σ 10 mm. */
  options: GlasOptions;
}

/**
 * Colin27 (AAL's ch2bet) resampled to MNI 2 mm and scaled to a maximum of 1, or a line saying
 * why the 3-D case is skipped.
 */
export async function colin27Subject(): Promise<Colin27Subject | string> {
  const template = join(aalDir(), 'ch2bet.nii.gz');
  if (!existsSync(template)) return `3-D case skipped: ${template} is missing.`;
  const grid = MNI_GRIDS.mni2mm;
  const volume = resample(await readVolume(template), grid, 'linear');
  let max = 0;
  for (const v of volume.data) if (v > max) max = v;
  const gridData = Float32Array.from(volume.data, (v) => v / max);
  const atlas = atlasOnGrid(await loadAal(), grid);
  const points = atlas.regions.map((r) => [...r.searchPointVoxel]);
  return {
    grid,
    points,
    input: (axes) => ({
      sample: toModelTensor(gridData, grid.dims, 1, axes),
      baseline: 0,
      gridAxes: axes.tensorAxis,
      spacing: [2, 2, 2],
    }),
    options: { points, sigmas: [{ light: 10, shadow: 10, spatial: 10 }], mode: 'fusion' },
  };
}

/**
 * A photo as the benches' MobileNetV2 takes it: short side 256, centre crop 224, /255,
 * ImageNet mean/std, planar RGB (x fastest). sharp is loaded on the first call, so a bundle
 * that only reads tensors preprocessed beforehand (bench/gpu.ts on the GPU server) runs
 * without it.
 */
export async function imagenetTensor(path: string): Promise<Float32Array> {
  const sharp = (await import('sharp')).default;
  const resized = await sharp(path)
    .removeAlpha()
    .resize({ width: 256, height: 256, fit: 'outside' })
    .toBuffer({ resolveWithObject: true });
  const { data } = await sharp(resized.data)
    .extract({
      left: Math.floor((resized.info.width - 224) / 2),
      top: Math.floor((resized.info.height - 224) / 2),
      width: 224,
      height: 224,
    })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const mean = [0.485, 0.456, 0.406];
  const std = [0.229, 0.224, 0.225];
  const n = 224 * 224;
  const planar = new Float32Array(3 * n);
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < 3; c++) planar[c * n + p] = (data[p * 3 + c] / 255 - mean[c]) / std[c];
  }
  return planar;
}
