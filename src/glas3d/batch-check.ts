/**
 * Whether a model answers each sample of a batch on its own. GLAS runs the perturbed copies in
 * batches and compares each answer with the unperturbed sample's, run alone; a model that
 * normalizes over the whole batch (x / x.max() with no dim, batch norm exported in training
 * mode) would judge the copies against each other, silently.
 */
import { BatchDependenceError, NonFiniteOutputError } from '../errors.js';
import type { Classifier } from './classifier.js';

/** Classifiers checked, and the error of those that failed (every later run fails with it). */
const verdicts = new WeakMap<Classifier, BatchDependenceError | null>();

/**
 * Once per classifier (three forward passes, outside any GLAS run's count): the sample, batched
 * beside a copy of itself at twice the intensity, must get the answer it gets alone. The copy
 * changes any batch-wide statistic (a maximum, a mean, a variance) while the sample is an input
 * the model responds to. A model that gives NaN on either cannot be checked so, and passes (the
 * GLAS run then says where it fails). The explain commands call it before GLAS; runGlas does not.
 */
export async function checkBatchIndependence(
  classifier: Classifier,
  sample: Float32Array,
): Promise<void> {
  const verdict = verdicts.get(classifier);
  if (verdict) throw verdict;
  if (verdict === null || classifier.batchSize < 2) return;
  const pair = new Float32Array(2 * sample.length);
  pair.set(sample);
  for (let i = 0; i < sample.length; i++) pair[sample.length + i] = 2 * sample[i];
  let alone: Float32Array;
  let batched: Float32Array;
  try {
    alone = await classifier.predict(pair.subarray(0, sample.length), 1);
    batched = await classifier.predict(pair, 2);
  } catch (e) {
    if (!(e instanceof NonFiniteOutputError)) throw e;
    verdicts.set(classifier, null);
    return;
  }
  const error = batchDependenceError(classifier, batched, alone, 1e-4);
  verdicts.set(classifier, error ?? null);
  if (error) throw error;
}

/**
 * The error for a model whose answer to a sample in a batch differs from its answer to that
 * sample alone by more than `tolerance` (relative), else undefined.
 */
export function batchDependenceError(
  model: { readonly classes: number; readonly modelName?: string },
  batched: Float32Array,
  alone: Float32Array,
  tolerance: number,
): BatchDependenceError | undefined {
  for (let c = 0; c < model.classes; c++) {
    const [a, b] = [batched[c], alone[c]];
    if (Math.abs(a - b) <= tolerance * Math.max(Math.abs(a), Math.abs(b)) + 1e-7) continue;
    return new BatchDependenceError(
      `model ${model.modelName ?? ''} answers the same sample differently alone (class ${c}: ${b.toPrecision(6)}) and in a batch (${a.toPrecision(6)}): `.replace(
        'model  ',
        'the model ',
      ) +
        'its output depends on the other samples in the batch (batch norm exported in training mode, or a normalization over the whole batch such as x / x.max()), ' +
        'so perturbed copies would be judged against each other. Use --batch 1 (library: batchSize 1), or export the model in eval mode without batch-wide operations (with a dynamic batch axis, if its batch is fixed).',
    );
  }
  return undefined;
}
