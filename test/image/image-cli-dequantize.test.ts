/**
 * `glas3d image --dequantize` in-process on the real MobileNetV2 int8 and finch.jpeg (coarse 3 × 3
 * grid): the float twin runs for every session, its probabilities are those of a session of
 * dequantizeModel's bytes computed here, and the summary and stderr say so. On a float model
 * (a linear oracle built here) the flag has no effect and says that once.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run-cli.js';
import { preprocessImage, toModelSample } from '../../src/image/index.js';
import { buildLinearOracle, dequantizeModel, gridAxesOf } from '../../src/model/index.js';
import { encodePng, gradientRgb } from './png.js';

const DATA = path.resolve('../shared/data/imagenet');
const MODEL = path.join(DATA, 'mobilenetv2-12-int8.onnx');
const FINCH = path.join(DATA, 'finch.jpeg');
const missing = [MODEL, FINCH].filter((f) => !existsSync(f));
const skipReason = missing.length ? ` (skipped: ${missing.join(', ')} not found)` : '';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'glas3d-image-dequantize-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** glas3d image FINCH on a 3 × 3 grid with --json; the one summary and stderr. */
async function finch(...options: string[]) {
  const r = await runCli(['image', FINCH, '--model', MODEL, '--grid', '3', '--json', ...options]);
  expect(r.code, r.stderr).toBe(0);
  const [summary] = JSON.parse(r.stdout);
  return { summary, stderr: r.stderr };
}

/** The twin's class probabilities on finch.jpeg: softmax (float64) of its session's logits. */
async function twinProbabilities(): Promise<number[]> {
  const pre = await preprocessImage(FINCH); // short side 256, centre crop 224, ImageNet mean/std
  const sample = toModelSample(
    pre.pixels,
    pre,
    pre.normalization,
    gridAxesOf('NCHW', 'zyx', [3, 224, 224]),
  );
  const session = await ort.InferenceSession.create(
    dequantizeModel(new Uint8Array(readFileSync(MODEL))),
  );
  const out = await session.run({ input: new ort.Tensor('float32', sample, [1, 3, 224, 224]) });
  await session.release();
  const logits = Array.from(out[session.outputNames[0]].data as Float32Array);
  const max = Math.max(...logits);
  const e = logits.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

describe.skipIf(missing.length > 0)(`glas3d image --dequantize${skipReason}`, () => {
  it('runs the float twin: same top class, the twin’s probabilities, recorded in the summary', async () => {
    const plain = await finch('--out', path.join(dir, 'int8'));
    const twin = await finch('--out', path.join(dir, 'twin'), '--dequantize');
    expect(plain.stderr).toBe(''); // on the CPU a quantized model gets no hint
    expect(plain.summary.model).not.toHaveProperty('dequantized');
    expect(twin.summary.model.dequantized).toBe(true);
    const lines = twin.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^glas3d image: running .*mobilenetv2-12-int8\.onnx as its float twin \(--dequantize\)/,
    );
    expect(twin.summary.class).toBe(plain.summary.class);
    expect(twin.summary.class).toBe(12); // house finch

    const p = await twinProbabilities();
    expect(twin.summary.probability).toBeCloseTo(p[12], 6);
    for (const t of twin.summary.top5) expect(t.probability).toBeCloseTo(p[t.class], 6);
    // The int8 model's own probabilities are another model's: they differ by its quantization noise.
    expect(Math.abs(plain.summary.probability - p[12])).toBeGreaterThan(1e-6);
  });

  it('with in-graph perturbation the in-graph session runs the twin too', async () => {
    const { summary } = await finch(
      '--out',
      path.join(dir, 'in-graph'),
      '--dequantize',
      '--perturbation',
      'device',
      '--batch',
      '4',
      '--quiet',
    );
    expect(summary.model.dequantized).toBe(true);
    // P(y | I) comes from the in-graph session here.
    expect(summary.probability).toBeCloseTo((await twinProbabilities())[12], 5);
  });
});

describe('glas3d image --dequantize on a float model', () => {
  it('says once that it has no effect, and runs the model as it is', async () => {
    const oracle = path.join(dir, 'oracle.onnx');
    await writeFile(
      oracle,
      buildLinearOracle({
        inputShape: [3, 224, 224],
        weights: new Float32Array(3 * 224 * 224).fill(1e-6),
        scale: 1,
        bias: 0,
        output: 'two-logits',
      }),
    );
    const png = path.join(dir, 'grad.png');
    await writeFile(png, encodePng(224, 224, 2, gradientRgb(224, 224)));
    const args = ['image', png, '--model', oracle, '--grid', '2', '--json'];
    const asIs = await runCli([...args, '--out', path.join(dir, 'float')]);
    const flagged = await runCli([...args, '--out', path.join(dir, 'float-flag'), '--dequantize']);
    expect([asIs.code, flagged.code]).toEqual([0, 0]);
    expect(asIs.stderr).toBe('');
    expect(flagged.stderr).toBe(
      `glas3d image: --dequantize has no effect: ${oracle} is not quantized; it runs as it is\n`,
    );
    const [a] = JSON.parse(asIs.stdout);
    const [b] = JSON.parse(flagged.stdout);
    expect(b.model).not.toHaveProperty('dequantized');
    expect(b.probability).toBe(a.probability);
  });
});
