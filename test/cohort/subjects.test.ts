import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
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
import { scan } from './tiny-scan.js';

async function touch(path: string): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, '');
}

/** The subjects' paths relative to `dir`, with their ids. */
const listed = (dir: string, subjects: { id: string; path: string }[]) =>
  subjects.map((s) => [s.id, s.path.slice(dir.length + 1)]);

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

  it('an fMRIPrep-style folder (sub-*/anat/, no participants.tsv) is BIDS: one T1w per participant, masks ignored', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'glas3d-fmriprep-'));
    await writeFile(
      join(dir, 'dataset_description.json'),
      '{"Name":"fMRIPrep","BIDSVersion":"1.9.0"}',
    );
    const space = 'space-MNI152NLin6Asym_res-2';
    for (const [sub, anat] of [
      ['sub-01', 'sub-01/anat/sub-01'],
      ['sub-02', 'sub-02/ses-1/anat/sub-02_ses-1'],
    ]) {
      await scan(join(dir, `${anat}_${space}_desc-preproc_T1w.nii.gz`));
      await scan(join(dir, `${anat}_${space}_desc-brain_mask.nii.gz`));
      await scan(join(dir, `${anat}_${space}_dseg.nii.gz`));
      await scan(join(dir, `${anat}_${space}_label-GM_probseg.nii.gz`));
      await writeFile(join(dir, `${sub}.html`), '<html></html>');
      await mkdir(join(dir, sub, 'figures'));
    }
    const expected = [
      ['01', `sub-01/anat/sub-01_${space}_desc-preproc_T1w.nii.gz`],
      ['02', `sub-02/ses-1/anat/sub-02_ses-1_${space}_desc-preproc_T1w.nii.gz`],
    ];
    expect(listed(dir, await discoverSubjects(dir))).toEqual(expected);
    // Neither dataset_description.json nor participants.tsv: still the BIDS rule.
    await rm(join(dir, 'dataset_description.json'));
    expect(listed(dir, await discoverSubjects(dir))).toEqual(expected);
    await expect(discoverSubjects(dir, { groupColumn: 'diagnosis', group: 'AD' })).rejects.toThrow(
      /--group reads participants\.tsv, which this dataset has not .*copy the raw BIDS dataset's participants\.tsv into it/,
    );
    // participants.tsv without dataset_description.json: its rows are the participants.
    await writeFile(
      join(dir, 'participants.tsv'),
      'participant_id\tdiagnosis\nsub-01\tAD\nsub-02\tCN\n',
    );
    expect(
      listed(dir, await discoverSubjects(dir, { groupColumn: 'diagnosis', group: 'CN' })),
    ).toEqual([expected[1]]);
    await rm(join(dir, 'participants.tsv'));
    // Without participants.tsv, a sub-* folder with no T1w, or two, is an error row.
    await scan(join(dir, 'sub-03/sub-03.nii.gz'));
    await scan(join(dir, `sub-02/anat/sub-02_${space}_desc-preproc_T1w.nii.gz`));
    const subjects = await discoverSubjects(dir);
    expect(subjects.map((s) => [s.id, s.error === undefined])).toEqual([
      ['01', true],
      ['02', false],
      ['03', false],
    ]);
    expect(subjects[1].error).toMatch(/^sub-02 has 2 T1w scans/);
    expect(subjects[2].error).toMatch(/^sub-03 has no T1w \(looked for sub-03\/anat\//);
    expect(subjects[2].path).toBe(join(dir, 'sub-03'));
  });

  it('a plain folder leaves out masks and segmentations by their suffix, and says which', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'glas3d-masks-'));
    const scans = ['sub-01_T1w.nii.gz', 'sub-01_T1w_brain.nii.gz', 'sub-02.nii', 'x/seg2.nii.gz'];
    const masks = [
      'sub-01_brainmask.nii.gz',
      'sub-01_desc-brain_mask.nii.gz',
      'sub-01_dseg.nii.gz',
      'sub-01_label-GM_probseg.nii.gz',
      'sub-02_label-WM.nii.gz',
      'x/T1_brain_seg.nii.gz',
      'x/T1_brain_pve_0.nii.gz',
    ];
    for (const f of [...scans, ...masks]) await scan(join(dir, f));
    const notes: string[] = [];
    const subjects = await discoverSubjects(dir, { onNote: (text) => notes.push(text) });
    expect(subjects.map((s) => s.path.slice(dir.length + 1))).toEqual(scans);
    expect(notes).toEqual([
      '7 file(s) whose name marks a mask or segmentation, not an anatomical scan, left out: _brainmask (1), _mask (1), _dseg (1), _probseg (1), _label-… (1), _pve_0 (1), _seg (1); rename a file to explain it.',
    ]);
    // Only masks: an error, not an empty run.
    const only = await mkdtemp(join(tmpdir(), 'glas3d-onlymasks-'));
    await scan(join(only, 'sub-01_desc-brain_mask.nii.gz'));
    await expect(discoverSubjects(only)).rejects.toThrow(
      /no \.nii or \.nii\.gz files found other than masks and segmentations/,
    );
  });

  it('a .hdr/.img pair is a subject whose reading fails with the advice to convert it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'glas3d-pair-'));
    await writePair(join(dir, 'sub-pair'));
    const subjects = await discoverSubjects(dir);
    expect(listed(dir, subjects)).toEqual([['pair', 'sub-pair.hdr']]);
    await expect(readVolume(subjects[0].path)).rejects.toThrow(
      /sub-pair\.hdr: this is the header of a \.hdr\/\.img pair; convert it to a single \.nii file/,
    );
  });

  it('group options: --group-column needs --group; an unknown value lists the values; a plain folder says what to give', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'glas3d-groups-'));
    await writeFile(
      join(dir, 'participants.tsv'),
      'participant_id\tdiagnosis\nsub-01\tAD\nsub-02\tCN\nsub-03\tAD\n',
    );
    for (const id of ['01', '02', '03'])
      await scan(join(dir, `sub-${id}/anat/sub-${id}_T1w.nii.gz`));
    await expect(discoverSubjects(dir, { groupColumn: 'diagnosis' })).rejects.toThrow(
      /--group-column diagnosis needs --group VALUE/,
    );
    await expect(discoverSubjects(dir, { groupColumn: 'diagnosis', group: 'ad' })).rejects.toThrow(
      /participants\.tsv: no participant has diagnosis 'ad' \(values must match exactly, case included\); its values: 'AD' \(2\), 'CN' \(1\)\./,
    );
    // What glas3d synth writes: participants.tsv beside ad/ and nc/ folders of scans.
    const synth = await mkdtemp(join(tmpdir(), 'glas3d-synthlike-'));
    await writeFile(
      join(synth, 'participants.tsv'),
      'participant_id\tgroup\tpath\nsub-ad001\tAD\tad/sub-ad001.nii.gz\n',
    );
    await scan(join(synth, 'ad/sub-ad001.nii.gz'));
    await scan(join(synth, 'nc/sub-nc001.nii.gz'));
    await expect(discoverSubjects(synth, { group: 'AD' })).rejects.toThrow(
      `give one group's folder as --cohort (e.g. --cohort ${join(synth, 'ad')} --control ${join(synth, 'nc')}), without --group.`,
    );
    expect((await discoverSubjects(synth)).map((s) => s.id)).toEqual(['ad001', 'nc001']);
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

/** A NIfTI-1 pair (`.hdr` with magic "ni1", data in `.img`) made from a real single-file volume. */
async function writePair(stem: string): Promise<void> {
  await scan(`${stem}.nii`);
  const bytes = await readFile(`${stem}.nii`);
  await rm(`${stem}.nii`);
  const header = Buffer.from(bytes.subarray(0, 348));
  header.write('ni1\0', 344, 'latin1');
  header.writeFloatLE(0, 108); // vox_offset: the data start the .img
  await writeFile(`${stem}.hdr`, header);
  await writeFile(`${stem}.img`, bytes.subarray(352));
}
