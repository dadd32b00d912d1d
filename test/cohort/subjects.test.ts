import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OptionError } from '../../src/errors.js';
import {
  discoverSubjects,
  idFromFileName,
  parseShard,
  shardOf,
} from '../../src/cohort/subjects.js';
import { readVolume, writeVolume } from '../../src/volume/index.js';

async function touch(path: string): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, '');
}

describe('cohort discovery', () => {
  it('a plain folder: every .nii/.nii.gz below it, sorted by path, with clean unique ids', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'glas3d-subjects-'));
    for (const f of [
      'b/Subject 02.nii',
      'a/sub-ad001_T1w.nii.gz',
      'c.nii.gz',
      'notes.txt',
      'c/c.nii.gz',
      '.hidden.nii',
    ]) {
      await touch(join(dir, f));
    }
    const subjects = await discoverSubjects(dir);
    expect(subjects.map((s) => s.path.slice(dir.length + 1))).toEqual([
      'a/sub-ad001_T1w.nii.gz',
      'b/Subject 02.nii',
      'c.nii.gz',
      'c/c.nii.gz',
    ]);
    expect(subjects.map((s) => s.id)).toEqual(['ad001', 'Subject02', 'c', 'c2']);
  });

  it("a clash is never suffixed into another file's id", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'glas3d-clash-'));
    for (const f of ['sub-01-run1.nii.gz', 'sub-01.nii.gz', 'sub-012.nii.gz'])
      await touch(join(dir, f));
    const subjects = await discoverSubjects(dir);
    const byFile = Object.fromEntries(subjects.map((s) => [s.path.slice(dir.length + 1), s.id]));
    expect(byFile['sub-012.nii.gz']).toBe('012');
    // The file named exactly sub-01 keeps 01; the run file gets a suffix no file has.
    expect(byFile['sub-01.nii.gz']).toBe('01');
    expect(byFile['sub-01-run1.nii.gz']).toBe('013');
    expect(new Set(subjects.map((s) => s.id)).size).toBe(3);
  });

  it("leaves out the files under an excluded folder (the run's --out) and counts them", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'glas3d-exclude-'));
    for (const f of ['sub-01.nii.gz', 'results/sub-01/sub-01_map.nii.gz', 'results2/x.nii'])
      await touch(join(dir, f));
    const left: number[] = [];
    const subjects = await discoverSubjects(dir, {
      exclude: join(dir, 'results'),
      onExcluded: (n) => left.push(n),
    });
    expect(subjects.map((s) => s.path.slice(dir.length + 1))).toEqual([
      'results2/x.nii',
      'sub-01.nii.gz',
    ]);
    expect(left).toEqual([1]);
  });

  it('symbolic links count (datalad, git-annex); one whose target is missing says so when read', async () => {
    const store = await mkdtemp(join(tmpdir(), 'glas3d-annex-'));
    const dir = await mkdtemp(join(tmpdir(), 'glas3d-links-'));
    await writeVolume(join(store, 'object-1'), {
      dims: [2, 2, 2],
      affine: [
        [1, 0, 0, 0],
        [0, 1, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
      ],
      data: new Float32Array(8).fill(1),
    });
    await symlink(join(store, 'object-1'), join(dir, 'sub-01.nii.gz'));
    await symlink(join(store, 'object-2'), join(dir, 'sub-02.nii.gz')); // not fetched
    const subjects = await discoverSubjects(dir);
    expect(subjects.map((x) => x.id)).toEqual(['01', '02']);
    expect((await readVolume(subjects[0].path)).dims).toEqual([2, 2, 2]);
    await expect(readVolume(subjects[1].path)).rejects.toThrow(
      /sub-02\.nii\.gz: a symbolic link whose target is missing .*datalad get/,
    );
  });

  it('a BIDS dataset: participants.tsv, the group filter, one T1w per participant (anat/ or ses-*/anat/)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'glas3d-bids-'));
    await writeFile(join(dir, 'dataset_description.json'), '{"Name":"x","BIDSVersion":"1.9.0"}');
    await writeFile(
      join(dir, 'participants.tsv'),
      'participant_id\tdiagnosis\tage\nsub-01\tAD\t71\nsub-02\tCN\t68\nsub-03\tAD\t75\nsub-04\tAD\t80\nsub-05\tAD\t60\n',
    );
    await touch(join(dir, 'sub-01/anat/sub-01_T1w.nii.gz'));
    await touch(join(dir, 'sub-02/anat/sub-02_T1w.nii.gz'));
    await touch(join(dir, 'sub-03/ses-2/anat/sub-03_ses-2_T1w.nii.gz'));
    await touch(join(dir, 'sub-03/ses-1/anat/sub-03_ses-1_T1w.nii.gz'));
    await touch(join(dir, 'sub-04/anat/sub-04_FLAIR.nii.gz'));
    await touch(join(dir, 'sub-05/ses-bl/anat/sub-05_ses-bl_T1w.nii'));
    const ad = await discoverSubjects(dir, { groupColumn: 'diagnosis', group: 'AD' });
    expect(ad.map((s) => [s.id, s.path.slice(dir.length + 1), s.error === undefined])).toEqual([
      ['01', 'sub-01/anat/sub-01_T1w.nii.gz', true],
      ['03', 'sub-03', false],
      ['04', 'sub-04', false],
      ['05', 'sub-05/ses-bl/anat/sub-05_ses-bl_T1w.nii', true],
    ]);
    expect(ad[1].error).toMatch(
      /sub-03 has 2 T1w scans \(sub-03\/ses-1\/anat\/sub-03_ses-1_T1w\.nii\.gz, sub-03\/ses-2\/anat\/sub-03_ses-2_T1w\.nii\.gz\); glas3d explains one scan per participant/,
    );
    expect(ad[2].error).toMatch(/sub-04 is in participants\.tsv but has no T1w/);
    expect((await discoverSubjects(dir)).map((s) => s.id)).toEqual(['01', '02', '03', '04', '05']);
    await expect(discoverSubjects(dir, { group: 'AD' })).rejects.toThrow(/no column 'group'/);
  });

  it('errors name the folder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'glas3d-empty-'));
    await expect(discoverSubjects(dir)).rejects.toThrow(OptionError);
    await expect(discoverSubjects(join(dir, 'absent'))).rejects.toThrow(/no such folder/);
  });

  it('ids and shards', () => {
    expect(idFromFileName('sub-ADNI002S0295_ses-1_T1w.nii.gz')).toBe('ADNI002S0295');
    expect(idFromFileName('wm-t1 (copy).nii')).toBe('wmt1copy');
    expect(parseShard('2/5')).toEqual({ index: 2, count: 5 });
    expect(() => parseShard('6/5')).toThrow(/1 ≤ i ≤ n/);
    const all = Array.from({ length: 10 }, (_, i) => i);
    const shards = [1, 2, 3].map((index) => shardOf(all, { index, count: 3 }));
    expect(shards).toEqual([
      [0, 3, 6, 9],
      [1, 4, 7],
      [2, 5, 8],
    ]);
  });
});
