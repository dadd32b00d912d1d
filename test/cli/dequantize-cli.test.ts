/**
 * --dequantize on the volume commands (explain, run) and on eval pointing. The quantized volume
 * model is a linear oracle with its input quantized to 8 bits and back (QuantizeLinear →
 * DequantizeLinear, built here), so its float twin is the oracle with the input clipped, and
 * `--dequantize` must give what the twin's own file gives without the flag.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run-cli.js';
import { dequantizeModel, isQuantizedModel } from '../../src/model/index.js';
import { writeVolume } from '../../src/volume/index.js';
import { makeCohort } from '../cohort/cohort-fixtures.js';
import { linearOracle, oracleWorld, regionWeights } from '../explain/oracle-fixtures.js';

const { onnx } = onnxProto;

/** `model` with its input quantized to uint8 (scale, zero point 0) and dequantized again. */
function withQuantizedInput(model: Uint8Array, scale: number): Uint8Array {
  const proto = onnx.ModelProto.decode(model);
  const graph = proto.graph!;
  const x = graph.input![0].name!;
  for (const n of graph.node ?? []) n.input = (n.input ?? []).map((i) => (i === x ? `${x}/dq` : i));
  graph.initializer!.push(
    { name: 'q/scale', dims: [], dataType: onnx.TensorProto.DataType.FLOAT, floatData: [scale] },
    { name: 'q/zero', dims: [], dataType: onnx.TensorProto.DataType.UINT8, int32Data: [0] },
  );
  graph.node!.unshift(
    { opType: 'QuantizeLinear', input: [x, 'q/scale', 'q/zero'], output: [`${x}/q`] },
    { opType: 'DequantizeLinear', input: [`${x}/q`, 'q/scale', 'q/zero'], output: [`${x}/dq`] },
  );
  return onnx.ModelProto.encode(proto).finish();
}

/** The lines of stderr that are not progress. */
const notes = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('glas3d '));

let dir: string;
let volume: string;
let float: string;
let quantized: string;
let twin: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'glas3d-dequantize-cli-'));
  const w = await oracleWorld();
  volume = join(dir, 'colin_2mm.nii.gz');
  await writeVolume(volume, w.volume);
  const oracle = linearOracle(w, regionWeights(w, { 37: 1, 42: 1 }));
  // 8 bits over a bit less than the volume's range: the top intensities saturate.
  const q = withQuantizedInput(
    oracle,
    (0.9 * w.volume.data.reduce((a, b) => Math.max(a, b))) / 255,
  );
  expect(isQuantizedModel(q)).toBe(true);
  [float, quantized, twin] = ['float.onnx', 'int8.onnx', 'twin.onnx'].map((f) => join(dir, f));
  await writeFile(float, oracle);
  await writeFile(quantized, q);
  await writeFile(twin, dequantizeModel(q));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('glas3d explain --dequantize', () => {
  const explainOn = (model: string, out: string, ...flags: string[]) => {
    const args = ['--out', join(dir, out), '--sigma', '10', '--baseline', 'zero', '--json'];
    return runCli(['explain', volume, '--model', model, ...args, ...flags]);
  };

  it('explains with the float twin: the twin file’s results, recorded and said once', async () => {
    const flagged = await explainOn(quantized, 'flagged', '--dequantize');
    const direct = await explainOn(twin, 'direct');
    const int8 = await explainOn(quantized, 'int8');
    expect([flagged.code, direct.code, int8.code]).toEqual([0, 0, 0]);
    const [said, ...more] = notes(flagged.stderr);
    expect(said).toMatch(
      /^glas3d explain: running .*int8\.onnx as its float twin \(--dequantize\)/,
    );
    expect(more).toEqual([]);
    expect(notes(int8.stderr)).toEqual([]); // the CPU: no hint
    const a = JSON.parse(flagged.stdout);
    const b = JSON.parse(direct.stdout);
    expect(a.dequantized).toBe(true);
    expect(b).not.toHaveProperty('dequantized');
    expect(a.probability).toBe(b.probability);
    expect(JSON.parse(int8.stdout).probability).not.toBe(a.probability); // rounding to 8 bits
    expect(await readFile(a.regions, 'utf8')).toBe(await readFile(b.regions, 'utf8'));
    const summary = JSON.parse(await readFile(a.summary, 'utf8'));
    expect(summary.model).toMatchObject({ name: quantized, dequantized: true });
  });

  it('on a float model: one note that it has no effect', async () => {
    const r = await explainOn(float, 'float', '--dequantize');
    expect(r.code).toBe(0);
    expect(notes(r.stderr)).toEqual([
      `glas3d explain: --dequantize has no effect: ${float} is not quantized; it runs as it is`,
    ]);
    expect(JSON.parse(r.stdout)).not.toHaveProperty('dequantized');
  });
});

describe('glas3d run --dequantize', () => {
  it('runs the twin, says so once and records it in run.json; a float model gets the note', async () => {
    const fx = await makeCohort(join(dir, 'cohort'), 1, 0);
    const flags = ['--baseline', 'zero', '--dequantize', '--json'];
    const runOn = (model: string, out: string) =>
      runCli(['run', '--cohort', fx.cohort, '--model', model, '--out', join(dir, out), ...flags]);
    const r = await runOn(quantized, 'run-int8');
    expect(r.code, r.stderr).toBe(0);
    const said = notes(r.stderr).filter((l) => /dequantize/.test(l));
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/^glas3d run: running .*int8\.onnx as its float twin/);
    expect(JSON.parse(r.stdout).dequantized).toBe(true);
    const settings = JSON.parse(await readFile(join(dir, 'run-int8', 'run.json'), 'utf8'));
    expect(settings.model).toMatchObject({ path: resolve(quantized), dequantized: true });

    const f = await runOn(float, 'run-float');
    expect(f.code, f.stderr).toBe(0);
    expect(f.stderr).toMatch(
      /^glas3d run: --dequantize has no effect: .*float\.onnx is not quantized/m,
    );
    expect(JSON.parse(f.stdout)).not.toHaveProperty('dequantized');
  });
});

const SHARED = resolve('../shared/data');
const MOBILENET = join(SHARED, 'imagenet/mobilenetv2-12-int8.onnx');
const POINTING = join(SHARED, 'pointing');
const missing = [MOBILENET, POINTING].filter((f) => !existsSync(f));

describe.skipIf(missing.length > 0)(
  `glas3d eval pointing --dequantize${missing.length ? ` (skipped: ${missing.join(', ')} not found)` : ''}`,
  () => {
    it('loads the twin, says so once and records it in the JSON', async () => {
      const r = await runCli([
        'eval',
        'pointing',
        '--model',
        MOBILENET,
        '--images',
        join(POINTING, 'images'),
        '--boxes',
        join(POINTING, 'annotations'),
        '--classes',
        join(POINTING, 'voc-to-imagenet.json'),
        '--method',
        'centre',
        '--limit',
        '2',
        '--dequantize',
        '--json',
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/^glas3d eval pointing: running .* as its float twin[^\n]*\n$/);
      const result = JSON.parse(r.stdout);
      expect(result.dequantized).toBe(true);
      expect(result.trials.length).toBeGreaterThan(0);
    });
  },
);
