/**
 * Pictures of a saliency map: the map over the crop resampled back onto the whole photo
 * (through the resize-and-crop geometry), coloured with Turbo and alpha-blended over the photo
 * with sharp; and a strip of such pictures side by side (coarse to fine).
 *
 * Outside the crop the model saw nothing, so there is no map there: those pixels show the photo
 * dimmed to 35 % and the crop's edge is drawn as a thin white line.
 */
import sharp, { type OverlayOptions as SharpOverlay } from 'sharp';
import type { DecodedImage } from './decode.js';
import { originalToCrop, type CropGeometry } from './preprocess.js';

/**
 * Turbo (Mikhailov, Google 2019), the polynomial approximation by Ruofei Du (Apache-2.0):
 * x in [0, 1] → sRGB in [0, 1]. Perceptually smoother than jet, dark blue → red.
 */
export function turbo(x: number): [number, number, number] {
  const t = x < 0 ? 0 : x > 1 ? 1 : x;
  const t2 = t * t;
  const t3 = t2 * t;
  const t4 = t2 * t2;
  const t5 = t4 * t;
  const r =
    0.13572138 +
    4.6153926 * t -
    42.66032258 * t2 +
    132.13108234 * t3 -
    152.94239396 * t4 +
    59.28637943 * t5;
  const g =
    0.09140261 +
    2.19418839 * t +
    4.84296658 * t2 -
    14.18503333 * t3 +
    4.27729857 * t4 +
    2.82956604 * t5;
  const b =
    0.1066733 +
    12.64194608 * t -
    60.58204836 * t2 +
    110.36276771 * t3 -
    89.90310912 * t4 +
    27.34824973 * t5;
  const clamp = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v);
  return [clamp(r), clamp(g), clamp(b)];
}

/** 256 Turbo colours as 0..255 RGB triples. */
const TURBO_LUT: Uint8Array = (() => {
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const [r, g, b] = turbo(i / 255);
    lut[3 * i] = Math.round(r * 255);
    lut[3 * i + 1] = Math.round(g * 255);
    lut[3 * i + 2] = Math.round(b * 255);
  }
  return lut;
})();

/**
 * The crop's map (width × height, x fastest) resampled onto the original photo: bilinear in crop
 * pixel coordinates (clamped at the crop's edge), NaN where the photo pixel lies outside the crop.
 * Photo pixel centres go through `originalToCrop`, so this is the inverse of the preprocessing.
 * The transform is separable: the crop covers the photo columns and rows flagged 1 in
 * `columnsInCrop` and `rowsInCrop`.
 */
export function mapOnPhoto(
  map: Float32Array,
  geometry: CropGeometry,
): {
  data: Float32Array;
  width: number;
  height: number;
  columnsInCrop: Uint8Array;
  rowsInCrop: Uint8Array;
} {
  const { width: w, height: h, originalWidth: W, originalHeight: H } = geometry;
  if (map.length !== w * h) {
    throw new RangeError(`mapOnPhoto: the map has ${map.length} values, the crop ${w}×${h}`);
  }
  const out = new Float32Array(W * H);
  // Crop coordinates of each photo column and row (the transform is separable).
  const cx = new Float64Array(W);
  const cy = new Float64Array(H);
  for (let X = 0; X < W; X++) cx[X] = originalToCrop(geometry, X, 0)[0];
  for (let Y = 0; Y < H; Y++) cy[Y] = originalToCrop(geometry, 0, Y)[1];
  const inside = (v: number, n: number) => v >= -0.5 && v <= n - 0.5;
  const columnsInCrop = new Uint8Array(W);
  const rowsInCrop = new Uint8Array(H);
  for (let X = 0; X < W; X++) columnsInCrop[X] = inside(cx[X], w) ? 1 : 0;
  for (let Y = 0; Y < H; Y++) rowsInCrop[Y] = inside(cy[Y], h) ? 1 : 0;
  for (let Y = 0; Y < H; Y++) {
    const y = cy[Y];
    const row = Y * W;
    if (!rowsInCrop[Y]) {
      out.fill(NaN, row, row + W);
      continue;
    }
    const yc = Math.min(h - 1, Math.max(0, y));
    const y0 = Math.min(h - 2, Math.floor(yc));
    const fy = h === 1 ? 0 : yc - Math.max(0, y0);
    const r0 = Math.max(0, y0) * w;
    const r1 = h === 1 ? r0 : r0 + w;
    for (let X = 0; X < W; X++) {
      const x = cx[X];
      if (!columnsInCrop[X]) {
        out[row + X] = NaN;
        continue;
      }
      const xc = Math.min(w - 1, Math.max(0, x));
      const x0 = Math.max(0, Math.min(w - 2, Math.floor(xc)));
      const fx = w === 1 ? 0 : xc - x0;
      const x1 = w === 1 ? x0 : x0 + 1;
      const top = map[r0 + x0] + (map[r0 + x1] - map[r0 + x0]) * fx;
      const bottom = map[r1 + x0] + (map[r1 + x1] - map[r1 + x0]) * fx;
      out[row + X] = top + (bottom - top) * fy;
    }
  }
  return { data: out, width: W, height: H, columnsInCrop, rowsInCrop };
}

