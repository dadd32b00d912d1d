/**
 * Separable Gaussian smoothing in physical units (σ in mm along each voxel axis via the voxel
 * size), with zero outside the volume and the kernel renormalised near the edges so the
 * border does not darken.
 */
import { spacingMm, type Volume } from './volume.js';

export function gaussianSmooth(volume: Volume, sigmaMm: number): Volume {
  const sizes = spacingMm(volume);
  let data: Float32Array = Float32Array.from(volume.data);
  if (sigmaMm > 0) {
    for (let axis = 0; axis < 3; axis++)
      data = smoothAxis(data, volume.dims, axis, sigmaMm / sizes[axis]);
  }
  return { dims: [...volume.dims], affine: volume.affine.map((r) => r.slice()), data };
}

function smoothAxis(
  data: Float32Array,
  dims: readonly number[],
  axis: number,
  sigmaVoxels: number,
): Float32Array {
  const radius = Math.max(1, Math.ceil(3 * sigmaVoxels));
  const kernel = new Float64Array(2 * radius + 1);
  for (let t = -radius; t <= radius; t++)
    kernel[t + radius] = Math.exp(-(t * t) / (2 * sigmaVoxels ** 2));
  const n = dims[axis];
  const stride = axis === 0 ? 1 : axis === 1 ? dims[0] : dims[0] * dims[1];
  const out = new Float32Array(data.length);
  const line = new Float64Array(n);
  const lines = data.length / n;
  for (let l = 0; l < lines; l++) {
    // Start index of line l: decompose l over the other two axes.
    const start =
      axis === 0
        ? l * dims[0]
        : axis === 1
          ? (l % dims[0]) + Math.floor(l / dims[0]) * dims[0] * dims[1]
          : l;
    for (let i = 0; i < n; i++) line[i] = data[start + i * stride];
    for (let i = 0; i < n; i++) {
      let s = 0;
      let w = 0;
      const lo = Math.max(0, i - radius);
      const hi = Math.min(n - 1, i + radius);
      for (let t = lo; t <= hi; t++) {
        const k = kernel[t - i + radius];
        s += k * line[t];
        w += k;
      }
      out[start + i * stride] = s / w;
    }
  }
  return out;
}
