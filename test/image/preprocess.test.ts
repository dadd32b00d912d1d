/**
 * Decoding and torchvision preprocessing against values computed independently: hand-encoded
 * PNGs, closed forms, and reference values from Pillow 9.4 (`Image.resize(size, BILINEAR)`,
 * crop offsets int(round((n − 224)/2)) as torchvision's CenterCrop), computed offline and
 * written down here.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Glas3dError, OptionError } from '../../src/errors.js';
import {
  cropToOriginal,
  cropWindow,
  decodeImage,
  ImageError,
  IMAGENET_MEAN,
  IMAGENET_STD,
  normalizePixels,
  originalToCrop,
  preprocessDecoded,
  preprocessImage,
  resizedSize,
  resizeLikePil,
  roundHalfEven,
  toModelSample,
} from '../../src/image/index.js';
import { gridAxesOf } from '../../src/model/index.js';
import { encodePng, gradientRgb, pngHeaderOnly } from './png.js';

const FINCH = path.resolve('../shared/data/imagenet/finch.jpeg');
const hasFinch = existsSync(FINCH);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'glas-image-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Value of channel c at crop pixel (x, y) of a planar image, back in 0..255. */
const at = (pixels: Float32Array, w: number, h: number, x: number, y: number, c: number) =>
  Math.round(pixels[x + w * (y + h * c)] * 255);

describe('resize and crop as torchvision on PIL', () => {
  // 502 × 400: short side 256 → 321 × 256 (int(256·502/400) = int(321.28)); the crop's left
  // offset is round(48.5) = 48 with Python's half-to-even rounding (49 with Math.round).
  const W = 502;
  const H = 400;
  const png = encodePng(W, H, 2, gradientRgb(W, H));

  it('sizes and offsets follow torchvision', async () => {
    const pre = await preprocessImage(png);
    expect(pre.geometry).toEqual({
      originalWidth: 502,
      originalHeight: 400,
      resizedWidth: 321,
      resizedHeight: 256,
      left: 48,
      top: 16,
      width: 224,
      height: 224,
    });
    expect(pre.pixels.length).toBe(3 * 224 * 224);
  });

  it('crop values equal Pillow BILINEAR at sampled pixels (bit for bit)', async () => {
    const pre = await preprocessImage(png);
    // [x, y, R, G, B] from Pillow 9.4.0 on the same gradient.
    const pillow = [
      [0, 0, 38, 15, 87],
      [1, 0, 39, 15, 99],
      [100, 50, 118, 65, 150],
      [223, 223, 215, 239, 147],
      [37, 191, 67, 207, 21],
      [200, 7, 197, 23, 115],
    ];
    for (const [x, y, ...rgb] of pillow) {
      expect([0, 1, 2].map((c) => at(pre.pixels, 224, 224, x, y, c))).toEqual(rgb);
    }
  });

  it('a linear ramp stays a linear ramp: R and G match the closed form within a grey level', async () => {
    const pre = await preprocessImage(png);
    // Output pixel i samples the source around (i + ½)·in/out − ½ (pixel centres at integers).
    const sx = W / 321;
    const sy = H / 256;
    for (const [x, y] of [
      [10, 20],
      [50, 100],
      [111, 111],
      [200, 180],
    ]) {
      const srcX = (x + 48 + 0.5) * sx - 0.5;
      const srcY = (y + 16 + 0.5) * sy - 0.5;
      expect(Math.abs(at(pre.pixels, 224, 224, x, y, 0) - (255 * srcX) / (W - 1))).toBeLessThan(
        1.5,
      );
      expect(Math.abs(at(pre.pixels, 224, 224, x, y, 1) - (255 * srcY) / (H - 1))).toBeLessThan(
        1.5,
      );
    }
  });

  it('bicubic is Pillow BICUBIC', async () => {
    const pre = await preprocessImage(png, { interpolation: 'bicubic' });
    expect([0, 1, 2].map((c) => at(pre.pixels, 224, 224, 0, 0, c))).toEqual([38, 15, 88]);
    expect([0, 1, 2].map((c) => at(pre.pixels, 224, 224, 223, 223, c))).toEqual([215, 239, 147]);
  });

  it.skipIf(!hasFinch)(
    'finch.jpeg crop equals Pillow (decode without ICC, resize, crop)',
    async () => {
      const pre = await preprocessImage(FINCH);
      expect(pre.geometry).toMatchObject({
        resizedWidth: 307,
        resizedHeight: 256,
        left: 42,
        top: 16,
      });
      // [x, y, R, G, B] from Pillow: Image.open(...).convert('RGB').resize((307, 256), BILINEAR)
      // .crop((42, 16, 266, 240)).
      for (const [x, y, ...rgb] of [
        [0, 0, 117, 103, 68],
        [144, 84, 181, 164, 141],
        [223, 223, 139, 130, 101],
        [60, 150, 122, 112, 94],
      ]) {
        expect([0, 1, 2].map((c) => at(pre.pixels, 224, 224, x, y, c))).toEqual(rgb);
      }
    },
  );

  it('every step can be turned off or changed', async () => {
    const raw = await preprocessImage(png, { resize: false, crop: false });
    expect([raw.width, raw.height]).toEqual([W, H]);
    const rgb = gradientRgb(W, H);
    for (const [x, y] of [
      [0, 0],
      [501, 399],
      [250, 123],
    ]) {
      for (let c = 0; c < 3; c++) {
        expect(at(raw.pixels, W, H, x, y, c)).toBe(rgb[(x + W * y) * 3 + c]);
      }
    }
    const exact = await preprocessImage(png, { resize: { width: 100, height: 80 }, crop: 64 });
    expect(exact.geometry).toMatchObject({
      resizedWidth: 100,
      resizedHeight: 80,
      left: 18,
      top: 8,
    });
    const rect = await preprocessImage(png, { crop: { width: 300, height: 200 } });
    expect(rect.geometry).toMatchObject({ left: 10, top: 28, width: 300, height: 200 });
  });

  it('the sizes and rounding rules by themselves', () => {
    expect(resizedSize(500, 416, 256)).toEqual({ width: 307, height: 256 });
    expect(resizedSize(416, 500, 256)).toEqual({ width: 256, height: 307 });
    expect(resizedSize(300, 300, 256)).toEqual({ width: 256, height: 256 });
    expect([0.5, 1.5, 2.5, 48.5, 49.5, 3, 7.25].map(roundHalfEven)).toEqual([
      0, 2, 2, 48, 50, 3, 7,
    ]);
    expect(cropWindow({ width: 307, height: 256 }, 224)).toEqual({
      left: 42,
      top: 16,
      width: 224,
      height: 224,
    });
  });

  it('resizing to the same size copies; a 2×1 → 1×1 box average rounds as Pillow', () => {
    const data = Uint8Array.from([10, 20, 30, 41, 50, 60]);
    expect(Array.from(resizeLikePil(data, 2, 1, 3, 2, 1))).toEqual([10, 20, 30, 41, 50, 60]);
    // Two taps of weight ½ each: (10 + 41)/2 = 25.5 rounds up in Pillow's fixed point.
    expect(Array.from(resizeLikePil(data, 2, 1, 3, 1, 1))).toEqual([26, 35, 45]);
  });
});

