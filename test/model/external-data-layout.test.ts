/**
 * A model whose weights lie in an external data file (model.onnx + model.onnx.data, as
 * torch.onnx saves big models): its perturbed copies are made on the host by default on a GPU,
 * since a combined model cannot reach that file; an explicit in-graph load says which flag helps;
 * a missing data file is named as such. And a --layout that does not fit the model's input names
 * the one that does.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelError } from '../../src/errors.js';
import {
  externalDataNotes,
  loadInGraphClassifier,
  preferredPerturbationSite,
  sourcePerturbationSite,
} from '../../src/model/combined-model.js';
import { modelSource } from '../../src/model/dequantize.js';
import { buildLinearOracle, loadOnnxClassifier } from '../../src/model/index.js';
import { randomArray, rejection } from './helpers.js';

const { onnx } = onnxProto;
const dir = mkdtempSync(join(tmpdir(), 'glas3d-external-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SAMPLE = [1, 5, 4, 6];
const linear = (inputShape: number[]) =>
  buildLinearOracle({
    inputShape,
    weights: randomArray(120, 3),
    scale: 1,
    bias: 0,
    output: 'two-logits',
  });

/** `name`.onnx with its weight W moved into `name`.onnx.data (written unless `missing`). */
function externalModel(name: string, missing = false): string {
  const model = onnx.ModelProto.decode(linear(SAMPLE));
  const w = model.graph!.initializer!.find((t) => (t.dims ?? []).length === 2)!; // W [k, 1]
  const bytes =
    w.rawData && w.rawData.length > 0
      ? w.rawData
      : new Uint8Array(Float32Array.from(w.floatData ?? []).buffer);
  w.floatData = [];
  const location = `${name}.onnx.data`;
  w.rawData = new Uint8Array(0);
  w.dataLocation = 1;
  w.externalData = [
    { key: 'location', value: location },
    { key: 'offset', value: '0' },
    { key: 'length', value: String(bytes.length) },
  ];
  const path = join(dir, `${name}.onnx`);
  writeFileSync(path, onnx.ModelProto.encode(model).finish());
  if (!missing) writeFileSync(join(dir, location), bytes);
  return path;
}

describe('a model with external data', () => {
  it('runs on the host by default on a GPU, with a note why; the CPU site is unchanged', async () => {
    const path = externalModel('ext');
    const source = await modelSource(path, { inspect: true });
    expect(source.externalData).toBe(true);
    expect(sourcePerturbationSite('cuda', source)).toBe('host');
    expect(await preferredPerturbationSite('webgpu', path)).toBe('host');
    expect(await preferredPerturbationSite('cpu', path)).toBe('host');
    const [note, ...more] = externalDataNotes(source, 'cuda');
    expect(more).toEqual([]);
    expect(note).toContain('external data file');
    expect(note).toContain('--perturbation host');
    expect(externalDataNotes(source, 'cuda', 'host')).toEqual([]); // asked for: no note
    expect(externalDataNotes(source, 'cpu')).toEqual([]);
    // A model with its weights inside keeps the graph as the GPU's site.
    const inside = join(dir, 'inside.onnx');
    writeFileSync(inside, linear(SAMPLE));
    expect(await preferredPerturbationSite('webgpu', inside)).toBe('device');
    // It loads and runs as it is (onnxruntime reads the data file beside it).
    const clf = await loadOnnxClassifier(path);
    await clf.dispose();
  });

  it('an in-graph load says to use --perturbation host', async () => {
    const e = await rejection(loadInGraphClassifier(externalModel('ext2')));
    expect(e).toBeInstanceOf(ModelError);
    expect(e.message).toContain('in external data, which a combined model cannot reach');
    expect(e.message).toContain('use --perturbation host, or save the model with its weights inside');
    expect(e.message).not.toContain('in JS');
  });

  it('a missing data file is named, not taken for a broken model', async () => {
    const e = await rejection(loadOnnxClassifier(externalModel('gone', true)));
    expect(e).toBeInstanceOf(ModelError);
    expect(e.message).toContain('gone.onnx.data, which is missing');
    expect(e.message).toContain(join(dir, 'gone.onnx.data'));
    expect(e.message).toContain('must sit beside the model');
    expect(e.message).not.toContain('not a valid ONNX model');
  });
});

describe('a --layout that does not fit', () => {
  it('a channels-last volume under --layout NCDHW names NDHWC', async () => {
    const e = await rejection(loadOnnxClassifier(linear([5, 4, 6, 1]), { layout: 'NCDHW' }));
    expect(e).toBeInstanceOf(ModelError);
    expect(e.message).toContain('wants 5 channels per voxel under --layout NCDHW');
    expect(e.message).toContain('use --layout NDHWC, or leave --layout out');
  });

  it('a volume without channel axis under a --layout says to leave it out', async () => {
    const e = await rejection(
      loadOnnxClassifier(linear([5, 4, 6]), {
        layout: 'NCDHW',
        dataGrid: { dims: [5, 4, 6], channels: 1 },
      }),
    );
    expect(e).toBeInstanceOf(ModelError);
    expect(e.message).toContain('layout NCDHW needs a sample of rank 4');
    expect(e.message).toContain('no channel axis');
    expect(e.message).toContain('leave --layout out');
    // Without --layout it loads.
    const clf = await loadOnnxClassifier(linear([5, 4, 6]), {
      dataGrid: { dims: [5, 4, 6], channels: 1 },
    });
    await clf.dispose();
  });

  it('a fitting --layout, or none, gives no advice', async () => {
    const clf = await loadOnnxClassifier(linear([5, 4, 6, 1]), { layout: 'NDHWC' });
    await clf.dispose();
  });
});

describe('image --layout that reads the wrong end', () => {
  it('an NCHW model under --layout NHWC names NCHW', async () => {
    const { imageModelPlan } = await import('../../src/image/image-model.js');
    const model = buildLinearOracle({
      inputShape: [3, 8, 8],
      weights: randomArray(192, 5),
      scale: 1,
      bias: 0,
      output: 'two-logits',
    });
    const e = await rejection(imageModelPlan(model, {}, 'NHWC', 'rgb.onnx'));
    expect(e).toBeInstanceOf(ModelError);
    expect(e.message).toContain('takes images with 8 channels');
    expect(e.message).toContain('use --layout NCHW, or leave --layout out');
    expect((await imageModelPlan(model, {}, 'NCHW', 'rgb.onnx')).layout).toBe('NCHW');
  });
});
