/**
 * A small assembler from WebAssembly text in flat form (one instruction per line, as in the
 * `func` bodies of a .wat file) to a binary module, for the engine's SIMD kernels. It knows only
 * the instructions listed in OPCODES; anything else is an error naming the line. One imported
 * memory ("env" "memory"), functions exported by name, no tables or globals.
 *
 * Why not a WAT toolchain at run time: the `wabt` package costs ~0.2 s to load and initialise in
 * every process (as much as one 2-D explanation), and a prebuilt .wasm would hide the source.
 * Here the kernel source stays readable text and assembling it takes well under a millisecond.
 */

export type WasmType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128';

export interface WasmFunction {
  /** Export name; also `$name` in the text. */
  readonly name: string;
  /** Named parameters, in order: [name without '$', type]. */
  readonly params: readonly (readonly [string, WasmType])[];
  readonly locals?: readonly (readonly [string, WasmType])[];
  readonly result?: WasmType;
  /** Flat instructions; `;;` starts a comment; `$x` names a local or a block label. */
  readonly body: string;
}

const TYPE_CODE: Record<WasmType, number> = {
  i32: 0x7f,
  i64: 0x7e,
  f32: 0x7d,
  f64: 0x7c,
  v128: 0x7b,
};

/** What follows an opcode in the binary. */
type Immediate =
  | 'none'
  | 'block' // an optional $label; empty block type
  | 'label' // a branch depth, or $label
  | 'local'
  | 'memarg' // [offset=N] [align=N]; natural alignment by default
  | 'memarg+lane' // a memarg, then a lane index
  | 'i32'
  | 'f64'
  | 'lane' // one lane index
  | 'lanes' // 16 byte lane indices (i8x16.shuffle)
  | 'memory.copy'
  | 'memory.fill';

interface Opcode {
  readonly bytes: readonly number[];
  readonly immediate: Immediate;
  /** log2 of the natural alignment, for memargs. */
  readonly align?: number;
}

const simd = (code: number, immediate: Immediate = 'none', align?: number): Opcode => ({
  bytes: [0xfd, ...uleb(code)],
  immediate,
  align,
});
const plain = (code: number, immediate: Immediate = 'none', align?: number): Opcode => ({
  bytes: [code],
  immediate,
  align,
});

const OPCODES: Record<string, Opcode> = {
  block: plain(0x02, 'block'),
  loop: plain(0x03, 'block'),
  if: plain(0x04, 'block'),
  else: plain(0x05),
  end: plain(0x0b),
  br: plain(0x0c, 'label'),
  br_if: plain(0x0d, 'label'),
  return: plain(0x0f),
  drop: plain(0x1a),
  select: plain(0x1b),
  'local.get': plain(0x20, 'local'),
  'local.set': plain(0x21, 'local'),
  'local.tee': plain(0x22, 'local'),
  'i32.load': plain(0x28, 'memarg', 2),
  'f32.load': plain(0x2a, 'memarg', 2),
  'f64.load': plain(0x2b, 'memarg', 3),
  'i32.store': plain(0x36, 'memarg', 2),
  'f32.store': plain(0x38, 'memarg', 2),
  'f64.store': plain(0x39, 'memarg', 3),
  'i32.const': plain(0x41, 'i32'),
  'f64.const': plain(0x44, 'f64'),
  'i32.eqz': plain(0x45),
  'i32.eq': plain(0x46),
  'i32.ne': plain(0x47),
  'i32.lt_s': plain(0x48),
  'i32.lt_u': plain(0x49),
  'i32.gt_s': plain(0x4a),
  'i32.gt_u': plain(0x4b),
  'i32.le_s': plain(0x4c),
  'i32.le_u': plain(0x4d),
  'i32.ge_s': plain(0x4e),
  'i32.ge_u': plain(0x4f),
  'i32.add': plain(0x6a),
  'i32.sub': plain(0x6b),
  'i32.mul': plain(0x6c),
  'i32.and': plain(0x71),
  'i32.or': plain(0x72),
  'i32.shl': plain(0x74),
  'i32.shr_u': plain(0x76),
  'f32.add': plain(0x92),
  'f32.sub': plain(0x93),
  'f32.mul': plain(0x94),
  'f64.add': plain(0xa0),
  'f64.sub': plain(0xa1),
  'f64.mul': plain(0xa2),
  'f32.demote_f64': plain(0xb6),
  'f64.promote_f32': plain(0xbb),
  'memory.copy': { bytes: [0xfc, 10], immediate: 'memory.copy' },
  'memory.fill': { bytes: [0xfc, 11], immediate: 'memory.fill' },
  'v128.load': simd(0x00, 'memarg', 4),
  'v128.store': simd(0x0b, 'memarg', 4),
  'v128.load64_splat': simd(0x0a, 'memarg', 3),
  'i8x16.shuffle': simd(0x0d, 'lanes'),
  'v128.load64_zero': simd(0x5d, 'memarg', 3),
  'f32x4.splat': simd(0x13),
  'f64x2.extract_lane': simd(0x21, 'lane'),
  'f64x2.splat': simd(0x14),
  'v128.store64_lane': simd(0x5b, 'memarg+lane', 3),
  'f32x4.demote_f64x2_zero': simd(0x5e),
  'f64x2.promote_low_f32x4': simd(0x5f),
  'f32x4.add': simd(0xe4),
  'f32x4.sub': simd(0xe5),
  'f32x4.mul': simd(0xe6),
  'f64x2.add': simd(0xf0),
  'f64x2.sub': simd(0xf1),
  'f64x2.mul': simd(0xf2),
};