describe('normalisation and layout', () => {
  const W = 4;
  const H = 3;
  const rgb = gradientRgb(W, H);
  const decoded = { source: 'synthetic', format: 'raw', width: W, height: H, data: rgb };

  it('(v/255 − mean)/std per channel, by hand', () => {
    const pre = preprocessDecoded(decoded, { resize: false, crop: false });
    const model = normalizePixels(pre.pixels, W * H, pre.normalization);
    for (const [x, y] of [
      [0, 0],
      [3, 2],
      [1, 2],
    ]) {
      for (let c = 0; c < 3; c++) {
        const v = rgb[(x + W * y) * 3 + c];
        const want = (v / 255 - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
        expect(model[x + W * (y + H * c)]).toBeCloseTo(want, 6);
      }
    }
  });

  it('BGR swaps the planes; mean and std stay listed R, G, B', () => {
    const mean = [0.1, 0.2, 0.3] as const;
    const std = [0.5, 0.25, 2] as const;
    const pre = preprocessDecoded(decoded, {
      resize: false,
      crop: false,
      mean,
      std,
      channelOrder: 'BGR',
    });
    const model = normalizePixels(pre.pixels, W * H, pre.normalization);
    const i = 1 + W * 2; // x = 1, y = 2
    const [r, g, b] = [0, 1, 2].map((c) => rgb[i * 3 + c] / 255);
    expect(model[i]).toBeCloseTo((b - 0.3) / 2, 6);
    expect(model[i + W * H]).toBeCloseTo((g - 0.2) / 0.25, 6);
    expect(model[i + 2 * W * H]).toBeCloseTo((r - 0.1) / 0.5, 6);
  });

  it('NHWC samples interleave the channels', () => {
    const pre = preprocessDecoded(decoded, { resize: false, crop: false });
    const axes = gridAxesOf('NHWC', 'zyx', [H, W, 3]);
    const sample = toModelSample(pre.pixels, pre, pre.normalization, axes);
    const planar = normalizePixels(pre.pixels, W * H, pre.normalization);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        for (let c = 0; c < 3; c++) {
          expect(sample[(y * W + x) * 3 + c]).toBe(planar[x + W * (y + H * c)]);
        }
      }
    }
  });

  it('crop ↔ original coordinates invert each other and follow the resize scale', () => {
    const g = {
      originalWidth: 500,
      originalHeight: 416,
      resizedWidth: 307,
      resizedHeight: 256,
      left: 42,
      top: 16,
      width: 224,
      height: 224,
    };
    // Crop pixel 0 is resized pixel 42, whose centre 42.5 in edge units is 42.5·500/307.
    const [ox, oy] = cropToOriginal(g, 0, 0);
    expect(ox).toBeCloseTo((42.5 * 500) / 307 - 0.5, 10);
    expect(oy).toBeCloseTo((16.5 * 416) / 256 - 0.5, 10);
    const [cx, cy] = originalToCrop(g, ox, oy);
    expect(cx).toBeCloseTo(0, 10);
    expect(cy).toBeCloseTo(0, 10);
    // The crop's outer edges land inside the photo, symmetric up to the rounding of the offset.
    const [lx] = cropToOriginal(g, -0.5, 0);
    const [rx] = cropToOriginal(g, 223.5, 0);
    expect(lx + 0.5).toBeCloseTo((42 * 500) / 307, 10);
    expect(rx + 0.5).toBeCloseTo((266 * 500) / 307, 10);
  });
});

