import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run-cli.js';
import { mergeShards } from '../../src/cohort/merge.js';
import { runCohort } from '../../src/cohort/run.js';
import { DEFAULT_SIGMA_MM } from '../../src/explain/explain-volume.js';
import { mulberry32 } from '../../src/model/prng.js';
import { readVolume, writeVolume } from '../../src/volume/index.js';
import { linearOracle, oracleWorld, parseCsv, regionWeights } from '../explain/oracle-fixtures.js';
import { makeCohort, TARGETS, type CohortFixture } from './cohort-fixtures.js';

/** The default σ (every run here uses it). */
const S = DEFAULT_SIGMA_MM;
const CHRIS = join(__dirname, '../../../shared/data/mri/chris_t1.nii.gz');
const root = join(__dirname, '../..');

let fx: CohortFixture;
let reference: string;
let referenceCsv: string;

beforeAll(async () => {
  fx = await makeCohort(await mkdtemp(join(tmpdir(), 'glas3d-cohort-')));
  reference = join(fx.dir, 'reference');
  await runCohort({
    cohort: fx.cohort,
    out: reference,
    model: fx.model,
    baseline: 'zero',
  });
  referenceCsv = await readFile(join(reference, 'regions.csv'), 'utf8');
}, 300_000);

/** `glas3d run` of the fixture's model on a cohort folder into `out` (zero baseline, quiet). */
const runArgs = (cohort: string, out: string, ...more: string[]) => {
  const fixed = ['--model', fx.model, '--baseline', 'zero', '--quiet'];
  return ['run', '--cohort', cohort, '--out', out, ...fixed, ...more];
};

/** Every file under a folder, relative paths, sorted. */
function tree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

