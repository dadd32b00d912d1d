/**
 * Errors a user can act on. The library throws them; the CLI prints `message` alone (no stack)
 * and exits non-zero. Messages name the file or argument at fault and say how to fix it.
 */
export class Glas3dError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A NIfTI file that cannot be read or written as asked. */
export class NiftiError extends Glas3dError {}

/** An atlas or its names file that is malformed. */
export class AtlasError extends Glas3dError {}

/** A model that cannot take the input, or whose output is unusable. */
export class ModelError extends Glas3dError {}

/**
 * A model output that is NaN or ±Inf, for row `sample` of the batch that produced it: the GLAS
 * engine turns the row into the perturbation that made it, so the message can say whether the
 * model breaks on the input itself or only on a perturbed copy.
 */
export class NonFiniteOutputError extends ModelError {
  constructor(
    message: string,
    readonly sample: number,
    readonly value: 'NaN' | 'Inf' | '-Inf',
  ) {
    super(message);
  }
}

/** A model whose answer to a sample depends on the rest of its batch (see glas3d/batch-check.ts). */
export class BatchDependenceError extends ModelError {}

/** A device (execution provider) that cannot run here; `reason` is the message without its advice. */
export class DeviceUnavailableError extends ModelError {
  constructor(
    message: string,
    readonly reason: string,
  ) {
    super(message);
  }
}

/**
 * An output that cannot be written (disk full, read-only, no permission): not the subject's fault,
 * so a cohort run stops at once instead of explaining subjects it cannot save.
 */
export class OutputWriteError extends Glas3dError {}

/** Options that contradict each other or are out of range. */
export class OptionError extends Glas3dError {}
