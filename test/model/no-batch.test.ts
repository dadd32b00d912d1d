/**
 * A model exported without a batch axis (input [3, 8, 8], output [2]) is named as such when it
 * is loaded, with what to do, instead of "has no values per sample".
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder, loadOnnxClassifier } from '../../src/model/index.js';

/** [3, 8, 8] → [2]: the mean of the input times [0, 1]. */
function noBatchModel(): Uint8Array {
  const g = new GraphBuilder('nobatch');
  const x = g.input('input', [3, 8, 8]);
  const m = g.node('ReduceMean', [x], { axes: [0, 1, 2], keepdims: 0 });
  g.node('Mul', [m, g.floats('pick', [2], [0, 1])], {}, ['output']);
  g.output('output', [2]);
  return g.toBytes();
}

describe('a model without a batch axis', () => {
  it('is refused at load with the reason and the re-export to do', async () => {
    await expect(loadOnnxClassifier(noBatchModel(), { modelName: 'nb.onnx' })).rejects.toThrow(
      /^model nb\.onnx has no batch axis: its input 'input' \[3,8,8\] starts with 3 \(the channel count, read as a batch of 3\) and its output 'output' \[2\] has no axis for the batch; .*re-export the model with a batch axis first \(input \[N, 3, 8, 8\], output \[N, 2\]/,
    );
  });
});
