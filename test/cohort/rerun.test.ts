/**
 * Reruns and odd inputs of `glas3d run` that once gave silently wrong results with exit 0: a
 * changed scan under an old id, --out inside --cohort, 4-D and constant files, BIDS sessions,
 * and a rerun with other settings cut short.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run-cli.js';
import { runCohort, sha256File, type RunEvent } from '../../src/cohort/run.js';
import { Glas3dError } from '../../src/errors.js';
import { MNI_GRIDS, readVolume, writeVolume, type Volume } from '../../src/volume/index.js';
import { modelGrid } from '../../src/cohort/template-space.js';
import { buildLinearOracle, GraphBuilder } from '../../src/model/index.js';
import { oracleWorld, parseCsv, regionWeights } from '../explain/oracle-fixtures.js';
import { makeCohort, TARGETS, type CohortFixture } from './cohort-fixtures.js';

let fx: CohortFixture;
let dirCount = 0;

beforeAll(async () => {
  // sub-01 and sub-03 on the model grid, sub-02 shifted (resampled).
  fx = await makeCohort(await mkdtemp(join(tmpdir(), 'glas3d-rerun-')), 3, 0);
}, 120_000);

/** A fresh folder holding copies of the fixture's scans under the given names. */
async function cohortOf(files: Record<string, string>): Promise<string> {
  const dir = join(fx.dir, `cohort-${++dirCount}`);
  for (const [name, from] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await copyFile(join(fx.cohort, from), join(dir, name));
  }
  return dir;
}

const run = (cohort: string, out: string, more: Partial<Parameters<typeof runCohort>[0]> = {}) =>
  runCohort({ cohort, out, model: fx.model, baseline: 'zero', ...more });

/** `glas3d run` on a folder (zero baseline, quiet). */
const cli = (cohort: string, out: string, model = fx.model) =>
  runCli([
    'run',
    '--cohort',
    cohort,
    '--out',
    out,
    '--model',
    model,
    '--baseline',
    'zero',
    '--quiet',
  ]);

const sha256 = async (path: string) =>
  createHash('sha256')
    .update(await readFile(path))
    .digest('hex');

const sidecar = async (out: string, id: string, group = '') =>
  JSON.parse(await readFile(join(out, group, `sub-${id}`, `sub-${id}_desc-glas.json`), 'utf8'));

const errorRows = async (out: string) =>
  (await readFile(join(out, 'errors.tsv'), 'utf8'))
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split('\t'));

describe('a rerun reuses a subject only for the same, unchanged scan', () => {
  it('a scan replaced under the same name is explained again; an old sidecar without a hash too', async () => {
    const cohort = await cohortOf({
      'sub-a.nii.gz': 'sub-01.nii.gz',
      'sub-b.nii.gz': 'sub-03.nii.gz',
    });
    const control = await cohortOf({ 'sub-c.nii.gz': 'sub-01.nii.gz' });
    const out = join(fx.dir, 'reuse-out');
    await run(cohort, out, { control });
    const first = await sidecar(out, 'a');
    expect(first.sourceSha256).toBe(await sha256(join(cohort, 'sub-a.nii.gz')));

    // sub-a now holds another scan (sub-02's); sub-b's old sidecar predates hashes.
    await copyFile(join(fx.cohort, 'sub-02.nii.gz'), join(cohort, 'sub-a.nii.gz'));
    const b = await sidecar(out, 'b');
    delete b.sourceSha256;
    await writeFile(join(out, 'sub-b', 'sub-b_desc-glas.json'), JSON.stringify(b));
    // The control scan is re-registered in place: same name, other bytes.
    await copyFile(join(fx.cohort, 'sub-03.nii.gz'), join(control, 'sub-c.nii.gz'));

    const again = await run(cohort, out, { control });
    expect(again.skipped).toBe(0);
    expect(again.explained).toBe(3);
    const redone = await sidecar(out, 'a');
    expect(redone.sourceSha256).toBe(await sha256(join(fx.cohort, 'sub-02.nii.gz')));
    expect(redone.resampled).toBe(true); // sub-02 is the shifted scan; sub-01 was on the grid
    expect(first.resampled).toBe(false);
    expect((await sidecar(out, 'c', 'control')).sourceSha256).toBe(
      await sha256(join(fx.cohort, 'sub-03.nii.gz')),
    );

    // Nothing changed now: all three are kept.
    const third = await run(cohort, out, { control });
    expect([third.skipped, third.explained]).toEqual([3, 0]);
  });
});

