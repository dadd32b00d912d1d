/**
 * `glas3d merge` knows which subjects the cohort has: a shard that is missing or was killed
 * leaves subjects out, and merge says which (errors.tsv, a summary line, exit 1) while still
 * writing the cohort outputs of what is there.
 */
import { copyFile, cp, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run-cli.js';
import { LOCK_FILE } from '../../src/cohort/out-lock.js';
import { runCohort } from '../../src/cohort/run.js';
import { parseCsv } from '../explain/oracle-fixtures.js';
import { makeCohort, type CohortFixture } from './cohort-fixtures.js';

let fx: CohortFixture;
let shard1: string;
let shard2: string;

/** Four subjects sub-01…04; shard i/2 holds every 2nd in sorted order from the i-th (docs). */
beforeAll(async () => {
  fx = await makeCohort(await mkdtemp(join(tmpdir(), 'glas3d-merge-')), 4, 0);
  shard1 = join(fx.dir, 'shard-1');
  shard2 = join(fx.dir, 'shard-2');
  for (const [index, out] of [shard1, shard2].entries()) {
    await runCohort({
      cohort: fx.cohort,
      out,
      model: fx.model,
      baseline: 'zero',
      shard: { index: index + 1, count: 2 },
    });
  }
}, 120_000);

const merge = (out: string, ...args: string[]) =>
  runCli(['merge', ...args, '--out', join(fx.dir, out)]);

async function errorRows(out: string): Promise<Record<string, string>[]> {
  const [head, ...lines] = (await readFile(join(fx.dir, out, 'errors.tsv'), 'utf8'))
    .trim()
    .split('\n');
  const cols = head.split('\t');
  return lines.map((l) => Object.fromEntries(l.split('\t').map((v, i) => [cols[i], v])));
}

async function nSubjects(out: string): Promise<number> {
  const rows = parseCsv(await readFile(join(fx.dir, out, 'regions.csv'), 'utf8'));
  return Number(rows[0].n_subjects);
}

/** A copy of a shard folder whose run.json also records `extra` (what a newer run writes). */
async function copyShard(from: string, to: string, extra: Record<string, unknown> = {}) {
  await cp(from, to, { recursive: true });
  const settings = JSON.parse(await readFile(join(to, 'run.json'), 'utf8'));
  await writeFile(join(to, 'run.json'), JSON.stringify({ ...settings, ...extra }, null, 2));
  return to;
}

describe('merge checks that every subject is in some shard', () => {
  it('a shard left out: its subjects are listed, the rest is merged, exit 1', async () => {
    const r = await merge('m-missing', shard2);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/merged 2 subject\(s\) and 0 control\(s\)/);
    expect(r.stderr).toMatch(/2 of 4 subject\(s\) not finished in any shard \(sub-01, sub-03;/);
    const rows = await errorRows('m-missing');
    expect(rows.map((row) => row.subject)).toEqual(['sub-01', 'sub-03']);
    expect(rows[0]).toMatchObject({ group: 'cohort', file: join(fx.cohort, 'sub-01.nii.gz') });
    // run.json records each shard: the reason names the one to rerun.
    expect(rows[0].reason).toMatch(
      /^not finished in any shard: run shard 1\/2, which holds it .*--shard 1\/2/,
    );
    // The results of what is there are written, never lost.
    expect(await nSubjects('m-missing')).toBe(2);

    const all = await merge('m-all', shard1, shard2);
    expect(all.code).toBe(0);
    expect(all.stderr).toBe('');
    expect(await errorRows('m-all')).toEqual([]);
    expect(await nSubjects('m-all')).toBe(4);
  });

  it('a shard killed before its last sidecar: that subject is listed', async () => {
    // A subject is done when its sidecar is written (last): a kill before leaves none.
    const killed = await copyShard(shard1, join(fx.dir, 'shard-1-killed'));
    await rm(join(killed, 'sub-03', 'sub-03_desc-glas.json'));
    const r = await merge('m-killed', killed, shard2);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/1 of 4 subject\(s\) not finished in any shard \(sub-03;/);
    expect((await errorRows('m-killed')).map((row) => row.subject)).toEqual(['sub-03']);
    expect(await nSubjects('m-killed')).toBe(3);
  });

  it('where run.json records the shard, the reason names the shard to rerun', async () => {
    const one = await copyShard(shard1, join(fx.dir, 'rec-1'), { shard: '1/2' });
    await rm(join(one, 'sub-03', 'sub-03_desc-glas.json'));
    const two = await copyShard(shard2, join(fx.dir, 'rec-2'), { shard: '2/2' });
    const r = await merge('m-rec', one, two);
    expect(r.code).toBe(1);
    const [row] = await errorRows('m-rec');
    expect(row.subject).toBe('sub-03');
    expect(row.reason).toContain(`--shard 1/2 --out ${one}`);
    const merged = JSON.parse(await readFile(join(fx.dir, 'm-rec', 'run.json'), 'utf8'));
    expect(merged.shard).toBeUndefined();
    // Without shard 1's folder, the reason says so.
    await merge('m-rec-2', two);
    const rows = await errorRows('m-rec-2');
    expect(rows.map((x) => x.subject)).toEqual(['sub-01', 'sub-03']);
    expect(rows[0].reason).toMatch(/run shard 1\/2.*no folder of that shard was given/);
  });

  it('a shard a run is still writing (it holds the lock) is refused: merge when it has finished', async () => {
    const busy = await copyShard(shard1, join(fx.dir, 'shard-1-busy'));
    await writeFile(
      join(busy, LOCK_FILE),
      JSON.stringify({ pid: process.pid, host: hostname(), since: '2026-11-27T00:00:00Z' }),
    );
    const r = await merge('m-busy', busy, shard2);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `shard-1-busy is being written by a glas3d run now \\(pid ${process.pid} on .*\\): merge when it has finished`,
      ),
    );
  });

  it('a cohort folder no longer there: a warning, and the merge goes on', async () => {
    const moved = `${fx.cohort}-moved`;
    await rename(fx.cohort, moved);
    try {
      const r = await merge('m-moved', shard1, shard2);
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(
        /glas3d merge: warning: could not check that the shards hold every subject of --cohort .*no such folder/,
      );
      expect(await nSubjects('m-moved')).toBe(4);
    } finally {
      await rename(moved, fx.cohort);
    }
  });

  it('--quiet: no summary or table; problems are still said', async () => {
    const ok = await merge('m-quiet', shard1, shard2, '--quiet');
    expect(ok).toMatchObject({ code: 0, stdout: '', stderr: '' });
    const missing = await merge('m-quiet-missing', shard2, '--quiet');
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toMatch(/not finished in any shard \(sub-01, sub-03;/);
    const json = await merge('m-json', shard2, '--json');
    expect(JSON.parse(json.stdout).unfinished.map((u: { id: string }) => u.id)).toEqual([
      '01',
      '03',
    ]);
  });
});

