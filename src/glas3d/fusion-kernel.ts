/**
 * The WebAssembly SIMD kernel behind fuseMap (eq. 3): one grid row (a run along x) as a weighted
 * sum of per-group x profiles, row[x] = Σ_k c_k·h_k[x], in double precision, two x at a time
 * (f64x2) and four profiles per pass over the row, then rounded to float32.
 */
import type { CompiledModule } from './wasm-assembler.js';
import { assembleModule, compileModule, instantiateWithMemory } from './wasm-assembler.js';

/**
 * fuseRow(list, count, acc, out, rowLength, x0, x1): `list` holds `count` entries of 16 bytes,
 * (float64 c_k, int32 byte address of h_k's float64 profile); `acc` is rowLength float64 of
 * scratch; writes out[x] (float32) = Σ_k c_k·h_k[x] for x in [x0, x1) and 0 elsewhere.
 */
export type FuseRow = (
  list: number,
  count: number,
  acc: number,
  out: number,
  rowLength: number,
  x0: number,
  x1: number,
) => void;

/** Pushes the byte address of element $x of a float32 (4) or float64 (8) array at $base. */
function at(base: string, bytes: 4 | 8): string {
  return `local.get $${base}  local.get $x  i32.const ${bytes === 4 ? 2 : 3}  i32.shl  i32.add`;
}

/** Loads entry $k + i of the list into $c<i> (c_k, both lanes) and $h<i> (the profile's address). */
function loadEntry(i: number): string {
  return `
    local.get $list  local.get $k  i32.const ${i}  i32.add  i32.const 4  i32.shl  i32.add
    local.tee $entry  v128.load64_splat  local.set $c${i}
    local.get $entry  i32.load offset=8  local.set $h${i}`;
}

/**
 * acc[x] += Σ_i c_i·h_i[x] over [x0, x1) for the first `n` loaded entries: two x at a time, then
 * the odd one. $xb = 8·x is the byte offset of x in every float64 row.
 */
function accumulate(n: number): string {
  const terms = (vector: boolean) => {
    const t = vector ? 'f64x2' : 'f64';
    const load = vector ? 'v128.load align=8' : 'f64.load';
    const c = (i: number) =>
      vector ? `local.get $c${i}` : `local.get $c${i}  f64x2.extract_lane 0`;
    let text = `local.get $acc  local.get $xb  i32.add  local.tee $a  local.get $a  ${load}`;
    for (let i = 0; i < n; i++) {
      text += `  local.get $h${i}  local.get $xb  i32.add  ${load}  ${c(i)}  ${t}.mul  ${t}.add`;
    }
    return `${text}  ${vector ? 'v128.store align=8' : 'f64.store'}`;
  };
  return `
    local.get $x0  i32.const 3  i32.shl  local.set $xb
    local.get $x1  i32.const 3  i32.shl  local.set $xbEnd
    block $doneTwo
      loop $two
        local.get $xb  i32.const 16  i32.add  local.get $xbEnd  i32.gt_s  br_if $doneTwo
        ${terms(true)}
        local.get $xb  i32.const 16  i32.add  local.set $xb
        br $two
      end
    end
    local.get $xb  local.get $xbEnd  i32.lt_s
    if
      ${terms(false)}
    end`;
}

const fuseRow = {
  name: 'fuseRow',
  params: [
    ['list', 'i32'],
    ['count', 'i32'],
    ['acc', 'i32'],
    ['out', 'i32'],
    ['rowLength', 'i32'],
    ['x0', 'i32'],
    ['x1', 'i32'],
  ],
  locals: [
    ['k', 'i32'],
    ['x', 'i32'],
    ['entry', 'i32'],
    ['xb', 'i32'],
    ['xbEnd', 'i32'],
    ['a', 'i32'],
    ['h0', 'i32'],
    ['h1', 'i32'],
    ['h2', 'i32'],
    ['h3', 'i32'],
    ['c0', 'v128'],
    ['c1', 'v128'],
    ['c2', 'v128'],
    ['c3', 'v128'],
  ],
  body: `
    ;; acc = 0 over [x0, x1)
    local.get $x0  local.set $x
    block $zeroed
      loop $zero
        local.get $x  local.get $x1  i32.ge_s  br_if $zeroed
        ${at('acc', 8)}  f64.const 0  f64.store
        local.get $x  i32.const 1  i32.add  local.set $x
        br $zero
      end
    end
    ;; four entries per pass over the row, then one
    block $doneFour
      loop $four
        local.get $k  i32.const 4  i32.add  local.get $count  i32.gt_s  br_if $doneFour
        ${loadEntry(0)}  ${loadEntry(1)}  ${loadEntry(2)}  ${loadEntry(3)}
        ${accumulate(4)}
        local.get $k  i32.const 4  i32.add  local.set $k
        br $four
      end
    end
    block $doneOne
      loop $one
        local.get $k  local.get $count  i32.ge_s  br_if $doneOne
        ${loadEntry(0)}
        ${accumulate(1)}
        local.get $k  i32.const 1  i32.add  local.set $k
        br $one
      end
    end
    ;; out = float32(acc) over [x0, x1), 0 elsewhere
    i32.const 0  local.set $x
    block $written
      loop $write
        local.get $x  local.get $rowLength  i32.ge_s  br_if $written
        ${at('out', 4)}
        ${at('acc', 8)}  f64.load  f32.demote_f64
        f64.const 0  f32.demote_f64
        local.get $x  local.get $x0  i32.ge_s  local.get $x  local.get $x1  i32.lt_s  i32.and
        select
        f32.store
        local.get $x  i32.const 1  i32.add  local.set $x
        br $write
      end
    end`,
} as const;

let compiled: CompiledModule | null | undefined;

/** fuseRow over a memory of at least `bytes` bytes; null without WebAssembly SIMD. */
export function createFusionKernel(
  bytes: number,
): { readonly buffer: ArrayBuffer; readonly fuseRow: FuseRow } | null {
  if (compiled === undefined) compiled = compileModule(assembleModule([fuseRow]));
  const instance = compiled && instantiateWithMemory<{ fuseRow: FuseRow }>(compiled, bytes);
  return instance ? { buffer: instance.buffer, fuseRow: instance.exports.fuseRow } : null;
}
