/**
 * What `explain` (library and CLI) and `glas3d run`'s subject preparation say about inputs that
 * cannot stand for one placed scan: a 4-D file of several volumes (refused alike), atlas regions
 * the volume does not hold (a warning naming them), a header with neither sform nor qform (its
 * position unknown: named as the cause), and the space code the maps are written with.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run-cli.js';
import { modelGrid, prepareSubject, SubjectError } from '../../src/cohort/template-space.js';
import { NiftiError } from '../../src/errors.js';
import { explain } from '../../src/explain/explain-volume.js';
import {
  MNI_GRIDS,
  readNifti,
  readVolume,
  spacingMm,
  writeNifti,
  writeVolume,
  type Volume,
} from '../../src/volume/index.js';
import {
  linearOracle,
  oracleWorld,
  parseCsv,
  regionWeights,
  type OracleWorld,
} from './oracle-fixtures.js';
import { rawNifti } from '../volume/fixtures.js';

let w: OracleWorld;
let dir: string;
let model: Uint8Array;
let modelPath: string;

beforeAll(async () => {
  w = await oracleWorld();
  dir = await mkdtemp(join(tmpdir(), 'glas3d-explain-input-'));
  model = linearOracle(w, regionWeights(w, { 37: 1, 42: 1 }));
  modelPath = join(dir, 'oracle.onnx');
  await writeFile(modelPath, model);
});

/** `v` as a 4-D NIfTI-1 file of `volumes` copies along dim 4, placed by its sform (code 4). */
async function write4d(path: string, v: Volume, volumes: number): Promise<void> {
  const one = new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength);
  const data = new Uint8Array(one.byteLength * volumes);
  for (let k = 0; k < volumes; k++) data.set(one, k * one.byteLength);
  await writeFile(
    path,
    rawNifti({
      dims: [...v.dims, volumes],
      datatypeCode: 16, // float32
      bitpix: 32,
      pixdim: [1, ...spacingMm(v), 1, 1, 1, 1],
      sformCode: 4,
      srow: v.affine.slice(0, 3),
      data,
    }),
  );
}

const explainCli = (volume: string, out: string, ...more: string[]) =>
  runCli([
    'explain',
    volume,
    '--model',
    modelPath,
    '--out',
    out,
    '--sigma',
    '10',
    '--baseline',
    'zero',
    '--quiet',
    ...more,
  ]);

/** A written map's sform and qform codes, e.g. "4/4". */
const mapCodes = async (path: string) => {
  const { sformCode, qformCode } = (await readNifti(path)).header;
  return `${sformCode}/${qformCode}`;
};