describe('merge names the settings that differ', () => {
  it('a shard run with --no-space-check is refused, naming it alone (not --seed)', async () => {
    const one = join(fx.dir, 'one');
    await mkdir(one);
    await copyFile(join(fx.cohort, 'sub-02.nii.gz'), join(one, 'sub-02.nii.gz'));
    const seeded = join(fx.dir, 'seed-7');
    const fixed = ['--model', fx.model, '--baseline', 'zero', '--quiet'];
    // --seed only draws the cohort statistics (not fingerprinted): merge takes the first's.
    const args = ['--seed', '7', '--no-space-check'];
    await runCli(['run', '--cohort', one, '--out', seeded, ...fixed, ...args]);
    const r = await merge('m-seed', shard1, seeded);
    expect(r.code).not.toBe(0);
    const message = r.stderr.split('\n')[0];
    expect(message).toMatch(
      /was run with other settings than .*shard-1: checkSpace: false vs true \(its run.json's value first\); shards/,
    );
    expect(message).not.toMatch(/model|atlas|σ|mode|baseline|class|normali/);
  });

  it('shards of another --space are refused (not fingerprinted, but it picks the scans)', async () => {
    const other = await copyShard(shard2, join(fx.dir, 'space-2'), { space: 'MNI152NLin6Asym' });
    const r = await merge('m-space', shard1, other);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/was run with --space MNI152NLin6Asym, .*shard-1 with \(none\)/);
  });
});

