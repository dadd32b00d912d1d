/**
 * What `glas3d run` does with the files discovery does not explain: a .hdr/.img pair is a failed
 * subject in errors.tsv (exit 1) with the advice to convert it, a mask is left out with a note;
 * an fMRIPrep output with T1w in several spaces is refused without --space and explained in the
 * space --space names.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run-cli.js';
import { writeVolume } from '../../src/volume/index.js';
import { linearOracle, oracleWorld, regionWeights } from '../explain/oracle-fixtures.js';

describe('glas3d run: scans that discovery does not explain are never dropped silently', () => {
  it('a .hdr/.img pair fails in errors.tsv with the conversion advice; a mask is left out with a note', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'glas3d-pairrun-'));
    const cohort = join(dir, 'cohort');
    const w = await oracleWorld();
    const model = join(dir, 'oracle.onnx');
    await writeFile(model, linearOracle(w, regionWeights(w, { 37: 1 })));
    // A NIfTI-1 pair: the real header of a single-file volume with magic "ni1", data apart.
    await writeVolume(join(cohort, 'sub-pair.nii'), w.volume);
    const bytes = await readFile(join(cohort, 'sub-pair.nii'));
    await rm(join(cohort, 'sub-pair.nii'));
    const header = Buffer.from(bytes.subarray(0, 348));
    header.write('ni1\0', 344, 'latin1');
    header.writeFloatLE(0, 108);
    await writeFile(join(cohort, 'sub-pair.hdr'), header);
    await writeFile(join(cohort, 'sub-pair.img'), bytes.subarray(352));
    await writeVolume(join(cohort, 'sub-pair_desc-brain_mask.nii.gz'), w.volume);

    const out = join(dir, 'out');
    const r = await runCli(['run', '--cohort', cohort, '--model', model, '--out', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `glas3d run: --cohort ${cohort}: 1 file(s) whose name marks a mask or segmentation, not an anatomical scan, left out: _mask (1)`,
    );
    expect(r.stderr).toMatch(/all 1 subject\(s\) failed/);
    const rows = (await readFile(join(out, 'errors.tsv'), 'utf8')).trim().split('\n').slice(1);
    expect(rows.map((l) => l.split('\t').slice(0, 2))).toEqual([['cohort', 'sub-pair']]);
    expect(rows[0]).toMatch(
      /sub-pair\.hdr: this is the header of a \.hdr\/\.img pair; convert it to a single \.nii file/,
    );

    // --group-column alone is refused before the model is even looked at.
    const alone = await runCli([
      'run',
      '--cohort',
      cohort,
      '--model',
      'absent.onnx',
      '--group-column',
      'dx',
    ]);
    expect(alone.code).toBe(1);
    expect(alone.stderr).toMatch(/--group-column dx needs --group VALUE/);
  }, 120_000);
});

describe('glas3d run --space: an fMRIPrep output with the T1w in several spaces', () => {
  it('without --space the run is refused before any subject; with it, the T1w in that space is explained and run.json records it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'glas3d-spacerun-'));
    const w = await oracleWorld();
    const model = join(dir, 'oracle.onnx');
    await writeFile(model, linearOracle(w, regionWeights(w, { 37: 1 })));
    const anat = join(dir, 'fmriprep', 'sub-01', 'anat');
    const scaled = (k: number) => ({ ...w.volume, data: w.volume.data.map((v) => v * k) });
    // Three files with different bytes: which one was explained is known from its sha256.
    const files = {
      native: join(anat, 'sub-01_desc-preproc_T1w.nii.gz'),
      mni6: join(anat, 'sub-01_space-MNI152NLin6Asym_res-2_desc-preproc_T1w.nii.gz'),
      mni2009: join(anat, 'sub-01_space-MNI152NLin2009cAsym_desc-preproc_T1w.nii.gz'),
    };
    await writeVolume(files.native, scaled(0.5));
    await writeVolume(files.mni6, w.volume);
    await writeVolume(files.mni2009, scaled(2));
    const cohort = join(dir, 'fmriprep');
    const out = join(dir, 'out');
    const args = [
      'run',
      '--cohort',
      cohort,
      '--model',
      model,
      '--out',
      out,
      '--sigma',
      '10',
      '--baseline',
      'zero',
    ];

    const refused = await runCli(args);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      `${cohort}: T1w scans in several spaces: MNI152NLin2009cAsym (1 participant(s)), MNI152NLin6Asym:res-2 (1 participant(s)), native (no space- entity) (1 participant(s)); 1 participant(s) have one in more than one space (sub-01). Give --space MNI152NLin2009cAsym or --space MNI152NLin6Asym:res-2`,
    );
    expect(existsSync(join(out, 'sub-01'))).toBe(false);

    const r = await runCli([...args, '--space', 'MNI152NLin6Asym:res-2', '--quiet']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const sidecar = JSON.parse(
      await readFile(join(out, 'sub-01', 'sub-01_desc-glas.json'), 'utf8'),
    ) as { source: string; sourceSha256: string };
    const sha = createHash('sha256')
      .update(await readFile(files.mni6))
      .digest('hex');
    expect([sidecar.source, sidecar.sourceSha256]).toEqual([files.mni6, sha]);
    const settings = JSON.parse(await readFile(join(out, 'run.json'), 'utf8')) as {
      space: unknown;
    };
    expect(settings.space).toBe('MNI152NLin6Asym:res-2');
  }, 120_000);
});
