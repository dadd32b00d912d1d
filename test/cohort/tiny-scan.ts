/** Real, tiny NIfTI files for discovery tests, written where a test lays out a dataset. */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeVolume } from '../../src/volume/index.js';

export const IDENTITY = [
  [1, 0, 0, 0],
  [0, 1, 0, 0],
  [0, 0, 1, 0],
  [0, 0, 0, 1],
];

/** A real 2×2×2 NIfTI volume at `path` (folders made). */
export async function scan(path: string): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeVolume(path, { dims: [2, 2, 2], affine: IDENTITY, data: new Float32Array(8).fill(1) });
}