describe('decoding other kinds of image', () => {
  it('a photo over the pixel limit is named as too large, with its size and the fix, not as damaged', async () => {
    const big = decodeImage(pngHeaderOnly(20000, 14000));
    await expect(big).rejects.toThrow(
      /is 20000×14000 \(280 megapixels\), which is over the 268-megapixel limit .*downscale it first/,
    );
    await expect(decodeImage(pngHeaderOnly(20000, 14000))).rejects.not.toThrow(/damaged/);
  });

  it('grayscale is replicated to three equal channels', async () => {
    const grey = [0, 17, 128, 255, 3, 250];
    const img = await decodeImage(encodePng(3, 2, 0, grey));
    expect([img.width, img.height]).toEqual([3, 2]);
    expect(Array.from(img.data)).toEqual(grey.flatMap((v) => [v, v, v]));
  });

  it('16-bit grayscale comes out as 8 bits (v/257 within one level)', async () => {
    const grey = [0, 65535, 12850, 40000];
    const img = await decodeImage(encodePng(2, 2, 0, grey, 16));
    expect(img.data.length).toBe(12);
    grey.forEach((v, i) => {
      for (let c = 0; c < 3; c++)
        expect(Math.abs(img.data[i * 3 + c] - v / 257)).toBeLessThanOrEqual(1);
    });
  });

  it('alpha is dropped as PIL convert("RGB") does, or composited when asked', async () => {
    const rgba = [200, 100, 50, 255, 10, 20, 30, 0, 90, 180, 240, 128];
    const png = encodePng(3, 1, 6, rgba);
    const dropped = await decodeImage(png);
    expect(Array.from(dropped.data)).toEqual([200, 100, 50, 10, 20, 30, 90, 180, 240]);
    const white = await decodeImage(png, { alphaBackground: [255, 255, 255] });
    for (let p = 0; p < 3; p++) {
      const a = rgba[p * 4 + 3] / 255;
      for (let c = 0; c < 3; c++) {
        const want = a * rgba[p * 4 + c] + (1 - a) * 255;
        expect(Math.abs(white.data[p * 3 + c] - want)).toBeLessThanOrEqual(1);
      }
    }
    const greyAlpha = await decodeImage(encodePng(2, 1, 4, [40, 255, 220, 0]));
    expect(Array.from(greyAlpha.data)).toEqual([40, 40, 40, 220, 220, 220]);
  });

  it('CMYK JPEG is converted to sRGB RGB, close to the colours it was made from', async () => {
    // Flat red, green, blue and grey blocks, written as a CMYK JPEG by libvips.
    const blocks: [number, number, number][] = [
      [200, 30, 60],
      [30, 180, 40],
      [40, 60, 220],
      [128, 128, 128],
    ];
    const raw = new Uint8Array(64 * 16 * 3);
    for (let y = 0; y < 16; y++) {
      for (let x = 0; x < 64; x++) raw.set(blocks[x >> 4], (x + 64 * y) * 3);
    }
    const cmyk = await sharp(raw, { raw: { width: 64, height: 16, channels: 3 } })
      .toColourspace('cmyk')
      .jpeg({ quality: 100 })
      .toBuffer();
    expect((await sharp(cmyk).metadata()).space).toBe('cmyk');
    const img = await decodeImage(cmyk);
    expect(img.data.length).toBe(64 * 16 * 3);
    blocks.forEach((want, b) => {
      const o = (8 + 16 * b + 64 * 8) * 3; // the block's centre
      const got = Array.from(img.data.subarray(o, o + 3));
      // RGB → CMYK → RGB through ICC profiles is not exact (saturated blue is out of the CMYK
      // gamut: 220 → 146), but each block keeps its dominant channel and the grey stays grey.
      const dominant = (v: number[]) => v.indexOf(Math.max(...v));
      if (b < 3) expect(dominant(got)).toBe(dominant(want));
      else {
        expect(Math.max(...got) - Math.min(...got)).toBeLessThanOrEqual(6);
        expect(Math.abs(got[1] - 128)).toBeLessThan(20);
      }
    });
  });

  it('the EXIF orientation is applied (orientation 6: stored left edge becomes the top)', async () => {
    const raw = new Uint8Array(32 * 16 * 3);
    for (let y = 0; y < 16; y++) {
      for (let x = 0; x < 32; x++)
        raw.set(x < 16 ? [220, 20, 20] : [20, 20, 220], (x + 32 * y) * 3);
    }
    const jpeg = await sharp(raw, { raw: { width: 32, height: 16, channels: 3 } })
      .jpeg({ quality: 100 })
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const img = await decodeImage(jpeg);
    expect([img.width, img.height]).toEqual([16, 32]);
    const top = img.data.subarray((8 + 16 * 4) * 3, (8 + 16 * 4) * 3 + 3);
    const bottom = img.data.subarray((8 + 16 * 27) * 3, (8 + 16 * 27) * 3 + 3);
    expect(top[0]).toBeGreaterThan(150);
    expect(top[2]).toBeLessThan(80);
    expect(bottom[2]).toBeGreaterThan(150);
    expect(bottom[0]).toBeLessThan(80);
  });

  it('WebP decodes too', async () => {
    const raw = new Uint8Array(8 * 8 * 3).fill(77);
    const webp = await sharp(raw, { raw: { width: 8, height: 8, channels: 3 } })
      .webp({ lossless: true })
      .toBuffer();
    const img = await decodeImage(webp);
    expect(img.format).toBe('webp');
    expect(Array.from(img.data).every((v) => v === 77)).toBe(true);
  });
});

