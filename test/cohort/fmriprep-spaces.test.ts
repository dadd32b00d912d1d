/**
 * fMRIPrep output folders hold, per participant, the native-space T1w and one or more
 * template-space ones: --space picks one space, and without it a dataset whose participants have
 * several is refused with the spaces found and the exact --space to give, never guessed.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OptionError } from '../../src/errors.js';
import { checkOneSpace, discoverSubjects, parseSpace, spaceOf } from '../../src/cohort/subjects.js';
import { scan } from './tiny-scan.js';

const NATIVE = 'desc-preproc_T1w.nii.gz';
const MNI6 = 'space-MNI152NLin6Asym_res-2_desc-preproc_T1w.nii.gz';
const MNI2009 = 'space-MNI152NLin2009cAsym_desc-preproc_T1w.nii.gz';

/** An fMRIPrep-like output: each participant's anat/ holds the T1w in each of `spaces`. */
async function fmriprep(participants: Record<string, string[]>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'glas3d-spaces-'));
  await writeFile(join(dir, 'dataset_description.json'), '{"Name":"fMRIPrep"}');
  for (const [sub, spaces] of Object.entries(participants)) {
    for (const space of spaces) {
      await scan(join(dir, sub, 'anat', `${sub}_${space}`));
      // What fMRIPrep writes beside each T1w: never a subject.
      await scan(
        join(dir, sub, 'anat', `${sub}_${space.replace('desc-preproc_T1w', 'desc-brain_mask')}`),
      );
    }
  }
  return dir;
}

/** [id, path relative to dir, error?] */
const listed = (dir: string, subjects: { id: string; path: string; error?: string }[]) =>
  subjects.map((s) => [s.id, s.path.slice(dir.length + 1), s.error]);

