/**
 * npm run bench:pointing [-- --limit N] [--rise 2000,500] [--only glas,rise,centre] [--json FILE]
 * npm run bench:pointing -- --sweep [--limit N] [--json FILE] [--k 15 --lights 2,3,5,8
 *   --shadows 1,2,3,5 --spatials 1,2,3,4,6,8,12] [--no-k]
 *
 * The pointing game on ../shared/data/pointing (50 PASCAL VOC photos, VOC classes mapped to
 * ImageNet by voc-to-imagenet.json; photos whose objects have no ImageNet class are skipped)
 * with MobileNetV2-int8:
 * - default: one row per method — GLAS light, shadow and fusion at the `ilsvrc` preset, fusion
 *   at the paper's k 15, σ 5/3/6 cells and with those numbers read as pixels, the centre
 *   baseline, RISE at each mask count — with forward passes and seconds per photo (each row
 *   its own run);
 * - --sweep: σ_light × σ_shadow × σ_spatial at k = 15 (or --k, --lights, --shadows,
 *   --spatials), then k = 10, 12, 20 at the best row's σ kept in pixels (unless --no-k); light
 *   and shadow passes are run once per σ with every class kept (class-responses.ts), and each
 *   σ_spatial is only a fusion of them. Rows rank by pointing accuracy, then by the share of the
 *   map's mass inside the boxes (the energy pointing game), then by accuracy on small objects.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { availableParallelism, cpus } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gridSearchPoints, type GlasMode } from '../src/glas3d/index.js';
import {
  classResponses,
  cropToOriginal,
  fuseClass,
  IMAGE_PRESETS,
  imageAxes,
  imageModelInput,
  loadBoxes,
  mapMaximum,
  pointInBoxes,
  pointingPhotos,
  pointingTargets,
  preprocessImage,
  readClassMap,
  runPointingGame,
  scorePoint,
  type ClassResponses,
  type PointingGameOptions,
  type PointingTarget,
  type PreprocessedImage,
} from '../src/image/index.js';
import { loadOnnxClassifier, type OnnxClassifier } from '../src/model/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const data = join(root, '../shared/data');
const MODEL = join(data, 'imagenet/mobilenetv2-12-int8.onnx');
const IMAGES = join(data, 'pointing/images');
const BOXES = join(data, 'pointing/annotations');
const CLASSES = join(data, 'pointing/voc-to-imagenet.json');

const arg = (name: string) => {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : undefined;
};
const limit = arg('--limit') === undefined ? undefined : Number(arg('--limit'));
const riseMasks = (arg('--rise') ?? '2000,500').split(',').map(Number);
const only = arg('--only')?.split(',');
const jsonOut = arg('--json');

for (const f of [MODEL, IMAGES, BOXES, CLASSES]) {
  if (!existsSync(f)) {
    console.log(`bench:pointing skipped: ${f} is missing (see ../shared/data/README.md).`);
    process.exit(0);
  }
}

const fmt = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : '–');
const machine = `${cpus().length}-core ${cpus()[0]?.model.trim() ?? 'CPU'}, ${availableParallelism()} threads, Node ${process.versions.node}`;
console.log(`bench:pointing — ${new Date().toISOString().slice(0, 10)}, ${machine}`);

const classMap = await readClassMap(CLASSES);
const boxes = await loadBoxes(BOXES);
const classifier = await loadOnnxClassifier(MODEL);
await classifier.predict(new Float32Array(16 * 3 * 224 * 224), 16); // warm-up
const preset = IMAGE_PRESETS.ilsvrc;

if (process.argv.includes('--sweep')) await sweep(classifier);
else await table(classifier);
await classifier.dispose();

async function table(model: OnnxClassifier): Promise<void> {
  const base: PointingGameOptions = { model, images: IMAGES, boxes, classMap, limit };
  const rows: { label: string; options: Partial<PointingGameOptions> }[] = [];
  const ps = `k ${preset.grid}, σ ${preset.sigma.light}/${preset.sigma.shadow}/${preset.sigma.spatial}`;
  const glas = { method: 'glas' as const, grid: preset.grid, sigma: preset.sigma };
  if (!only || only.includes('glas')) {
    rows.push({ label: `GLAS fusion (ilsvrc: ${ps} cells)`, options: { ...glas, mode: 'fusion' } });
    rows.push({ label: `GLAS light (ilsvrc)`, options: { ...glas, mode: 'light' } });
    rows.push({ label: `GLAS shadow (ilsvrc)`, options: { ...glas, mode: 'shadow' } });
    const paper = { method: 'glas' as const, grid: 15, sigma: { light: 5, shadow: 3, spatial: 6 } };
    rows.push({ label: 'GLAS fusion (paper: k 15, σ 5/3/6 cells)', options: { ...paper } });
    rows.push({
      label: 'GLAS fusion (k 15, σ 5/3/6 as pixels)',
      options: { ...paper, units: 'pixels' },
    });
  }
  if (!only || only.includes('centre'))
    rows.push({ label: 'centre of the crop', options: { method: 'centre' } });
  if (!only || only.includes('rise')) {
    for (const n of riseMasks) {
      rows.push({
        label: `RISE ${n} masks (7×7, p 0.5)`,
        options: { method: 'rise', rise: { masks: n } },
      });
    }
  }
  const results = [];
  console.log(
    '\n| method | PT all | PT small | trials (small) | forward passes / photo | s / photo | model s / photo |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const row of rows) {
    const r = await runPointingGame({ ...base, ...row.options });
    results.push({ label: row.label, ...r });
    console.log(
      `| ${row.label} | ${fmt(r.overall.accuracy)} (${r.overall.hits}/${r.overall.trials}) | ${fmt(r.small.accuracy)} (${r.small.hits}/${r.small.trials}) | ${r.overall.trials} (${r.small.trials}) | ${Math.round(r.forwardPassesPerPhoto)} | ${fmt(r.secondsPerPhoto, 2)} | ${fmt(r.modelSecondsPerPhoto, 2)} |`,
    );
  }
  const first = results[0];
  if (first) {
    const unreachable = first.trials.filter((t) => t.outsideCrop).length;
    console.log(
      `\n${first.photos} photos with trials; skipped ${first.skipped.length}: ` +
        first.skipped.map((s) => `${s.file} (${s.reason})`).join('; ') +
        `. Trials whose boxes all lie outside the crop: ${unreachable}.`,
    );
  }
  if (jsonOut) await writeFile(jsonOut, JSON.stringify({ machine, results }, null, 1));
}

interface Prepared {
  file: string;
  pre: PreprocessedImage;
  targets: PointingTarget[];
  /** Per target, which crop pixels fall in its boxes (for the energy tie-breaker). */
  inBox: Uint8Array[];
}