describe('a finished subject whose map was damaged on disk', () => {
  it('every rerun fails with the fix (delete its folder); following it gives the full results', async () => {
    const cohort = await cohortOf({
      'sub-a.nii.gz': 'sub-01.nii.gz',
      'sub-b.nii.gz': 'sub-03.nii.gz',
    });
    const out = join(fx.dir, 'damaged-out');
    expect((await cli(cohort, out)).code).toBe(0);
    const map = join(
      out,
      'sub-a',
      readdirSync(join(out, 'sub-a')).find((f) => f.endsWith('_saliency.nii.gz'))!,
    );
    const bytes = await readFile(map);
    await writeFile(map, bytes.subarray(0, bytes.length >> 1));
    const r = await cli(cohort, out);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /truncated.*damaged or gone: delete .*sub-a and rerun glas3d run with the same --out/,
    );
    await rm(join(out, 'sub-a'), { recursive: true });
    const fixed = await cli(cohort, out);
    expect(fixed.code).toBe(0);
    expect(Number(parseCsv(await readFile(join(out, 'regions.csv'), 'utf8'))[0].n_subjects)).toBe(
      2,
    );
  });
});

describe('a model whose answer depends on the rest of the batch', () => {
  it('stops the run at once with the fix, instead of failing every subject alike', async () => {
    const w = await oracleWorld();
    const k = w.volume.data.length;
    const g = new GraphBuilder('global_max');
    const x = g.input('input', ['N', 1, ...w.volume.dims]);
    const scaled = g.node('Div', [x, g.node('ReduceMax', [x], { keepdims: 1 })]);
    const flat = g.node('Flatten', [scaled], { axis: 1 });
    const z = g.node('MatMul', [flat, g.floats('W', [k, 1], regionWeights(w, { 37: 1 }))]);
    g.node('Mul', [z, g.floats('pick1', [1, 2], [0, 1])], {}, ['output']);
    g.output('output', ['N', 2]);
    const model = join(fx.dir, 'global-max.onnx');
    await writeFile(model, g.toBytes());
    const cohort = await cohortOf({
      'sub-a.nii.gz': 'sub-01.nii.gz',
      'sub-b.nii.gz': 'sub-03.nii.gz',
    });
    const out = join(fx.dir, 'batch-out');
    const r = await cli(cohort, out, model);
    expect(r.code).toBe(1);
    expect(r.stderr.match(/depends on the other samples in the batch/g)).toHaveLength(1);
    expect(r.stderr).toMatch(/Use --batch 1/);
    expect(existsSync(join(out, 'sub-b'))).toBe(false);
  });
});

