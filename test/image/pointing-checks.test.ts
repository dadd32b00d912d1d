/**
 * `glas3d eval pointing` on annotations and folders that are not what they should be: a box off
 * the photo, a VOC file cut short, a class map that maps nothing, a photo in a subfolder, one
 * that cannot be decoded; and a model of any size without a fixed crop. Photos and VOC files are
 * written here; the model is built here (logits [0, mean red]) and only the centre method runs,
 * whose point is checked by hand.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run-cli.js';
import { parseCocoJson, parseVocXml } from '../../src/image/index.js';
import { GraphBuilder } from '../../src/model/index.js';

let dir: string;
let model: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'glas3d-pointing-checks-'));
  const g = new GraphBuilder('red');
  const x = g.input('input', ['N', 3, 'H', 'W']);
  const red = g.node('Slice', [x, g.int64s('st', [0]), g.int64s('en', [1]), g.int64s('ax', [1])]);
  const m = g.node('ReduceMean', [red], { axes: [1, 2, 3], keepdims: 1 });
  const col = g.node('Reshape', [m, g.int64s('sh', [-1, 1])]);
  g.node('Mul', [col, g.floats('pick', [1, 2], [0, 1])], {}, ['output']);
  g.output('output', ['N', 2]);
  model = path.join(dir, 'red.onnx');
  await writeFile(model, g.toBytes());
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A VOC annotation of a w × h photo; boxes as VOC writes them (1-based inclusive). */
function voc(
  file: string,
  w: number,
  h: number,
  objects: [string, number, number, number, number][],
) {
  const body = objects
    .map(
      ([name, x0, y0, x1, y1]) =>
        `<object><name>${name}</name><difficult>0</difficult><bndbox><xmin>${x0}</xmin><ymin>${y0}</ymin><xmax>${x1}</xmax><ymax>${y1}</ymax></bndbox></object>`,
    )
    .join('\n');
  return `<annotation><filename>${file}</filename><size><width>${w}</width><height>${h}</height><depth>3</depth></size>\n${body}\n</annotation>\n`;
}

async function photo(file: string, w: number, h: number) {
  await mkdir(path.dirname(file), { recursive: true });
  await sharp({
    create: { width: w, height: h, channels: 3, background: { r: 200, g: 60, b: 30 } },
  })
    .png()
    .toFile(file);
}

/** A folder of photos and one of VOC files, from [photo path relative to images, w, h, xml]. */
async function setUp(name: string, entries: [string, number, number, string | undefined][]) {
  const images = path.join(dir, name, 'images');
  const ann = path.join(dir, name, 'ann');
  await mkdir(ann, { recursive: true });
  for (const [rel, w, h, xml] of entries) {
    await photo(path.join(images, rel), w, h);
    if (xml !== undefined)
      await writeFile(path.join(ann, `${path.basename(rel, path.extname(rel))}.xml`), xml);
  }
  return { images, ann };
}

const classes = async (map: Record<string, number[]>) => {
  const file = path.join(dir, `classes-${Object.keys(map).join('-')}.json`);
  await writeFile(file, JSON.stringify(map));
  return file;
};

const pointing = (images: string, boxes: string, ...rest: string[]) =>
  runCli([
    'eval',
    'pointing',
    '--model',
    model,
    '--images',
    images,
    '--boxes',
    boxes,
    '--method',
    'centre',
    ...rest,
  ]);

