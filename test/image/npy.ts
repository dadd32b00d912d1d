/** A .npy reader for tests, written from the format spec and sharing nothing with the writer. */
import { expect } from 'vitest';

/** Parse a .npy v1.0 file by hand: magic, version, header dict, float32 data. */
export function readNpyByHand(bytes: Uint8Array): {
  shape: number[];
  data: Float32Array;
  descr: string;
} {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  expect([...b.subarray(0, 6)]).toEqual([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);
  expect([b[6], b[7]]).toEqual([1, 0]);
  const headerLength = b.readUInt16LE(8);
  const header = b.subarray(10, 10 + headerLength).toString('latin1');
  expect((10 + headerLength) % 64).toBe(0);
  expect(header.endsWith('\n')).toBe(true);
  const descr = /'descr':\s*'([^']+)'/.exec(header)![1];
  expect(/'fortran_order':\s*False/.test(header)).toBe(true);
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)![1];
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  const count = shape.reduce((p, d) => p * d, 1);
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = b.readFloatLE(10 + headerLength + 4 * i);
  expect(b.length).toBe(10 + headerLength + 4 * count);
  return { shape, data, descr };
}