/** Assembles functions into a module that imports its memory as env.memory. */
export function assembleModule(functions: readonly WasmFunction[]): Uint8Array {
  const signatures: string[] = [];
  const typeIndex = functions.map((f) => {
    const key = JSON.stringify([f.params.map((p) => p[1]), f.result ?? null]);
    let index = signatures.indexOf(key);
    if (index < 0) index = signatures.push(key) - 1;
    return index;
  });
  const types = signatures.map((key) => {
    const [params, result] = JSON.parse(key) as [WasmType[], WasmType | null];
    const results = result ? [[TYPE_CODE[result]]] : [];
    return [0x60, ...vector(params.map((t) => [TYPE_CODE[t]])), ...vector(results)];
  });
  const memoryImport = [...name('env'), ...name('memory'), 0x02, 0x00, ...uleb(0)];
  const exports = functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]);
  const codes = functions.map((f) => {
    const body = [...localDeclarations(f), ...assembleBody(f), 0x0b];
    return [...uleb(body.length), ...body];
  });
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vector(types)),
    ...section(2, vector([memoryImport])),
    ...section(3, vector(typeIndex.map((t) => uleb(t)))),
    ...section(7, vector(exports)),
    ...section(10, vector(codes)),
  ]);
}

function localDeclarations(f: WasmFunction): number[] {
  // Runs of locals of one type are declared together, as (count, type).
  const runs: [number, WasmType][] = [];
  for (const [, type] of f.locals ?? []) {
    const last = runs[runs.length - 1];
    if (last?.[1] === type) last[0]++;
    else runs.push([1, type]);
  }
  return vector(runs.map(([count, type]) => [...uleb(count), TYPE_CODE[type]]));
}

