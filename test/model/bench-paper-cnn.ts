/**
 * One-off timing of the paper 3D CNN through OnnxClassifier (not a test):
 *   npx tsx test/model/bench-paper-cnn.ts [batch] [runs] [device]
 */
import { availableParallelism } from 'node:os';
import { buildPaperCnn3d, loadOnnxClassifier, type Device } from '../../src/model/index.js';

const batch = Number(process.argv[2] ?? 16);
const runs = Number(process.argv[3] ?? 5);
const device = (process.argv[4] ?? 'cpu') as Device;
const shape = [1, 91, 109, 91];

let t = performance.now();
const bytes = buildPaperCnn3d({ inputShape: shape, seed: 1 });
const built = performance.now() - t;
t = performance.now();
const clf = await loadOnnxClassifier(bytes, { batchSize: batch, device });
const loaded = performance.now() - t;
const size = shape.reduce((a, b) => a * b, 1);
const data = Float32Array.from({ length: batch * size }, (_, i) => Math.sin(i) * 0.5);
await clf.predict(data, batch); // warm-up
const times: number[] = [];
for (let r = 0; r < runs; r++) {
  t = performance.now();
  await clf.predict(data, batch);
  times.push(performance.now() - t);
}
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)];
console.log(
  `paper CNN ${shape.join('×')} batch ${batch} on ${device} (${availableParallelism()} CPUs): ` +
    `build ${built.toFixed(0)} ms, load ${loaded.toFixed(0)} ms, forward median ${median.toFixed(0)} ms ` +
    `(${(median / batch).toFixed(1)} ms/sample; runs ${times.map((x) => x.toFixed(0)).join(', ')})`,
);
await clf.dispose();
