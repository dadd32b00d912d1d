/**
 * The WebAssembly SIMD kernel behind BatchWorkspace: writes light and shadow copies into a batch
 * slot, row by row over the mask's support, and restores what the slot's previous copy changed.
 * It computes exactly what perturbInto (perturb.ts) computes — the same double-precision
 * operations in the same order, two lanes at a time (f64x2), each result rounded once to float32 —
 * so its copies are bit-identical to perturbInto's.
 */
import type { Perturbation } from './perturb.js';
import type { WasmFunction } from './wasm-assembler.js';
import type { CompiledModule } from './wasm-assembler.js';
import { assembleModule, compileModule, instantiateWithMemory } from './wasm-assembler.js';

type BaselineKind = 'constant' | 'array';

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
  ['g', 'v128'],
  ['s4', 'v128'],
  ['b4', 'v128'],
  ['low', 'v128'],
  ['high', 'v128'],
] as const;

/** With a float32x4 pushed twice: its lanes 2 and 3 moved to 0 and 1, for promote_low. */
const HIGH_HALF = 'i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15';
/** Lanes 0–1 of the first operand and 0–1 of the second as one float32x4. */
const JOIN_HALVES = 'i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23';

/** Pushes the byte address of element $j of a float32 (4) or float64 (8) array at $base. */
function at(base: string, bytes: 4 | 8): string {
  return `local.get $${base}  local.get $j  i32.const ${bytes === 4 ? 2 : 3}  i32.shl  i32.add`;
}

/** Runs $j up to $limit: `four` (which handles j..j+3) while four remain, then `one`. */
function fourThenOne(limit: string, four: string, one: string): string {
  return `
    block $doneFour
      loop $four
        local.get $j  i32.const 4  i32.add  local.get $${limit}  i32.gt_s  br_if $doneFour
        ${four}
        local.get $j  i32.const 4  i32.add  local.set $j
        br $four
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
  return fourThenOne(
    'to',
    `${at('out', 4)}  ${at(from, 4)}  v128.load align=4  v128.store align=4`,
    `${at('out', 4)}  ${at(from, 4)}  f32.load  f32.store`,
  );
}

/**
 * Pushes the perturbed value in perturbInto's order of operations:
 *   light:  b + (s − b)·g        shadow: s − (s − b)·g
 * `s`, `b` and `g` are instruction text that push float64x2 (vector) or float64 values.
 */
function formula(kind: Perturbation, s: string, b: string, g: string, vector: boolean): string {
  const t = vector ? 'f64x2' : 'f64';
  const first = kind === 'light' ? b : s;
  const combine = kind === 'light' ? `${t}.add` : `${t}.sub`;
  return `${first}  ${s}  ${b}  ${t}.sub  ${g}  ${t}.mul  ${combine}`;
}

/**
 * The perturbed copy over [$start, $end) of the current row: four float32 at a time as two
 * float64x2 halves (promoted, computed, demoted, joined), then one at a time.
 */
function perturbRange(kind: Perturbation, baseline: BaselineKind): string {
  const array = baseline === 'array';
  const sLow = 'local.get $s4  f64x2.promote_low_f32x4';
  const sHigh = `local.get $s4  local.get $s4  ${HIGH_HALF}  f64x2.promote_low_f32x4`;
  const bLow = array ? 'local.get $b4  f64x2.promote_low_f32x4' : 'local.get $bLanes';
  const bHigh = array
    ? `local.get $b4  local.get $b4  ${HIGH_HALF}  f64x2.promote_low_f32x4`
    : 'local.get $bLanes';
  const four = `
    ${at('sample', 4)}  v128.load align=4  local.set $s4
    ${array ? `${at('baseline', 4)}  v128.load align=4  local.set $b4` : ''}
    ;; lanes 0–1
    ${at('last', 8)}  v128.load align=8  local.get $cLanes  f64x2.mul  local.set $g
    ${formula(kind, sLow, bLow, 'local.get $g', true)}
    f32x4.demote_f64x2_zero  local.set $low
    ;; lanes 2–3
    ${at('last', 8)}  v128.load offset=16 align=8  local.get $cLanes  f64x2.mul  local.set $g
    ${formula(kind, sHigh, bHigh, 'local.get $g', true)}
    f32x4.demote_f64x2_zero  local.set $high
    ${at('out', 4)}  local.get $low  local.get $high  ${JOIN_HALVES}  v128.store align=4`;
  const one = `
    ${at('out', 4)}
    ${formula(
      kind,
      `${at('sample', 4)}  f32.load  f64.promote_f32`,
      array ? `${at('baseline', 4)}  f32.load  f64.promote_f32` : 'local.get $b',
      `${at('last', 8)}  f64.load  local.get $c  f64.mul`,
      false,
    )}
    f32.demote_f64  f32.store`;
  return `local.get $start  local.set $j  ${fourThenOne('end', four, one)}`;
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

/** Assembled kernel module, for tests and inspection. */
export function perturbKernelBytes(): Uint8Array {
  const functions = (['light', 'shadow'] as const).flatMap((kind) =>
    (['constant', 'array'] as const).map((baseline) => slotKernel(kind, baseline)),
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