describe('boxes off the photo', () => {
  it('a box wholly outside is refused with the file, object and photo size; one partly outside is clipped', () => {
    expect(() =>
      parseVocXml(voc('a.png', 500, 375, [['cat', 600, 68, 700, 310]]), 'a.xml'),
    ).toThrow(
      /^a\.xml: object 1 \(cat\) has the box \(600,68\)–\(700,310\), which lies outside the 500×375 photo/,
    );
    expect(() => parseVocXml(voc('a.png', 500, 375, [['cat', 10, 376, 20, 400]]), 'a.xml')).toThrow(
      /outside the 500×375 photo/,
    );
    // VOC (0, 0)–(520, 375) is the edge box [−1, 520) × [−1, 375): clipped to the photo.
    const clipped = parseVocXml(voc('a.png', 500, 375, [['cat', 0, 0, 520, 375]]), 'a.xml');
    expect(clipped.objects[0].box).toEqual({ x0: 0, y0: 0, x1: 500, y1: 375 });
    const coco = JSON.stringify({
      images: [{ id: 1, file_name: 'a.png', width: 50, height: 40 }],
      annotations: [{ image_id: 1, category_id: 1, bbox: [50, 0, 10, 10] }],
      categories: [{ id: 1, name: 'cat' }],
    });
    expect(() => parseCocoJson(coco, 'c.json')).toThrow(
      /^c\.json: a box of a\.png \(cat\), bbox \[50, 0, 10, 10\], which lies outside the 50×40 photo/,
    );
  });

  it('eval pointing refuses the annotation (exit 1) instead of scoring a miss', async () => {
    const { images, ann } = await setUp('outside', [
      ['p.png', 300, 240, voc('p.png', 300, 240, [['cat', 310, 10, 350, 100]])],
    ]);
    const r = await pointing(images, ann, '--classes', await classes({ cat: [1] }));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/p\.xml: object 1 \(cat\) has the box .* outside the 300×240 photo/);
  });

  it('a COCO image without a size is checked against the decoded photo', async () => {
    const { images } = await setUp('coco-nosize', [['q.png', 300, 240, undefined]]);
    const boxes = path.join(dir, 'coco-nosize', 'boxes.json');
    await writeFile(
      boxes,
      JSON.stringify({
        images: [{ id: 7, file_name: 'q.png' }],
        annotations: [{ image_id: 7, category_id: 1, bbox: [0, 250, 20, 20] }],
        categories: [{ id: 1, name: '1' }],
      }),
    );
    const r = await pointing(images, boxes);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/object 1 \(1\) of q\.png has the box .* outside the 300×240 photo/);
  });
});

describe('malformed VOC files', () => {
  it('an unclosed <object> or a file cut short is named as malformed, not read as no objects', async () => {
    const whole = voc('p.png', 300, 240, [['cat', 10, 10, 100, 100]]);
    expect(() => parseVocXml(whole.replace('</object>', ''), 'u.xml')).toThrow(
      /^u\.xml is a malformed PASCAL VOC annotation: 1 <object> element but 0 <\/object>/,
    );
    expect(() => parseVocXml(whole.slice(0, 120), 'cut.xml')).toThrow(
      /^cut\.xml is a malformed PASCAL VOC annotation: it does not end with <\/annotation>/,
    );
    const { images, ann } = await setUp('cut', [['p.png', 300, 240, whole.slice(0, 150)]]);
    const r = await pointing(images, ann, '--classes', await classes({ cat: [1] }));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/p\.xml is a malformed PASCAL VOC annotation/);
  });
});

describe('what is not scored', () => {
  it('no trial: exit 1, no NaN, the commonest skip reason (a class map in another case)', async () => {
    const { images, ann } = await setUp('case', [
      ['p.png', 300, 240, voc('p.png', 300, 240, [['dog', 10, 10, 100, 100]])],
      ['q.png', 300, 240, voc('q.png', 300, 240, [['dog', 10, 10, 100, 100]])],
    ]);
    const r = await pointing(images, ann, '--classes', await classes({ Dog: [1] }));
    expect(r.code).toBe(1);
    expect(r.stdout).not.toMatch(/NaN/);
    expect(r.stderr).toMatch(
      /no trial was scored: 2 photos skipped, most often because no object class maps to a model class \(dog\); the class map has "Dog" for "dog" \(names match exactly, case included\) \(2 photos\)/,
    );
  });

  it('a photo in a subfolder is listed as skipped; an undecodable photo fails the run, results still given', async () => {
    const { images, ann } = await setUp('mixed', [
      ['p.png', 300, 240, voc('p.png', 300, 240, [['1', 100, 80, 200, 160]])],
      ['sub/s.png', 300, 240, voc('s.png', 300, 240, [['1', 10, 10, 100, 100]])],
    ]);
    await writeFile(path.join(images, 'bad.jpg'), 'not a photo');
    await writeFile(path.join(ann, 'bad.xml'), voc('bad.jpg', 300, 240, [['1', 10, 10, 50, 50]]));
    const r = await pointing(images, ann, '--json');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /1 photo could not be read \(listed above\); the scores are over the others/,
    );
    const result = JSON.parse(r.stdout);
    expect(result.trials).toHaveLength(1);
    expect(result.skipped).toEqual([
      {
        file: path.join('sub', 's.png'),
        reason: expect.stringMatching(/^in a subfolder of .*, which is not searched/),
      },
      { file: 'bad.jpg', reason: expect.stringMatching(/cannot decode/), failed: true },
    ]);
  });
});

