import type { SeparableMask } from './masks.js';
import { supportSpans } from './masks.js';
import type { Perturbation } from './perturb.js';
import { perturbInto } from './perturb.js';
import type { SlotKernel } from './perturb-kernel.js';
import { createPerturbKernel, kernelName } from './perturb-kernel.js';

/**
 * The batch buffer a model reads, and everything needed to fill it with perturbed copies of one
 * sample, in one WebAssembly.Memory: batch | sample | baseline | mask's last factor | row factors
 * | new spans | each slot's previous spans. The memory is sized once and never grows, so the
 * Float32Array views (the batch handed to onnxruntime among them) stay valid; reuse the workspace
 * across runs (ForwardPassRunner does), since fresh memory costs a page fault per page.
 *
 * Each slot remembers which kind of copy it holds and where that copy differs from its
 * unperturbed value (its mask's support). A light copy equals B, a shadow copy I, everywhere else,
 * so refilling a slot with the same kind only restores the old support and writes the new one:
 * for a 3-D mask much smaller than the volume that is a fraction of a whole copy. The copies are
 * bit-identical to perturbInto's. Where WebAssembly SIMD or a large enough memory is missing,
 * the batch is a plain Float32Array and fill() is perturbInto.
 */
export class BatchWorkspace {
  /** batchSize samples, C order; slot k starts at k·sampleSize. */
  readonly batch: Float32Array;
  /** Set it (setGaussianMask) before each fill(); its arrays live in the kernel's memory. */
  readonly mask: SeparableMask;
  readonly sampleSize: number;
  private readonly rows: number;
  private readonly rowLength: number;
  private readonly kernels: Readonly<Record<string, SlotKernel>> | null;
  private readonly sampleCopy: Float32Array | null;
  private readonly baselineCopy: Float32Array | null;
  /** Per slot, per row, the [start, end) its copy wrote; all rows of slot k from k·2·rows. */
  private readonly previousSpans: Int32Array | null;
  /** What each slot holds; null: unknown (written by someone else, or for another sample). */
  private readonly slotKind: (Perturbation | null)[];
  private sample: Float32Array | null = null;
  private baseline: Float32Array | number = 0;

  /** `kernel: false` makes copies with perturbInto alone (the path taken without the kernel). */
  constructor(
    readonly batchSize: number,
    readonly shape: readonly number[],
    options: { readonly kernel?: boolean } = {},
  ) {
    const sampleSize = shape.reduce((p, d) => p * d, 1);
    const rowLength = shape[shape.length - 1];
    const rows = sampleSize / rowLength;
    this.sampleSize = sampleSize;
    this.rows = rows;
    this.rowLength = rowLength;
    this.slotKind = new Array<Perturbation | null>(batchSize).fill(null);

    // Byte offsets of the regions, each 16-aligned.
    const regions = [
      batchSize * sampleSize * 4, // batch
      sampleSize * 4, // sample
      sampleSize * 4, // baseline
      rowLength * 8, // mask's last factor
      rows * 8, // row factors
      rows * 8, // spans
      batchSize * rows * 8, // previous spans
    ];
    const at: number[] = [];
    let bytes = 0;
    for (const size of regions) {
      at.push(bytes);
      bytes += Math.ceil(size / 16) * 16;
    }
    const kernel = options.kernel === false ? null : createPerturbKernel(bytes);
    const factors = shape.map((d) => new Float64Array(d).fill(1));
    if (!kernel) {
      this.kernels = null;
      this.sampleCopy = null;
      this.baselineCopy = null;
      this.previousSpans = null;
      this.batch = new Float32Array(batchSize * sampleSize);
      this.mask = {
        shape,
        factors,
        rowFactors: new Float64Array(rows).fill(1),
        spans: new Int32Array(2 * rows),
      };
      return;
    }
    const buffer = kernel.buffer;
    this.kernels = kernel.functions;
    this.batch = new Float32Array(buffer, at[0], batchSize * sampleSize);
    this.sampleCopy = new Float32Array(buffer, at[1], sampleSize);
    this.baselineCopy = new Float32Array(buffer, at[2], sampleSize);
    factors[factors.length - 1] = new Float64Array(buffer, at[3], rowLength).fill(1);
    this.mask = {
      shape,
      factors,
      rowFactors: new Float64Array(buffer, at[4], rows).fill(1),
      spans: new Int32Array(buffer, at[5], 2 * rows),
    };
    this.previousSpans = new Int32Array(buffer, at[6], batchSize * 2 * rows);
  }

  /** Whether copies are made by the WebAssembly kernel (else by perturbInto). */
  get usesKernel(): boolean {
    return this.kernels !== null;
  }

  /**
   * Starts filling copies of `sample` blended toward `baseline`, and forgets what the slots
   * held: call it again after anything else wrote into `batch`, or when the sample changes.
   */
  begin(sample: Float32Array, baseline: Float32Array | number): void {
    if (sample.length !== this.sampleSize) {
      throw new RangeError(
        `sample has ${sample.length} values, the batch takes ${this.sampleSize}`,
      );
    }
    if (typeof baseline !== 'number' && baseline.length !== this.sampleSize) {
      throw new RangeError(
        `baseline has ${baseline.length} values, the batch takes ${this.sampleSize}`,
      );
    }
    this.slotKind.fill(null);
    this.sample = sample;
    this.baseline = baseline;
    if (this.sampleCopy && this.baselineCopy) {
      this.sampleCopy.set(sample);
      // A constant is written out too: light slots are restored to it by copying.
      if (typeof baseline === 'number') this.baselineCopy.fill(baseline);
      else this.baselineCopy.set(baseline);
    }
  }

  /** Writes the `kind` copy of the begun sample under `mask` into slot `slot`. */
  fill(slot: number, kind: Perturbation): void {
    const sample = this.sample;
    if (sample === null) throw new Error('BatchWorkspace.fill before begin');
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.batchSize) {
      throw new RangeError(`slot ${slot} is outside the batch of ${this.batchSize}`);
    }
    const { kernels, previousSpans, sampleCopy, baselineCopy } = this;
    if (!kernels || !previousSpans || !sampleCopy || !baselineCopy) {
      perturbInto(this.batch, slot * this.sampleSize, sample, this.baseline, this.mask, kind);
      return;
    }
    const { rows, rowLength, mask } = this;
    supportSpans(mask);
    const previous = slot * 2 * rows; // this slot's spans in previousSpans
    if (this.slotKind[slot] !== kind) {
      // Unknown content: restore every row whole, i.e. write the full copy.
      for (let r = 0; r < rows; r++) {
        previousSpans[previous + 2 * r] = 0;
        previousSpans[previous + 2 * r + 1] = rowLength;
      }
      this.slotKind[slot] = kind;
    }
    const constant = typeof this.baseline === 'number';
    const baselineKind = !constant ? 'array' : Object.is(this.baseline, 0) ? 'zero' : 'constant';
    kernels[kernelName(kind, baselineKind)](
      this.batch.byteOffset + slot * this.sampleSize * 4,
      sampleCopy.byteOffset,
      baselineCopy.byteOffset,
      mask.factors[mask.factors.length - 1].byteOffset,
      mask.rowFactors.byteOffset,
      mask.spans.byteOffset,
      previousSpans.byteOffset + previous * 4,
      rows,
      rowLength,
      constant ? (this.baseline as number) : 0,
    );
  }
}
