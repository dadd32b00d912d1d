/** `glas3d info FILE`: what a NIfTI file holds and where it sits in space. */
import type { Command } from 'commander';
import { readVolume, orientationOf, spacingMm, type LoadedVolume } from '../../volume/index.js';
import { fixed, formatTable, num } from '../format.js';
import type { CliIo } from '../io.js';

/** NIFTI_XFORM_* codes. */
const XFORM_NAMES: Record<number, string> = {
  0: 'unknown',
  1: 'scanner_anat',
  2: 'aligned_anat',
  3: 'talairach',
  4: 'mni_152',
  5: 'template_other',
};

export interface VolumeInfo {
  path: string;
  niftiVersion: number;
  dims: number[];
  volumes: number;
  spacingMm: number[];
  datatype: string;
  sformCode: number;
  qformCode: number;
  affineSource: string;
  affine: number[][];
  orientation: string;
  sclSlope: number;
  sclInter: number;
  description: string;
  /** Of the first volume, scaling applied, NaN/Inf counted as 0. */
  intensity: { min: number; max: number; mean: number };
  nonFiniteVoxels: number;
}

export function volumeInfo(v: LoadedVolume): VolumeInfo {
  const h = v.source.header;
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (let i = 0; i < v.data.length; i++) {
    const x = v.data[i];
    if (x < min) min = x;
    if (x > max) max = x;
    sum += x;
  }
  return {
    path: v.source.path,
    niftiVersion: h.version,
    dims: [...v.dims],
    volumes: v.source.volumes,
    spacingMm: spacingMm(v),
    datatype: h.datatype,
    sformCode: h.sformCode,
    qformCode: h.qformCode,
    affineSource: v.source.affineSource,
    affine: v.affine.map((r) => [...r]),
    orientation: orientationOf(v),
    sclSlope: h.sclSlope,
    sclInter: h.sclInter,
    description: h.description,
    intensity: { min, max, mean: sum / v.data.length },
    nonFiniteVoxels: v.source.nonFiniteVoxels,
  };
}

function xform(code: number): string {
  return `${code} (${XFORM_NAMES[code] ?? 'invalid'})`;
}

export function formatInfo(info: VolumeInfo): string {
  const affineRows = formatTable(
    ['', '', '', ''],
    info.affine.slice(0, 3).map((r) => r.map((x) => num(x))),
    ['right', 'right', 'right', 'right'],
  )
    .split('\n')
    .slice(1, 4);
  const nonFinite =
    info.nonFiniteVoxels > 0
      ? `${info.nonFiniteVoxels} (NaN/Inf; read as 0 for the range above)`
      : '0';
  const vols = info.volumes === 1 ? '1' : `${info.volumes} (range of the first only)`;
  const rows: [string, string][] = [
    ['file', info.path],
    ['format', `NIfTI-${info.niftiVersion}`],
    ['dims', info.dims.join(' × ')],
    ['volumes', vols],
    ['spacing', `${info.spacingMm.map((s) => num(s)).join(' × ')} mm`],
    ['datatype', info.datatype],
    ['sform_code', xform(info.sformCode)],
    ['qform_code', xform(info.qformCode)],
    ['affine', `${info.affineSource} (voxel → mm)`],
    ...affineRows.map((r): [string, string] => ['', r]),
    ['orientation', info.orientation],
    [
      'intensity',
      `min ${num(info.intensity.min)}  max ${num(info.intensity.max)}  mean ${fixed(info.intensity.mean, 3)}`,
    ],
    ['non-finite', nonFinite],
  ];
  if (info.description) rows.push(['description', info.description]);
  return rows.map(([k, v]) => `${k.padEnd(12)} ${v}`.trimEnd()).join('\n') + '\n';
}

export function register(program: Command, io: CliIo): void {
  program
    .command('info')
    .description('show the geometry, datatype and intensity range of a NIfTI file')
    .argument('<file>', 'a .nii or .nii.gz file')
    .option('--json', 'print JSON instead of text')
    .action(async (file: string, opts: { json?: boolean }) => {
      const volume = await readVolume(file, { nonFinite: 'zero' });
      const info = volumeInfo(volume);
      io.out(opts.json ? JSON.stringify(info, null, 2) + '\n' : formatInfo(info));
    });
}
