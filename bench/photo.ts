/**
 * A photo as the benches' MobileNetV2 takes it: short side 256, centre crop 224, /255,
 * ImageNet mean/std, planar RGB (x fastest). sharp is loaded on the first call, so a bundle
 * that only reads tensors preprocessed beforehand (bench/gpu.ts on the GPU server) runs
 * without it.
 */
export async function imagenetTensor(path: string): Promise<Float32Array> {
  const sharp = (await import('sharp')).default;
  const resized = await sharp(path)
    .removeAlpha()
    .resize({ width: 256, height: 256, fit: 'outside' })
    .toBuffer({ resolveWithObject: true });
  const { data } = await sharp(resized.data)
    .extract({
      left: Math.floor((resized.info.width - 224) / 2),
      top: Math.floor((resized.info.height - 224) / 2),
      width: 224,
      height: 224,
    })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const mean = [0.485, 0.456, 0.406];
  const std = [0.229, 0.224, 0.225];
  const n = 224 * 224;
  const planar = new Float32Array(3 * n);
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < 3; c++) planar[c * n + p] = (data[p * 3 + c] / 255 - mean[c]) / std[c];
  }
  return planar;
}
