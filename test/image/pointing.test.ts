/**
 * Pointing-game scoring with maps and boxes made by hand: where a map points (the maximum, and
 * the blob rule for ties), the trip back through the crop to the photo, hits, the small-object
 * split, targets within a class set, and the VOC XML and COCO JSON readers.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { OptionError } from '../../src/errors.js';
import {
  ImageError,
  mapMaximum,
  parseClassMap,
  parseCocoJson,
  parseVocXml,
  pointInBoxes,
  pointingPhotos,
  pointingScores,
  pointingTargets,
  preprocessDecoded,
  scorePoint,
  unionArea,
  type ImageBoxes,
} from '../../src/image/index.js';

const W = 224;

/** A 224 × 224 map of zeros with values set by a callback. */
function makeMap(f: (x: number, y: number) => number): Float32Array {
  const map = new Float32Array(W * W);
  for (let y = 0; y < W; y++) for (let x = 0; x < W; x++) map[x + W * y] = f(x, y);
  return map;
}

describe('where a map points', () => {
  it('a single peak: its pixel', () => {
    const map = makeMap((x, y) => Math.exp(-((x - 50) ** 2 + (y - 80) ** 2) / 200));
    expect(mapMaximum(map, W, W)).toEqual({ x: 50, y: 80, tied: false });
  });

  it('a flat map is one blob: its centroid is the centre', () => {
    expect(mapMaximum(new Float32Array(W * W), W, W)).toEqual({ x: 111.5, y: 111.5, tied: true });
  });

  it('tied maxima: the centroid of the largest blob above 0.95 of the maximum', () => {
    // Two plateaus at the maximum 1: A, a 3 × 3 square in a 21 × 21 halo at 0.96 (one blob of
    // 441 pixels), and B, a 10 × 4 bar alone (40 pixels). A's blob is larger.
    const plateaus = (halo: number) =>
      makeMap((x, y) => {
        if (x >= 20 && x <= 22 && y >= 20 && y <= 22) return 1;
        if (x >= 11 && x <= 31 && y >= 11 && y <= 31) return halo;
        if (x >= 100 && x <= 109 && y >= 150 && y <= 153) return 1;
        return 0.5;
      });
    expect(mapMaximum(plateaus(0.96), W, W)).toEqual({ x: 21, y: 21, tied: true });
    // Drop the halo below 0.95: now B's bar is the largest blob, centroid (104.5, 151.5).
    expect(mapMaximum(plateaus(0.94), W, W)).toEqual({ x: 104.5, y: 151.5, tied: true });
  });

  it('blobs are 8-connected, and values within 1e-6 of the maximum count as tied', () => {
    // A diagonal line of 30 pixels (8-connected: one blob) against a 5 × 5 square (25 pixels).
    const map = makeMap((x, y) => {
      if (x === y && x >= 150 && x < 180) return 1 - 1e-9 * x;
      if (x >= 10 && x < 15 && y >= 200 && y < 205) return 1;
      return 0;
    });
    expect(mapMaximum(map, W, W)).toEqual({ x: 164.5, y: 164.5, tied: true });
    // A clear gap (1e-3) is no tie: the single best pixel wins.
    const clear = makeMap((x, y) => (x === 7 && y === 9 ? 1 : x === 100 && y === 100 ? 0.999 : 0));
    expect(mapMaximum(clear, W, W)).toEqual({ x: 7, y: 9, tied: false });
  });
});

describe('hits on the original photo', () => {
  // A 400 × 300 photo: resized to 341 × 256, crop 224 at left 58, top 16.
  const pre = preprocessDecoded({
    source: 'synthetic',
    format: 'raw',
    width: 400,
    height: 300,
    data: new Uint8Array(400 * 300 * 3),
  });
  const g = pre.geometry;

  it('the crop point goes back through the resize and crop', () => {
    // Crop (50, 80) → resized (108, 96) → photo ((108.5)·400/341 − ½, (96.5)·300/256 − ½).
    const map = makeMap((x, y) => -((x - 50) ** 2) - (y - 80) ** 2);
    const point = mapMaximum(map, W, W);
    const ox = (108.5 * 400) / 341 - 0.5; // 126.77
    const oy = (96.5 * 300) / 256 - 0.5; // 112.59
    const hit = scorePoint(point, g, [{ x0: 120, y0: 100, x1: 130, y1: 120 }]);
    expect(hit.x).toBeCloseTo(ox, 10);
    expect(hit.y).toBeCloseTo(oy, 10);
    expect(hit.hit).toBe(true);
    // A box just right of the point misses; with a tolerance of 4 px it is hit.
    const right = [{ x0: 131, y0: 100, x1: 140, y1: 120 }];
    expect(scorePoint(point, g, right).hit).toBe(false);
    expect(scorePoint(point, g, right, 4).hit).toBe(true);
  });

  it('boxes are in edge coordinates: pixel i covers [i, i + 1)', () => {
    const box = [{ x0: 10, y0: 10, x1: 20, y1: 20 }];
    expect(pointInBoxes(10, 10, box)).toBe(true); // pixel 10's centre 10.5
    expect(pointInBoxes(19, 19, box)).toBe(true);
    expect(pointInBoxes(9, 15, box)).toBe(false);
    expect(pointInBoxes(20, 15, box)).toBe(false);
  });

  it('union areas of overlapping boxes, clipped to the photo', () => {
    const a = { x0: 0, y0: 0, x1: 100, y1: 100 };
    const b = { x0: 50, y0: 50, x1: 150, y1: 150 };
    expect(unionArea([a, b], 1000, 1000)).toBe(17500);
    expect(unionArea([a, a], 1000, 1000)).toBe(10000);
    expect(unionArea([b], 120, 1000)).toBe(70 * 100);
    expect(unionArea([], 10, 10)).toBe(0);
  });
});

