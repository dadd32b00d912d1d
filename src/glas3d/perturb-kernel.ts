/**
 * The WebAssembly SIMD kernel behind BatchWorkspace: writes light and shadow copies into a batch
 * slot, row by row over the mask's support, and restores what the slot's previous copy changed.
 * It computes exactly what perturbInto (perturb.ts) computes — the same double-precision
 * operations in the same order, two lanes at a time (f64x2), each result rounded once to float32 —
 * so its copies are bit-identical to perturbInto's.
 */
import type { Perturbation } from './perturb.js';
import type { CompiledModule, WasmFunction } from './wasm-assembler.js';
import { assembleModule, compileModule, instantiateWithMemory } from './wasm-assembler.js';

/**
 * 'zero' is the constant +0, for which s − b = s exactly (also for s = −0), so the subtraction
 * is left out; light still adds b, which turns a −0 product into +0 as perturbInto does.
 */
export type BaselineKind = 'constant' | 'zero' | 'array';

/** Exported name of the kernel for one kind of perturbation and one kind of baseline. */
export function kernelName(kind: Perturbation, baseline: BaselineKind): string {
  return `${kind}_${baseline}`;
}

/**
 * Signature of every kernel function: byte addresses in the kernel's memory, then counts, then
 * the constant baseline value (unused by the array kernels).
 *   out        the slot: rows × rowLength float32, in the model's layout
 *   sample     I, same shape
 *   baseline   B, same shape (a constant baseline is also written here, for restoring light slots)
 *   last       the mask's last-axis factor, rowLength float64
 *   rowFactors the product of the other factors, one float64 per row
 *   spans      per row [start, end) of the new mask's support (supportSpans), int32 pairs
 *   previous   per row the span the slot's previous copy wrote; updated to `spans` on return
 */
const PARAMS = [
  ['out', 'i32'],
  ['sample', 'i32'],
  ['baseline', 'i32'],
  ['last', 'i32'],
  ['rowFactors', 'i32'],
  ['spans', 'i32'],
  ['previous', 'i32'],
  ['rows', 'i32'],
  ['rowLength', 'i32'],
  ['b', 'f64'],
] as const;

const LOCALS = [
  ['row', 'i32'],
  ['rowBytes', 'i32'],
  ['start', 'i32'],
  ['end', 'i32'],
  ['oldStart', 'i32'],
  ['oldEnd', 'i32'],
  ['j', 'i32'],
  ['to', 'i32'],
  ['c', 'f64'],
  ['cLanes', 'v128'],
  ['bLanes', 'v128'],
  ['sLanes', 'v128'],
  ['sOne', 'f64'],
] as const;

/** Pushes the byte address of element $j of a float32 (4) or float64 (8) array at $base. */
function at(base: string, bytes: 4 | 8): string {
  return `local.get $${base}  local.get $j  i32.const ${bytes === 4 ? 2 : 3}  i32.shl  i32.add`;
}

/** Runs $j up to $limit: `many` (which handles `step` elements from j) while that many remain, then `one`. */
function stepThenOne(step: number, limit: string, many: string, one: string): string {
  return `
    block $doneMany
      loop $many
        local.get $j  i32.const ${step}  i32.add  local.get $${limit}  i32.gt_s  br_if $doneMany
        ${many}
        local.get $j  i32.const ${step}  i32.add  local.set $j
        br $many
      end
    end
    block $doneOne
      loop $one
        local.get $j  local.get $${limit}  i32.ge_s  br_if $doneOne
        ${one}
        local.get $j  i32.const 1  i32.add  local.set $j
        br $one
      end
    end`;
}

/** out[j] = from[j] for j in [$j, $to) of the current row. */
function copyRange(from: string): string {
  return stepThenOne(
    4,
    'to',
    `${at('out', 4)}  ${at(from, 4)}  v128.load align=4  v128.store align=4`,
    `${at('out', 4)}  ${at(from, 4)}  f32.load  f32.store`,
  );
}

/**
 * Pushes the perturbed value in perturbInto's order of operations, from the locals named `s`
 * (sample) and `b` (baseline) and the instruction text `g` that pushes the mask value:
 *   light:  b + (s − b)·g        shadow: s − (s − b)·g
 * in float64x2 (vector) or float64; for the zero baseline s − b is s itself.
 */
function formula(
  kind: Perturbation,
  baseline: BaselineKind,
  s: string,
  b: string,
  g: string,
  vector: boolean,
): string {
  const t = vector ? 'f64x2' : 'f64';
  const first = kind === 'light' ? b : s;
  const combine = kind === 'light' ? `${t}.add` : `${t}.sub`;
  const difference =
    baseline === 'zero' ? `local.get $${s}` : `local.get $${s}  local.get $${b}  ${t}.sub`;
  return `local.get $${first}  ${difference}  ${g}  ${t}.mul  ${combine}`;
}

/**
 * The perturbed copy over [$start, $end) of the current row, four float32 at a time in two halves:
 * each half loaded as 64 bits and promoted to float64x2, computed, demoted and stored as 64 bits;
 * then one at a time.
 */