describe('glas3d run on a cohort with a known answer', () => {
  it('ranks the two oracle regions 1 and 2, with CIs clear of the third', async () => {
    const rows = parseCsv(referenceCsv);
    expect(rows).toHaveLength(116);
    expect([Number(rows[0].index), Number(rows[1].index)].sort()).toEqual(TARGETS);
    expect(Number(rows[1].ci_low)).toBeGreaterThan(Number(rows[2].score));
    expect(Number(rows[0].n_subjects)).toBe(fx.subjects);
    expect(Number(rows[0].top10_fraction)).toBe(1);
  });

  it('writes a BIDS-derivatives folder: per-subject maps, tables, sidecars, a cohort map', async () => {
    const files = tree(reference);
    for (let s = 1; s <= fx.subjects; s++) {
      const id = `sub-${String(s).padStart(2, '0')}`;
      expect(files).toContain(`${id}/${id}_desc-glas_sigma-${S}_saliency.nii.gz`);
      expect(files).toContain(`${id}/${id}_desc-glas_regions.tsv`);
      expect(files).toContain(`${id}/${id}_desc-glas.json`);
    }
    const description = JSON.parse(
      await readFile(join(reference, 'dataset_description.json'), 'utf8'),
    );
    expect(description.DatasetType).toBe('derivative');
    expect(description.GeneratedBy[0].Name).toBe('glas3d');
    const sidecar = JSON.parse(
      await readFile(join(reference, 'sub-05', 'sub-05_desc-glas.json'), 'utf8'),
    );
    expect(sidecar.resampled).toBe(true); // a 1 mm subject
    expect(sidecar.parameters.model.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(sidecar.probability).toBeGreaterThan(0.5);
    const map = await readVolume(join(reference, `cohort_desc-glas_sigma-${S}_saliency.nii.gz`));
    expect(map.dims).toEqual([91, 109, 91]);
    expect(map.data.reduce((m, v) => Math.max(m, v), 0)).toBeCloseTo(1, 5);
    const w = await oracleWorld();
    let best = 0;
    for (let o = 1; o < map.data.length; o++) if (map.data[o] > map.data[best]) best = o;
    expect(TARGETS).toContain(w.onGrid.labels.data[best]);
    expect(await readFile(join(reference, 'errors.tsv'), 'utf8')).toBe(
      'group\tsubject\tfile\treason\n',
    );
  });

  it('a rerun skips finished subjects and writes the same regions.csv', async () => {
    const summary = await runCohort({
      cohort: fx.cohort,
      out: reference,
      model: fx.model,
      baseline: 'zero',
    });
    expect(summary.skipped).toBe(fx.subjects);
    expect(summary.explained).toBe(0);
    expect(await readFile(join(reference, 'regions.csv'), 'utf8')).toBe(referenceCsv);
  });
});

describe('shards', () => {
  it('3 shards + merge give the same regions.csv and cohort map as one run', async () => {
    const shards = [1, 2, 3].map((i) => join(fx.dir, `shard-${i}`));
    for (let i = 0; i < 3; i++) {
      await runCohort({
        cohort: fx.cohort,
        out: shards[i],
        model: fx.model,
        baseline: 'zero',
        shard: { index: i + 1, count: 3 },
      });
      expect(existsSync(join(shards[i], 'regions.csv'))).toBe(false); // cohort outputs: merge's job
    }
    const merged = join(fx.dir, 'merged');
    const r = await runCli(['merge', ...shards, '--out', merged]);
    expect(r.code).toBe(0);
    expect(await readFile(join(merged, 'regions.csv'), 'utf8')).toBe(referenceCsv);
    const name = `cohort_desc-glas_sigma-${S}_saliency.nii.gz`;
    expect((await readVolume(join(merged, name))).data).toEqual(
      (await readVolume(join(reference, name))).data,
    );
    const summary = await mergeShards(shards, join(fx.dir, 'merged-again'));
    expect(summary.cohort).toBe(fx.subjects);
  });
});

describe('nothing lost', () => {
  function runUntilKilled(out: string, delayMs: number): Promise<'killed' | 'finished'> {
    return new Promise((resolveRun, reject) => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'src/cli/entry.ts', ...runArgs(fx.cohort, out)],
        { cwd: root, stdio: 'ignore' },
      );
      const timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
      child.on('error', reject);
      child.on('exit', (_code, signal) => {
        clearTimeout(timer);
        resolveRun(signal === 'SIGKILL' ? 'killed' : 'finished');
      });
    });
  }

  it('a run SIGKILLed at random moments, then rerun, gives a byte-identical regions.csv and no half-written files', async () => {
    const r = mulberry32(5);
    let kills = 0;
    for (const seed of [1, 2, 3]) {
      const out = join(fx.dir, `killed-${seed}`);
      // Kill twice at random moments (startup takes ~1–3 s), then let a third run finish.
      for (let k = 0; k < 2; k++) {
        if ((await runUntilKilled(out, 1500 + r() * 6000)) === 'killed') kills++;
        if (!existsSync(out)) continue;
        for (const f of tree(out)) {
          // A subject marked done has its maps and table; nothing that looks complete is partial.
          const done = /^(sub-\d+)\/\1_desc-glas\.json$/.exec(f);
          if (done) {
            expect(existsSync(join(out, done[1], `${done[1]}_desc-glas_regions.tsv`))).toBe(true);
            JSON.parse(await readFile(join(out, f), 'utf8'));
          }
          if (f.endsWith('.nii.gz') && !f.split('/').pop()!.startsWith('.'))
            await readVolume(join(out, f));
        }
      }
      await runCohort({ cohort: fx.cohort, out, model: fx.model, baseline: 'zero' });
      expect(await readFile(join(out, 'regions.csv'), 'utf8')).toBe(referenceCsv);
      expect(tree(out).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    }
    expect(kills).toBeGreaterThan(2);
  }, 600_000);
});