describe('trials: targets within class sets, and the small-object split', () => {
  const photo = { width: 400, height: 300 };
  const boxes: ImageBoxes = {
    file: 'x.jpg',
    source: 'hand-made',
    objects: [
      // Two dogs: union 60·50 + 60·50 − 20·20 = 5600 px² of 120 000 (4.7 %): small.
      { name: 'dog', box: { x0: 0, y0: 0, x1: 60, y1: 50 }, difficult: false },
      { name: 'dog', box: { x0: 40, y0: 30, x1: 100, y1: 80 }, difficult: true },
      // A cat over 50 % of the photo: not small.
      { name: 'cat', box: { x0: 100, y0: 0, x1: 400, y1: 200 }, difficult: false },
      { name: 'person', box: { x0: 0, y0: 100, x1: 50, y1: 300 }, difficult: false },
    ],
  };
  const classMap = parseClassMap(
    '{"_about": "test", "dog": [151, 152], "cat": [281], "person": []}',
  );
  const p = new Float32Array(1000);
  p[152] = 0.3;
  p[151] = 0.1;
  p[281] = 0.05;
  p[500] = 0.4; // the top-1 is neither a dog nor a cat

  it('one trial per mapped class: the most probable class of the set, every box of the class', () => {
    const { targets, unmapped } = pointingTargets(boxes, p, 1000, photo, classMap);
    expect(unmapped).toEqual(['person']);
    expect(targets.map((t) => [t.name, t.targetClass, t.small, t.top1InSet])).toEqual([
      ['dog', 152, true, false],
      ['cat', 281, false, false],
    ]);
    expect(targets[0].boxes.length).toBe(2);
    expect(targets[0].areaFraction).toBeCloseTo(5600 / 120000, 12);
    expect(targets[0].probability).toBeCloseTo(0.3, 6);
  });

  it('scores: overall and small', () => {
    const s = pointingScores([
      { hit: true, small: true },
      { hit: false, small: true },
      { hit: true, small: false },
      { hit: true, small: false },
    ]);
    expect(s.overall).toEqual({ hits: 3, trials: 4, accuracy: 0.75 });
    expect(s.small).toEqual({ hits: 1, trials: 2, accuracy: 0.5 });
    expect(Number.isNaN(pointingScores([]).overall.accuracy)).toBe(true);
  });

  it('without a class map names must be class indices; bad maps are OptionErrors', () => {
    const numeric: ImageBoxes = { ...boxes, objects: [{ ...boxes.objects[0], name: '152' }] };
    expect(pointingTargets(numeric, p, 1000, photo).targets[0].targetClass).toBe(152);
    expect(() => pointingTargets(boxes, p, 1000, photo)).toThrow(/--classes/);
    expect(() => parseClassMap('{"dog": "151"}')).toThrow(OptionError);
    expect(() => parseClassMap('[1, 2]')).toThrow(OptionError);
    const tooBig = parseClassMap('{"dog": [1000]}');
    expect(() => pointingTargets(boxes, p, 1000, photo, tooBig)).toThrow(/class 1000/);
  });
});

