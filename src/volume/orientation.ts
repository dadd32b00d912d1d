import type { Affine } from './affine.js';

/** The world direction each voxel axis points to, e.g. "RAS" or "LIA" (nibabel's aff2axcodes). */
export function orientationCode(affine: Affine): string {
  const labels = [
    ['L', 'R'],
    ['P', 'A'],
    ['I', 'S'],
  ];
  // Normalised direction of each voxel axis (column of the 3×3 block).
  const cols = [0, 1, 2].map((c) => {
    const n = Math.hypot(affine[0][c], affine[1][c], affine[2][c]) || 1;
    return [affine[0][c] / n, affine[1][c] / n, affine[2][c] / n];
  });
  // Assign voxel axes to distinct world axes, maximising total alignment (6 permutations),
  // so an oblique scan still gets three different letters.
  const perms = [
    [0, 1, 2],
    [0, 2, 1],
    [1, 0, 2],
    [1, 2, 0],
    [2, 0, 1],
    [2, 1, 0],
  ];
  let best = perms[0];
  let bestScore = -1;
  for (const p of perms) {
    const score = p.reduce((s, w, c) => s + Math.abs(cols[c][w]), 0);
    if (score > bestScore + 1e-12) {
      best = p;
      bestScore = score;
    }
  }
  return best.map((w, c) => labels[w][cols[c][w] >= 0 ? 1 : 0]).join('');
}
