/**
 * torchvision's default ImageNet preprocessing, step by step and each step an option:
 *
 *   Resize(256)       short side to 256, long side int(256·long/short), Pillow BILINEAR
 *                     (antialiased when shrinking) — ported bit for bit in resample.ts
 *   CenterCrop(224)   offsets int(round((size − 224)/2)) with Python's round half to even
 *   ToTensor()        RGB/255, planar
 *   Normalize(mean, std)
 *
 * The result keeps the [0, 1] image (what GLAS's masks are applied to, as in the paper) apart
 * from the normalisation, which is applied after (`normalizePixels`, `toModelSample`); and it
 * keeps the geometry of resize and crop so a map over the crop can be put back on the photo.
 */
import { OptionError } from '../errors.js';
import { toModelTensor, type GridAxes } from '../model/index.js';
import { decodeImage, type DecodedImage, type DecodeOptions } from './decode.js';
import { ImageError } from './errors.js';
import { RESAMPLE_FILTERS, resizeLikePil, type ResampleFilter } from './resample.js';

export type ChannelOrder = 'RGB' | 'BGR';
export type Rgb = readonly [number, number, number];

export const IMAGENET_MEAN: Rgb = [0.485, 0.456, 0.406];
export const IMAGENET_STD: Rgb = [0.229, 0.224, 0.225];

export interface Size {
  readonly width: number;
  readonly height: number;
}

export interface PreprocessOptions extends DecodeOptions {
  /**
   * A number: the short side after resizing, aspect kept (torchvision `Resize(int)`); a size:
   * exactly that; false: no resize. Default 256.
   */
  resize?: number | Size | false;
  /** Pillow filter of the resize. Default 'bilinear' (torchvision's default). */
  interpolation?: ResampleFilter;
  /** Centre crop: a square side, a size, or false for none. Default 224. */
  crop?: number | Size | false;
  /** Per-channel mean subtracted from RGB/255, listed R, G, B whatever the channel order. */
  mean?: Rgb;
  /** Per-channel divisor after the mean, listed R, G, B. A model that takes 0..255 gets 1/255. */
  std?: Rgb;
  /** The channel order the model takes. Default 'RGB'. */
  channelOrder?: ChannelOrder;
}

/** What turns the [0, 1] image into the model's input: (x − mean)/std, then the channel order. */
export interface Normalization {
  /** R, G, B. */
  readonly mean: Rgb;
  /** R, G, B. */
  readonly std: Rgb;
  readonly channelOrder: ChannelOrder;
}

/**
 * Where the crop came from. Pixel centres sit at integer coordinates; in edge coordinates the
 * resize maps u ↦ u·resized/original per axis (Pillow's convention), and the crop is the window
 * [left, left + width) × [top, top + height) of the resized image.
 */