describe('--out inside --cohort', () => {
  it("a rerun leaves glas3d's own maps out of the cohort and says so", async () => {
    const cohort = await cohortOf({
      'sub-a.nii.gz': 'sub-01.nii.gz',
      'sub-b.nii.gz': 'sub-03.nii.gz',
    });
    const out = join(cohort, 'results');
    await run(cohort, out);
    const events: RunEvent[] = [];
    const again = await run(cohort, out, { onEvent: (e) => events.push(e) });
    expect([again.skipped, again.explained, again.failed.length]).toEqual([2, 0, 0]);
    expect(again.regions[0].n).toBe(2);
    const notes = events.filter((e) => e.kind === 'note').map((e) => (e as { text: string }).text);
    expect(notes.filter((t) => /left out of --cohort/.test(t))).toHaveLength(1);
    await expect(run(cohort, cohort)).rejects.toThrow(/--cohort .* is the --out folder/);
  });

  it("another glas3d results folder inside (a shard's, an earlier run's) is left out too", async () => {
    const cohort = await cohortOf({
      'sub-a.nii.gz': 'sub-01.nii.gz',
      'sub-b.nii.gz': 'sub-03.nii.gz',
    });
    await run(cohort, join(cohort, 'shard-1'), { shard: { index: 1, count: 2 } });
    const events: RunEvent[] = [];
    const second = await run(cohort, join(cohort, 'shard-2'), {
      shard: { index: 2, count: 2 },
      onEvent: (e) => events.push(e),
    });
    // shard-1's map of sub-a is no subject: the split stays a | b.
    expect([second.explained, second.failed.length]).toEqual([1, 0]);
    expect(existsSync(join(cohort, 'shard-2', 'sub-b'))).toBe(true);
    const notes = events.filter((e) => e.kind === 'note').map((e) => (e as { text: string }).text);
    expect(notes.some((t) => /of glas3d's own results .* left out of --cohort/.test(t))).toBe(true);
    // A results folder given as the cohort is named as such.
    await expect(run(join(cohort, 'shard-1'), join(fx.dir, 'from-results'))).rejects.toThrow(
      /shard-1 is a glas3d results folder \(it holds glas3d's run\.json\), not a folder of scans/,
    );
  });
});

/** A NIfTI-1 file (.nii) holding `volumes` copies of `v` as a 4-D image (dim[0] = 4). */
async function write4d(path: string, v: Volume, volumes: number): Promise<void> {
  const three = join(fx.dir, `3d-${++dirCount}.nii`);
  await writeVolume(three, v);
  const bytes = await readFile(three);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const voxOffset = view.getFloat32(108, true);
  view.setInt16(40, 4, true); // dim[0]
  view.setInt16(48, volumes, true); // dim[4]
  const body = bytes.subarray(voxOffset);
  await writeFile(
    path,
    Buffer.concat([bytes.subarray(0, voxOffset), ...Array.from({ length: volumes }, () => body)]),
  );
}

describe('files that are not one usable scan', () => {
  it('a 4-D file of several volumes and constant images fail as subjects; one volume in 4-D is fine', async () => {
    const w = await oracleWorld();
    const dir = join(fx.dir, 'odd-files');
    await mkdir(dir, { recursive: true });
    await write4d(join(dir, 'sub-fourd.nii'), w.volume, 2);
    await write4d(join(dir, 'sub-single.nii'), w.volume, 1);
    const fill = (x: number) => ({
      ...w.volume,
      data: new Float32Array(w.volume.data.length).fill(x),
    });
    await writeVolume(join(dir, 'sub-zero.nii.gz'), fill(0));
    await writeVolume(join(dir, 'sub-flat.nii.gz'), fill(250));
    const out = join(fx.dir, 'odd-out');
    const r = await cli(dir, out);
    expect(r.code).toBe(1);
    const errors = await errorRows(out);
    const reason = (id: string) => errors.find((e) => e[1] === `sub-${id}`)?.[3] ?? '';
    expect(errors.map((e) => e[1]).sort()).toEqual(['sub-flat', 'sub-fourd', 'sub-zero']);
    expect(reason('fourd')).toMatch(/sub-fourd\.nii: a 4-D file with 2 volumes.*fslroi/);
    expect(reason('zero')).toMatch(/every voxel is 0/);
    expect(reason('flat')).toMatch(/every voxel is 250/);
    const rows = parseCsv(await readFile(join(out, 'regions.csv'), 'utf8'));
    expect(Number(rows[0].n_subjects)).toBe(1); // sub-single
    expect([Number(rows[0].index), Number(rows[1].index)].sort()).toEqual(TARGETS);
  });

  it('every cohort subject failed, a control finished: says so (not "one shard"), exit 1', async () => {
    const w = await oracleWorld();
    const dir = join(fx.dir, 'all-failed', 'ad');
    await mkdir(dir, { recursive: true });
    await writeVolume(join(dir, 'sub-const.nii.gz'), {
      ...w.volume,
      data: new Float32Array(w.volume.data.length).fill(7),
    });
    const control = await cohortOf({ 'sub-c.nii.gz': 'sub-01.nii.gz' });
    const out = join(fx.dir, 'all-failed-out');
    const r = await runCli([
      'run',
      '--cohort',
      dir,
      '--control',
      control,
      '--out',
      out,
      '--model',
      fx.model,
      '--baseline',
      'zero',
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/no cohort subject finished, so no ranking and no cohort maps/);
    expect(r.stdout).not.toMatch(/shard/);
    expect((await errorRows(out)).map((e) => e[1])).toEqual(['sub-const']);
  });
});

describe('BIDS with sessions', () => {
  it('finds a T1w under ses-*/anat; a listed participant without one is an error, not dropped', async () => {
    const dir = await cohortOf({
      'sub-01/ses-1/anat/sub-01_ses-1_T1w.nii.gz': 'sub-01.nii.gz',
      'sub-03/anat/sub-03_T1w.nii.gz': 'sub-03.nii.gz',
    });
    await writeFile(join(dir, 'dataset_description.json'), '{"Name":"x","BIDSVersion":"1.9.0"}');
    await writeFile(join(dir, 'participants.tsv'), 'participant_id\nsub-01\nsub-02\nsub-03\n');
    const out = join(fx.dir, 'bids-out');
    const r = await cli(dir, out);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/1 subject\(s\) failed/);
    const errors = await errorRows(out);
    expect(errors).toHaveLength(1);
    expect(errors[0][1]).toBe('sub-02');
    expect(errors[0][3]).toMatch(/sub-02 is in participants\.tsv but has no T1w/);
    expect((await sidecar(out, '01')).source).toBe(
      resolve(dir, 'sub-01/ses-1/anat/sub-01_ses-1_T1w.nii.gz'),
    );
    expect(existsSync(join(out, 'sub-03', 'sub-03_desc-glas.json'))).toBe(true);
  });
});

describe('a rerun with other settings, cut short', () => {
  it('leaves no cohort outputs of the old settings beside the new run.json', async () => {
    const cohort = await cohortOf({ 'sub-a.nii.gz': 'sub-01.nii.gz' });
    const out = join(fx.dir, 'resettings-out');
    await run(cohort, out, { sigmaMm: [5] });
    const cohortFiles = () =>
      readdirSync(out).filter((f) => /^(regions\.csv|errors\.tsv|cohort_desc)/.test(f));
    expect(cohortFiles().sort()).toEqual([
      'cohort_desc-glas_sigma-5_saliency.nii.gz',
      'errors.tsv',
      'regions.csv',
    ]);
    // Interrupted as the first subject starts.
    const interrupted = run(cohort, out, {
      sigmaMm: [10],
      onEvent: (e) => {
        if (e.kind === 'subject') throw new Error('interrupted');
      },
    });
    await expect(interrupted).rejects.toThrow('interrupted');
    expect(JSON.parse(await readFile(join(out, 'run.json'), 'utf8')).sigmaMm).toEqual([10]);
    expect(cohortFiles()).toEqual([]);
  });
});

describe('a scan that goes away', () => {
  it('its hash fails in words, as a subject error, not as a bug', async () => {
    const e = await sha256File(join(fx.dir, 'absent.nii.gz')).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(Glas3dError);
    expect(String(e)).toMatch(
      /absent\.nii\.gz: cannot read the file \(no such file: moved or deleted\?\)/,
    );
  });
});

describe('where a run ran', () => {
  it('run.json and each sidecar record the device and perturbation site; another site keeps the subjects', async () => {
    const cohort = await cohortOf({ 'sub-a.nii.gz': 'sub-01.nii.gz' });
    const out = join(fx.dir, 'where-out');
    await run(cohort, out, { perturbation: 'host' });
    const runJson = async () => JSON.parse(await readFile(join(out, 'run.json'), 'utf8'));
    expect(await runJson()).toMatchObject({ device: 'cpu', perturbation: 'host' });
    expect((await sidecar(out, 'a')).parameters).toMatchObject({ perturbation: 'host' });
    // Maps on the MNI grid say so (NIfTI code 4, as AFNI and FSL read it): the subject's and the cohort's.
    const mapOf = (dir: string) =>
      join(
        dir,
        readdirSync(dir).find((f) => f.endsWith('_saliency.nii.gz'))!,
      );
    expect((await readVolume(mapOf(join(out, 'sub-a')))).xformCode).toBe(4);
    expect((await readVolume(mapOf(out))).xformCode).toBe(4);

    // Copies made in the graph give the same results to rounding: the subject is kept, and its
    // sidecar still says where it was explained.
    const again = await run(cohort, out, { perturbation: 'device' });
    expect([again.skipped, again.explained]).toEqual([1, 0]);
    expect(await runJson()).toMatchObject({ device: 'cpu', perturbation: 'device' });
    expect((await sidecar(out, 'a')).parameters).toMatchObject({ perturbation: 'host' });

    // Another seed redoes the cohort statistics only, not the subjects.
    const reseeded = await run(cohort, out, { perturbation: 'device', seed: 7 });
    expect([reseeded.skipped, reseeded.explained]).toEqual([1, 0]);
    expect(await runJson()).toMatchObject({ seed: 7 });
  });
});

describe('a model grid smaller than the atlas (--grid)', () => {
  it('the regions it loses are named once for the run, and not ranked', async () => {
    const w = await oracleWorld();
    // The middle 45×54×45 of the MNI 2 mm grid: the poles and the cerebellum fall outside.
    const dims: Volume['dims'] = [45, 54, 45];
    const affine = w.volume.affine.map((row) => [
      row[0],
      row[1],
      row[2],
      row[3] + row[0] * 23 + row[1] * 27 + row[2] * 23,
    ]) as Volume['affine'];
    const grid = join(fx.dir, 'grid-small.nii.gz');
    await writeVolume(grid, { dims, affine, data: new Float32Array(45 * 54 * 45) });
    const model = join(fx.dir, 'small-oracle.onnx');
    const n = 45 * 54 * 45;
    await writeFile(
      model,
      buildLinearOracle({
        inputShape: [1, 45, 54, 45],
        weights: new Float32Array(n).fill(1 / n),
        scale: 1,
        bias: 0,
        output: 'probabilities',
      }),
    );
    const cohort = await cohortOf({ 'sub-a.nii.gz': 'sub-01.nii.gz' });
    const events: RunEvent[] = [];
    const summary = await runCohort({
      cohort,
      out: join(fx.dir, 'small-grid-out'),
      model,
      grid,
      baseline: 'zero',
      checkSpace: false,
      onEvent: (e) => events.push(e),
    });
    const notes = events.flatMap((e) => (e.kind === 'note' ? [e.text] : []));
    const lost = notes.filter((t) =>
      /regions of atlas aal have no voxel on the volume's 45×54×45 grid/.test(t),
    );
    expect(lost).toHaveLength(1);
    const missing = Number(/^(\d+) of 116/.exec(lost[0])![1]);
    expect(missing).toBeGreaterThan(0);
    // Ranked: the regions on the grid only (a lost one would read as a score of 0), in merge too.
    expect(summary.regions).toHaveLength(116 - missing);
    const merged = await runCli([
      'merge',
      join(fx.dir, 'small-grid-out'),
      '--out',
      join(fx.dir, 'small-grid-m'),
    ]);
    // (This model is blind to the perturbations: flat, exit 1; the table is what is compared.)
    expect(merged.stderr).not.toMatch(/bug/);
    expect(await readFile(join(fx.dir, 'small-grid-m', 'regions.csv'), 'utf8')).toBe(
      await readFile(join(fx.dir, 'small-grid-out', 'regions.csv'), 'utf8'),
    );
  });
});

describe('--grid records the geometry, never the voxels', () => {
  it('run.json and sidecars stay small; another file of the same geometry keeps the subjects', async () => {
    const cohort = await cohortOf({ 'sub-a.nii.gz': 'sub-01.nii.gz' });
    // Two references on the model grid (same dims, affine and code), different voxels.
    const gridA = join(fx.cohort, 'sub-01.nii.gz');
    const gridB = join(fx.cohort, 'sub-03.nii.gz');
    const out = join(fx.dir, 'grid-geometry-out');
    const first = await run(cohort, out, { grid: gridA });
    expect(first.explained).toBe(1);
    const runText = await readFile(join(out, 'run.json'), 'utf8');
    const sideText = await readFile(join(out, 'sub-a', 'sub-a_desc-glas.json'), 'utf8');
    // Before the fix: 17 MB and 19 MB of voxels (grid.data an object of 902,629 keys).
    expect(runText.length).toBeLessThan(50_000);
    expect(sideText.length).toBeLessThan(50_000);
    const settings = JSON.parse(runText);
    expect(Object.keys(settings.grid).sort()).toEqual(['affine', 'dims', 'xformCode']);
    expect(settings.grid.dims).toEqual([91, 109, 91]);
    expect(settings.gridFile).toBe(resolve(gridA));
    expect(Object.keys(JSON.parse(sideText).parameters.grid).sort()).toEqual([
      'affine',
      'dims',
      'xformCode',
    ]);
    const again = await run(cohort, out, { grid: gridB });
    expect([again.skipped, again.explained]).toEqual([1, 0]);
    expect(JSON.parse(await readFile(join(out, 'run.json'), 'utf8')).gridFile).toBe(resolve(gridB));
  });
});

describe('a --grid on another grid than the model takes', () => {
  it('is refused naming the --grid file, the model and the fix', () => {
    const model = MNI_GRIDS.mni2mm.dims; // the model's grid
    const reference = MNI_GRIDS[Object.keys(MNI_GRIDS).find((k) => k !== 'mni2mm')!];
    expect(() => modelGrid(model, reference, { grid: 'ref.nii.gz', model: 'm.onnx' })).toThrow(
      `--grid ref.nii.gz is ${reference.dims.join('×')} but the model m.onnx takes 91×109×91: give a --grid volume on the model's 91×109×91 grid.`,
    );
    expect(modelGrid(model, MNI_GRIDS.mni2mm).dims).toEqual([91, 109, 91]);
  });
});

describe('the same scan in --cohort and --control', () => {
  async function bidsWithDiagnosis(): Promise<string> {
    const dir = await cohortOf({
      'sub-01/anat/sub-01_T1w.nii.gz': 'sub-01.nii.gz',
      'sub-02/anat/sub-02_T1w.nii.gz': 'sub-02.nii.gz',
      'sub-03/anat/sub-03_T1w.nii.gz': 'sub-03.nii.gz',
    });
    await writeFile(join(dir, 'dataset_description.json'), '{"Name":"x","BIDSVersion":"1.9.0"}');
    await writeFile(
      join(dir, 'participants.tsv'),
      'participant_id\tdiagnosis\nsub-01\tAD\nsub-02\tCN\nsub-03\tCN\n',
    );
    return dir;
  }
  // The probe's command: one BIDS folder as both, --group picking the AD participants.
  const flags = (dir: string, out: string, ...more: string[]) =>
    ['run', '--cohort', dir, '--control', dir, '--out', out, '--model', fx.model]
      .concat('--baseline zero --group-column diagnosis --group AD'.split(' '))
      .concat(more);

  it('--group with the same BIDS folder as --control is refused, naming the scan and --control-group', async () => {
    const dir = await bidsWithDiagnosis();
    const out = join(fx.dir, 'shared-out');
    const r = await runCli(flags(dir, out));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/1 scan\(s\) are in both --cohort and --control/);
    expect(r.stderr).toContain(resolve(dir, 'sub-01/anat/sub-01_T1w.nii.gz'));
    expect(r.stderr).toMatch(/--control-group/);
    expect(existsSync(join(out, 'sub-01'))).toBe(false);
  });

  it('a plain folder given as both is refused too', async () => {
    const dir = await cohortOf({ 'sub-a.nii.gz': 'sub-01.nii.gz' });
    await expect(run(dir, join(fx.dir, 'shared-plain-out'), { control: dir })).rejects.toThrow(
      /in both --cohort and --control .*point --control at other scans/,
    );
  });

  it('--control-group picks the control participants by the same column', async () => {
    const dir = await bidsWithDiagnosis();
    const out = join(fx.dir, 'control-group-out');
    const r = await runCli(flags(dir, out, '--control-group', 'CN'));
    expect(r.stderr).not.toMatch(/in both|bug/);
    expect(existsSync(join(out, 'sub-01', 'sub-01_desc-glas.json'))).toBe(true);
    expect(
      readdirSync(join(out, 'control'))
        .filter((f) => f.startsWith('sub-'))
        .sort(),
    ).toEqual(['sub-02', 'sub-03']);
    const settings = JSON.parse(await readFile(join(out, 'run.json'), 'utf8'));
    expect(settings.controlGroup).toEqual({ column: 'diagnosis', value: 'CN' });
    // merge discovers the control group again as the run did: nothing reported missing.
    const merged = await runCli(['merge', out, '--out', join(fx.dir, 'control-group-m')]);
    expect(merged.stderr).not.toMatch(/missing|not finished|bug/i);
  });

  it('--control-group without --group is refused', async () => {
    const dir = await bidsWithDiagnosis();
    await expect(
      run(dir, join(fx.dir, 'cg-alone-out'), { control: dir, controlGroup: 'CN' }),
    ).rejects.toThrow(/--control-group CN needs --control .* and --group VALUE/);
  });
});

describe('--bootstrap and --permutations', () => {
  it('set the replicates of the CI and of the p-values, and are recorded in run.json', async () => {
    const cohort = await cohortOf({ 'sub-a.nii.gz': 'sub-01.nii.gz' });
    const control = await cohortOf({
      'sub-b.nii.gz': 'sub-02.nii.gz',
      'sub-c.nii.gz': 'sub-03.nii.gz',
    });
    const out = join(fx.dir, 'replicates-out');
    const r = await runCli([
      ...['run', '--cohort', cohort, '--control', control, '--out', out, '--model', fx.model],
      ...['--baseline', 'zero', '--quiet', '--permutations', '9', '--bootstrap', '50'],
    ]);
    expect(r.stderr).not.toMatch(/unknown option|bug/);
    const settings = JSON.parse(await readFile(join(out, 'run.json'), 'utf8'));
    expect(settings).toMatchObject({ bootstrap: 50, permutations: 9 });
    // p = (1 + #{|d*| ≥ |d|}) / (1 + permutations): with 9 permutations, tenths.
    const rows = parseCsv(await readFile(join(out, 'regions.csv'), 'utf8'));
    const ps = rows.map((row) => Number(row.p)).filter((p) => Number.isFinite(p));
    expect(ps.length).toBeGreaterThan(0);
    for (const p of ps) expect(Math.abs(p * 10 - Math.round(p * 10))).toBeLessThan(1e-9);
    const bad = await runCli(['run', '--cohort', cohort, '--model', fx.model, '--bootstrap', '0']);
    expect(bad.stderr).toMatch(/--bootstrap 0: give a whole number ≥ 1/);
  });
});
