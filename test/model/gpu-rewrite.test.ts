/**
 * rewriteForWebGpu: Selu (no WebGPU kernel) becomes γ·Elu. Checked on the paper's 3-D CNN, whose
 * dense layers use SELU: the rewritten graph holds no Selu and gives the original's probabilities
 * on the CPU provider (the definition of SELU is the independent truth: same function).
 */
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { buildLinearOracle, buildPaperCnn3d, rewriteForWebGpu } from '../../src/model/index.js';

const { onnx } = onnxProto;
const ops = (bytes: Uint8Array) => onnx.ModelProto.decode(bytes).graph!.node!.map((n) => n.opType);

async function run(bytes: Uint8Array, x: ort.Tensor): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes);
  const out = await s.run({ [s.inputNames[0]]: x });
  await s.release();
  return out[s.outputNames[0]].data as Float32Array;
}

describe('rewriteForWebGpu', () => {
  it('writes Selu as γ·Elu without changing what the paper CNN computes', async () => {
    const cnn = buildPaperCnn3d({ inputShape: [1, 16, 20, 16], seed: 3 });
    const rewritten = rewriteForWebGpu(cnn);
    expect(ops(cnn)).toContain('Selu');
    expect(ops(rewritten)).not.toContain('Selu');
    expect(ops(rewritten).filter((o) => o === 'Elu')).toHaveLength(
      ops(cnn).filter((o) => o === 'Selu').length,
    );
    const n = 3 * 16 * 20 * 16;
    const x = new ort.Tensor(
      'float32',
      Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 2),
      [3, 1, 16, 20, 16],
    );
    const [want, got] = [await run(cnn, x), await run(rewritten, x)];
    expect(got.length).toBe(want.length);
    for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i], 6);
    // Not a constant output: the comparison can fail.
    expect(Math.max(...want) - Math.min(...want)).toBeGreaterThan(1e-3);
  });

  it('returns a model without such operators as given', () => {
    const oracle = buildLinearOracle({
      inputShape: [1, 4, 4, 4],
      weights: new Float32Array(64).fill(1 / 64),
      scale: 1,
      bias: 0,
      output: 'two-logits',
    });
    expect(rewriteForWebGpu(oracle)).toBe(oracle);
  });
});