function assembleBody(f: WasmFunction): number[] {
  const localIndex = new Map<string, number>();
  for (const [localName] of [...f.params, ...(f.locals ?? [])]) {
    if (localIndex.has(localName)) throw new Error(`${f.name}: local $${localName} declared twice`);
    localIndex.set(localName, localIndex.size);
  }
  const labels: (string | null)[] = []; // innermost last
  // Tokens with their line numbers; an instruction takes as many as its immediate needs.
  const tokens: { text: string; line: number }[] = [];
  f.body.split('\n').forEach((line, n) => {
    for (const text of line.replace(/;;.*$/, '').trim().split(/\s+/)) {
      if (text) tokens.push({ text, line: n + 1 });
    }
  });
  const out: number[] = [];
  let t = 0;
  while (t < tokens.length) {
    const { text: mnemonic, line } = tokens[t++];
    const where = `${f.name}, body line ${line} (${mnemonic})`;
    const op = OPCODES[mnemonic];
    if (!op) throw new Error(`${where}: unknown instruction`);
    out.push(...op.bytes);
    const next = (): string => {
      if (t >= tokens.length) throw new Error(`${where}: missing immediate`);
      return tokens[t++].text;
    };
    switch (op.immediate) {
      case 'none':
        if (mnemonic === 'end') {
          if (labels.length === 0) throw new Error(`${where}: end without block`);
          labels.pop();
        }
        break;
      case 'block': {
        const label = tokens[t]?.text.startsWith('$') ? next().slice(1) : null;
        labels.push(label);
        out.push(0x40);
        break;
      }
      case 'label': {
        const label = next();
        const named = label.startsWith('$') ? labels.lastIndexOf(label.slice(1)) : 0;
        const depth = label.startsWith('$') ? labels.length - 1 - named : Number(label);
        if (named < 0) throw new Error(`${where}: no enclosing block ${label}`);
        if (!Number.isInteger(depth) || depth < 0 || depth > labels.length) {
          throw new Error(`${where}: no enclosing block ${label}`);
        }
        out.push(...uleb(depth));
        break;
      }
      case 'local': {
        const local = next();
        const index = localIndex.get(local.replace(/^\$/, ''));
        if (index === undefined) throw new Error(`${where}: unknown local ${local}`);
        out.push(...uleb(index));
        break;
      }
      case 'memarg':
      case 'memarg+lane': {
        let offset = 0;
        let align = 2 ** op.align!;
        while (t < tokens.length && /^(offset|align)=/.test(tokens[t].text)) {
          const [key, value] = next().split('=');
          if (key === 'offset') offset = Number(value);
          else align = Number(value);
        }
        out.push(...uleb(Math.log2(align)), ...uleb(offset));
        if (op.immediate === 'memarg+lane') out.push(Number(next()));
        break;
      }
      case 'i32':
        out.push(...sleb(Number(next())));
        break;
      case 'f64':
        out.push(...new Uint8Array(new Float64Array([Number(next())]).buffer));
        break;
      case 'lane':
        out.push(Number(next()));
        break;
      case 'lanes':
        for (let k = 0; k < 16; k++) out.push(Number(next()));
        break;
      case 'memory.copy':
        out.push(0x00, 0x00);
        break;
      case 'memory.fill':
        out.push(0x00);
        break;
    }
  }
  if (labels.length > 0) throw new Error(`${f.name}: ${labels.length} block(s) left open`);
  return out;
}

function uleb(value: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = value & 0x7f;
    value = Math.floor(value / 128);
    if (value !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (value !== 0);
  return bytes;
}

function sleb(value: number): number[] {
  const bytes: number[] = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    const done = (value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0);
    bytes.push(done ? byte : byte | 0x80);
    if (done) return bytes;
  }
}

function name(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)];
  return [...uleb(bytes.length), ...bytes];
}

function vector(items: readonly (readonly number[])[]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function section(id: number, content: readonly number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

/** The part of the WebAssembly JS API used here (the project's `lib` carries no DOM types). */
interface WebAssemblyApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
  Memory: new (limits: { initial: number; maximum: number }) => { buffer: ArrayBuffer };
}

/** A compiled module (opaque). */
export interface CompiledModule {
  readonly compiled: object;
}

const WASM_PAGE = 65536;
/** wasm32 addresses 4 GiB; V8 allows a memory of that many pages. */
const MAX_WASM_PAGES = 65536;

function webAssembly(): WebAssemblyApi | undefined {
  return (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;
}

/** Compiles a module; null where this runtime lacks WebAssembly or a feature it uses (SIMD). */
export function compileModule(bytes: Uint8Array): CompiledModule | null {
  const api = webAssembly();
  return api?.validate(bytes) ? { compiled: new api.Module(bytes) } : null;
}

/**
 * Instantiates `module` with a fresh memory of at least `bytes` bytes, zeroed, that never grows
 * (so views on its buffer stay valid); null where that memory would pass 4 GiB or is refused.
 */
export function instantiateWithMemory<Exports>(
  module: CompiledModule,
  bytes: number,
): { readonly buffer: ArrayBuffer; readonly exports: Exports } | null {
  const api = webAssembly();
  const pages = Math.max(1, Math.ceil(bytes / WASM_PAGE));
  if (!api || pages > MAX_WASM_PAGES) return null;
  let memory: { buffer: ArrayBuffer };
  try {
    memory = new api.Memory({ initial: pages, maximum: pages });
  } catch {
    return null; // address space refused
  }
  const instance = new api.Instance(module.compiled, { env: { memory } });
  return { buffer: memory.buffer, exports: instance.exports as Exports };
}
