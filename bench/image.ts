/**
 * npm run bench:image [-- --repeats R] [--grids 12,15,22,30]
 *
 * Seconds per photo of `explainImage` (GLAS fusion, σ 5/3/6 cells, zero baseline, batch 16) on
 * MobileNetV2-int8 for finch.jpeg and samoyed.jpg at k = 12, 15, 22, 30 (1 + 2k² forward passes),
 * beside the pure model time: the same number of forward passes in the same batch sizes on
 * unperturbed copies, the floor any implementation pays. Rows alternate GLAS and pure model so
 * that load from other work on the machine hits both alike; each row is the fastest of R runs
 * (default 2). Decoding and preprocessing are inside the GLAS time (the photo is a path).
 */
import { existsSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { explainImage, imageAxes, preprocessImage, toModelSample } from '../src/image/index.js';
import { loadOnnxClassifier, type OnnxClassifier } from '../src/model/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const data = join(root, '../shared/data/imagenet');
const MODEL = join(data, 'mobilenetv2-12-int8.onnx');
const PHOTOS = ['finch.jpeg', 'samoyed.jpg'].map((f) => join(data, f));
const arg = (name: string) => {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : undefined;
};
const repeats = Number(arg('--repeats') ?? 2);
const grids = (arg('--grids') ?? '12,15,22,30').split(',').map(Number);

for (const f of [MODEL, ...PHOTOS]) {
  if (!existsSync(f)) {
    console.log(`bench:image skipped: ${f} is missing (see ../shared/data/README.md).`);
    process.exit(0);
  }
}

/** `passes` forward passes in batches of the classifier's size, 1 first as GLAS does. */
async function pureModel(classifier: OnnxClassifier, sample: Float32Array, passes: number) {
  const size = sample.length;
  const batch = classifier.batchSize;
  const buffer = new Float32Array(batch * size);
  for (let k = 0; k < batch; k++) buffer.set(sample, k * size);
  const sizes = [1];
  for (let left = passes - 1; left > 0; left -= batch) sizes.push(Math.min(batch, left));
  const start = performance.now();
  for (const n of sizes) await classifier.predict(buffer.subarray(0, n * size), n);
  return performance.now() - start;
}

const machine = `${cpus().length}-core ${cpus()[0]?.model.trim() ?? 'CPU'}, ${availableParallelism()} threads, Node ${process.versions.node}`;
console.log(
  `bench:image — ${new Date().toISOString().slice(0, 10)}, ${machine}, fastest of ${repeats}`,
);
const classifier = await loadOnnxClassifier(MODEL);
await pureModel(classifier, new Float32Array(3 * 224 * 224), 33); // warm-up
console.log(
  '\n| photo | k | forward passes | GLAS s / photo | in the model | pure model s | GLAS / pure | ms / pass (GLAS) |',
);
console.log('|---|---|---|---|---|---|---|---|');
for (const photo of PHOTOS) {
  const pre = await preprocessImage(photo);
  const sample = toModelSample(pre.pixels, pre, pre.normalization, imageAxes(classifier, pre));
  for (const k of grids) {
    let best = { total: Infinity, model: 0, passes: 0 };
    let pure = Infinity;
    for (let r = 0; r < repeats; r++) {
      const t = performance.now();
      const ex = await explainImage(photo, { model: classifier, grid: k });
      const total = performance.now() - t;
      if (total < best.total) best = { total, model: ex.timing.modelMs, passes: ex.forwardPasses };
      pure = Math.min(pure, await pureModel(classifier, sample, ex.forwardPasses));
    }
    const name = photo.split('/').pop();
    console.log(
      `| ${name} | ${k} | ${best.passes} | ${(best.total / 1000).toFixed(2)} | ${(best.model / 1000).toFixed(2)} | ${(pure / 1000).toFixed(2)} | ${(best.total / pure).toFixed(2)} | ${(best.total / best.passes).toFixed(2)} |`,
    );
  }
}
await classifier.dispose();