describe('a model of any size without a fixed crop', () => {
  it('each photo is fed whole: the centre of the photo, hit or miss by hand', async () => {
    const { images, ann } = await setUp('nocrop', [
      // Centre (29.5, 19.5) in pixel centres is the edge point (30, 20): inside [20, 40) × [10, 30).
      ['a.png', 60, 40, voc('a.png', 60, 40, [['1', 21, 11, 40, 30]])],
      // Centre (19.5, 34.5) → (20, 35): outside [0, 10) × [0, 10).
      ['b.png', 40, 70, voc('b.png', 40, 70, [['1', 1, 1, 10, 10]])],
    ]);
    const pre = path.join(dir, 'nocrop.json');
    await writeFile(pre, JSON.stringify({ resize: false, crop: false }));
    const r = await pointing(images, ann, '--preprocess', pre, '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(
      result.trials.map((t: { file: string; x: number; y: number; hit: boolean }) => [
        t.file,
        t.x,
        t.y,
        t.hit,
      ]),
    ).toEqual([
      ['a.png', 29.5, 19.5, true],
      ['b.png', 19.5, 34.5, false],
    ]);
  });
});

describe('flat maps', () => {
  it('a saturated photo is a flat trial: marked, warned about, and scored apart', async () => {
    // Logits [0, 100 · mean normalized red]: red 200 saturates P(1) to 1 in float32 (no shadow
    // moves it); red 124 (normalized ≈ 0.006) gives P ≈ 0.64, which every shadow moves.
    const g = new GraphBuilder('red100');
    const x = g.input('input', ['N', 3, 224, 224]);
    const red = g.node('Slice', [x, g.int64s('st', [0]), g.int64s('en', [1]), g.int64s('ax', [1])]);
    const m = g.node('ReduceMean', [red], { axes: [1, 2, 3], keepdims: 1 });
    const col = g.node('Reshape', [m, g.int64s('sh', [-1, 1])]);
    g.node('Mul', [col, g.floats('pick', [1, 2], [0, 100])], {}, ['output']);
    g.output('output', ['N', 2]);
    const steep = path.join(dir, 'red100.onnx');
    await writeFile(steep, g.toBytes());
    const images = path.join(dir, 'flat', 'images');
    const ann = path.join(dir, 'flat', 'ann');
    await mkdir(images, { recursive: true });
    await mkdir(ann, { recursive: true });
    for (const [name, r] of [
      ['hot', 200],
      ['mild', 124],
    ] as const) {
      await sharp({
        create: { width: 256, height: 256, channels: 3, background: { r, g: 0, b: 0 } },
      })
        .png()
        .toFile(path.join(images, `${name}.png`));
      await writeFile(
        path.join(ann, `${name}.xml`),
        voc(`${name}.png`, 256, 256, [['1', 100, 100, 156, 156]]),
      );
    }
    // Narrow shadows (0.3 cells) move the mean red by about 1%.
    const args = ['eval', 'pointing', '--model', steep, '--images', images, '--boxes', ann];
    args.push('--grid', '3', '--sigma-shadow', '0.3');
    const r = await runCli([...args, '--json']);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    const trial = (file: string) => result.trials.find((t: { file: string }) => t.file === file);
    expect(trial('hot.png').probability).toBe(1);
    expect(trial('hot.png').flat).toBe(true);
    expect(trial('mild.png').flat).toBeUndefined();
    expect(result.flat).toBe(1);
    expect(result.notFlat).toEqual({
      hits: trial('mild.png').hit ? 1 : 0,
      trials: 1,
      accuracy: trial('mild.png').hit ? 1 : 0,
    });
    expect(r.stderr).toMatch(/warning: 1 of 2 trials are flat .*Without them: [01] of 1 hits/);
    const table = await runCli(args);
    expect(table.stdout).toMatch(/not flat\s+[01]\s+1\s/);
  });
});
