/**
 * The .npy writer against the format spec read by hand here, and the overlay pictures on
 * synthetic photos whose crop geometry is known.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { readNpyByHand } from './npy.js';
import {
  encodeNpy,
  mapOnPhoto,
  preprocessDecoded,
  renderOverlay,
  renderStrip,
  turbo,
  type DecodedImage,
} from '../../src/image/index.js';

describe('.npy files', () => {
  it('a 2-D float32 array reads back by hand: header, shape (rows, columns), C order', () => {
    const data = Float32Array.from({ length: 12 }, (_, i) => i * 0.5 - 1);
    const { shape, data: back, descr } = readNpyByHand(encodeNpy(data, [3, 4]));
    expect(descr).toBe('<f4');
    expect(shape).toEqual([3, 4]);
    expect(Array.from(back)).toEqual(Array.from(data));
  });

  it('a 1-D shape is written as a one-element tuple "(n,)"', () => {
    const bytes = encodeNpy(new Float32Array([1, 2, 3]), [3]);
    const header = Buffer.from(bytes).subarray(10, 10 + Buffer.from(bytes).readUInt16LE(8));
    expect(header.toString('latin1')).toContain("'shape': (3,)");
    expect(readNpyByHand(bytes).shape).toEqual([3]);
  });

  it('a shape that does not hold the data is refused', () => {
    expect(() => encodeNpy(new Float32Array(5), [2, 3])).toThrow(/shape/);
  });
});

describe('overlay pictures', () => {
  it('turbo runs from dark blue through green to dark red', () => {
    expect(Math.max(...turbo(0))).toBeLessThan(0.3);
    const [r0, g0, b0] = turbo(0.1);
    expect(b0).toBeGreaterThan(2 * Math.max(r0, g0));
    const [, gm] = turbo(0.5);
    expect(gm).toBeGreaterThan(0.8);
    const [r1, g1, b1] = turbo(1);
    expect(r1).toBeGreaterThan(3 * Math.max(g1, b1));
  });

  /** A 400 × 300 grey photo, resized to short side 256 and centre-cropped to 224. */
  const photo: DecodedImage = {
    source: 'synthetic',
    format: 'raw',
    width: 400,
    height: 300,
    data: new Uint8Array(400 * 300 * 3).fill(128),
  };
  const pre = preprocessDecoded(photo);

  it('the map goes back onto the photo through the crop; outside the crop is NaN', () => {
    const g = pre.geometry;
    expect(g).toMatchObject({ resizedWidth: 341, resizedHeight: 256, left: 58, top: 16 });
    // A map that is its own x coordinate: back on the photo it must be the crop x of each pixel.
    const map = Float32Array.from({ length: 224 * 224 }, (_, i) => i % 224);
    const { data, width, height } = mapOnPhoto(map, g);
    expect([width, height]).toEqual([400, 300]);
    const scale = 400 / 341;
    // Photo column X has centre (X + ½)·341/400 − ½ in resized pixels, minus the crop's left.
    for (const X of [80, 150, 200, 250]) {
      const expected = ((X + 0.5) / scale - 0.5 - 58) as number;
      expect(data[X + 400 * 150]).toBeCloseTo(expected, 4);
    }
    expect(Number.isNaN(data[10 + 400 * 150])).toBe(true); // left of the crop
    expect(Number.isNaN(data[390 + 400 * 150])).toBe(true); // right of it
    expect(Number.isNaN(data[200 + 400 * 2])).toBe(true); // above it
    // The crop spans photo x ∈ [58·400/341, 282·400/341) = [68.0, 330.8).
    expect(Number.isNaN(data[69 + 400 * 150])).toBe(false);
    expect(Number.isNaN(data[67 + 400 * 150])).toBe(true);
  });

  it('the overlay PNG has the photo size: coloured in the crop, dimmed grey outside', async () => {
    const map = new Float32Array(224 * 224);
    for (let y = 0; y < 224; y++) for (let x = 0; x < 224; x++) map[x + 224 * y] = x; // left low, right high
    const png = await renderOverlay(photo, map, pre.geometry);
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([400, 300, 3]);
    const px = (x: number, y: number) =>
      Array.from(data.subarray((x + 400 * y) * 3, (x + 400 * y) * 3 + 3));
    // Outside: grey 128 dimmed to 35 % ≈ 45.
    for (const c of px(20, 150)) expect(Math.abs(c - 45)).toBeLessThanOrEqual(2);
    // Inside, near the crop's left (map low): blue dominates; near its right (map high): red.
    const left = px(80, 150);
    const right = px(320, 150);
    expect(left[2]).toBeGreaterThan(left[0]);
    expect(right[0]).toBeGreaterThan(right[2] + 20);
    // Half the colour, half the grey photo: every channel between the two.
    const cropX = ((320 + 0.5) * 341) / 400 - 0.5 - 58; // the map's value there; max 223
    const [r, g, b] = turbo(cropX / 223);
    expect(right[0]).toBeCloseTo(0.5 * r * 255 + 0.5 * 128, -1);
    expect(right[1]).toBeCloseTo(0.5 * g * 255 + 0.5 * 128, -1);
    expect(right[2]).toBeCloseTo(0.5 * b * 255 + 0.5 * 128, -1);
    // The crop's edge is a white line (top edge at photo y ≈ 16·300/256 = 18.75).
    const edgeRow = [17, 18, 19, 20].map((y) => px(200, y)).find((p) => p.every((c) => c === 255));
    expect(edgeRow).toBeDefined();
  });

  it('a strip puts panels side by side at one height', async () => {
    const panel = await sharp({
      create: { width: 200, height: 100, channels: 3, background: '#f00' },
    })
      .png()
      .toBuffer();
    const strip = await renderStrip([panel, panel, panel], ['a', 'b', 'c'], 128);
    const meta = await sharp(strip).metadata();
    // 3 panels of 256 × 128, 8 px gaps (4 of them), a 24 px caption row and 8 px margins.
    expect(meta.width).toBe(3 * 256 + 4 * 8);
    expect(meta.height).toBe(128 + 24 + 16);
  });
});
