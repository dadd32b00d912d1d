/**
 * A minimal PNG writer for test inputs, written from the PNG spec and sharing nothing with the
 * decoder under test: signature, IHDR, one zlib IDAT with filter 0 on every row, IEND.
 */
import { crc32, deflateSync } from 'node:zlib';

/** PNG colour types: 0 grey, 2 RGB, 4 grey + alpha, 6 RGBA. */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/**
 * Encode samples given row-major and interleaved (index (x + width·y)·channels + c). With
 * bitDepth 16 the samples are 0..65535 and stored big-endian, as PNG wants.
 */
export function encodePng(
  width: number,
  height: number,
  colourType: 0 | 2 | 4 | 6,
  samples: ArrayLike<number>,
  bitDepth: 8 | 16 = 8,
): Buffer {
  const channels = CHANNELS[colourType];
  const bytesPerSample = bitDepth / 8;
  if (samples.length !== width * height * channels) throw new Error('encodePng: wrong length');
  const rowBytes = 1 + width * channels * bytesPerSample;
  const raw = Buffer.alloc(rowBytes * height);
  for (let y = 0; y < height; y++) {
    raw[y * rowBytes] = 0; // filter type None
    for (let i = 0; i < width * channels; i++) {
      const v = samples[y * width * channels + i];
      const at = y * rowBytes + 1 + i * bytesPerSample;
      if (bitDepth === 8) raw[at] = v;
      else raw.writeUInt16BE(v, at);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = bitDepth;
  ihdr[9] = colourType;
  ihdr[10] = 0; // deflate
  ihdr[11] = 0; // adaptive filtering
  ihdr[12] = 0; // no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * A PNG whose header claims width × height RGB pixels but whose data is a few zero rows: enough
 * for a decoder's size checks, which read the header first, without making a huge file.
 */
export function pngHeaderOnly(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(1000))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** The test gradient: R = ⌊255·x/(W−1)⌋, G = ⌊255·y/(H−1)⌋, B = (7x + 13y) mod 256. */
export function gradientRgb(width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (x + width * y) * 3;
      out[o] = Math.floor((255 * x) / (width - 1));
      out[o + 1] = Math.floor((255 * y) / (height - 1));
      out[o + 2] = (7 * x + 13 * y) % 256;
    }
  }
  return out;
}
