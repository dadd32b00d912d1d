/**
 * Decoding photos to 8-bit sRGB RGB with sharp (libvips): JPEG, PNG and WebP (and the other
 * formats sharp reads: TIFF, GIF, AVIF/HEIF, SVG). Grayscale is replicated to three channels,
 * CMYK is converted to sRGB, alpha is dropped (or composited over a colour), 16-bit is scaled to
 * 8 bits, and the EXIF orientation is applied so the image is the one a viewer shows.
 *
 * Two choices follow torchvision's `Image.open(f).convert('RGB')`, which the ImageNet models
 * were trained with, rather than colour management: an embedded ICC profile is ignored by
 * default (on finch.jpeg, which carries Adobe RGB (1998), converting moves pixels by up to 29
 * levels away from what the model saw in training), and alpha is dropped, not composited.
 * Unlike PIL, the EXIF orientation is applied.
 */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { ImageError } from './errors.js';

export interface DecodeOptions {
  /** Convert pixels with the embedded ICC profile to sRGB. Default false: PIL ignores it. */
  applyIccProfile?: boolean;
  /** Composite transparent pixels over this 0..255 RGB colour. Default: drop alpha, as PIL does. */
  alphaBackground?: readonly [number, number, number];
}

/** A decoded photo: 8-bit RGB, interleaved, row-major (index = 3·(x + width·y) + c). */
export interface DecodedImage {
  /** The file path, or 'image bytes' for a buffer; used in messages. */
  readonly source: string;
  /** Container format as sharp reports it (jpeg, png, webp …). */
  readonly format: string;
  /** Size after the EXIF orientation was applied. */
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/** An error's message on one line; libvips repeats its lines, so each is kept once. */
const errorText = (e: unknown) => {
  const lines = (e instanceof Error ? e.message : String(e)).split('\n').map((l) => l.trim());
  return [...new Set(lines.filter((l) => l.length > 0))].join('; ');
};

/** Throws an ImageError unless `background` is three values in 0..255, as JSON may not give. */
export function checkAlphaBackground(background: unknown): void {
  if (
    !Array.isArray(background) ||
    background.length !== 3 ||
    background.some((v) => typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 255)
  ) {
    throw new ImageError(
      `alpha background ${JSON.stringify(background)} must be three values in 0..255 (R, G, B), e.g. [255, 255, 255].`,
    );
  }
}

/** sharp's default limit on width × height (0x3FFF · 0x3FFF). */
const PIXEL_LIMIT = 0x3fff * 0x3fff;

/** Decode a file path or the bytes of an image file. */
export async function decodeImage(
  input: string | Uint8Array,
  options: DecodeOptions = {},
): Promise<DecodedImage> {
  const source = typeof input === 'string' ? input : 'image bytes';
  const what = typeof input === 'string' ? `image file ${input}` : 'the image bytes given';
  const background = options.alphaBackground;
  if (background !== undefined) checkAlphaBackground(background);
  let bytes: Uint8Array;
  if (typeof input === 'string') {
    try {
      bytes = await readFile(input);
    } catch (e) {
      throw new ImageError(`cannot read image file ${source}: ${errorText(e)}`);
    }
  } else {
    bytes = input;
  }
  try {
    let image = sharp(bytes, {
      ignoreIcc: !options.applyIccProfile,
      failOn: 'error',
    }).autoOrient();
    const [r, g, b] = background ?? [0, 0, 0];
    image = background ? image.flatten({ background: { r, g, b } }) : image.removeAlpha();
    const { data, info } = await image
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) {
      throw new ImageError(
        `${what} decoded to ${info.channels} channels instead of RGB; convert it to an RGB JPEG or PNG.`,
      );
    }
    const format = (await sharp(bytes).metadata()).format ?? 'unknown';
    return {
      source,
      format,
      width: info.width,
      height: info.height,
      data: new Uint8Array(data.buffer, data.byteOffset, data.length),
    };
  } catch (e) {
    if (e instanceof ImageError) throw e;
    // sharp refuses images over its pixel limit (a guard against decompression bombs): an intact
    // photo, so say so, with its size and the fix, not "damaged".
    if (/exceeds pixel limit/i.test(errorText(e))) {
      const { width, height } = await sharp(bytes, { limitInputPixels: false })
        .metadata()
        .catch(() => ({ width: undefined, height: undefined }));
      const size =
        width && height
          ? ` is ${width}×${height} (${Math.round((width * height) / 1e6)} megapixels), which`
          : '';
      throw new ImageError(
        `${what}${size} is over the ${Math.round(PIXEL_LIMIT / 1e6)}-megapixel limit glas3d decodes (memory): downscale it first (e.g. \`vips resize\` or ImageMagick \`-resize 8000x8000>\`); the model sees it at its input size anyway.`,
      );
    }
    throw new ImageError(
      `cannot decode ${what}: ${errorText(e)}. It may be damaged or truncated, or not a photo: ` +
        'glas3d reads JPEG, PNG, WebP, TIFF, GIF and AVIF.',
    );
  }
}
