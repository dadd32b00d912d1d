import type { GridLayout } from './layout.js';

/**
 * Factors below this are stored as exactly 0. Products of three such tails would otherwise sink
 * into subnormal doubles, which are many times slower on common CPUs, and the zeros let callers
 * skip whole rows. The change is below anything a Float32 result can show (< 1e-60 of a value).
 */
export const FACTOR_FLUSH_BELOW = 1e-60;

/**
 * Where a light/shadow mask G is below this, perturbInto leaves the copy at its unperturbed value
 * (B for light, I for shadow), so a copy is a plain copy plus a patch over G's support only.
 * The copy then differs from the formula by |I − B|·G < 2^-26·|I − B| ≤ 2^-25·max(|I|, |B|): at
 * most half a float32 step of the larger of I and B, below what the float32 sample itself
 * resolves. For a Gaussian the support is the ball |x − μ| ≤ σ·sqrt(52·ln 2) ≈ 6.0σ.
 */
export const MASK_CUT = 2 ** -26;

/**
 * Fills out[i] = exp(-((i - centre) * step)^2 * inverseScale) for i = 0..out.length-1
 * (values under FACTOR_FLUSH_BELOW become 0). inverseScale is 1/(2σ²) for the light/shadow masks
 * and 1/σ² for the fusion weight of eq. 3. The only exp taken: once per grid line, never per voxel.
 */
export function gaussianFactorInto(
  out: Float64Array,
  centre: number,
  step: number,
  inverseScale: number,
): void {
  for (let i = 0; i < out.length; i++) {
    const d = (i - centre) * step;
    const g = Math.exp(-d * d * inverseScale);
    out[i] = g < FACTOR_FLUSH_BELOW ? 0 : g;
  }
}

/**
 * Writes the Kronecker (outer) product of `factors` into `out`, first factor slowest:
 * out[((i0·n1 + i1)·n2 + i2)…] = f0[i0]·f1[i1]·f2[i2]…  Only the first `count` factors are
 * used; none gives [1].
 * Built in place, back to front, so it needs no scratch beyond `out`.
 */
export function outerProductInto(
  factors: readonly Float64Array[],
  out: Float64Array,
  count = factors.length,
): void {
  let length = 1;
  out[0] = 1;
  for (let k = 0; k < count; k++) {
    const f = factors[k];
    const d = f.length;
    // Entry i of the previous product fans out to [i·d, i·d + d); going from the back never
    // overwrites an entry before it is read (i·d ≥ i).
    for (let i = length - 1; i >= 0; i--) {
      const p = out[i];
      const base = i * d;
      for (let j = d - 1; j >= 0; j--) out[base + j] = p * f[j];
    }
    length *= d;
  }
}

/**
 * A mask over one model sample that is a product of 1-D factors, one per tensor axis:
 * G[i0, …, iR-1] = Π_t factors[t][it]. Broadcast (channel) axes hold ones.
 * `rowFactors` caches the product of all factors but the last one, one value per run of the
 * fastest tensor axis, so applying the mask costs one multiply per element.
 */
export interface SeparableMask {
  readonly shape: readonly number[];
  readonly factors: Float64Array[];
  readonly rowFactors: Float64Array;
  /** Scratch for perturbInto: per row, the run [start, end) of the last axis where G ≥ MASK_CUT. */
  readonly spans: Int32Array;
}

/** Allocates a mask for the layout's sample shape, all ones. Reuse it for every search point. */
export function createSeparableMask(layout: GridLayout): SeparableMask {
  const shape = layout.shape;
  const factors = shape.map((d) => new Float64Array(d).fill(1));
  const rows = layout.sampleSize / shape[shape.length - 1];
  const rowFactors = new Float64Array(rows).fill(1);
  return { shape, factors, rowFactors, spans: new Int32Array(2 * rows) };
}

/**
 * Fills mask.spans with, per row, the run [start, end) of the last axis outside of which
 * G = rowFactor·last[j] < MASK_CUT (start = end where the whole row is), and returns whether
 * every run covers its whole row. Assumes what Gaussian masks satisfy: factors ≥ 0, and the last
 * factor rising to its peak and falling after it, so each run's ends are where G crosses MASK_CUT
 * on either side of the peak. Neighbouring rows have similar row factors, so each row's ends are
 * found by walking from the previous row's (a step or two) rather than searched afresh.
 */
