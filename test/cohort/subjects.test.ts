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

  it('a BIDS dataset: participants.tsv, the group filter, one T1w per participant', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'glas3d-bids-'));
    await writeFile(join(dir, 'dataset_description.json'), '{"Name":"x","BIDSVersion":"1.9.0"}');
    await writeFile(
      join(dir, 'participants.tsv'),
      'participant_id\tdiagnosis\tage\nsub-01\tAD\t71\nsub-02\tCN\t68\nsub-03\tAD\t75\nsub-04\tAD\t80\n',
    );
    await touch(join(dir, 'sub-01/anat/sub-01_T1w.nii.gz'));
    await touch(join(dir, 'sub-02/anat/sub-02_T1w.nii.gz'));
    await touch(join(dir, 'sub-03/anat/sub-03_run-2_T1w.nii.gz'));
    await touch(join(dir, 'sub-03/anat/sub-03_run-1_T1w.nii.gz'));
    await touch(join(dir, 'sub-04/anat/sub-04_FLAIR.nii.gz'));
    const ad = await discoverSubjects(dir, { groupColumn: 'diagnosis', group: 'AD' });
    expect(ad.map((s) => s.id)).toEqual(['01', '03']); // sub-04 has no T1w
    expect(ad[1].path).toMatch(/sub-03_run-1_T1w/);
    expect((await discoverSubjects(dir)).map((s) => s.id)).toEqual(['01', '02', '03']);
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
