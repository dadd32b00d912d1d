/**
 * Turn the weights written by train.py into models/reference-cnn3d.onnx with glas3d's own
 * builder (the paper's CNN ending in a softmax), and check it against the training metadata.
 *   npx tsx tools/train-reference/export.ts WEIGHTS_PREFIX [models/reference-cnn3d.onnx]
 */
import { readFile, writeFile } from 'node:fs/promises';
import { buildPaperCnn3d, type PaperCnn3dWeights } from '../../src/model/onnx-builder.js';

interface Manifest {
  tensors: Array<{ name: string; shape: number[]; offset: number }>;
  input: { shape: number[] };
}

const [prefix, out = 'models/reference-cnn3d.onnx'] = process.argv.slice(2);
if (!prefix) throw new Error('usage: export.ts WEIGHTS_PREFIX [OUT.onnx]');
const manifest = JSON.parse(await readFile(`${prefix}.json`, 'utf8')) as Manifest;
const bytes = await readFile(`${prefix}.bin`);
const tensor = (name: string): Float32Array => {
  const t = manifest.tensors.find((x) => x.name === name);
  if (!t) throw new Error(`${prefix}.json has no tensor ${name}`);
  const n = t.shape.reduce((a, b) => a * b, 1);
  return new Float32Array(
    bytes.buffer.slice(bytes.byteOffset + t.offset, bytes.byteOffset + t.offset + 4 * n),
  );
};
const weights: PaperCnn3dWeights = {
  conv: [0, 1, 2].map((i) => ({
    weight: tensor(`conv${i}.weight`),
    bias: tensor(`conv${i}.bias`),
  })),
  dense: [0, 1, 2].map((i) => ({
    weight: tensor(`dense${i}.weight`),
    bias: tensor(`dense${i}.bias`),
  })),
};
await writeFile(out, buildPaperCnn3d({ inputShape: manifest.input.shape, seed: 0, weights }));
console.log(`wrote ${out}`);

// Check the ONNX model against PyTorch on the probe subjects, when the test cohort is here.
const meta = JSON.parse(await readFile(`${prefix}.json`, 'utf8')) as {
  test: { cohort: string; probe: Array<{ file: string; p_ad: number }> };
};
const { existsSync } = await import('node:fs');
const { join } = await import('node:path');
const { loadOnnxClassifier, toModelTensor } = await import('../../src/model/index.js');
const { readVolume, normalizeIntensity } = await import('../../src/volume/index.js');
const clf = await loadOnnxClassifier(out, { axes: 'xyz' });
for (const probe of meta.test.probe) {
  const path = ['ad', 'nc'].map((g) => join(meta.test.cohort, g, probe.file)).find(existsSync);
  if (!path) {
    console.log(`(${probe.file} is not here: ONNX vs PyTorch check skipped)`);
    continue;
  }
  const v = normalizeIntensity(await readVolume(path), 'zscore');
  const p = await clf.predict(toModelTensor(v.data, v.dims, 1, clf.gridAxes!), 1);
  const diff = Math.abs(p[1] - probe.p_ad);
  console.log(
    `${probe.file}: P(AD) onnx ${p[1].toFixed(6)} vs pytorch ${probe.p_ad.toFixed(6)} (|Δ| ${diff.toExponential(1)})`,
  );
  if (diff > 1e-3) throw new Error('the exported model disagrees with PyTorch');
}
await clf.dispose();
