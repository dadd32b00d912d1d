/**
 * npm run bench:recovery — does GLAS find the truth? On a synthetic cohort of a seed used neither
 * for training the reference model (1001–1016, 2026) nor for the demo (7), the regions planted
 * with atrophy against the cohort's regions.csv ranking: precision@k (k = number of planted
 * regions) and the mean rank of the planted regions, for light, shadow and fusion, σ 5, 10, 15 mm
 * and each baseline (zero, mean, blur, template, control).
 *
 * One fusion run per baseline computes f_l and f_s at every σ, so light (f_l), shadow (f_s) and
 * fusion (f_l·f_s) rankings all come from the same forward passes; each mode's cost if run alone
 * is printed. Env: BENCH_RECOVERY_N (AD = NC subjects, default 8), BENCH_RECOVERY_SEED (31).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAal } from '../src/atlas/index.js';
import { readSubjectRegions } from '../src/cohort/derivatives.js';
import { runCohort } from '../src/cohort/run.js';
import { normalizeToMax } from '../src/cohort/stats.js';
import { synthesizeCohort } from '../src/synth/index.js';

const n = Number(process.env.BENCH_RECOVERY_N ?? 8);
const seed = Number(process.env.BENCH_RECOVERY_SEED ?? 31);
const sigmas = [5, 10, 15];
const baselines = (process.env.BENCH_RECOVERY_BASELINES ?? 'zero,mean,blur,template,control').split(
  ',',
);
const model = 'models/reference-cnn3d.onnx';

const dir = await mkdtemp(join(tmpdir(), 'glas3d-recovery-'));
const t0 = performance.now();
await synthesizeCohort({ outDir: join(dir, 'cohort'), nAd: n, nNc: n, seed });
const truth = JSON.parse(await readFile(join(dir, 'cohort', 'truth.json'), 'utf8')) as {
  planted: Array<{ index: number; name: string }>;
};
const planted = new Set(truth.planted.map((p) => p.index));
const k = planted.size;
const atlas = await loadAal();
console.error(
  `synthesized ${n} AD + ${n} NC (seed ${seed}) in ${((performance.now() - t0) / 1000).toFixed(0)} s`,
);

interface Row {
  baseline: string;
  mode: string;
  sigma: number;
  precision: number;
  meanRank: number;
  top: string;
  forwards: number;
  secondsPerSubject: number;
}
const rows: Row[] = [];
for (const baseline of baselines) {
  const out = join(dir, `out-${baseline}`);
  const t = performance.now();
  const summary = await runCohort({
    cohort: join(dir, 'cohort', 'ad'),
    control: baseline === 'control' ? join(dir, 'cohort', 'nc') : undefined,
    out,
    model,
    sigmaMm: sigmas,
    mode: 'fusion',
    baseline,
    normalize: 'zscore',
    onEvent: (e) => {
      if (e.kind === 'failed') console.error(`  ${e.id}: ${e.reason}`);
    },
  });
  const seconds = (performance.now() - t) / 1000;
  const perSubject = seconds / Math.max(1, summary.explained);
  console.error(`baseline ${baseline}: ${summary.explained} subjects in ${seconds.toFixed(0)} s`);
  const ids = Array.from({ length: n }, (_, i) => `ad${String(i + 1).padStart(3, '0')}`);
  for (const sigma of sigmas) {
    for (const mode of ['light', 'shadow', 'fusion'] as const) {
      const sums = new Float64Array(atlas.regions.length);
      for (const id of ids) {
        const table = (await readSubjectRegions(out, id, 'cohort')).filter(
          (r) => r.sigmaMm === sigma,
        );
        const byIndex = new Map(table.map((r) => [r.index, r]));
        const raw = atlas.regions.map((region) => {
          const r = byIndex.get(region.index)!;
          return mode === 'light' ? r.light : mode === 'shadow' ? r.shadow : r.score;
        });
        normalizeToMax(raw).forEach((v, i) => (sums[i] += v / ids.length));
      }
      const order = atlas.regions.map((r, i) => ({ index: r.index, name: r.name, score: sums[i] }));
      order.sort((a, b) => b.score - a.score || a.index - b.index);
      const ranks = order.flatMap((r, i) => (planted.has(r.index) ? [i + 1] : []));
      rows.push({
        baseline,
        mode,
        sigma,
        precision: order.slice(0, k).filter((r) => planted.has(r.index)).length / k,
        meanRank: ranks.reduce((a, b) => a + b, 0) / ranks.length,
        top: order
          .slice(0, 3)
          .map((r) => r.name)
          .join(', '),
        forwards: mode === 'fusion' ? 1 + 2 * atlas.regions.length : 1 + atlas.regions.length,
        // Time scaled to this mode and one σ: the run did 3 σ × fusion (2 passes per point).
        secondsPerSubject: (perSubject / (sigmas.length * 2)) * (mode === 'fusion' ? 2 : 1),
      });
    }
  }
}
await rm(dir, { recursive: true, force: true });

rows.sort((a, b) => b.precision - a.precision || a.meanRank - b.meanRank);
const header = [
  'baseline',
  'mode',
  'σ mm',
  `precision@${k}`,
  'mean rank',
  'fwd/subject',
  's/subject',
  'top 3',
];
const table = [
  header,
  ...rows.map((r) => [
    r.baseline,
    r.mode,
    String(r.sigma),
    r.precision.toFixed(2),
    r.meanRank.toFixed(1),
    String(r.forwards),
    r.secondsPerSubject.toFixed(1),
    r.top,
  ]),
];
const widths = header.map((_, c) => Math.max(...table.map((r) => r[c].length)));
console.log(
  `bench:recovery — reference CNN, ${n} AD subjects (seed ${seed}), planted: ${truth.planted.map((p) => p.name).join(', ')}; best first`,
);
for (const r of table)
  console.log(
    r
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd(),
  );