function perturbRange(kind: Perturbation, baseline: BaselineKind): string {
  const array = baseline === 'array';
  const promoted = (base: string, f32Offset: number) =>
    `${at(base, 4)}  v128.load64_zero offset=${f32Offset} align=4  f64x2.promote_low_f32x4`;
  const half = (f32Offset: number) => `
    ${promoted('sample', f32Offset)}  local.set $sLanes
    ${array ? `${promoted('baseline', f32Offset)}  local.set $bLanes` : ''}
    ${at('out', 4)}
    ${formula(
      kind,
      baseline,
      'sLanes',
      'bLanes',
      `${at('last', 8)}  v128.load offset=${2 * f32Offset} align=8  local.get $cLanes  f64x2.mul`,
      true,
    )}
    f32x4.demote_f64x2_zero  v128.store64_lane offset=${f32Offset} align=4 0`;
  const one = `
    ${at('sample', 4)}  f32.load  f64.promote_f32  local.set $sOne
    ${array ? `${at('baseline', 4)}  f32.load  f64.promote_f32  local.set $b` : ''}
    ${at('out', 4)}
    ${formula(kind, baseline, 'sOne', 'b', `${at('last', 8)}  f64.load  local.get $c  f64.mul`, false)}
    f32.demote_f64  f32.store`;
  return `local.get $start  local.set $j  ${stepThenOne(4, 'end', half(0) + half(8), one)}`;
}

/**
 * Per row: restore the part of the previous span that the new one does not cover (to B for
 * light, I for shadow — what perturbInto leaves outside the support), then write the new span.
 */
function slotKernel(kind: Perturbation, baseline: BaselineKind): WasmFunction {
  const untouched = kind === 'light' ? 'baseline' : 'sample';
  const body = `
    local.get $b  f64x2.splat  local.set $bLanes
    local.get $rowLength  i32.const 2  i32.shl  local.set $rowBytes
    block $rowsDone
      loop $nextRow
        local.get $row  local.get $rows  i32.ge_u  br_if $rowsDone
        local.get $spans  i32.load  local.set $start
        local.get $spans  i32.load offset=4  local.set $end
        local.get $previous  i32.load  local.set $oldStart
        local.get $previous  i32.load offset=4  local.set $oldEnd
        ;; restore [oldStart, min(oldEnd, start))
        local.get $oldStart  local.set $j
        local.get $oldEnd  local.get $start  local.get $oldEnd  local.get $start  i32.lt_s  select
        local.set $to
        ${copyRange(untouched)}
        ;; restore [max(oldStart, end), oldEnd)
        local.get $oldStart  local.get $end  local.get $oldStart  local.get $end  i32.gt_s  select
        local.set $j
        local.get $oldEnd  local.set $to
        ${copyRange(untouched)}
        local.get $rowFactors  f64.load  local.tee $c  f64x2.splat  local.set $cLanes
        ${perturbRange(kind, baseline)}
        local.get $previous  local.get $start  i32.store
        local.get $previous  local.get $end  i32.store offset=4
        ;; next row
        local.get $out  local.get $rowBytes  i32.add  local.set $out
        local.get $sample  local.get $rowBytes  i32.add  local.set $sample
        local.get $baseline  local.get $rowBytes  i32.add  local.set $baseline
        local.get $rowFactors  i32.const 8  i32.add  local.set $rowFactors
        local.get $spans  i32.const 8  i32.add  local.set $spans
        local.get $previous  i32.const 8  i32.add  local.set $previous
        local.get $row  i32.const 1  i32.add  local.set $row
        br $nextRow
      end
    end`;
  return { name: kernelName(kind, baseline), params: PARAMS, locals: LOCALS, body };
}

export type SlotKernel = (
  out: number,
  sample: number,
  baseline: number,
  last: number,
  rowFactors: number,
  spans: number,
  previous: number,
  rows: number,
  rowLength: number,
  b: number,
) => void;

/** The kernel module's bytes: six functions, light and shadow × constant, zero and array B. */
export function perturbKernelBytes(): Uint8Array {
  const functions = (['light', 'shadow'] as const).flatMap((kind) =>
    (['constant', 'zero', 'array'] as const).map((baseline) => slotKernel(kind, baseline)),
  );
  return assembleModule(functions);
}

let compiled: CompiledModule | null | undefined;

/** The kernel functions by kernelName, over one fixed-size memory. */
export interface PerturbKernel {
  /** The kernel's memory; its size never changes, so views on it stay valid. */
  readonly buffer: ArrayBuffer;
  readonly functions: Readonly<Record<string, SlotKernel>>;
}

/**
 * The kernel with a memory of at least `bytes` bytes (zeroed); null where this runtime lacks
 * WebAssembly SIMD, or the memory would pass 4 GiB or cannot be had.
 */
export function createPerturbKernel(bytes: number): PerturbKernel | null {
  if (compiled === undefined) compiled = compileModule(perturbKernelBytes());
  const instance = compiled && instantiateWithMemory<Record<string, SlotKernel>>(compiled, bytes);
  return instance ? { buffer: instance.buffer, functions: instance.exports } : null;
}
