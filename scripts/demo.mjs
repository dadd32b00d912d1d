#!/usr/bin/env node
// npm run demo — the main job on bundled data, start to finish: synthesize a small AD/NC cohort
// with known atrophy (glas3d synth), explain it with the bundled reference 3D CNN and rank the
// regions (glas3d run, AD against NC), then say where the results are and how to look at them.
// Plain Node (no TypeScript loader): it runs the built CLI, as a user would.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'bin', 'glas3d.js');
const demo = join(root, 'demo');
const n = process.env.GLAS3D_DEMO_N ?? '12';

if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) {
  console.error('glas3d is not built: run `npm install` (or `npm run build`) first.');
  process.exit(1);
}

function glas3d(args) {
  console.log(`\n$ glas3d ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [cli, ...args], { stdio: 'inherit', cwd: root });
  if (r.status !== 0) {
    console.error(`\nthe demo stopped: glas3d ${args[0]} exited with code ${r.status}`);
    process.exit(r.status ?? 1);
  }
}

const started = Date.now();
glas3d([
  'synth',
  '--out',
  'demo/cohort',
  '--n-ad',
  n,
  '--n-nc',
  n,
  '--seed',
  '7',
  '--overwrite',
  '--quiet',
]);
glas3d([
  'run',
  '--cohort',
  'demo/cohort/ad',
  '--control',
  'demo/cohort/nc',
  '--atlas',
  'aal',
  '--model',
  'models/reference-cnn3d.onnx',
  '--normalize',
  'zscore',
  '--out',
  'demo/results',
]);
const minutes = ((Date.now() - started) / 60000).toFixed(1);
console.log(`
The demo took ${minutes} min. The planted atrophy (the truth) is in demo/cohort/truth.json:
Hippocampus_L/R, Amygdala_L/R, Temporal_Inf_L/R — compare with the ranking above.
  ranked regions:   ${join(demo, 'results', 'regions.csv')}
  cohort maps:      ${join(demo, 'results', 'cohort_desc-glas_sigma-5_saliency.nii.gz')}
  per subject:      ${join(demo, 'results', 'sub-<id>')}/
Open the maps in the viewer with:  npx glas3d view demo/results
(or load a map over atlases/aal/ch2bet.nii.gz in any NIfTI viewer: FSLeyes, MRIcroGL, NiiVue).`);