describe('a BIDS cohort picked by --group', () => {
  it('the other group is not taken for missing; a shard-failed subject is listed once', async () => {
    const bids = join(fx.dir, 'bids');
    const participants = [
      ['ad1', 'AD', 'sub-01'],
      ['ad2', 'AD', 'sub-02'],
      ['nc1', 'NC', 'sub-04'],
      ['ad3', 'AD', undefined], // in participants.tsv, no T1w: fails in the run
    ] as const;
    for (const [id, , file] of participants) {
      await mkdir(join(bids, `sub-${id}`, 'anat'), { recursive: true });
      if (file)
        await copyFile(
          join(fx.cohort, `${file}.nii.gz`),
          join(bids, `sub-${id}`, 'anat', `sub-${id}_T1w.nii.gz`),
        );
    }
    const tsv = participants.map(([id, group]) => `sub-${id}\t${group}`).join('\n');
    await writeFile(join(bids, 'participants.tsv'), `participant_id\tgroup\n${tsv}\n`);
    await writeFile(
      join(bids, 'dataset_description.json'),
      '{"Name": "t", "BIDSVersion": "1.9.0"}',
    );
    const run = join(fx.dir, 'bids-ad');
    const ran = await runCli([
      'run',
      '--cohort',
      bids,
      '--group',
      'AD',
      '--out',
      run,
      '--model',
      fx.model,
      '--baseline',
      'zero',
      '--quiet',
    ]);
    expect(ran.code).toBe(1); // sub-ad3 failed

    // A run.json without the group (written before it was recorded): sub-nc1 may be left out
    // on purpose, so a warning only.
    const old = await copyShard(run, join(fx.dir, 'bids-ad-old'), { group: undefined });
    const r = await merge('m-bids', old);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/warning: 1 participant\(s\) .* \(sub-nc1\): expected if .*--group/);
    expect(r.stderr).toMatch(/1 subject\(s\) failed in their shard/);
    expect(r.stderr).not.toMatch(/not finished in any shard/);
    const rows = await errorRows('m-bids');
    expect(rows.map((row) => row.subject)).toEqual(['sub-ad3']);
    expect(rows[0].reason).toMatch(/no T1w/);

    // run.json records the group: nothing to warn of; merging the merge says the same.
    expect(JSON.parse(await readFile(join(run, 'run.json'), 'utf8')).group).toEqual({
      column: 'group',
      value: 'AD',
    });
    const again = await merge('m-bids-rec', run);
    expect(again.stderr).not.toMatch(/warning/);
    expect((await errorRows('m-bids-rec')).map((row) => row.subject)).toEqual(['sub-ad3']);
    const twice = await merge('m-bids-twice', join(fx.dir, 'm-bids-rec'));
    expect(twice.code).toBe(1);
    expect((await errorRows('m-bids-twice')).map((row) => row.subject)).toEqual(['sub-ad3']);
    expect(await nSubjects('m-bids-twice')).toBe(2);

    // sub-ad1 gains a second T1w after its run: discovery now fails it, and merge says why (as a
    // rerun would), not "not finished" nor "results of another file".
    await copyFile(
      join(fx.cohort, 'sub-03.nii.gz'),
      join(bids, 'sub-ad1', 'anat', 'sub-ad1_run-2_T1w.nii.gz'),
    );
    const second = await merge('m-bids-second', run);
    expect(second.code).toBe(1);
    expect(second.stderr).not.toMatch(/not finished in any shard|another file or other bytes/);
    const reasons = await errorRows('m-bids-second');
    expect(reasons.map((row) => row.subject)).toEqual(['sub-ad1', 'sub-ad3']);
    expect(reasons[0].reason).toMatch(/T1w/);
    expect(await nSubjects('m-bids-second')).toBe(1);
  });
});
