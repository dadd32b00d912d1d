/**
 * NumPy `.npy` files, format version 1.0, written by hand: the magic "\x93NUMPY", version 1.0,
 * a little-endian uint16 header length, and an ASCII header — a Python dict literal with
 * 'descr', 'fortran_order' and 'shape' — padded with spaces and ended by "\n" so that the data
 * starts at a multiple of 64 bytes (NumPy pads to 64 since 1.14; 16 is the spec's minimum).
 * The data follows in C order (last axis fastest), little-endian float32 ('<f4').
 * `numpy.load(path)` reads it back as a float32 array of the given shape.
 */
import { writeFile } from 'node:fs/promises';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93 N U M P Y

/** The bytes of a .npy file holding `data` (float32, C order) with the given shape. */
export function encodeNpy(data: Float32Array, shape: readonly number[]): Buffer {
  const count = shape.reduce((p, d) => p * d, 1);
  if (shape.some((d) => !Number.isInteger(d) || d < 0) || count !== data.length) {
    throw new RangeError(
      `encodeNpy: shape [${shape.join(', ')}] does not hold ${data.length} values`,
    );
  }
  // Python's tuple syntax: a one-element tuple needs its trailing comma.
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${tuple}, }`;
  const preamble = MAGIC.length + 2 + 2; // magic, version, header length
  const padded = Math.ceil((preamble + header.length + 1) / 64) * 64;
  header = header.padEnd(padded - preamble - 1, ' ') + '\n';
  if (header.length > 0xffff) throw new RangeError('encodeNpy: header too long for format 1.0');
  const out = Buffer.alloc(preamble + header.length + data.length * 4);
  out.set(MAGIC, 0);
  out[6] = 1; // major version
  out[7] = 0; // minor version
  out.writeUInt16LE(header.length, 8);
  out.write(header, preamble, 'latin1');
  let at = preamble + header.length;
  for (let i = 0; i < data.length; i++, at += 4) out.writeFloatLE(data[i], at);
  return out;
}

/** Write `data` as a float32 .npy file of the given shape. */
export async function writeNpy(
  path: string,
  data: Float32Array,
  shape: readonly number[],
): Promise<void> {
  await writeFile(path, encodeNpy(data, shape));
}
