/**
 * Acquisition noise: Gaussian, of one standard deviation everywhere in the brain, weighted by
 * the (soft) brain mask so the background of a skull-stripped image stays exactly 0.
 */
import { Rng } from './rng.js';

/**
 * Add N(0, sd²)·weight[i] to `data[i]` where weight > 0, drawing from a stream of its own
 * (`seed`), then clip at 0 (magnitude images have no negative intensities).
 */
export function addNoise(data: Float32Array, weight: Float32Array, sd: number, seed: number): void {
  const rng = new Rng(seed);
  for (let i = 0; i < data.length; i++) {
    const w = weight[i];
    if (!(w > 0)) continue;
    const v = data[i] + sd * w * rng.normal();
    data[i] = v > 0 ? v : 0;
  }
}
