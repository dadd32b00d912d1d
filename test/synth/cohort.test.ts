/**
 * The cohort on disk: byte-identical for a seed, subjects stable when the cohort grows, NIfTI
 * files on the MNI 2 mm grid with sform/qform code 4, and participants.tsv and truth.json saying
 * what was generated.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OptionError } from '../../src/errors.js';
import {
  DEFAULT_ATROPHY_REGIONS,
  DEFAULT_SYNTH_PARAMETERS,
  SYNTH_VERSION,
  synthesizeCohort,
  synthesizeSubject,
  type CohortTruth,
} from '../../src/synth/index.js';
import { MNI_GRIDS, readVolume } from '../../src/volume/index.js';

let root: string;
const dir = (name: string) => join(root, name);

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'glas3d-synth-'));
  const progress: number[] = [];
  await synthesizeCohort({
    outDir: dir('a'),
    nAd: 2,
    nNc: 2,
    seed: 5,
    onProgress: (done, total) => progress.push(done / total),
  });
  expect(progress).toEqual([0.25, 0.5, 0.75, 1]);
  await synthesizeCohort({ outDir: dir('b'), nAd: 2, nNc: 2, seed: 5 });
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function files(d: string): Promise<string[]> {
  const out = ['participants.tsv', 'truth.json'];
  for (const g of ['ad', 'nc']) {
    if (existsSync(join(d, g))) out.push(...(await readdir(join(d, g))).map((f) => `${g}/${f}`));
  }
  return out.sort();
}

async function truthOf(d: string): Promise<CohortTruth> {
  return JSON.parse(await readFile(join(d, 'truth.json'), 'utf8')) as CohortTruth;
}

describe('determinism', () => {
  it('the same seed gives byte-identical files', async () => {
    const names = await files(dir('a'));
    expect(names).toEqual([
      'ad/sub-ad001.nii.gz',
      'ad/sub-ad002.nii.gz',
      'nc/sub-nc001.nii.gz',
      'nc/sub-nc002.nii.gz',
      'participants.tsv',
      'truth.json',
    ]);
    expect(await files(dir('b'))).toEqual(names);
    for (const f of names) {
      const [x, y] = await Promise.all([readFile(join(dir('a'), f)), readFile(join(dir('b'), f))]);
      expect(x.equals(y), f).toBe(true);
    }
    // gzip header: no time stamp (MTIME, bytes 4–7, is 0).
    const gz = await readFile(join(dir('a'), 'ad/sub-ad001.nii.gz'));
    expect([...gz.subarray(0, 2)]).toEqual([0x1f, 0x8b]);
    expect(gz.readUInt32LE(4)).toBe(0);
  });

  it('another seed gives other subjects; a bigger cohort keeps the first ones', async () => {
    await synthesizeCohort({ outDir: dir('c'), nAd: 3, nNc: 0, seed: 6 });
    await synthesizeCohort({ outDir: dir('d'), nAd: 3, nNc: 0, seed: 5 });
    const read = (d: string, f: string) => readFile(join(dir(d), f));
    expect(
      (await read('a', 'ad/sub-ad001.nii.gz')).equals(await read('c', 'ad/sub-ad001.nii.gz')),
    ).toBe(false);
    for (const f of ['ad/sub-ad001.nii.gz', 'ad/sub-ad002.nii.gz']) {
      expect((await read('a', f)).equals(await read('d', f)), f).toBe(true);
    }
    expect((await truthOf(dir('c'))).seed).toBe(6);
  });

  it('refuses a non-empty folder unless asked; then leaves no stale subjects', async () => {
    await expect(synthesizeCohort({ outDir: dir('d'), nAd: 1, nNc: 0, seed: 5 })).rejects.toThrow(
      OptionError,
    );
    await synthesizeCohort({ outDir: dir('d'), nAd: 1, nNc: 0, seed: 5, overwrite: true });
    expect(await files(dir('d'))).toEqual([
      'ad/sub-ad001.nii.gz',
      'participants.tsv',
      'truth.json',
    ]);
  });

  it('the library gives the same subject in memory, with its deformation', async () => {
    const subject = await synthesizeSubject({ seed: 5, group: 'NC', number: 2 });
    const file = await readVolume(join(dir('a'), 'nc/sub-nc002.nii.gz'));
    expect(subject.plan.id).toBe('sub-nc002');
    let differ = 0;
    for (let o = 0; o < file.data.length; o++) {
      if (file.data[o] !== Math.round(subject.volume.data[o])) differ++;
    }
    expect(differ).toBe(0);
    expect(subject.warp.contractions.length).toBe(subject.plan.atrophy.length);
  });

  it('refuses bad options before writing anything', async () => {
    const bad = [
      { nAd: 0, nNc: 0, seed: 1 },
      { nAd: -1, nNc: 1, seed: 1 },
      { nAd: 1, nNc: 1, seed: 1.5 },
      { nAd: 1, nNc: 1, seed: 1, atrophy: ['Hipocampus_L'] },
      { nAd: 1, nNc: 1, seed: 1, parameters: { plantedLoss: [0.3, 0.1] as [number, number] } },
    ];
    for (const options of bad) {
      await expect(synthesizeCohort({ outDir: dir('bad'), ...options })).rejects.toThrow(
        OptionError,
      );
    }
    expect(existsSync(dir('bad'))).toBe(false);
  });
});

describe('the files', () => {
  it('every subject is on the MNI 2 mm grid with sform and qform code 4, intensities sane', async () => {
    const grid = MNI_GRIDS.mni2mm;
    for (const f of (await files(dir('a'))).filter((n) => n.endsWith('.nii.gz'))) {
      const v = await readVolume(join(dir('a'), f)); // refuses NaN/Inf
      expect(v.dims).toEqual(grid.dims);
      expect(v.affine).toEqual(grid.affine);
      expect(v.source.header.sformCode).toBe(4);
      expect(v.source.header.qformCode).toBe(4);
      expect(v.source.header.datatype).toBe('int16');
      expect(v.source.affineSource).toBe('sform');
      let min = Infinity;
      let max = -Infinity;
      let brain = 0;
      for (const x of v.data) {
        if (x < min) min = x;
        if (x > max) max = x;
        if (x > 100) brain++;
      }
      expect(min).toBe(0);
      expect(max).toBeGreaterThan(1000);
      expect(max).toBeLessThan(2000);
      expect(brain).toBeGreaterThan(150_000); // a brain of ~1.2–1.6 l in 8 mm³ voxels
    }
  });

  it('truth.json records the planted regions, parameters, seed and every draw', async () => {
    const truth = await truthOf(dir('a'));
    expect(truth.generator).toBe('glas3d synth');
    expect(truth.version).toBe(SYNTH_VERSION);
    expect(truth.seed).toBe(5);
    expect(truth.counts).toEqual({ AD: 2, NC: 2 });
    expect(truth.grid).toMatchObject({ name: 'mni2mm', dims: [91, 109, 91], xformCode: 4 });
    expect(truth.planted.map((r) => [r.index, r.name])).toEqual([
      [37, 'Hippocampus_L'],
      [38, 'Hippocampus_R'],
      [41, 'Amygdala_L'],
      [42, 'Amygdala_R'],
      [89, 'Temporal_Inf_L'],
      [90, 'Temporal_Inf_R'],
    ]);
    expect(truth.planted.map((r) => r.name)).toEqual([...DEFAULT_ATROPHY_REGIONS]);
    expect(truth.parameters).toEqual(DEFAULT_SYNTH_PARAMETERS);
    expect(truth.subjects.map((s) => [s.id, s.group, s.path])).toEqual([
      ['sub-ad001', 'AD', 'ad/sub-ad001.nii.gz'],
      ['sub-ad002', 'AD', 'ad/sub-ad002.nii.gz'],
      ['sub-nc001', 'NC', 'nc/sub-nc001.nii.gz'],
      ['sub-nc002', 'NC', 'nc/sub-nc002.nii.gz'],
    ]);
    for (const s of truth.subjects) {
      const planted = s.atrophy.filter((a) => a.kind === 'planted');
      expect(planted.length).toBe(s.group === 'AD' ? 6 : 0);
      for (const a of s.atrophy)
        expect(Math.abs(a.achievedLoss - a.targetLoss)).toBeLessThan(0.005);
    }
  });

  it('participants.tsv matches truth.json', async () => {
    const truth = await truthOf(dir('a'));
    const lines = (await readFile(join(dir('a'), 'participants.tsv'), 'utf8'))
      .trimEnd()
      .split('\n');
    const rows = lines.map((l) => l.split('\t'));
    expect(rows[0]).toEqual([
      'participant_id',
      'group',
      'path',
      'age_atrophy',
      ...DEFAULT_ATROPHY_REGIONS,
    ]);
    expect(rows).toHaveLength(1 + truth.subjects.length);
    truth.subjects.forEach((s, n) => {
      const row = rows[n + 1];
      expect(row.slice(0, 3)).toEqual([s.id, s.group, s.path]);
      const age = s.atrophy.filter((a) => a.kind === 'age');
      expect(row[3]).toBe(age.map((a) => `${a.name}:${a.targetLoss}`).join(';'));
      truth.planted.forEach((r, c) => {
        const a = s.atrophy.find((x) => x.kind === 'planted' && x.index === r.index);
        expect(Number(row[4 + c])).toBe(a ? a.targetLoss : 0);
      });
    });
  });
});
