/**
 * Eq. 3 on a GPU. The fused map S = (1/|Ω|) Σ_i w_i · Π_a g_a,i is a sum of separable Gaussians,
 * so once the host has made the 1-D factors g_a,i[k] = exp(−((k − μ_a,i)·s_a)²/σ²) (points ×
 * (X + Y + Z) exps), the map is outer products and one matrix product:
 *   A[i, z·Y + y] = w_i/|Ω| · g_z,i[z] · g_y,i[y],   S[z·Y + y, x] = Σ_i A[i, ·] · g_x,i[x],
 * which a GPU does in about a millisecond where the host's exact double loop takes ~0.15 s for 116
 * points on 91×109×91 (measured on an H200 host, bench:gpu). Float32 on the device: the weights
 * are never negative, so each voxel differs from the double sum by at most (points)·2^-24
 * relative (tested against fuseMap). Small maps stay on the host (DEVICE_FUSION_MIN_TERMS).
 */
import * as ort from 'onnxruntime-node';
import { fuseMap, type FusionInput } from '../glas3d/fusion.js';
import { gaussianFactorInto } from '../glas3d/masks.js';
import { GraphBuilder } from './onnx-graph.js';
import { sessionOptions, type Device } from './session-options.js';

/** The graph for a grid of `gridDims` (axis 0 fastest in the map) and `points` search points. */
export function buildFusionGraph(gridDims: readonly number[], points: number): Uint8Array {
  const g = new GraphBuilder('glas3d_fusion');
  const rank = gridDims.length;
  const weights = g.input('weights', [points, 1]);
  const factors = gridDims.map((n, a) => g.input(`factor${a}`, [points, n]));
  // Fold the slow axes into one row index, slowest first: [points, Z·Y…].
  let rows = g.node('Mul', [weights, factors[rank - 1]]);
  for (let a = rank - 2; a >= 1; a--) {
    const outer = g.node('Mul', [
      g.node('Reshape', [rows, g.int64s('column', [0, -1, 1])]),
      g.node('Reshape', [factors[a], g.int64s('row', [0, 1, -1])]),
    ]);
    rows = g.node('Reshape', [outer, g.int64s('flat', [0, -1])]);
  }
  const map =
    rank === 1
      ? g.node('MatMul', [g.node('Transpose', [weights]), factors[0]])
      : g.node('MatMul', [g.node('Transpose', [rows], { perm: [1, 0] }), factors[0]]);
  g.node('Reshape', [map, g.int64s('map_shape', [-1])], {}, ['map']);
  g.output('map', [gridDims.reduce((p, d) => p * d, 1)]);
  return g.toBytes();
}

/**
 * Maps of fewer point·voxel terms are fused on the host (fuseMap, exact): a device run costs
 * about 7 ms however small the map (WebGPU on an H100: 0.007 s per 224² photo with 225 points),
 * the host's kernel 0.2–0.4 ns per term (that photo: 1 ms on the H100's host, 4.5 ms on a 2-core
 * machine; 91×109×91 with 116 points, 1.05·10⁸ terms: 17 ms there, 0.009 s on the device).
 */
export const DEVICE_FUSION_MIN_TERMS = 2e7;

/** Fuses maps on one device, one cached session per (grid, point count). */
export class DeviceFusion {
  private readonly sessions = new Map<string, Promise<ort.InferenceSession>>();

  constructor(
    readonly device: Device,
    private readonly threads: number,
    /** Maps with fewer points × voxels than this are fused on the host. */
    private readonly minTerms = DEVICE_FUSION_MIN_TERMS,
  ) {}

  async fuse(input: FusionInput): Promise<Float32Array> {
    const { gridDims, spacing, points, weights, sigmaSpatial } = input;
    const count = points.length;
    if (count * gridDims.reduce((p, d) => p * d, 1) < this.minTerms) return fuseMap(input);
    const key = `${gridDims.join('x')}/${count}`;
    let session = this.sessions.get(key);
    if (!session) {
      session = ort.InferenceSession.create(
        buildFusionGraph(gridDims, count),
        sessionOptions(this.device, this.threads),
      );
      this.sessions.set(key, session);
    }
    const inverseScale = 1 / (sigmaSpatial * sigmaSpatial);
    const feeds: Record<string, ort.Tensor> = {
      weights: new ort.Tensor(
        'float32',
        Float32Array.from({ length: count }, (_, i) => weights[i] / count),
        [count, 1],
      ),
    };
    const line = new Float64Array(Math.max(...gridDims));
    gridDims.forEach((n, a) => {
      const factor = new Float32Array(count * n);
      const values = line.subarray(0, n);
      for (let i = 0; i < count; i++) {
        gaussianFactorInto(values, points[i][a], spacing[a], inverseScale);
        factor.set(values, i * n);
      }
      feeds[`factor${a}`] = new ort.Tensor('float32', factor, [count, n]);
    });
    const out = await (await session).run(feeds);
    return out.map.data as Float32Array;
  }

  async dispose(): Promise<void> {
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of sessions) await (await s).release();
  }
}
