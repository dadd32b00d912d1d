/** The onnxruntime session options of every session glas3d creates, per execution provider. */
import * as ort from 'onnxruntime-node';

export type Device = 'cpu' | 'cuda' | 'webgpu';

/**
 * WebGPU keeps freed storage buffers for reuse by exact size ('simple') instead of onnxruntime's
 * default size buckets. GLAS runs the same batch shapes again and again, and the buckets do not
 * cover the large activations of a 3-D CNN, which were then allocated anew on every run. Measured
 * with bench:gpu-profile on an NVIDIA H200 (2026-11-26): the paper CNN with in-graph perturbation,
 * 32 volumes per run, 76.7 → 35.1 ms per run (its GPU kernels: 22 ms); MobileNetV2's float twin,
 * 64 images per run, 32.5 → 21.6 ms. The cost is GPU memory held for each batch shape seen.
 */
const WEBGPU_PROVIDER = { name: 'webgpu', storageBufferCacheMode: 'simple' } as const;

export function sessionOptions(
  device: Device,
  threads: number,
): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [device === 'webgpu' ? WEBGPU_PROVIDER : device],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: threads,
    // One model runs at a time: parallelism lives inside operators.
    interOpNumThreads: 1,
    // Errors only: warnings about node placement are noise for users. Where the process asked for
    // fatal lines only (the CLI: its own message carries onnxruntime's error), a failed run
    // prints none either.
    logSeverityLevel: ort.env.logLevel === 'fatal' ? 4 : 3,
  };
}