export interface OverlayOptions {
  /** Opacity of the colour map over the crop (default 0.5). */
  alpha?: number;
  /** Brightness kept outside the crop (default 0.35). */
  outsideBrightness?: number;
}

/**
 * A PNG at the photo's own size: the map (scaled to [0, 1] between its minimum and maximum over
 * the crop) in Turbo, blended over the photo with `alpha`; outside the crop the photo dimmed,
 * and a white line along the crop's edge.
 */
export async function renderOverlay(
  photo: DecodedImage,
  map: Float32Array,
  geometry: CropGeometry,
  options: OverlayOptions = {},
): Promise<Buffer> {
  const alpha = options.alpha ?? 0.5;
  const keep = options.outsideBrightness ?? 0.35;
  if (photo.width !== geometry.originalWidth || photo.height !== geometry.originalHeight) {
    throw new RangeError(
      `renderOverlay: the photo is ${photo.width}×${photo.height}, the crop came from ${geometry.originalWidth}×${geometry.originalHeight}`,
    );
  }
  const onPhoto = mapOnPhoto(map, geometry);
  const { data, width: W, height: H } = onPhoto;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < map.length; i++) {
    if (map[i] < lo) lo = map[i];
    if (map[i] > hi) hi = map[i];
  }
  const scale = 255 / (hi > lo ? hi - lo : 1);
  const line = Math.max(1, Math.round(Math.min(W, H) / 300));
  // A pixel of the crop is on its edge when a pixel `line` away, across or along, is outside it;
  // the crop being a rectangle of columns × rows, that is decided per column and per row.
  const columnEdge = edgeFlags(onPhoto.columnsInCrop, line);
  const rowEdge = edgeFlags(onPhoto.rowsInCrop, line);
  const layer = Buffer.alloc(W * H * 4);
  const a = Math.round(alpha * 255);
  const dim = Math.round((1 - keep) * 255);
  for (let Y = 0; Y < H; Y++) {
    for (let X = 0; X < W; X++) {
      const i = X + W * Y;
      const o = 4 * i;
      const v = data[i];
      if (Number.isNaN(v)) {
        layer[o + 3] = dim; // black over the photo: dimmed
        continue;
      }
      const flags = columnEdge[X] | rowEdge[Y];
      if (flags === EDGE) {
        layer[o] = layer[o + 1] = layer[o + 2] = layer[o + 3] = 255;
        continue;
      }
      const c = 3 * Math.round((v - lo) * scale);
      layer[o] = TURBO_LUT[c];
      layer[o + 1] = TURBO_LUT[c + 1];
      layer[o + 2] = TURBO_LUT[c + 2];
      layer[o + 3] = a;
    }
  }
  return sharp(Buffer.from(photo.data.buffer, photo.data.byteOffset, photo.data.length), {
    raw: { width: W, height: H, channels: 3 },
  })
    .composite([{ input: layer, raw: { width: W, height: H, channels: 4 } }])
    .removeAlpha()
    .png()
    .toBuffer();
}

const EDGE = 1;
const PHOTO_BORDER = 2;

/**
 * Along one photo axis: EDGE where the pixel `line` before or after is outside the crop (or the
 * photo), PHOTO_BORDER within `line` of the photo's own border, where no edge is drawn.
 */
function edgeFlags(inCrop: Uint8Array, line: number): Uint8Array {
  const n = inCrop.length;
  const flags = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    const border = k < line || k >= n - line;
    const edge = border || !inCrop[k - line] || !inCrop[k + line];
    flags[k] = (edge ? EDGE : 0) | (border ? PHOTO_BORDER : 0);
  }
  return flags;
}

/**
 * Panels (PNG bytes) side by side, each scaled to `height` pixels tall, with an optional caption
 * under each (rendered from SVG text by sharp; blank where no font is installed).
 */
export async function renderStrip(
  panels: readonly Buffer[],
  captions: readonly string[] = [],
  height = 256,
): Promise<Buffer> {
  const gap = 8;
  const captionHeight = captions.length > 0 ? 24 : 0;
  const scaled = await Promise.all(
    panels.map(async (p) => {
      const { data, info } = await sharp(p)
        .resize({ height, kernel: 'lanczos3' })
        .png()
        .toBuffer({ resolveWithObject: true });
      return { data, width: info.width };
    }),
  );
  const width = scaled.reduce((s, p) => s + p.width, 0) + gap * (scaled.length + 1);
  const total = height + captionHeight + 2 * gap;
  const layers: SharpOverlay[] = [];
  let left = gap;
  for (let i = 0; i < scaled.length; i++) {
    layers.push({ input: scaled[i].data, left, top: gap });
    const text = captions[i];
    if (text) {
      const svg =
        `<svg xmlns="http://www.w3.org/2000/svg" width="${scaled[i].width}" height="${captionHeight}">` +
        `<text x="${scaled[i].width / 2}" y="${captionHeight - 7}" text-anchor="middle" ` +
        `font-family="DejaVu Sans, Arial, sans-serif" font-size="15" fill="black">${escapeXml(text)}</text></svg>`;
      layers.push({ input: Buffer.from(svg), left, top: gap + height });
    }
    left += scaled[i].width + gap;
  }
  return sharp({
    create: { width, height: total, channels: 3, background: { r: 255, g: 255, b: 255 } },
  })
    .composite(layers)
    .png()
    .toBuffer();
}

const escapeXml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