describe('bad subjects', () => {
  it('each lands in errors.tsv with a clear reason; the good subjects are right', async () => {
    const dir = join(fx.dir, 'bad-cohort');
    const w = await oracleWorld();
    await writeVolume(join(dir, 'sub-good1.nii.gz'), w.volume);
    await copyFile(join(fx.cohort, 'sub-03.nii.gz'), join(dir, 'sub-good2.nii.gz'));
    const good = await readFile(join(fx.cohort, 'sub-01.nii.gz'));
    await writeFile(join(dir, 'sub-truncated.nii.gz'), good.subarray(0, good.length >> 1));
    const slice = {
      dims: [91, 109, 1] as [number, number, number],
      affine: w.volume.affine,
      data: w.volume.data.slice(0, 91 * 109),
    };
    await writeVolume(join(dir, 'sub-slice.nii.gz'), slice);
    const nan = { ...w.volume, data: new Float32Array(w.volume.data.length).fill(NaN) };
    await writeVolume(join(dir, 'sub-nan.nii.gz'), nan);
    if (existsSync(CHRIS)) await copyFile(CHRIS, join(dir, 'sub-native.nii.gz'));
    else {
      const far = {
        ...w.volume,
        affine: w.volume.affine.map((row, i) =>
          i === 0 ? [...row.slice(0, 3), row[3] + 45] : row,
        ),
      };
      await writeVolume(join(dir, 'sub-native.nii.gz'), far);
    }
    // On the model's grid (same dims and affine) but the brain 30 mm posterior in the array:
    // the grid says nothing of what it holds, so it is checked like any other scan.
    const [nx, ny] = w.volume.dims;
    const displaced = new Float32Array(w.volume.data.length);
    for (let o = 0; o < displaced.length; o++) {
      const j = Math.floor(o / nx) % ny;
      if (j + 15 < ny) displaced[o] = w.volume.data[o + 15 * nx];
    }
    await writeVolume(join(dir, 'sub-offgrid.nii.gz'), { ...w.volume, data: displaced });
    const out = join(fx.dir, 'bad-out');
    const r = await runCli(runArgs(dir, out));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/5 subject\(s\) failed/);
    const errors = (await readFile(join(out, 'errors.tsv'), 'utf8'))
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split('\t'));
    const reason = (id: string) => errors.find((e) => e[1] === `sub-${id}`)?.[3] ?? '';
    expect(errors).toHaveLength(5);
    expect(reason('truncated')).toMatch(/truncated/);
    expect(reason('slice')).toMatch(/not a 3-D volume/);
    expect(reason('nan')).toMatch(/NaN/);
    expect(reason('native')).toMatch(/Register it to the template/);
    expect(reason('offgrid')).toMatch(/does not line up with the template/);
    const rows = parseCsv(await readFile(join(out, 'regions.csv'), 'utf8'));
    expect(Number(rows[0].n_subjects)).toBe(2);
    expect([Number(rows[0].index), Number(rows[1].index)].sort()).toEqual(TARGETS);
  });
});

describe('a label-image atlas', () => {
  it('needs --template for the template baseline (said before any subject), and takes it', async () => {
    const w = await oracleWorld();
    const labels = join(fx.dir, 'labels.nii.gz');
    const names = join(fx.dir, 'labels.txt');
    await writeVolume(labels, w.onGrid.labels);
    await writeFile(names, w.onGrid.regions.map((r) => `${r.index} ${r.name}`).join('\n'));
    const args = (out: string, ...more: string[]) => [
      'run',
      '--cohort',
      fx.cohort,
      '--out',
      out,
      '--model',
      fx.model,
      '--atlas',
      labels,
      '--names',
      names,
      '--quiet',
      ...more,
    ];
    const without = await runCli(args(join(fx.dir, 'atlas-no-template')));
    expect(without.code).toBe(1);
    expect(without.stderr).toMatch(
      /needs a T1 template in the space of the atlas .*labels\.nii\.gz: give --template/,
    );
    expect(existsSync(join(fx.dir, 'atlas-no-template', 'sub-01'))).toBe(false);
    const template = join(fx.dir, 'template.nii.gz');
    await writeVolume(template, w.volume);
    const out = join(fx.dir, 'atlas-template');
    const given = await runCli(args(out, '--template', template));
    expect(given.stderr).not.toMatch(/error|bug/i);
    expect(given.code).toBe(0);
    const rows = parseCsv(await readFile(join(out, 'regions.csv'), 'utf8'));
    expect([Number(rows[0].index), Number(rows[1].index)].sort()).toEqual(TARGETS);
    // The template's content is part of the settings: another template explains every subject
    // again instead of reusing results made with the first.
    const other = join(fx.dir, 'template-2.nii.gz');
    await writeVolume(other, { ...w.volume, data: w.volume.data.map((v) => 0.5 * v) });
    const summary = async (t: string) =>
      JSON.parse((await runCli([...args(out, '--template', t), '--json'])).stdout);
    expect(await summary(template)).toMatchObject({ explained: 0, skipped: fx.subjects });
    expect(await summary(other)).toMatchObject({ explained: fx.subjects, skipped: 0 });
  });
});