export interface CropGeometry {
  /** The decoded photo's size (after the EXIF orientation). */
  readonly originalWidth: number;
  readonly originalHeight: number;
  readonly resizedWidth: number;
  readonly resizedHeight: number;
  /** Crop window in resized pixels. */
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

export interface PreprocessedImage {
  /** File path or 'image bytes'; used in messages. */
  readonly source: string;
  /** Crop size: the grid of masks and maps. */
  readonly width: number;
  readonly height: number;
  /**
   * RGB in [0, 1], planar [C][H][W] with x fastest: index = x + width·(y + height·c), c = R, G, B.
   * What GLAS masks are applied to, before normalisation.
   */
  readonly pixels: Float32Array;
  readonly normalization: Normalization;
  readonly geometry: CropGeometry;
}

export const DEFAULT_RESIZE = 256;
export const DEFAULT_CROP = 224;

/** Decode an image file (or its bytes) and preprocess it. */
export async function preprocessImage(
  input: string | Uint8Array,
  options: PreprocessOptions = {},
): Promise<PreprocessedImage> {
  checkPreprocessOptions(options);
  const decoded = await decodeImage(input, options);
  return preprocessDecoded(decoded, options);
}

/** Preprocess an image already decoded to 8-bit RGB. */
export function preprocessDecoded(
  decoded: DecodedImage,
  options: PreprocessOptions = {},
): PreprocessedImage {
  checkPreprocessOptions(options);
  const { width: w0, height: h0, data } = decoded;
  if (data.length !== w0 * h0 * 3) {
    throw new ImageError(
      `image ${decoded.source} holds ${data.length} values; ${w0}×${h0} RGB needs ${w0 * h0 * 3}.`,
    );
  }
  const resized = resizedSize(w0, h0, options.resize ?? DEFAULT_RESIZE);
  const rgb =
    resized.width === w0 && resized.height === h0
      ? data
      : resizeLikePil(
          data,
          w0,
          h0,
          3,
          resized.width,
          resized.height,
          options.interpolation ?? 'bilinear',
        );
  const crop = cropWindow(resized, options.crop ?? DEFAULT_CROP, decoded.source);
  const { width, height } = crop;
  const plane = width * height;
  const pixels = new Float32Array(3 * plane);
  for (let y = 0; y < height; y++) {
    let p = ((y + crop.top) * resized.width + crop.left) * 3;
    let o = y * width;
    for (let x = 0; x < width; x++, p += 3, o++) {
      pixels[o] = rgb[p] / 255;
      pixels[o + plane] = rgb[p + 1] / 255;
      pixels[o + 2 * plane] = rgb[p + 2] / 255;
    }
  }
  return {
    source: decoded.source,
    width,
    height,
    pixels,
    normalization: {
      mean: copyRgb(options.mean ?? IMAGENET_MEAN),
      std: copyRgb(options.std ?? IMAGENET_STD),
      channelOrder: options.channelOrder ?? 'RGB',
    },
    geometry: {
      originalWidth: w0,
      originalHeight: h0,
      resizedWidth: resized.width,
      resizedHeight: resized.height,
      left: crop.left,
      top: crop.top,
      width,
      height,
    },
  };
}

/** torchvision `Resize`: a number sets the short side (long side truncated), a size is exact. */
export function resizedSize(width: number, height: number, resize: number | Size | false): Size {
  if (resize === false) return { width, height };
  if (typeof resize === 'number') {
    const short = Math.min(width, height);
    const long = Math.max(width, height);
    const newLong = Math.trunc((resize * long) / short);
    return width <= height
      ? { width: resize, height: newLong }
      : { width: newLong, height: resize };
  }
  return { width: resize.width, height: resize.height };
}

/** Python 3's round(): half to even. */
export const roundHalfEven = (v: number): number => {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
};

/** torchvision `CenterCrop`: the window of the given size centred with Python's rounding. */
export function cropWindow(
  image: Size,
  crop: number | Size | false,
  source = 'the image',
): { left: number; top: number; width: number; height: number } {
  if (crop === false) return { left: 0, top: 0, width: image.width, height: image.height };
  const size = typeof crop === 'number' ? { width: crop, height: crop } : crop;
  if (size.width > image.width || size.height > image.height) {
    throw new OptionError(
      `centre crop ${size.width}×${size.height} is larger than ${source} after resizing ` +
        `(${image.width}×${image.height}); resize to a larger short side or crop less.`,
    );
  }
  return {
    left: roundHalfEven((image.width - size.width) / 2),
    top: roundHalfEven((image.height - size.height) / 2),
    width: size.width,
    height: size.height,
  };
}

/**
 * (x − mean)/std per channel in float32 arithmetic as torchvision's Normalize does, with the
 * planes put in the model's channel order. Input and output are planar, x fastest.
 */
export function normalizePixels(
  pixels: Float32Array,
  plane: number,
  normalization: Normalization,
): Float32Array {
  if (pixels.length !== 3 * plane) {
    throw new RangeError(`normalizePixels: ${pixels.length} values, 3 planes of ${plane} needed`);
  }
  const out = new Float32Array(pixels.length);
  for (let c = 0; c < 3; c++) {
    const m = Math.fround(normalization.mean[c]);
    const s = Math.fround(normalization.std[c]);
    const target = normalization.channelOrder === 'BGR' ? 2 - c : c;
    const from = c * plane;
    const to = target * plane;
    // Both operations on float32 values, computed in double and rounded once: the same result
    // as float32 arithmetic (a double holds more than 2·24 + 2 bits).
    for (let i = 0; i < plane; i++) out[to + i] = Math.fround(pixels[from + i] - m) / s;
  }
  return out;
}

/**
 * A [0, 1] planar image of the crop's size, normalised and laid out as the model's sample
 * (NCHW or NHWC, `axes` from the classifier).
 */
export function toModelSample(
  pixels: Float32Array,
  size: Size,
  normalization: Normalization,
  axes: GridAxes,
): Float32Array {
  const normalized = normalizePixels(pixels, size.width * size.height, normalization);
  return toModelTensor(normalized, [size.width, size.height], 3, axes);
}

/** A point of the crop (pixel coordinates, centres at integers) on the original photo. */
export function cropToOriginal(g: CropGeometry, x: number, y: number): [number, number] {
  return [
    ((x + g.left + 0.5) * g.originalWidth) / g.resizedWidth - 0.5,
    ((y + g.top + 0.5) * g.originalHeight) / g.resizedHeight - 0.5,
  ];
}

/** A point of the original photo in crop coordinates (may fall outside the crop). */
export function originalToCrop(g: CropGeometry, x: number, y: number): [number, number] {
  return [
    ((x + 0.5) * g.resizedWidth) / g.originalWidth - 0.5 - g.left,
    ((y + 0.5) * g.resizedHeight) / g.originalHeight - 0.5 - g.top,
  ];
}

const copyRgb = (v: Rgb): Rgb => [v[0], v[1], v[2]];

const isPositiveInt = (v: unknown): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= 1;

function checkSize(name: string, v: number | Size | false | undefined): void {
  if (v === undefined || v === false) return;
  const ok =
    typeof v === 'number' ? isPositiveInt(v) : isPositiveInt(v?.width) && isPositiveInt(v?.height);
  if (!ok) {
    throw new OptionError(
      `${name} ${JSON.stringify(v)} must be a positive whole number, { width, height } of them, or false.`,
    );
  }
}

function checkRgb(name: string, v: Rgb | undefined, positive: boolean): void {
  if (v === undefined) return;
  if (
    !Array.isArray(v) ||
    v.length !== 3 ||
    v.some((x) => !Number.isFinite(x) || (positive && x <= 0))
  ) {
    throw new OptionError(
      `${name} [${String(v)}] must be three ${positive ? 'positive ' : ''}finite numbers (R, G, B).`,
    );
  }
}

export function checkPreprocessOptions(options: PreprocessOptions): void {
  checkSize('resize', options.resize);
  checkSize('crop', options.crop);
  if (options.interpolation !== undefined && !RESAMPLE_FILTERS.includes(options.interpolation)) {
    throw new OptionError(
      `interpolation '${options.interpolation}' is not one of ${RESAMPLE_FILTERS.join(', ')}.`,
    );
  }
  checkRgb('mean', options.mean, false);
  checkRgb('std', options.std, true);
  if (
    options.channelOrder !== undefined &&
    options.channelOrder !== 'RGB' &&
    options.channelOrder !== 'BGR'
  ) {
    throw new OptionError(`channel order '${options.channelOrder}' is not RGB or BGR.`);
  }
}

/**
 * The model-input grid (width, height) and channels preprocessing gives every photo, or
 * undefined when it depends on the photo (no crop, and no resize to an exact size): what fills a
 * model's symbolic dims.
 */
export function preprocessedGrid(
  options: PreprocessOptions = {},
): { dims: [number, number]; channels: number } | undefined {
  const crop = options.crop ?? DEFAULT_CROP;
  // Without a crop, only a resize to an exact size gives every photo the same grid.
  const size = crop === false ? options.resize : crop;
  if (size === false || size === undefined || (crop === false && typeof size === 'number'))
    return undefined;
  return {
    dims: typeof size === 'number' ? [size, size] : [size.width, size.height],
    channels: 3,
  };
}