describe('BIDS discovery in an fMRIPrep output with several spaces', () => {
  it('--space keeps the T1w in that space (label, or label:res-N), and notes what it left out', async () => {
    const dir = await fmriprep({
      'sub-01': [NATIVE, MNI6, MNI2009],
      'sub-02': [NATIVE, MNI6, MNI2009],
    });
    const notes: string[] = [];
    const onNote = (text: string) => notes.push(text);
    const res2 = await discoverSubjects(dir, { space: 'MNI152NLin6Asym:res-2', onNote });
    expect(listed(dir, res2)).toEqual([
      ['01', `sub-01/anat/sub-01_${MNI6}`, undefined],
      ['02', `sub-02/anat/sub-02_${MNI6}`, undefined],
    ]);
    expect(notes).toEqual([
      '--space MNI152NLin6Asym:res-2: 4 T1w scan(s) in other spaces left out: MNI152NLin2009cAsym (2), native (no space- entity) (2).',
    ]);
    // The label alone matches whatever res; "space-" in front is allowed.
    for (const space of ['MNI152NLin6Asym', 'space-MNI152NLin6Asym'])
      expect(listed(dir, await discoverSubjects(dir, { space }))).toEqual(listed(dir, res2));
    expect(listed(dir, await discoverSubjects(dir, { space: 'MNI152NLin2009cAsym' }))).toEqual([
      ['01', `sub-01/anat/sub-01_${MNI2009}`, undefined],
      ['02', `sub-02/anat/sub-02_${MNI2009}`, undefined],
    ]);
  });

  it('without --space, a participant with T1w in several spaces is an error naming the spaces and the --space to give; the run refuses the dataset', async () => {
    const dir = await fmriprep({
      'sub-01': [NATIVE, MNI6, MNI2009],
      'sub-02': [NATIVE, MNI6],
      'sub-03': [MNI6],
    });
    const subjects = await discoverSubjects(dir);
    expect(subjects.map((s) => [s.id, s.error === undefined, s.spaces])).toEqual([
      ['01', false, ['', 'MNI152NLin2009cAsym', 'MNI152NLin6Asym:res-2']],
      ['02', false, ['', 'MNI152NLin6Asym:res-2']],
      ['03', true, undefined],
    ]);
    expect(subjects[0].error).toBe(
      `sub-01 has 3 T1w scans in different spaces (sub-01/anat/sub-01_${NATIVE} (native (no space- entity)), sub-01/anat/sub-01_${MNI2009} (MNI152NLin2009cAsym), sub-01/anat/sub-01_${MNI6} (MNI152NLin6Asym:res-2)); glas3d explains one scan per participant: give --space MNI152NLin2009cAsym or --space MNI152NLin6Asym:res-2, the template space your model takes.`,
    );
    // Even with only one MNI scan beside the native one (sub-02), nothing is picked for the user.
    expect(subjects[1].error).toMatch(/give --space MNI152NLin6Asym:res-2, the template space/);
    expect(() => checkOneSpace(dir, subjects, '--cohort')).toThrow(OptionError);
    expect(() => checkOneSpace(dir, subjects, '--cohort')).toThrow(
      `--cohort ${dir}: T1w scans in several spaces: MNI152NLin2009cAsym (1 participant(s)), MNI152NLin6Asym:res-2 (3 participant(s)), native (no space- entity) (2 participant(s)); 2 participant(s) have one in more than one space (sub-01, sub-02). Give --space MNI152NLin2009cAsym or --space MNI152NLin6Asym:res-2: the template space your model takes (glas3d does not pick one).`,
    );
    // Every participant in several spaces: discovery itself refuses, with the same message.
    const all = await fmriprep({ 'sub-01': [NATIVE, MNI6], 'sub-02': [NATIVE, MNI6] });
    await expect(discoverSubjects(all)).rejects.toThrow(
      `${all}: T1w scans in several spaces: MNI152NLin6Asym:res-2 (2 participant(s)), native (no space- entity) (2 participant(s)); 2 participant(s) have one in more than one space (sub-01, sub-02). Give --space MNI152NLin6Asym:res-2: the template space your model takes (glas3d does not pick one).`,
    );
    // One space per participant: nothing to refuse.
    const one = await fmriprep({ 'sub-01': [MNI6], 'sub-02': [MNI6] });
    expect(() => checkOneSpace(one, [])).not.toThrow();
    checkOneSpace(one, await discoverSubjects(one));
  });

  it('--space: a participant without that space, or with several res of it, or two sessions in it, is an error saying why', async () => {
    const dir = await fmriprep({
      'sub-01': [NATIVE, MNI6],
      'sub-02': [NATIVE, MNI2009],
      'sub-03': [MNI6, 'space-MNI152NLin6Asym_res-1_desc-preproc_T1w.nii.gz'],
    });
    await scan(join(dir, `sub-04/ses-1/anat/sub-04_ses-1_${MNI6}`));
    await scan(join(dir, `sub-04/ses-2/anat/sub-04_ses-2_${MNI6}`));
    const subjects = await discoverSubjects(dir, { space: 'MNI152NLin6Asym' });
    expect(listed(dir, subjects).map(([id, path]) => [id, path])).toEqual([
      ['01', `sub-01/anat/sub-01_${MNI6}`],
      ['02', 'sub-02'],
      ['03', 'sub-03'],
      ['04', 'sub-04'],
    ]);
    expect(subjects[0].error).toBeUndefined();
    expect(subjects[1].error).toBe(
      `sub-02 has no T1w in space MNI152NLin6Asym (its T1w: sub-02/anat/sub-02_${NATIVE} (native (no space- entity)), sub-02/anat/sub-02_${MNI2009} (MNI152NLin2009cAsym)); space labels match exactly, case included.`,
    );
    expect(subjects[2].error).toMatch(
      /^sub-03 has 2 T1w scans in different spaces .*give --space MNI152NLin6Asym:res-1 or --space MNI152NLin6Asym:res-2, /,
    );
    expect(subjects[3].error).toBe(
      `sub-04 has 2 T1w scans in space MNI152NLin6Asym (sub-04/ses-1/anat/sub-04_ses-1_${MNI6}, sub-04/ses-2/anat/sub-04_ses-2_${MNI6}); glas3d explains one scan per participant: keep one, or give the scans as a plain folder of files.`,
    );
    // res-2 settles sub-03.
    const res2 = await discoverSubjects(dir, { space: 'MNI152NLin6Asym:res-2' });
    expect(res2[2].path).toBe(join(dir, `sub-03/anat/sub-03_${MNI6}`));
  });

  it('a --space nobody has lists the spaces there; a malformed one or one on a plain folder is refused', async () => {
    const dir = await fmriprep({ 'sub-01': [NATIVE, MNI2009], 'sub-02': [MNI2009] });
    await expect(discoverSubjects(dir, { space: 'mni152nlin2009casym' })).rejects.toThrow(
      `${dir}: no participant has a T1w in space mni152nlin2009casym (space labels match exactly, case included); the spaces of its T1w scans: MNI152NLin2009cAsym (2 participant(s)), native (no space- entity) (1 participant(s)).`,
    );
    for (const bad of ['', 'MNI152NLin6Asym:2', 'MNI 152', 'MNI152NLin6Asym:res-'])
      expect(() => parseSpace(bad)).toThrow(
        /give a BIDS space label.*--space MNI152NLin6Asym:res-2/,
      );
    expect(parseSpace(' space-MNIInfant:cohort-1:res-2 ')).toEqual({
      label: 'MNIInfant',
      entities: [
        ['cohort', '1'],
        ['res', '2'],
      ],
      text: 'MNIInfant:cohort-1:res-2',
    });
    expect(spaceOf('sub-1_space-MNIInfant_cohort-1_res-2_desc-preproc_T1w.nii.gz')).toBe(
      'MNIInfant:cohort-1:res-2',
    );
    expect(spaceOf('sub-1_desc-preproc_T1w.nii')).toBe('');
    const plain = await mkdtemp(join(tmpdir(), 'glas3d-spaces-plain-'));
    await scan(join(plain, `sub-01_${MNI6}`));
    await expect(discoverSubjects(plain, { space: 'MNI152NLin6Asym' })).rejects.toThrow(
      `${plain}: --space MNI152NLin6Asym picks among the T1w scans of a BIDS dataset's participants`,
    );
  });
});