describe('a control group', () => {
  it('adds both groups’ shares of the evidence, their difference, permutation p and FDR q', async () => {
    const out = join(fx.dir, 'with-control');
    // Controls: two of the cohort's own scans.
    const control = join(fx.dir, 'control');
    await mkdir(control, { recursive: true });
    for (const f of ['sub-01.nii.gz', 'sub-02.nii.gz']) {
      await copyFile(join(fx.cohort, f), join(control, f));
    }
    const r = await runCli(runArgs(fx.cohort, out, '--control', control));
    expect(r.code).toBe(0);
    const rows = parseCsv(await readFile(join(out, 'regions.csv'), 'utf8'));
    for (const row of rows) {
      expect(Number(row.p)).toBeGreaterThan(0);
      expect(Number(row.p)).toBeLessThanOrEqual(1);
      expect(Number(row.q)).toBeGreaterThanOrEqual(Number(row.p) - 1e-12);
      expect(Number(row.n_control)).toBe(2);
      expect(Number(row.difference)).toBeCloseTo(Number(row.share) - Number(row.control_share), 5);
    }
    // Shares of each subject's evidence: per σ, both columns sum to 1 over the regions.
    for (const sigma of new Set(rows.map((row) => row.sigma_mm))) {
      const forSigma = rows.filter((row) => row.sigma_mm === sigma);
      for (const column of ['share', 'control_share'])
        expect(forSigma.reduce((s, row) => s + Number(row[column]), 0)).toBeCloseTo(1, 4);
    }
    expect(r.stdout).toMatch(/Δ share vs control/);
    expect(r.stdout).toMatch(/[+-]?\d+\.\d\d pp/);
  });
});

