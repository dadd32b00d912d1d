/**
 * What a model's rows hold: class probabilities (each in [0, 1]; the paper's P(y | ·)), or raw
 * values such as a predicted age, which GLAS explains the same way (eq. 2 by how much a shadow
 * moves the value; eq. 1 and 3 need values ≥ 0).
 */
export type ResponseKind = 'probabilities' | 'values';

/**
 * The only thing the GLAS engine knows about a model: a batch of samples in, class
 * probabilities (or values, see ResponseKind) out. ONNX models (src/model) and test oracles
 * implement it alike.
 */
export interface Classifier {
  /**
   * Shape of one sample without the batch axis, in the model's memory order
   * (C order: last axis fastest), e.g. [1, 91, 109, 91] for an NCDHW model.
   */
  readonly inputShape: readonly number[];
  /** Number of classes in the probability rows that `predict` returns. */
  readonly classes: number;
  /** What `predict`'s rows hold; default 'probabilities'. */
  readonly responses?: ResponseKind;
  /** Largest number of samples the engine should pass to one `predict` call. */
  readonly batchSize: number;
  /**
   * Run `n` samples laid end to end in `batch` (n × prod(inputShape) floats) and return
   * their class probabilities, n × classes, each row summing to 1.
   */
  predict(batch: Float32Array, n: number): Promise<Float32Array>;
}
