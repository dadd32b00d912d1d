/** The flat-WAT assembler behind the engine's SIMD kernels: what it builds runs, and bad text is named. */
import { describe, expect, it } from 'vitest';
import {
  assembleModule,
  compileModule,
  instantiateWithMemory,
} from '../../src/glas3d/wasm-assembler.js';

type Sum = (from: number, count: number) => number;

describe('assembleModule', () => {
  it('builds a module that imports its memory and runs', () => {
    const bytes = assembleModule([
      {
        name: 'sumPairs', // Σ of `count` float32 from byte address `from`, two lanes at a time
        params: [
          ['from', 'i32'],
          ['count', 'i32'],
        ],
        locals: [
          ['i', 'i32'],
          ['acc', 'v128'],
        ],
        result: 'f64',
        body: `
          block $done
            loop $next
              local.get $i  local.get $count  i32.ge_s  br_if $done
              local.get $acc
              local.get $from  local.get $i  i32.const 2  i32.shl  i32.add  v128.load align=4
              f64x2.promote_low_f32x4  f64x2.add  local.set $acc
              local.get $i  i32.const 2  i32.add  local.set $i
              br $next
            end
          end
          local.get $acc  local.get $acc  local.get $acc
          i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7  ;; swap the lanes
          f64x2.add  local.set $acc
          local.get $acc  f32x4.demote_f64x2_zero  local.set $acc  ;; round the sum to float32
          i32.const 0  local.get $acc  v128.store offset=64
          i32.const 64  f32.load  f64.promote_f32`,
      },
    ]);
    const module = compileModule(bytes);
    expect(module).not.toBeNull();
    const instance = instantiateWithMemory<{ sumPairs: Sum }>(module!, 100);
    expect(instance!.buffer.byteLength).toBe(65536); // whole pages
    new Float32Array(instance!.buffer, 0, 6).set([1, 2, 3, 4, 5, 6]);
    expect(instance!.exports.sumPairs(0, 6)).toBe(21);
    expect(instance!.exports.sumPairs(8, 4)).toBe(18);
    expect(instantiateWithMemory(module!, 2 ** 32 + 1)).toBeNull(); // past wasm32's 4 GiB
  });

  it('names the function and line of an error', () => {
    const fn = (body: string) => ({ name: 'f', params: [['x', 'i32']] as const, body });
    expect(() => assembleModule([fn('local.get $x\ni32.frob')])).toThrow(
      /f, body line 2 \(i32.frob\): unknown instruction/,
    );
    expect(() => assembleModule([fn('local.get $y  drop')])).toThrow(/unknown local \$y/);
    expect(() => assembleModule([fn('block $a  br $b  end')])).toThrow(/no enclosing block \$b/);
    expect(() => assembleModule([fn('block')])).toThrow(/left open/);
    expect(() => assembleModule([fn('end')])).toThrow(/end without block/);
    expect(() => assembleModule([fn('i32.const')])).toThrow(/missing immediate/);
  });
});