describe('box files', () => {
  const voc = `<annotation>
  <folder>VOC2012</folder>
  <filename>2008_000001.jpg</filename>
  <size><width>500</width><height>375</height><depth>3</depth></size>
  <object>
    <name>person</name>
    <difficult>0</difficult>
    <bndbox><xmin>101</xmin><ymin>51</ymin><xmax>300</xmax><ymax>370</ymax></bndbox>
    <part><name>head</name><bndbox><xmin>150</xmin><ymin>60</ymin><xmax>190</xmax><ymax>100</ymax></bndbox></part>
    <part><name>hand</name><bndbox><xmin>120</xmin><ymin>200</ymin><xmax>140</xmax><ymax>220</ymax></bndbox></part>
  </object>
  <object>
    <name>dog</name>
    <pose>Left</pose>
    <truncated>1</truncated>
    <difficult>1</difficult>
    <bndbox><xmin>1</xmin><ymin>200.5</ymin><xmax>80</xmax><ymax>375</ymax></bndbox>
  </object>
</annotation>`;

  it('VOC XML: objects (not parts), 1-based inclusive corners → edge coordinates', () => {
    const a = parseVocXml(voc, 'a.xml');
    expect(a.file).toBe('2008_000001.jpg');
    expect([a.width, a.height]).toEqual([500, 375]);
    expect(a.objects).toEqual([
      { name: 'person', box: { x0: 100, y0: 50, x1: 300, y1: 370 }, difficult: false },
      { name: 'dog', box: { x0: 0, y0: 199.5, x1: 80, y1: 375 }, difficult: true },
    ]);
  });

  it('VOC XML errors name the file and the object', () => {
    expect(() => parseVocXml('<html></html>', 'b.xml')).toThrow(ImageError);
    expect(() =>
      parseVocXml('<annotation><object><name>cat</name></object></annotation>', 'c.xml'),
    ).toThrow(/c\.xml: object 1 \(cat\) has no <bndbox>/);
    expect(() =>
      parseVocXml(
        '<annotation><object><name>cat</name><bndbox><xmin>5</xmin><ymin>a</ymin><xmax>9</xmax><ymax>9</ymax></bndbox></object></annotation>',
        'd.xml',
      ),
    ).toThrow(/d\.xml: object 1 \(cat\) has no numeric <ymin>/);
  });

  const dataXml = path.resolve('../shared/data/pointing/annotations/2007_000027.xml');
  it.skipIf(!existsSync(dataXml))('a real VOC file: one person, its parts ignored', async () => {
    const a = parseVocXml(await readFile(dataXml, 'utf8'), dataXml);
    expect(a.file).toBe('2007_000027.jpg');
    expect(a.objects).toEqual([
      { name: 'person', box: { x0: 173, y0: 100, x1: 349, y1: 351 }, difficult: false },
    ]);
  });

  it('COCO JSON: [x, y, w, h] in edge coordinates, categories by id, iscrowd as difficult', () => {
    const coco = JSON.stringify({
      images: [
        { id: 7, file_name: 'a.jpg', width: 640, height: 480 },
        { id: 8, file_name: 'b.jpg', width: 10, height: 10 },
      ],
      annotations: [
        { image_id: 7, category_id: 18, bbox: [10.5, 20, 100, 50.25] },
        { image_id: 7, category_id: 17, bbox: [0, 0, 640, 480], iscrowd: 1 },
      ],
      categories: [
        { id: 17, name: 'cat' },
        { id: 18, name: 'dog' },
      ],
    });
    const [a, b] = parseCocoJson(coco, 'c.json');
    expect(a).toMatchObject({ file: 'a.jpg', width: 640, height: 480 });
    expect(a.objects).toEqual([
      { name: 'dog', box: { x0: 10.5, y0: 20, x1: 110.5, y1: 70.25 }, difficult: false },
      { name: 'cat', box: { x0: 0, y0: 0, x1: 640, y1: 480 }, difficult: true },
    ]);
    expect(b.objects).toEqual([]);
  });

  it('COCO JSON errors', () => {
    expect(() => parseCocoJson('{', 'x.json')).toThrow(/x\.json is not valid JSON/);
    expect(() => parseCocoJson('{"images": []}', 'x.json')).toThrow(/not a COCO detection file/);
    const base = { images: [{ id: 1, file_name: 'a.jpg' }], categories: [{ id: 1, name: 'dog' }] };
    expect(() =>
      parseCocoJson(
        JSON.stringify({
          ...base,
          annotations: [{ image_id: 2, category_id: 1, bbox: [0, 0, 1, 1] }],
        }),
      ),
    ).toThrow(/names image 2/);
    expect(() =>
      parseCocoJson(
        JSON.stringify({
          ...base,
          annotations: [{ image_id: 1, category_id: 9, bbox: [0, 0, 1, 1] }],
        }),
      ),
    ).toThrow(/category 9/);
    expect(() =>
      parseCocoJson(
        JSON.stringify({
          ...base,
          annotations: [{ image_id: 1, category_id: 1, bbox: [0, 0, -1, 1] }],
        }),
      ),
    ).toThrow(/\[x, y, width, height\]/);
  });
});

describe('which photos a pointing game scores', () => {
  it('a converted copy (a.png beside a.jpg) borrows the boxes only when it is alone: one trial per set of boxes', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'glas3d-pointing-photos-'));
    for (const f of ['a.jpg', 'a.png', 'b.png', 'c.png']) await writeFile(path.join(dir, f), '');
    const boxes = (name: string) => ({ file: name }) as never;
    const map = new Map([
      ['a.jpg', boxes('a.jpg')],
      ['b.jpg', boxes('b.jpg')],
    ]);
    const { photos, skipped } = await pointingPhotos(dir, map);
    expect(photos.map((p) => path.basename(p.path))).toEqual(['a.jpg', 'b.png']);
    expect(skipped).toEqual([
      { file: 'a.png', reason: 'same boxes as a.jpg, scored once' },
      { file: 'c.png', reason: 'no boxes' },
    ]);
  });
});