describe('a regression model (a predicted age)', () => {
  it('--activation identity explains output 0 and ranks the regions it reads; read as a logit, each subject warns', async () => {
    // The oracle's two regions, as a value of about 70 instead of a logit.
    const w = await oracleWorld();
    const W = regionWeights(w, { [TARGETS[0]]: 1, [TARGETS[1]]: 1 });
    const model = join(fx.dir, 'age.onnx');
    await writeFile(model, linearOracle(w, W, { output: 'one-logit', zAtVolume: 70 }));
    const cohort = join(fx.dir, 'age-cohort');
    await mkdir(cohort, { recursive: true });
    for (const f of ['sub-01.nii.gz', 'sub-02.nii.gz'])
      await copyFile(join(fx.cohort, f), join(cohort, f));
    const args = (out: string, ...more: string[]) => [
      'run',
      '--cohort',
      cohort,
      '--out',
      join(fx.dir, out),
      '--model',
      model,
      '--baseline',
      'zero',
      ...more,
    ];

    const asValue = await runCli(args('age', '--activation', 'identity', '--mode', 'shadow'));
    expect(asValue.code).toBe(0);
    expect(asValue.stderr).toMatch(/explaining output 0/);
    expect(asValue.stderr).toMatch(/sub-01: output = (69\.9|70\.0)\d*, /);
    expect(asValue.stderr).not.toMatch(/warning/);
    const rows = parseCsv(await readFile(join(fx.dir, 'age', 'regions.csv'), 'utf8'));
    expect([Number(rows[0].index), Number(rows[1].index)].sort()).toEqual(TARGETS);
    const sidecar = JSON.parse(
      await readFile(join(fx.dir, 'age', 'sub-01', 'sub-01_desc-glas.json'), 'utf8'),
    );
    expect(sidecar.parameters.model.activation).toBe('identity');

    const asLogit = await runCli(args('age-logit', '--quiet'));
    // Every subject flat: no table, a plain word, and exit 1; the results are still written.
    expect(asLogit.code).toBe(1);
    const warnings = asLogit.stderr.match(/glas3d run: warning: sub-0[12]: .*flat/g) ?? [];
    expect(warnings).toHaveLength(2);
    expect(asLogit.stdout).toMatch(/flat: sub-01, sub-02: no shadow moved/);
    expect(asLogit.stdout).toMatch(/no ranking: .*rounding noise, not evidence/);
    expect(asLogit.stdout).not.toMatch(/top regions/);
    expect(asLogit.stderr).toMatch(/rounding noise, not evidence/);
    expect(existsSync(join(fx.dir, 'age-logit', 'regions.csv'))).toBe(true);
    // A rerun keeps both subjects, and still names them.
    const again = await runCli(args('age-logit', '--quiet', '--json'));
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stdout)).toMatchObject({
      allFlat: true,
      skipped: 2,
      flat: [
        { group: 'cohort', id: '01' },
        { group: 'cohort', id: '02' },
      ],
    });
    // Merged, the same folder says the same.
    const merged = await runCli([
      'merge',
      join(fx.dir, 'age-logit'),
      '--out',
      join(fx.dir, 'age-m'),
    ]);
    expect(merged.code).toBe(1);
    expect(merged.stdout).toMatch(/no ranking: .*rounding noise, not evidence/);
    const logitSidecar = JSON.parse(
      await readFile(join(fx.dir, 'age-logit', 'sub-02', 'sub-02_desc-glas.json'), 'utf8'),
    );
    expect(logitSidecar.parameters.model.activation).toBe('sigmoid');
    expect(logitSidecar.warnings[0]).toMatch(/flat.*--activation identity/);
  });
});

describe('a model with two outputs', () => {
  it('--model-output picks the one read, and the run records it', async () => {
    const w = await oracleWorld();
    const W = regionWeights(w, { [TARGETS[0]]: 1, [TARGETS[1]]: 1 });
    const model = join(fx.dir, 'two-outputs.onnx');
    // 'aux' first, then 'scores' (the same logits through a Softmax).
    await writeFile(
      model,
      linearOracle(w, W, {
        spec: { outputName: 'aux', extraOutputs: [{ name: 'scores', kind: 'softmax' }] },
      }),
    );
    const cohort = join(fx.dir, 'two-outputs-cohort');
    await mkdir(cohort, { recursive: true });
    await copyFile(join(fx.cohort, 'sub-01.nii.gz'), join(cohort, 'sub-01.nii.gz'));
    const out = join(fx.dir, 'two-outputs-out');
    const r = await runCli(
      runArgs(cohort, out, '--model-output', 'scores').map((a) => (a === fx.model ? model : a)),
    );
    expect(r.code).toBe(0);
    const sidecar = JSON.parse(
      await readFile(join(out, 'sub-01', 'sub-01_desc-glas.json'), 'utf8'),
    );
    expect(sidecar.parameters.model).toMatchObject({ outputName: 'scores', activation: 'none' });
  });
});

describe('a cohort where every subject fails', () => {
  it('says there is no ranking, not that results were written', async () => {
    const cohort = join(fx.dir, 'all-bad');
    await mkdir(cohort, { recursive: true });
    await writeFile(join(cohort, 'sub-x.nii.gz'), 'not a scan');
    const r = await runCli(
      runArgs(cohort, join(fx.dir, 'all-bad-out')).filter((a) => a !== '--quiet'),
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/nothing explained; the reasons are in .*errors\.tsv/);
    expect(r.stderr).toMatch(/all 1 subject\(s\) failed .*there is no ranking/);
    expect(r.stderr).not.toMatch(/results are written/);
  });
});
