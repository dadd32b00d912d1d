/**
 * `glas3d merge` counts a subject by the rules a rerun applies: a `sub-*` folder is merged only
 * when its subject is still in the recorded cohort and its sidecar names that scan with the same
 * bytes. An old folder left beside a failure, or of a scan since removed, is not ranked: the merge
 * gives the whole run's regions.csv and errors.tsv byte for byte.
 */
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run-cli.js';
import { runCohort, type RunSummary } from '../../src/cohort/run.js';
import { readVolume, writeVolume } from '../../src/volume/index.js';
import { parseCsv } from '../explain/oracle-fixtures.js';
import { makeCohort, type CohortFixture } from './cohort-fixtures.js';

let fx: CohortFixture;
let ad: string;
let nc: string;
/** The whole run, and its two shards (shard 1/2 holds sub-ad001, sub-ad003 and sub-nc001). */
let whole: string;
let shard1: string;
let shard2: string;

const run = (out: string, shard?: { index: number; count: number }): Promise<RunSummary> =>
  runCohort({
    cohort: ad,
    control: nc,
    out,
    model: fx.model,
    baseline: 'zero',
    ...(shard && { shard }),
  });

/** Three AD subjects and two controls, each a scan of the generated cohort. */
beforeAll(async () => {
  fx = await makeCohort(await mkdtemp(join(tmpdir(), 'glas3d-merge-stale-')), 5, 0);
  ad = join(fx.dir, 'ad');
  nc = join(fx.dir, 'nc');
  await mkdir(ad);
  await mkdir(nc);
  for (const [from, to] of [
    ['01', join(ad, 'sub-ad001')],
    ['02', join(ad, 'sub-ad002')],
    ['03', join(ad, 'sub-ad003')],
    ['04', join(nc, 'sub-nc001')],
    ['05', join(nc, 'sub-nc002')],
  ])
    await copyFile(join(fx.cohort, `sub-${from}.nii.gz`), `${to}.nii.gz`);
  whole = join(fx.dir, 'whole');
  shard1 = join(fx.dir, 'shard-1');
  shard2 = join(fx.dir, 'shard-2');
  await run(whole);
  await run(shard1, { index: 1, count: 2 });
  await run(shard2, { index: 2, count: 2 });
}, 240_000);

const merge = (out: string, ...dirs: string[]) =>
  runCli(['merge', ...dirs, '--out', join(fx.dir, out)]);

const file = (dir: string, name: string) => readFile(join(dir, name), 'utf8');

/** The merged regions.csv and errors.tsv are the whole run's, byte for byte. */
async function expectSameAsWhole(out: string): Promise<void> {
  expect(await file(join(fx.dir, out), 'regions.csv')).toBe(await file(whole, 'regions.csv'));
  expect(await file(join(fx.dir, out), 'errors.tsv')).toBe(await file(whole, 'errors.tsv'));
}

const errorSubjects = async (dir: string) =>
  (await file(dir, 'errors.tsv'))
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => line.split('\t')[1]);

const nSubjects = async (dir: string) =>
  Number(parseCsv(await file(dir, 'regions.csv'))[0].n_subjects);

describe('merge of unchanged results', () => {
  it('the whole run, or its shards, merge to its bytes', async () => {
    for (const [out, dirs] of [
      ['m-whole', [whole]],
      ['m-shards', [shard1, shard2]],
    ] as const) {
      const r = await merge(out, ...dirs);
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout).toMatch(/merged 3 subject\(s\) and 2 control\(s\)/);
      await expectSameAsWhole(out);
    }
  });
});

describe('a scan replaced by one that fails, the run rerun: its old folder stays on disk', () => {
  beforeAll(async () => {
    const scan = join(ad, 'sub-ad003.nii.gz');
    const v = await readVolume(scan);
    await writeVolume(scan, { ...v, data: new Float32Array(v.data.length).fill(100) });
    const rerun = await run(whole);
    expect(rerun.failed.map((f) => f.id)).toEqual(['ad003']);
    const rerun1 = await run(shard1, { index: 1, count: 2 });
    expect(rerun1.failed.map((f) => f.id)).toEqual(['ad003']);
  }, 120_000);

  it('merging the whole run: the subject is in errors.tsv with its reason, not ranked', async () => {
    expect(await nSubjects(whole)).toBe(2);
    const r = await merge('m-replaced', whole);
    await expectSameAsWhole('m-replaced');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/merged 2 subject\(s\) and 2 control\(s\)/);
    expect(r.stderr).toMatch(/1 subject\(s\) failed in their shard/);
    expect(r.stderr).toMatch(
      /warning: 1 subject\(s\) with results made from another file or other bytes .*\(sub-ad003; e\.g\. .*whole\/sub-ad003\): not merged/,
    );
    expect(await errorSubjects(join(fx.dir, 'm-replaced'))).toEqual(['sub-ad003']);
  });

  it('merging the shards, the one holding it rerun: the same bytes as the whole run', async () => {
    expect(await errorSubjects(shard1)).toEqual(['sub-ad003']);
    const r = await merge('m-replaced-shards', shard1, shard2);
    await expectSameAsWhole('m-replaced-shards');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/merged 2 subject\(s\) and 2 control\(s\)/);
    expect(await errorSubjects(join(fx.dir, 'm-replaced-shards'))).toEqual(['sub-ad003']);
  });

  it('a stale folder no errors.tsv explains: not finished, as a missing one', async () => {
    const r = await merge('m-replaced-shard-2', shard2, join(fx.dir, 'm-whole'));
    // m-whole (the merge of the unchanged run) holds sub-ad003's old results and no failure.
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/1 of 3 subject\(s\) not finished in any shard \(sub-ad003;/);
    const rows = (await file(join(fx.dir, 'm-replaced-shard-2'), 'errors.tsv')).split('\n');
    expect(rows[1]).toMatch(/^cohort\tsub-ad003\t.*\tnot finished in any shard: /);
    expect(await nSubjects(join(fx.dir, 'm-replaced-shard-2'))).toBe(2);
  });
});

describe('a scan removed from the cohort folder', () => {
  beforeAll(async () => {
    // Its first scan back (the old folders are current again), then removed; the run rerun.
    await copyFile(join(fx.cohort, 'sub-03.nii.gz'), join(ad, 'sub-ad003.nii.gz'));
    expect((await run(whole)).failed).toEqual([]);
    await rm(join(ad, 'sub-ad003.nii.gz'));
    const rerun = await run(whole);
    expect(rerun).toMatchObject({ failed: [], explained: 0 });
  }, 120_000);

  it('merging the whole run: its folder is left out, with a warning', async () => {
    expect(await nSubjects(whole)).toBe(2);
    const r = await merge('m-removed', whole);
    await expectSameAsWhole('m-removed');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/merged 2 subject\(s\) and 2 control\(s\)/);
    expect(r.stderr).toMatch(
      /warning: 1 subject\(s\) in the shards' results but no longer in --cohort .*\/ad \(sub-ad003\): left out/,
    );
  });

  it('merging the shards: its folder and its old errors.tsv row are left out', async () => {
    // Shard 1's last run failed on the replaced scan: its errors.tsv still lists sub-ad003.
    expect(await errorSubjects(shard1)).toEqual(['sub-ad003']);
    const r = await merge('m-removed-shards', shard1, shard2);
    await expectSameAsWhole('m-removed-shards');
    expect(r.code).toBe(0);
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(await errorSubjects(join(fx.dir, 'm-removed-shards'))).toEqual([]);
  });
});
