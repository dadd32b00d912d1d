/**
 * `glas3d eval pointing` end to end, in-process: on a few of the VOC pointing photos (real boxes,
 * voc-to-imagenet.json) and on finch.jpeg with boxes written here as COCO JSON. The centre
 * baseline's hits are checked by hand: the crop's centre, back on the photo, inside a box.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run-cli.js';

const SHARED = path.resolve('../shared/data');
const MODEL = path.join(SHARED, 'imagenet/mobilenetv2-12-int8.onnx');
const FINCH = path.join(SHARED, 'imagenet/finch.jpeg');
const IMAGES = path.join(SHARED, 'pointing/images');
const BOXES = path.join(SHARED, 'pointing/annotations');
const CLASSES = path.join(SHARED, 'pointing/voc-to-imagenet.json');
const missing = [MODEL, FINCH, IMAGES, BOXES, CLASSES].filter((f) => !existsSync(f));
const skipReason = missing.length ? ` (skipped: ${missing.join(', ')} not found)` : '';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'glas3d-eval-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Trial {
  file: string;
  name: string;
  targetClass: number;
  x: number;
  y: number;
  hit: boolean;
  small: boolean;
}

describe.skipIf(missing.length > 0)(`glas3d eval pointing${skipReason}`, () => {
  it('centre baseline on the first 6 VOC photos: trials, skips and hits checked by hand', async () => {
    const args = ['eval', 'pointing', '--model', MODEL, '--images', IMAGES, '--boxes', BOXES];
    const r = await runCli([
      ...args,
      '--classes',
      CLASSES,
      '--method',
      'centre',
      '--limit',
      '6',
      '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    // 2007_000027.jpg holds one person only: no ImageNet class, skipped and counted.
    expect(result.skipped).toEqual([
      { file: '2007_000027.jpg', reason: 'no object class maps to a model class (person)' },
    ]);
    expect(result.photos).toBe(5);
    expect(result.forwardPassesPerPhoto).toBe(1);
    for (const t of result.trials as Trial[]) {
      // The crop's centre (111.5, 111.5) back on a photo of W × H (short side 256, centre crop)
      // is the photo's centre ((W − 1)/2, (H − 1)/2) up to the crop's rounding (≤ 1 px).
      const xml = await readFile(path.join(BOXES, t.file.replace('.jpg', '.xml')), 'utf8');
      const w = Number(/<width>(\d+)/.exec(xml)![1]);
      const h = Number(/<height>(\d+)/.exec(xml)![1]);
      expect(Math.abs(t.x - (w - 1) / 2)).toBeLessThanOrEqual(1.5);
      expect(Math.abs(t.y - (h - 1) / 2)).toBeLessThanOrEqual(1.5);
      // Hit by hand: inside any VOC box (1-based inclusive) of the class.
      const objects = [...xml.matchAll(/<object>([\s\S]*?)<\/object>/g)].map((m) =>
        m[1].replace(/<part>[\s\S]*?<\/part>/g, ''),
      );
      const hit = objects
        .filter((o) => /<name>(.*?)<\/name>/.exec(o)![1] === t.name)
        .some((o) => {
          const v = (tag: string) => Number(new RegExp(`<${tag}>([\\d.]+)<`).exec(o)![1]);
          return (
            t.x + 1 >= v('xmin') - 0.5 &&
            t.x + 1 <= v('xmax') + 0.5 &&
            t.y + 1 >= v('ymin') - 0.5 &&
            t.y + 1 <= v('ymax') + 0.5
          );
        });
      expect(t.hit).toBe(hit);
    }
    expect(result.overall.trials).toBe(result.trials.length);
    expect(result.overall.hits).toBe(result.trials.filter((t: Trial) => t.hit).length);
  });

  it('GLAS with a small grid: a table with overall and small-object rows, passes per photo', async () => {
    const r = await runCli([
      'eval',
      'pointing',
      '--model',
      MODEL,
      '--images',
      IMAGES,
      '--boxes',
      BOXES,
      '--classes',
      CLASSES,
      '--grid',
      '3',
      '--limit',
      '3',
      '--quiet',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^pointing game, GLAS fusion, k 3, σ 1\.33\/1\.33\/1\.5 cells, baseline zero: 2 photos, \d+ trials; 1 photo skipped\n/,
    );
    expect(r.stdout).toMatch(/\nall +\d+ +\d+ +[01]\.\d{3}\n/);
    expect(r.stdout).toMatch(/\nsmall +\d+ +\d+ +([01]\.\d{3}|–)\n/);
    expect(r.stdout).toMatch(/\n19 forward passes and [\d.]+ s per photo/);
    expect(r.stdout).toMatch(
      /skipped 2007_000027\.jpg: no object class maps to a model class \(person\)/,
    );
  });

  it('COCO JSON boxes on finch.jpeg: GLAS and RISE point at the bird, a person-only photo is skipped', async () => {
    const images = path.join(dir, 'coco-images');
    await mkdir(images);
    await copyFile(FINCH, path.join(images, 'finch.jpeg'));
    await copyFile(FINCH, path.join(images, 'finch-person.jpeg'));
    // The bird drawn by hand on the photo (x 86–370, y 100–278), as COCO [x, y, w, h]: 284·178
    // = 50 552 px², 24.3 % of the photo, just under a quarter: a small object.
    const coco = {
      images: [
        { id: 1, file_name: 'finch.jpeg', width: 500, height: 416 },
        { id: 2, file_name: 'finch-person.jpeg', width: 500, height: 416 },
      ],
      annotations: [
        { image_id: 1, category_id: 16, bbox: [86, 100, 284, 178] },
        { image_id: 2, category_id: 1, bbox: [86, 100, 284, 178] },
      ],
      categories: [
        { id: 1, name: 'person' },
        { id: 16, name: 'bird' },
      ],
    };
    const boxes = path.join(dir, 'coco.json');
    await writeFile(boxes, JSON.stringify(coco));
    const classes = path.join(dir, 'classes.json');
    await writeFile(classes, JSON.stringify({ bird: [10, 11, 12, 13, 14], person: [] }));
    const base = [
      'eval',
      'pointing',
      '--model',
      MODEL,
      '--images',
      images,
      '--boxes',
      boxes,
      '--classes',
      classes,
      '--json',
    ];
    for (const method of [
      ['--method', 'glas', '--grid', '8'],
      ['--method', 'rise', '--masks', '256'],
    ]) {
      const r = await runCli([...base, ...method]);
      expect(r.code).toBe(0);
      const result = JSON.parse(r.stdout);
      expect(result.trials).toHaveLength(1);
      expect(result.trials[0]).toMatchObject({
        file: 'finch.jpeg',
        name: 'bird',
        targetClass: 12,
        hit: true,
        small: true,
      });
      expect(result.skipped).toEqual([
        { file: 'finch-person.jpeg', reason: 'no object class maps to a model class (person)' },
      ]);
      expect(result.forwardPassesPerPhoto).toBe(method[1] === 'glas' ? 129 : 257);
    }
  });

  it('bad boxes, folders and options are one clean line each', async () => {
    const clean = (r: { code: number; stderr: string }, re: RegExp) => {
      expect(r.code).toBe(1);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(re);
    };
    const base = ['eval', 'pointing', '--model', MODEL];
    clean(
      await runCli([...base, '--images', IMAGES, '--boxes', path.join(dir, 'none')]),
      /boxes .*none: no such file or folder/,
    );
    const empty = path.join(dir, 'empty');
    await mkdir(empty);
    clean(await runCli([...base, '--images', empty, '--boxes', BOXES]), /holds no photos/);
    clean(
      await runCli([...base, '--images', IMAGES, '--boxes', BOXES, '--limit', '2']),
      /class "person" is not a class index; give a class map \(--classes MAP\.json\)/,
    );
    const r = await runCli([...base, '--images', IMAGES, '--boxes', BOXES, '--method', 'gradcam']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/argument 'gradcam' is invalid/);
  });
});
