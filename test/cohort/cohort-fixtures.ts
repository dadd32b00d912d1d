/**
 * A small generated cohort for run tests: Colin27 on the MNI 2 mm grid plus noise and small
 * shifts (some subjects kept at 1 mm, so the run must resample them), and an oracle model whose
 * logit is a weighted sum over two AAL regions, so the right ranking is known by construction.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { multiplyAffines, readVolume, writeVolume, type Volume } from '../../src/volume/index.js';
import { mulberry32, normalSampler } from '../../src/model/prng.js';
import { linearOracle, oracleWorld, regionWeights } from '../explain/oracle-fixtures.js';

export const TARGETS = [37, 42]; // Hippocampus_L, Amygdala_R: 57 mm apart

export interface CohortFixture {
  dir: string;
  cohort: string;
  model: string;
  subjects: number;
}

function noisy(volume: Volume, seed: number, shiftMm: [number, number, number]): Volume {
  const normal = normalSampler(seed);
  const data = Float32Array.from(volume.data, (v) => (v > 0 ? v * (1 + 0.03 * normal()) : 0));
  const shift = [
    [1, 0, 0, shiftMm[0]],
    [0, 1, 0, shiftMm[1]],
    [0, 0, 1, shiftMm[2]],
    [0, 0, 0, 1],
  ];
  return { dims: volume.dims, affine: multiplyAffines(shift, volume.affine), data };
}

/** `n2mm` subjects on the 2 mm grid (shifted by ≤ 2 mm via their affine) and `n1mm` at 1 mm. */
export async function makeCohort(dir: string, n2mm = 4, n1mm = 2): Promise<CohortFixture> {
  const w = await oracleWorld();
  const colin1mm = await readVolume(w.atlas.template!);
  const cohort = join(dir, 'cohort');
  await mkdir(cohort, { recursive: true });
  const r = mulberry32(11);
  for (let s = 0; s < n2mm + n1mm; s++) {
    const shift: [number, number, number] = [0, 0, 0].map(() => Math.round((r() - 0.5) * 4)) as [
      number,
      number,
      number,
    ];
    const source = s < n2mm ? w.volume : colin1mm;
    // A shift of the affine moves the brain in world space; on the 2 mm grid keep it on-grid
    // (a whole number of voxels is not needed: the run uses any 2 mm subject as is only when its
    // affine matches, so shifted ones are resampled too).
    const v = noisy(source, 100 + s, s % 2 === 0 ? [0, 0, 0] : shift);
    await writeVolume(join(cohort, `sub-${String(s + 1).padStart(2, '0')}.nii.gz`), v);
  }
  const model = join(dir, 'oracle.onnx');
  await writeFile(model, linearOracle(w, regionWeights(w, { [TARGETS[0]]: 1, [TARGETS[1]]: 1 })));
  return { dir, cohort, model, subjects: n2mm + n1mm };
}