describe('a 4-D file', () => {
  it('with several volumes is refused by explain and the CLI, as glas3d run refuses it', async () => {
    const path = join(dir, 'sub-t2.nii');
    await write4d(path, w.volume, 2);
    const message = /sub-t2\.nii: a 4-D file with 2 volumes; .*fslroi in\.nii\.gz out\.nii\.gz 0 1/;
    await expect(explain(path, { model, baseline: 'zero', sigmaMm: [10] })).rejects.toThrow(
      NiftiError,
    );
    await expect(explain(await readVolume(path), { model, baseline: 'zero' })).rejects.toThrow(
      message,
    );
    const r = await explainCli(path, join(dir, 'out-4d'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    // The same check in run's subject preparation, with run's error class.
    const prepare = async () =>
      prepareSubject(await readVolume(path), path, modelGrid([91, 109, 91]), undefined);
    await expect(prepare()).rejects.toThrow(SubjectError);
    await expect(prepare()).rejects.toThrow(message);
  });
});

describe('atlas regions outside the volume', () => {
  it('are named in a warning (explanation.json and stderr), in a 4-D file of one volume; MNI codes are kept', async () => {
    // The brain's header origin moved 60 mm up: the atlas's top regions fall above the volume.
    const shifted = w.volume.affine.map((row, r) =>
      r === 2 ? [...row.slice(0, 3), row[3] + 60] : row,
    );
    const path = join(dir, 'sub-shift60.nii');
    await write4d(path, { ...w.volume, affine: shifted }, 1);
    const out = join(dir, 'out-shift60');
    const r = await explainCli(path, out);
    expect(r.code).toBe(0);
    const rows = parseCsv(await readFile(join(out, 'regions.csv'), 'utf8'));
    const missing = 116 - rows.length;
    expect(missing).toBeGreaterThan(5);
    const summary = JSON.parse(await readFile(join(out, 'explanation.json'), 'utf8'));
    const warning = (summary.warnings as string[]).find((x) => /have no voxel/.test(x));
    expect(warning).toMatch(
      new RegExp(
        `^${missing} of 116 regions of atlas aal have no voxel on the volume's 91×109×91 grid and are not explained \\(regions.csv ranks ${rows.length}\\): (\\w+ \\(\\d+\\), ){4}\\w+ \\(\\d+\\) and ${missing - 5} more \\(all in explanation.json, notExplained\\); all lie outside the volume's field of view`,
      ),
    );
    const named = [...warning!.matchAll(/(\w+) \((\d+)\)/g)].map((m) => m[1]);
    for (const name of named) expect(rows.some((row) => row.name === name)).toBe(false);
    // All of them, listed: the regions regions.csv lacks, and no other.
    const listed = summary.notExplained as { index: number; name: string }[];
    expect(listed).toHaveLength(missing);
    for (const { name } of listed) expect(rows.some((row) => row.name === name)).toBe(false);
    expect(r.stderr).toContain(warning);
    // An MNI input (codes 4) gives an MNI map, not "aligned anatomical" (2).
    expect(await mapCodes(join(out, 'saliency_sigma-10.nii.gz'))).toBe('4/4');
  });

  it('give no warning when the atlas fits; a map of a volume made in memory keeps code 2', async () => {
    const e = await explain(w.volume, { model, atlas: w.atlas, baseline: 'zero', sigmaMm: [10] });
    expect(e.warnings).toBeUndefined();
    expect(e.maps[0].saliency.xformCode).toBeUndefined();
    const path = join(dir, 'memory-map.nii.gz');
    await writeVolume(path, e.maps[0].saliency);
    expect(await mapCodes(path)).toBe('2/2');
  });
});

describe('a header with neither sform nor qform', () => {
  let path: string;
  beforeAll(async () => {
    path = join(dir, 'sub-noorient.nii');
    await writeNifti(path, { ...w.volume, xformCode: 0 });
  });

  it('explain names it as the cause (not "stored RAS") and writes the maps unplaced too', async () => {
    const out = join(dir, 'out-noorient');
    const r = await explainCli(path, out);
    expect(r.code).toBe(0);
    const summary = JSON.parse(await readFile(join(out, 'explanation.json'), 'utf8'));
    const warnings = summary.warnings as string[];
    expect(warnings[0]).toMatch(
      /sub-noorient\.nii: the header has neither an sform nor a qform \(sform_code = qform_code = 0\), so where the image lies in space is unknown.*fslcpgeom REFERENCE\.nii\.gz FILE\.nii\.gz.*\(\d+ of 116 overlap the volume\)/,
    );
    expect(warnings.some((x) => /stored RAS/.test(x))).toBe(false);
    expect(r.stderr).toContain(warnings[0]);
    expect(await mapCodes(join(out, 'saliency_sigma-10.nii.gz'))).toBe('0/0');
  });

  it("is run's error reason for the subject, space check or not", async () => {
    const volume = await readVolume(path);
    const grid = modelGrid([91, 109, 91]);
    for (const checkSpace of [true, false]) {
      expect(() => prepareSubject(volume, path, grid, undefined, { checkSpace })).toThrow(
        /sub-noorient\.nii: the header has neither an sform nor a qform.*fslcpgeom.*It cannot be put on the model grid\./,
      );
    }
    expect(() => modelGrid([91, 109, 91], volume)).toThrow(
      /--grid the reference: the header has neither/,
    );
  });
});

describe("run's maps are in the grid's space", () => {
  it('a standard grid is MNI (code 4); a subject with another code takes it, resampled or not', async () => {
    const grid = modelGrid([91, 109, 91]);
    expect(grid.xformCode).toBe(4);
    expect(grid.affine).toEqual(MNI_GRIDS.mni2mm.affine);
    const onGrid = join(dir, 'sub-aligned.nii.gz');
    await writeVolume(onGrid, { ...w.volume, affine: MNI_GRIDS.mni2mm.affine }, { xformCode: 2 });
    const a = prepareSubject(await readVolume(onGrid), onGrid, grid, undefined);
    expect(a.resampled).toBe(false);
    expect(a.volume.xformCode).toBe(4);
    const moved = {
      ...w.volume,
      affine: w.volume.affine.map((row) => [...row.slice(0, 3), row[3] + 1]),
    };
    const b = prepareSubject({ ...moved, xformCode: 1 }, 'moved', grid, undefined);
    expect(b.resampled).toBe(true);
    expect(b.volume.xformCode).toBe(4);
    // --grid REF: the reference's own code.
    const ref = modelGrid([91, 109, 91], { ...MNI_GRIDS.mni2mm, xformCode: 5 });
    expect(
      prepareSubject({ ...moved, xformCode: 1 }, 'moved', ref, undefined).volume.xformCode,
    ).toBe(5);
  });
});