/** Share of a map's mass (minus its minimum) on the pixels of `mask`: the energy pointing game. */
function energy(map: Float32Array, mask: Uint8Array): number {
  let lo = Infinity;
  for (const v of map) if (v < lo) lo = v;
  let inside = 0;
  let total = 0;
  for (let i = 0; i < map.length; i++) {
    const v = map[i] - lo;
    total += v;
    if (mask[i]) inside += v;
  }
  return total > 0 ? inside / total : 0;
}

async function sweep(model: OnnxClassifier): Promise<void> {
  const started = performance.now();
  const { photos } = await pointingPhotos(IMAGES, boxes, limit);
  const prepared: Prepared[] = [];
  for (const photo of photos) {
    const pre = await preprocessImage(photo.path);
    const axes = imageAxes(model, pre);
    const { input } = imageModelInput(axes, pre, { grid: 15, units: 'cells', baseline: 'zero' });
    const probe = await classResponses(model, input, [], { lightSigmas: [], shadowSigmas: [] });
    const { targets } = pointingTargets(
      photo.boxes,
      probe.probabilities,
      model.classes,
      { width: pre.geometry.originalWidth, height: pre.geometry.originalHeight },
      classMap,
    );
    const inBox = targets.map((t) => {
      const mask = new Uint8Array(pre.width * pre.height);
      for (let y = 0; y < pre.height; y++) {
        for (let x = 0; x < pre.width; x++) {
          const [ox, oy] = cropToOriginal(pre.geometry, x, y);
          mask[x + pre.width * y] = pointInBoxes(ox, oy, t.boxes) ? 1 : 0;
        }
      }
      return mask;
    });
    if (targets.length > 0) prepared.push({ file: basename(photo.path), pre, targets, inBox });
  }
  const trialCount = prepared.reduce((s, p) => s + p.targets.length, 0);
  console.log(`${prepared.length} photos, ${trialCount} trials`);
  const list = (name: string, fallback: number[]) => arg(name)?.split(',').map(Number) ?? fallback;
  const spatials = list('--spatials', [1, 2, 3, 4, 6, 8, 12]);
  const firstK = Number(arg('--k') ?? 15);

  type Row = {
    k: number;
    mode: GlasMode;
    l: number;
    s: number;
    sp: number;
    hits: boolean[];
    small: boolean[];
    energy: number[];
  };
  const rows = new Map<string, Row>();
  const record = (
    k: number,
    mode: GlasMode,
    l: number,
    s: number,
    sp: number,
    scored: { hit: boolean; energy: number },
    small: boolean,
  ) => {
    const key = `${k}|${mode}|${l}|${s}|${sp}`;
    let row = rows.get(key);
    if (!row) rows.set(key, (row = { k, mode, l, s, sp, hits: [], small: [], energy: [] }));
    row.hits.push(scored.hit);
    row.small.push(small);
    row.energy.push(scored.energy);
  };
  let passes = 0;

  async function runGrid(k: number, lights: number[], shadows: number[], label: string) {
    const t0 = performance.now();
    for (const p of prepared) {
      const axes = imageAxes(model, p.pre);
      const { input } = imageModelInput(axes, p.pre, { grid: k, units: 'cells', baseline: 'zero' });
      const points = gridSearchPoints([p.pre.width, p.pre.height], k);
      const responses: ClassResponses = await classResponses(model, input, points, {
        lightSigmas: lights,
        shadowSigmas: shadows,
      });
      passes += responses.forwardPasses;
      for (const [ti, t] of p.targets.entries()) {
        const score = (map: Float32Array) => {
          const point = mapMaximum(map, p.pre.width, p.pre.height);
          return {
            hit: scorePoint(point, p.pre.geometry, t.boxes).hit,
            energy: energy(map, p.inBox[ti]),
          };
        };
        for (const sp of spatials) {
          for (const l of lights) {
            const opts = { lightSigma: l, shadowSigma: shadows[0], spatialSigma: sp };
            record(
              k,
              'light',
              l,
              NaN,
              sp,
              score(fuseClass(responses, t.targetClass, { ...opts, mode: 'light' }).map),
              t.small,
            );
            for (const s of shadows) {
              const f = fuseClass(responses, t.targetClass, {
                ...opts,
                shadowSigma: s,
                mode: 'fusion',
              });
              record(k, 'fusion', l, s, sp, score(f.map), t.small);
            }
          }
          for (const s of shadows) {
            const f = fuseClass(responses, t.targetClass, {
              lightSigma: lights[0],
              shadowSigma: s,
              spatialSigma: sp,
              mode: 'shadow',
            });
            record(k, 'shadow', NaN, s, sp, score(f.map), t.small);
          }
        }
      }
    }
    console.log(`${label}: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }

  await runGrid(
    firstK,
    list('--lights', [2, 3, 5, 8]),
    list('--shadows', [1, 2, 3, 5]),
    `k = ${firstK} grid`,
  );
  const accuracy = (r: Row) => r.hits.filter(Boolean).length / r.hits.length;
  const smallAcc = (r: Row) => {
    const s = r.hits.filter((_, i) => r.small[i]);
    return s.filter(Boolean).length / s.length;
  };
  const meanEnergy = (r: Row) => r.energy.reduce((x, y) => x + y, 0) / r.energy.length;
  // PT first; among equal PT (1/58 steps), the map's mass in the boxes, then PT on small objects.
  const byScore = (a: Row, b: Row) =>
    accuracy(b) - accuracy(a) || meanEnergy(b) - meanEnergy(a) || smallAcc(b) - smallAcc(a);
  const best15 = [...rows.values()]
    .filter((r) => r.mode === 'fusion' && r.k === 15)
    .sort(byScore)[0];
  // Other k: the best k = 15 σ in cells, and the same σ in pixels (cells scale with k).
  // Other k at the best k = 15 row's σ in pixels (σ in cells scales with k).
  for (const k of process.argv.includes('--no-k') ? [] : [10, 12, 20]) {
    await runGrid(
      k,
      [round2((best15.l * k) / firstK)],
      [round2((best15.s * k) / firstK)],
      `k = ${k}`,
    );
  }

  const all = [...rows.values()];
  const line = (r: Row) =>
    `| ${r.k} | ${r.mode} | ${Number.isNaN(r.l) ? '–' : r.l} | ${Number.isNaN(r.s) ? '–' : r.s} | ${r.sp} | ${fmt(accuracy(r))} | ${fmt(smallAcc(r))} | ${fmt(meanEnergy(r))} | ${1 + (r.mode === 'fusion' ? 2 : 1) * r.k * r.k} |`;
  const header =
    '| k | mode | σ_l | σ_s | σ_spatial | PT all | PT small | mass in box | passes / photo |\n|---|---|---|---|---|---|---|---|---|';
  console.log(
    `\nsweep: ${passes} forward passes, ${((performance.now() - started) / 60000).toFixed(1)} min (σ in cells)`,
  );
  console.log('\nbest 15 fusion rows:\n' + header);
  for (const r of all
    .filter((r) => r.mode === 'fusion')
    .sort(byScore)
    .slice(0, 15))
    console.log(line(r));
  console.log('\nbest light and shadow rows:\n' + header);
  for (const mode of ['light', 'shadow'] as const) {
    for (const r of all
      .filter((r) => r.mode === mode)
      .sort(byScore)
      .slice(0, 3))
      console.log(line(r));
  }
  console.log("\nthe paper's σ (5, 3, 6) at k = 15:\n" + header);
  for (const r of all.filter(
    (r) =>
      r.k === 15 &&
      r.sp === 6 &&
      (r.l === 5 || Number.isNaN(r.l)) &&
      (r.s === 3 || Number.isNaN(r.s)),
  ))
    console.log(line(r));
  console.log('\nbest fusion PT per k and per σ_spatial:');
  for (const k of [10, 12, 15, 20]) {
    const rk = all.filter((r) => r.mode === 'fusion' && r.k === k).sort(byScore)[0];
    if (rk) console.log(`k ${k}: ${line(rk)}`);
  }
  for (const sp of spatials) {
    const r = all.filter((r) => r.mode === 'fusion' && r.sp === sp).sort(byScore)[0];
    if (r) console.log(`σ_spatial ${sp}: ${line(r)}`);
  }
  if (jsonOut) {
    await writeFile(
      jsonOut,
      JSON.stringify(
        {
          machine,
          rows: all.map((r) => ({
            k: r.k,
            mode: r.mode,
            l: r.l,
            s: r.s,
            sp: r.sp,
            accuracy: accuracy(r),
            small: smallAcc(r),
            energy: meanEnergy(r),
          })),
        },
        null,
        1,
      ),
    );
  }
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
