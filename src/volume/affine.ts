/**
 * 4×4 affines (voxel → world mm, as NIfTI and nibabel use them), written out explicitly.
 * An affine is row-major `number[][]`: world = A · [i, j, k, 1]ᵀ.
 */
export type Affine = number[][];
export type Vec3 = [number, number, number];

export function identityAffine(): Affine {
  return [
    [1, 0, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 1, 0],
    [0, 0, 0, 1],
  ];
}

export function cloneAffine(a: Affine): Affine {
  return a.map((row) => row.slice());
}

/** A · B for 4×4 matrices. */
export function multiplyAffines(a: Affine, b: Affine): Affine {
  const out = identityAffine();
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 4; c++) {
      let s = 0;
      for (let k = 0; k < 4; k++) s += a[r][k] * b[k][c];
      out[r][c] = s;
    }
  }
  return out;
}

/** Inverse of a 4×4 matrix (Gauss–Jordan with partial pivoting). Throws when singular. */
export function invertAffine(a: Affine): Affine {
  const m = a.map((row, r) => [...row, ...identityAffine()[r]]);
  for (let col = 0; col < 4; col++) {
    let pivot = col;
    for (let r = col + 1; r < 4; r++) if (Math.abs(m[r][col]) > Math.abs(m[pivot][col])) pivot = r;
    if (Math.abs(m[pivot][col]) < 1e-12) throw new Error('affine is singular');
    [m[col], m[pivot]] = [m[pivot], m[col]];
    const p = m[col][col];
    for (let c = 0; c < 8; c++) m[col][c] /= p;
    for (let r = 0; r < 4; r++) {
      if (r === col) continue;
      const f = m[r][col];
      if (f !== 0) for (let c = 0; c < 8; c++) m[r][c] -= f * m[col][c];
    }
  }
  return m.map((row) => row.slice(4));
}

/** Apply an affine to a 3-D point: A · [p, 1]. */
export function applyAffine(a: Affine, p: readonly number[]): Vec3 {
  const [x, y, z] = p;
  return [
    a[0][0] * x + a[0][1] * y + a[0][2] * z + a[0][3],
    a[1][0] * x + a[1][1] * y + a[1][2] * z + a[1][3],
    a[2][0] * x + a[2][1] * y + a[2][2] * z + a[2][3],
  ];
}

/** Voxel size along each voxel axis: the norms of the affine's first three columns. */
export function voxelSizes(a: Affine): Vec3 {
  const size = (c: number) => Math.hypot(a[0][c], a[1][c], a[2][c]);
  return [size(0), size(1), size(2)];
}

function det3(m: number[][]): number {
  return (
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
    m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
    m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
  );
}

/** Quaternion form of an affine, as NIfTI's qform stores it. */
export interface Quaternion {
  b: number;
  c: number;
  d: number;
  offset: Vec3;
  /** Voxel sizes (pixdim[1..3]). */
  pixdim: Vec3;
  /** pixdim[0]: −1 when the third axis is flipped (left-handed voxel grid), else 1. */
  qfac: 1 | -1;
}

/**
 * The qform rotation as the NIfTI-1 standard defines it (nifti1.h):
 * R from (a, b, c, d) with a = √(1 − b² − c² − d²), then A = R · diag(dx, dy, qfac·dz) + offset.
 */
export function affineFromQuaternion(q: Quaternion): Affine {
  let { b, c, d } = q;
  let a = 1 - (b * b + c * c + d * d);
  if (a < 1e-7) {
    // Numerically a 180° rotation: renormalise (b, c, d) and take a = 0, as nifti1_io does.
    const n = Math.hypot(b, c, d) || 1;
    b /= n;
    c /= n;
    d /= n;
    a = 0;
  } else {
    a = Math.sqrt(a);
  }
  const [dx, dy, dz] = q.pixdim.map((v) => (v > 0 ? v : 1));
  const zs = q.qfac < 0 ? -dz : dz;
  const r = [
    [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
    [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
    [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
  ];
  return [
    [r[0][0] * dx, r[0][1] * dy, r[0][2] * zs, q.offset[0]],
    [r[1][0] * dx, r[1][1] * dy, r[1][2] * zs, q.offset[1]],
    [r[2][0] * dx, r[2][1] * dy, r[2][2] * zs, q.offset[2]],
    [0, 0, 0, 1],
  ];
}

/**
 * The closest qform to an affine (nifti_mat44_to_quatern): the rotation part is the
 * orthogonal polar factor of the column-normalised 3×3 block, so a sheared affine still gets a
 * valid quaternion (the sform keeps it exactly).
 */
export function quaternionFromAffine(affine: Affine): Quaternion {
  const pixdim = voxelSizes(affine).map((v) => (v > 0 ? v : 1)) as Vec3;
  let m = [0, 1, 2].map((r) => [0, 1, 2].map((c) => affine[r][c] / pixdim[c]));
  // Polar decomposition by Newton iteration: Q ← (Q + Q⁻ᵀ) / 2 converges to the nearest rotation.
  for (let it = 0; it < 30; it++) {
    const inv = invertAffine([
      [...m[0], 0],
      [...m[1], 0],
      [...m[2], 0],
      [0, 0, 0, 1],
    ]);
    const next = [0, 1, 2].map((r) => [0, 1, 2].map((c) => 0.5 * (m[r][c] + inv[c][r])));
    const change = Math.max(...next.flatMap((row, r) => row.map((v, c) => Math.abs(v - m[r][c]))));
    m = next;
    if (change < 1e-12) break;
  }
  let qfac: 1 | -1 = 1;
  if (det3(m) < 0) {
    qfac = -1;
    for (let r = 0; r < 3; r++) m[r][2] = -m[r][2];
  }
  const [[r11, r12, r13], [r21, r22, r23], [r31, r32, r33]] = m;
  let a = r11 + r22 + r33 + 1;
  let b: number, c: number, d: number;
  if (a > 0.5) {
    a = 0.5 * Math.sqrt(a);
    b = (0.25 * (r32 - r23)) / a;
    c = (0.25 * (r13 - r31)) / a;
    d = (0.25 * (r21 - r12)) / a;
  } else {
    const xd = 1 + r11 - (r22 + r33);
    const yd = 1 + r22 - (r11 + r33);
    const zd = 1 + r33 - (r11 + r22);
    if (xd > 1) {
      b = 0.5 * Math.sqrt(xd);
      c = (0.25 * (r12 + r21)) / b;
      d = (0.25 * (r13 + r31)) / b;
      a = (0.25 * (r32 - r23)) / b;
    } else if (yd > 1) {
      c = 0.5 * Math.sqrt(yd);
      b = (0.25 * (r12 + r21)) / c;
      d = (0.25 * (r23 + r32)) / c;
      a = (0.25 * (r13 - r31)) / c;
    } else {
      d = 0.5 * Math.sqrt(zd);
      b = (0.25 * (r13 + r31)) / d;
      c = (0.25 * (r23 + r32)) / d;
      a = (0.25 * (r21 - r12)) / d;
    }
    if (a < 0) {
      b = -b;
      c = -c;
      d = -d;
    }
  }
  return {
    b,
    c,
    d,
    offset: [affine[0][3], affine[1][3], affine[2][3]],
    pixdim,
    qfac,
  };
}
