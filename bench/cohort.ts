/**
 * npm run bench:cohort — seconds per subject, the ratio to pure model time, and peak RSS for a
 * cohort of 10 and of 40 subjects (the paper's 3D CNN with random weights, MNI 2 mm, 116 AAL
 * points, fusion, σ 10 mm). Each cohort size runs in its own process so its peak RSS is its own;
 * RSS must not grow with N (subjects are streamed).
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAal } from '../src/atlas/index.js';
import { runCohort } from '../src/cohort/run.js';
import { buildPaperCnn3d, loadOnnxClassifier } from '../src/model/index.js';
import { normalSampler } from '../src/model/prng.js';
import { MNI_GRIDS, readVolume, resample, writeVolume } from '../src/volume/index.js';

const sizes = (process.env.BENCH_COHORT_SIZES ?? '10,40').split(',').map(Number);

async function child(n: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'glas3d-bench-cohort-'));
  const grid = MNI_GRIDS.mni2mm;
  const colin = resample(await readVolume((await loadAal()).template!), grid, 'linear');
  const cohort = join(dir, 'cohort');
  for (let s = 0; s < n; s++) {
    const normal = normalSampler(s + 1);
    const data = colin.data.map((v) => (v > 0 ? v * (1 + 0.03 * normal()) : 0));
    await writeVolume(join(cohort, `sub-${String(s).padStart(3, '0')}.nii.gz`), { ...colin, data });
  }
  const model = join(dir, 'cnn.onnx');
  await writeFile(model, buildPaperCnn3d({ inputShape: [1, 91, 109, 91], seed: 3 }));
  const t = performance.now();
  const summary = await runCohort({ cohort, out: join(dir, 'out'), model, baseline: 'template' });
  const totalS = (performance.now() - t) / 1000;
  // Pure model time for the same number of forward passes, batch 16, on brain volumes like the
  // subjects' (a constant input ran faster: this CNN's ELU/SELU cost depends on the values).
  const clf = await loadOnnxClassifier(model, { batchSize: 16 });
  const perSubjectForwards = 1 + 2 * 116;
  const batch = new Float32Array(16 * colin.data.length);
  for (let k = 0; k < 16; k++) batch.set(colin.data, k * colin.data.length);
  // Warm (the first runs of a shape allocate), then the fastest of 3 subjects' worth of passes.
  await clf.predict(batch, 16);
  let modelS = Infinity;
  for (let r = 0; r < 3; r++) {
    const m0 = performance.now();
    let left = perSubjectForwards;
    while (left > 0) {
      const k = Math.min(16, left);
      await clf.predict(batch.subarray(0, k * colin.data.length), k);
      left -= k;
    }
    modelS = Math.min(modelS, (performance.now() - m0) / 1000);
  }
  await clf.dispose();
  const rssMiB = process.resourceUsage().maxRSS / 1024;
  console.log(
    JSON.stringify({
      n,
      totalS,
      perSubjectS: summary.secondsPerSubject,
      modelS,
      rssMiB,
      failed: summary.failed.length,
    }),
  );
  await rm(dir, { recursive: true, force: true });
}

if (process.argv[2] === '--child') {
  await child(Number(process.argv[3]));
} else {
  const self = fileURLToPath(import.meta.url);
  const rows: string[][] = [
    ['subjects', 's/subject', 'model s/subject', 'ratio', 'peak RSS MiB', 'total s'],
  ];
  for (const n of sizes) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', String(n)], {
      encoding: 'utf8',
    });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    if (r.status !== 0 || !line.startsWith('{')) {
      console.error(r.stderr);
      throw new Error(`bench child for ${n} subjects failed`);
    }
    const m = JSON.parse(line) as {
      n: number;
      totalS: number;
      perSubjectS: number;
      modelS: number;
      rssMiB: number;
    };
    rows.push([
      String(n),
      m.perSubjectS.toFixed(2),
      m.modelS.toFixed(2),
      (m.perSubjectS / m.modelS).toFixed(2),
      m.rssMiB.toFixed(0),
      m.totalS.toFixed(0),
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  console.log(
    'bench:cohort — paper 3D CNN (random weights), 91×109×91, 116 AAL points, fusion σ 10 mm, baseline template, CPU',
  );
  for (const r of rows) console.log(r.map((c, i) => c.padStart(widths[i])).join('  '));
  const rss = rows.slice(1).map((r) => Number(r[4]));
  if (rss.length > 1)
    console.log(
      `peak RSS ratio (largest/smallest cohort): ${(rss[rss.length - 1] / rss[0]).toFixed(2)}`,
    );
}