export function supportSpans(mask: SeparableMask): boolean {
  const { factors, rowFactors, spans } = mask;
  const last = factors[factors.length - 1];
  const n = last.length;
  let peak = 0;
  for (let j = 1; j < n; j++) if (last[j] > last[peak]) peak = j;
  const top = last[peak];
  // Leading axes whose factor is all ones (channels before the grid, as in NCHW) repeat the
  // same rows: the spans of the first repeat serve them all.
  let repeats = 1;
  for (let t = 0; t < factors.length - 1 && factors[t].every((v) => v === 1); t++) {
    repeats *= factors[t].length;
  }
  const rows = rowFactors.length / repeats;
  let complete = true;
  // Invariant while walking: j0 ≤ peak < j1; G ≥ MASK_CUT on [j0, j1) exactly when j0 and j1
  // are the crossings. Start from the whole row.
  let j0 = 0;
  let j1 = n;
  for (let r = 0; r < rows; r++) {
    const c = rowFactors[r];
    if (c * top < MASK_CUT) {
      spans[2 * r] = peak;
      spans[2 * r + 1] = peak;
      complete = false;
      continue;
    }
    // First j ≤ peak with G ≥ MASK_CUT…
    while (j0 > 0 && c * last[j0 - 1] >= MASK_CUT) j0--;
    while (c * last[j0] < MASK_CUT) j0++; // stops at the peak at the latest
    // …then first j > peak with G < MASK_CUT (n if none).
    while (j1 < n && c * last[j1] >= MASK_CUT) j1++;
    while (j1 > peak + 1 && c * last[j1 - 1] < MASK_CUT) j1--;
    spans[2 * r] = j0;
    spans[2 * r + 1] = j1;
    if (j1 - j0 < n) complete = false;
  }
  for (let k = 1; k < repeats; k++) spans.copyWithin(2 * rows * k, 0, 2 * rows);
  return complete;
}

/**
 * Recent 1-D factors of each mask, per tensor axis, by σ and centre (with the step they were
 * made for). A grid of search points has few distinct coordinates per axis (15 on each axis of a
 * 15×15 grid), and a point's light and shadow passes often share σ, so most factors are copies
 * instead of a few hundred exp() each.
 */
const factorMemo = new WeakMap<SeparableMask, FactorMemo[]>();
type FactorMemo = Map<
  number,
  Map<number, { readonly step: number; readonly factor: Float64Array }>
>;
/** Factors kept per mask axis and σ, and σ kept per axis, before a memo starts over. */
const FACTOR_MEMO_LIMIT = 512;
const SIGMA_MEMO_LIMIT = 16;

/**
 * Sets `mask` to the unit-peak Gaussian G(μ, σ): g_a[i] = exp(-((i − μ_a)·spacing_a)² / (2σ²))
 * along each grid axis a, with μ in grid (voxel index) coordinates and σ in physical units.
 */
export function setGaussianMask(
  mask: SeparableMask,
  layout: GridLayout,
  centre: readonly number[],
  sigma: number,
): void {
  let memo = factorMemo.get(mask);
  if (!memo) factorMemo.set(mask, (memo = mask.factors.map(() => new Map())));
  const inverseScale = 1 / (2 * sigma * sigma);
  for (let a = 0; a < layout.gridAxes.length; a++) {
    const axis = layout.gridAxes[a];
    const factor = mask.factors[axis];
    const step = layout.spacing[a];
    let bySigma = memo[axis].get(sigma);
    if (!bySigma) {
      if (memo[axis].size >= SIGMA_MEMO_LIMIT) memo[axis].clear();
      memo[axis].set(sigma, (bySigma = new Map()));
    }
    const known = bySigma.get(centre[a]);
    if (known?.step === step) {
      factor.set(known.factor);
      continue;
    }
    gaussianFactorInto(factor, centre[a], step, inverseScale);
    if (bySigma.size >= FACTOR_MEMO_LIMIT) bySigma.clear();
    bySigma.set(centre[a], { step, factor: Float64Array.from(factor) });
  }
  updateRowFactors(mask);
}

/** Recomputes `rowFactors` after `factors` were written directly. */
export function updateRowFactors(mask: SeparableMask): void {
  outerProductInto(mask.factors, mask.rowFactors, mask.factors.length - 1);
}
