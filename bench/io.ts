/**
 * npm run bench:io — read and write times for a 181×217×181 and a 256³ volume.
 * Median of a few runs each; uses the bundled Colin27 and, when present, the real 256³ scan
 * in ../shared/data (else a synthetic 256³ volume).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readVolume, writeVolume, type Volume } from '../src/volume/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const repeats = 5;

async function time(fn: () => Promise<unknown>): Promise<number> {
  const runs: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t = performance.now();
    await fn();
    runs.push(performance.now() - t);
  }
  return runs.sort((a, b) => a - b)[Math.floor(repeats / 2)];
}

const dir = await mkdtemp(join(tmpdir(), 'glas3d-bench-io-'));
const cases: Array<{ label: string; path?: string; volume?: Volume }> = [
  { label: '181×217×181 uint8 (ch2bet.nii.gz)', path: join(root, 'atlases/aal/ch2bet.nii.gz') },
];
const t1 = join(root, '../shared/data/mri/t1_crop.nii.gz');
if (existsSync(t1)) cases.push({ label: '256³ uint8 (t1_crop.nii.gz)', path: t1 });
else {
  const data = new Float32Array(256 ** 3).map((_, i) => (i * 2654435761) % 255);
  cases.push({
    label: '256³ synthetic',
    volume: {
      dims: [256, 256, 256],
      affine: [
        [1, 0, 0, 0],
        [0, 1, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
      ],
      data,
    },
  });
}

const rows: string[][] = [
  ['volume', 'read .nii.gz', 'write .nii.gz f32', 'write .nii f32', 'read .nii f32'],
];
for (const c of cases) {
  const volume = c.volume ?? (await readVolume(c.path!));
  const readGz = c.path ? await time(() => readVolume(c.path!)) : NaN;
  const gz = join(dir, 'out.nii.gz');
  const raw = join(dir, 'out.nii');
  const writeGz = await time(() => writeVolume(gz, volume));
  const writeRaw = await time(() => writeVolume(raw, volume));
  const readRaw = await time(() => readVolume(raw));
  rows.push([c.label, ...[readGz, writeGz, writeRaw, readRaw].map((ms) => `${ms.toFixed(0)} ms`)]);
}
await rm(dir, { recursive: true, force: true });

const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
console.log(`bench:io — median of ${repeats} runs, node ${process.version}`);
for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c])).join('  '));