describe('errors name what is wrong', () => {
  it('an unreadable file is an ImageError naming it', async () => {
    const bad = path.join(dir, 'not-an-image.jpg');
    await writeFile(bad, 'this is text, not a JPEG');
    const err = await preprocessImage(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageError);
    expect(err).toBeInstanceOf(Glas3dError);
    expect((err as Error).message).toContain(bad);
    expect((err as Error).message).toMatch(/cannot decode/);
  });

  it.skipIf(!hasFinch)('a truncated JPEG is an ImageError, not a half-grey picture', async () => {
    const bytes = await readFile(FINCH);
    const cut = path.join(dir, 'cut.jpeg');
    await writeFile(cut, bytes.subarray(0, bytes.length >> 1));
    const err = await decodeImage(cut).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageError);
    expect((err as Error).message).toContain(`cannot decode image file ${cut}: `);
    expect((err as Error).message).toMatch(/premature end/);
    expect((err as Error).message).not.toContain('\n');
  });

  it('a missing file is an ImageError naming it', async () => {
    const missing = path.join(dir, 'nowhere.png');
    const err = await preprocessImage(missing).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageError);
    expect((err as Error).message).toContain(missing);
  });

  it('bad options are OptionErrors', async () => {
    const png = encodePng(2, 2, 0, [1, 2, 3, 4]);
    await expect(preprocessImage(png, { crop: 0 })).rejects.toBeInstanceOf(OptionError);
    await expect(preprocessImage(png, { resize: 2.5 })).rejects.toBeInstanceOf(OptionError);
    await expect(
      preprocessImage(png, { std: [1, 0, 1] as unknown as [number, number, number] }),
    ).rejects.toThrow(/std/);
    await expect(
      preprocessImage(png, { interpolation: 'nearest' as unknown as 'bilinear' }),
    ).rejects.toThrow(/interpolation/);
    await expect(preprocessImage(png, { resize: 8, crop: 16 })).rejects.toThrow(
      /centre crop 16×16 is larger than image bytes after resizing \(8×8\)/,
    );
  });
});
