/**
 * `glas3d image` end to end, in-process. On the real MobileNetV2 and finch.jpeg: the overlay at
 * the photo's size, the map's mass in a bird box drawn by hand on the original photo, the .npy
 * read back by hand, and the coarse-to-fine strip. On a small linear ONNX oracle built here (an
 * image model whose answers do not matter): grayscale and CMYK photos, bad input, bad options.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run-cli.js';
import { mapOnPhoto, type CropGeometry } from '../../src/image/index.js';
import { buildLinearOracle } from '../../src/model/index.js';
import { readNpyByHand } from './npy.js';
import { encodePng, gradientRgb } from './png.js';

const DATA = path.resolve('../shared/data/imagenet');
const MODEL = path.join(DATA, 'mobilenetv2-12-int8.onnx');
const FINCH = path.join(DATA, 'finch.jpeg');
const LABELS = path.join(DATA, 'imagenet-simple-labels.json');
const missing = [MODEL, FINCH, LABELS].filter((f) => !existsSync(f));
const skipReason = missing.length ? ` (skipped: ${missing.join(', ')} not found)` : '';

/**
 * Drawn by hand on finch.jpeg (500 × 416) with a 25 px grid laid over it, original photo pixels
 * (edge coordinates): BIRD from the tail tip (x ≈ 87) to the beak (x ≈ 368), the top of the head
 * (y ≈ 101) to the claws on the branch (y ≈ 276); BODY the head and body without the tail.
 */
const BIRD = { x0: 86, y0: 100, x1: 370, y1: 278 };
const BODY = { x0: 195, y0: 100, x1: 370, y1: 265 };

let dir: string;
let oracle: string;
/** glas3d image on `input` with the linear oracle, writing to `out`. */
const runOracle = (input: string, out: string, ...options: string[]) =>
  runCli(['image', input, '--model', oracle, '--out', out, ...options]);
let notImage: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'glas3d-image-cli-'));
  // A 2-class linear model on [3, 224, 224]: z = Σ w·x with small seeded weights.
  const n = 3 * 224 * 224;
  const weights = Float32Array.from(
    { length: n },
    (_, i) => (((i * 2654435761) >>> 0) / 2 ** 32 - 0.5) * 1e-3,
  );
  oracle = path.join(dir, 'oracle.onnx');
  await writeFile(
    oracle,
    buildLinearOracle({
      inputShape: [3, 224, 224],
      weights,
      scale: 1,
      bias: 0,
      output: 'two-logits',
    }),
  );
  notImage = path.join(dir, 'vector.onnx');
  await writeFile(
    notImage,
    buildLinearOracle({
      inputShape: [10],
      weights: new Float32Array(10).fill(1),
      scale: 1,
      bias: 0,
      output: 'two-logits',
    }),
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A clean user-facing failure: exit 1, one line "glas3d: …", no stack. */
function expectCleanError(r: { code: number; stderr: string }, pattern: RegExp) {
  expect(r.code).toBe(1);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^glas3d: /);
  expect(lines[0]).toMatch(pattern);
}

/** Share of the map's mass in a box and the box's share of the area, over the crop on the photo. */
function massInBox(map: Float32Array, g: CropGeometry, b: typeof BIRD): [number, number] {
  const { data, width, height } = mapOnPhoto(map, g);
  let inside = 0;
  let total = 0;
  let nIn = 0;
  let n = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = data[x + width * y];
      if (Number.isNaN(v)) continue; // outside the crop
      n++;
      total += v;
      if (x + 0.5 >= b.x0 && x + 0.5 <= b.x1 && y + 0.5 >= b.y0 && y + 0.5 <= b.y1) {
        inside += v;
        nIn++;
      }
    }
  }
  return [inside / total, nIn / n];
}

describe.skipIf(missing.length > 0)(`glas3d image on finch.jpeg${skipReason}`, () => {
  it('class 12: overlay at the photo size, .npy, JSON; the map is on the bird', async () => {
    const out = path.join(dir, 'finch');
    const r = await runCli([
      'image',
      FINCH,
      '--model',
      MODEL,
      '--class',
      '12',
      '--labels',
      LABELS,
      '--preset',
      'fine-grained',
      '--out',
      out,
      '--quiet',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect((await readdir(out)).sort()).toEqual([
      'finch_glas.json',
      'finch_glas.npy',
      'finch_glas.png',
    ]);
    const meta = await sharp(path.join(out, 'finch_glas.png')).metadata();
    expect([meta.width, meta.height, meta.format]).toEqual([500, 416, 'png']);

    const npy = readNpyByHand(await readFile(path.join(out, 'finch_glas.npy')));
    expect(npy.descr).toBe('<f4');
    expect(npy.shape).toEqual([224, 224]);
    const json = JSON.parse(await readFile(path.join(out, 'finch_glas.json'), 'utf8'));
    expect(json).toMatchObject({
      class: 12,
      label: 'house finch',
      photo: { width: 500, height: 416 },
    });
    expect(json.probability).toBeGreaterThan(0.9);
    expect(json.parameters).toMatchObject({
      preset: 'fine-grained',
      grid: 15,
      units: 'cells',
      mode: 'fusion',
      baseline: 'zero',
    });
    expect(json.parameters.sigma).toEqual([{ light: 3, shadow: 3, spatial: 3 }]);
    expect(json.maps[0].points).toHaveLength(225);
    expect(json.maps[0].points[0]).toHaveProperty('score');
    expect(json.maps[0].sigmaPixels.light).toBeCloseTo((3 * 224) / 15, 10);
    expect(json.forwardPasses).toBe(451);
    expect(json.timingMs.total).toBeGreaterThan(0);
    // The JSON's max is the .npy's max.
    expect(json.maps[0].max).toBeCloseTo(Math.max(...npy.data), 6);

    // Mass on the bird, on the original photo. Measured: BIRD 0.71 of the mass on 0.38 of the
    // area (1.9×), BODY 0.67 on 0.22 (3.1×).
    const [birdMass, birdArea] = massInBox(npy.data, json.crop, BIRD);
    const [bodyMass, bodyArea] = massInBox(npy.data, json.crop, BODY);
    console.log(
      `finch (fine-grained): BIRD ${birdMass.toFixed(3)} of mass on ${birdArea.toFixed(3)} of area, BODY ${bodyMass.toFixed(3)} on ${bodyArea.toFixed(3)}`,
    );
    expect(birdMass / birdArea).toBeGreaterThan(1.6);
    expect(bodyMass / bodyArea).toBeGreaterThan(2.5);
    // The maximum lies in BODY on the photo.
    const [px, py] = json.maps[0].maxAt.photo;
    expect(
      px + 0.5 >= BODY.x0 && px + 0.5 <= BODY.x1 && py + 0.5 >= BODY.y0 && py + 0.5 <= BODY.y1,
    ).toBe(true);
  });

  it('coarse to fine (k 10): three σ give three maps and a strip; the area above half the max shrinks', async () => {
    const out = path.join(dir, 'strip');
    const r = await runCli([
      'image',
      FINCH,
      '--model',
      MODEL,
      '--sigma-light',
      '6,4,2',
      '--sigma-shadow',
      '6,4,2',
      '--sigma-spatial',
      '6,4,2',
      '--grid',
      '10',
      '--out',
      out,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^finch\.jpeg: class 12, P = 0\.99\d*; 603 forward passes in [\d.]+ s → .*finch_glas_strip\.png\n$/,
    );
    const areas = [];
    for (const s of ['6-6-6', '4-4-4', '2-2-2']) {
      const { data, shape } = readNpyByHand(
        await readFile(path.join(out, `finch_glas_sigma-${s}.npy`)),
      );
      expect(shape).toEqual([224, 224]);
      const max = Math.max(...data);
      areas.push(data.filter((v) => v >= max / 2).length / data.length);
      expect((await sharp(path.join(out, `finch_glas_sigma-${s}.png`)).metadata()).width).toBe(500);
    }
    console.log(
      `finch area above half max at σ 6, 4, 2 cells (k 10): ${areas.map((a) => a.toFixed(3)).join(', ')}`,
    );
    expect(areas[1]).toBeLessThan(areas[0]);
    expect(areas[2]).toBeLessThan(areas[1]);
    const strip = await sharp(path.join(out, 'finch_glas_strip.png')).metadata();
    // Three 500 × 416 panels scaled to 256 px tall (308 px wide), 8 px gaps.
    expect(strip.width).toBe(3 * 308 + 4 * 8);
    expect(strip.height).toBe(256 + 24 + 16);
  });
});

describe('glas3d image: other photos, bad input', () => {
  it('a grayscale PNG is replicated to RGB and explained; the overlay keeps its size', async () => {
    const grey = path.join(dir, 'grey.png');
    const g = gradientRgb(300, 260);
    await writeFile(
      grey,
      encodePng(
        300,
        260,
        0,
        g.filter((_, i) => i % 3 === 0),
      ),
    );
    const out = path.join(dir, 'grey-out');
    const r = await runOracle(grey, out, '--grid', '3', '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [summary] = JSON.parse(r.stdout);
    expect(summary.photo).toEqual({ width: 300, height: 260, format: 'png' });
    expect(summary.forwardPasses).toBe(19);
    expect(summary.label).toBeNull();
    const meta = await sharp(path.join(out, 'grey_glas.png')).metadata();
    expect([meta.width, meta.height, meta.channels]).toEqual([300, 260, 3]);
  });

  it('two photos with one stem (a.png, a.jpg) in a folder keep separate outputs', async () => {
    const folder = path.join(dir, 'same-stem');
    await mkdir(folder, { recursive: true });
    await writeFile(path.join(folder, 'a.png'), encodePng(200, 180, 2, gradientRgb(200, 180)));
    await sharp(Buffer.from(gradientRgb(220, 200).reverse()), {
      raw: { width: 220, height: 200, channels: 3 },
    })
      .jpeg()
      .toFile(path.join(folder, 'a.jpg'));
    await writeFile(path.join(folder, 'b.png'), encodePng(210, 210, 2, gradientRgb(210, 210)));
    const out = path.join(dir, 'same-stem-out');
    const r = await runOracle(folder, out, '--grid', '2', '--quiet');
    expect(r.code).toBe(0);
    const pngs = (await readdir(out)).filter((f) => f.endsWith('_glas.png')).sort();
    expect(pngs).toEqual(['a_jpg_glas.png', 'a_png_glas.png', 'b_glas.png']);
    // Each overlay has its own photo's size: nothing was overwritten.
    const size = async (f: string) => {
      const m = await sharp(path.join(out, f)).metadata();
      return [m.width, m.height];
    };
    expect(await size('a_jpg_glas.png')).toEqual([220, 200]);
    expect(await size('a_png_glas.png')).toEqual([200, 180]);
  });

  it("a_jpg.png beside a.jpg and a.png does not take a.jpg's outputs; a rerun into the folder skips its overlays", async () => {
    const folder = path.join(dir, 'clash');
    await mkdir(folder, { recursive: true });
    const sizes: Record<string, [number, number]> = {
      'a.jpg': [230, 200],
      'a.png': [200, 230],
      'a_jpg.png': [240, 210],
    };
    for (const [name, [w, h]] of Object.entries(sizes)) {
      await sharp(Buffer.from(gradientRgb(w, h)), { raw: { width: w, height: h, channels: 3 } })
        .toFormat(name.endsWith('.jpg') ? 'jpeg' : 'png')
        .toFile(path.join(folder, name));
    }
    // --out is the photo folder itself (as with the default --out .), twice.
    const first = await runOracle(folder, folder, '--grid', '2', '--json');
    expect(first.code).toBe(0);
    const records = JSON.parse(first.stdout) as { image: string; files: { json: string } }[];
    const written = records.map((r) => path.basename(r.files.json)).sort();
    expect(written).toEqual(['a_jpg-2_glas.json', 'a_jpg_glas.json', 'a_png_glas.json']);
    for (const r of records) {
      const overlay = r.files.json.replace(/\.json$/, '.png');
      const m = await sharp(overlay).metadata();
      expect([m.width, m.height]).toEqual(sizes[path.basename(r.image)]);
    }
    const again = await runOracle(folder, folder, '--grid', '2', '--json');
    expect(again.code).toBe(0);
    // Its own outputs (3 JSON, 3 overlays, 3 maps) are named as such, not as unreadable files.
    expect(again.stderr).toMatch(/left out 9 file\(s\) glas3d wrote into .* earlier/);
    expect(again.stderr).not.toMatch(/other types/);
    expect(JSON.parse(again.stdout)).toHaveLength(3);
    expect((await readdir(folder)).filter((f) => f.includes('_glas_glas'))).toEqual([]);
  });

  it('--out that is a file, or under one, is refused before any work; a bad alphaBackground names its file', async () => {
    const file = path.join(dir, 'a-file');
    await writeFile(file, 'x');
    const png = path.join(dir, 'for-out.png');
    await writeFile(png, encodePng(64, 64, 2, gradientRgb(64, 64)));
    expectCleanError(await runOracle(png, file), /--out .*a-file is a file, not a folder/);
    expectCleanError(
      await runOracle(png, path.join(file, 'sub')),
      /--out .*a-file\/sub: .*a-file is a file, so the folder cannot be made there/,
    );
    for (const background of ['255', '"white"', '[255, 255]']) {
      const json = path.join(dir, 'alpha.json');
      await writeFile(json, `{ "alphaBackground": ${background} }`);
      expectCleanError(
        await runOracle(png, path.join(dir, 'alpha-out'), '--preprocess', json),
        /alpha\.json: alpha background .* must be three values in 0\.\.255/,
      );
    }
  });

  it('a CMYK JPEG is converted to sRGB and explained', async () => {
    const cmyk = path.join(dir, 'cmyk.jpg');
    await sharp(Buffer.from(gradientRgb(256, 256)), {
      raw: { width: 256, height: 256, channels: 3 },
    })
      .toColourspace('cmyk')
      .jpeg()
      .toFile(cmyk);
    expect((await sharp(cmyk).metadata()).space).toBe('cmyk');
    const out = path.join(dir, 'cmyk-out');
    const r = await runOracle(cmyk, out, '--grid', '2', '--mode', 'light', '--quiet');
    expect(r.code).toBe(0);
    expect(existsSync(path.join(out, 'cmyk_glas.png'))).toBe(true);
  });

  it('recursive GLAS writes one overlay per pass and the accumulated one', async () => {
    const png = path.join(dir, 'rec.png');
    await writeFile(png, encodePng(240, 240, 2, gradientRgb(240, 240)));
    const out = path.join(dir, 'rec-out');
    const r = await runOracle(png, out, '--grid', '3', '--recursive', '2', '--json');
    expect(r.code).toBe(0);
    const [summary] = JSON.parse(r.stdout);
    const passes = summary.recursive.passes.length;
    expect(passes).toBeGreaterThanOrEqual(1);
    for (let j = 1; j <= passes; j++)
      expect(existsSync(path.join(out, `rec_glas_pass-${j}.png`))).toBe(true);
    expect(existsSync(path.join(out, 'rec_glas_recursive.png'))).toBe(true);
    expect(readNpyByHand(await readFile(path.join(out, 'rec_glas_recursive.npy'))).shape).toEqual([
      224, 224,
    ]);
  });

  it('an unreadable image is one clean error line naming it', async () => {
    const bad = path.join(dir, 'bad.jpg');
    await writeFile(bad, 'not a JPEG');
    const r = await runOracle(bad, path.join(dir, 'x'));
    expectCleanError(r, /cannot decode image file .*bad\.jpg/);
  });

  it('in a folder a bad photo is reported, the others are written, and the exit code is 1', async () => {
    const folder = path.join(dir, 'folder');
    await mkdir(folder);
    await writeFile(path.join(folder, 'a.png'), encodePng(224, 224, 2, gradientRgb(224, 224)));
    await writeFile(path.join(folder, 'b.jpg'), 'broken');
    await writeFile(path.join(folder, 'notes.txt'), 'not a photo, not looked at');
    const out = path.join(dir, 'folder-out');
    const r = await runOracle(folder, out, '--grid', '2', '--quiet');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/glas3d: cannot decode image file \S*b\.jpg: /);
    expect(r.stderr).toMatch(/glas3d: 1 of 2 photos failed/);
    expect(existsSync(path.join(out, 'a_glas.png'))).toBe(true);
    // --json lists the failed photo too, with its reason.
    const json = await runOracle(folder, out, '--grid', '2', '--quiet', '--json');
    expect(json.code).toBe(1);
    const records = JSON.parse(json.stdout) as { image: string; error?: string }[];
    expect(records.map((x) => [path.basename(x.image), x.error !== undefined])).toEqual([
      ['a.png', false],
      ['b.jpg', true],
    ]);
    expect(records[1].error).toMatch(/cannot decode .*damaged or truncated/);
  });

  it('a model whose input is not an image, a class out of range, bad labels and σ lists', async () => {
    const png = path.join(dir, 'ok.png');
    await writeFile(png, encodePng(224, 224, 2, gradientRgb(224, 224)));
    const out = path.join(dir, 'err');
    expectCleanError(
      await runCli(['image', png, '--model', notImage, '--out', out]),
      /vector\.onnx: the model input \[10\] is not an image/,
    );
    expectCleanError(
      await runOracle(png, out, '--class', '5'),
      /class 5 is out of range: the model has 2 classes/,
    );
    const labels = path.join(dir, 'labels.txt');
    await writeFile(labels, 'cat\ndog\nbird\n');
    expectCleanError(
      await runOracle(png, out, '--labels', labels),
      /has 3 labels but the model has 2 classes/,
    );
    expectCleanError(
      await runOracle(png, out, '--sigma-light', '6,4', '--sigma-shadow', '3,2,1'),
      /--sigma-light has 2 values but another σ list has 3/,
    );
    expectCleanError(await runOracle(png, out, '--class', '1', '--top'), /--class and --top/);
    const pre = path.join(dir, 'pre.json');
    await writeFile(pre, '{"resize": 256, "crop": 224, "meen": [0.5, 0.5, 0.5]}');
    expectCleanError(await runOracle(png, out, '--preprocess', pre), /pre\.json: unknown key meen/);
    expectCleanError(
      await runCli(['image', path.join(dir, 'nowhere.png'), '--model', oracle, '--out', out]),
      /nowhere\.png: no such image file or folder/,
    );
  });

  it('labels name the class; --preprocess changes the normalisation', async () => {
    const png = path.join(dir, 'lab.png');
    await writeFile(png, encodePng(224, 224, 2, gradientRgb(224, 224)));
    const labels = path.join(dir, 'labels.json');
    await writeFile(labels, '["background", "thing"]');
    const pre = path.join(dir, 'pre-ok.json');
    await writeFile(
      pre,
      '{"resize": false, "crop": 224, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}',
    );
    const out = path.join(dir, 'lab-out');
    const r = await runOracle(
      png,
      out,
      '--grid',
      '2',
      '--class',
      '1',
      '--labels',
      labels,
      '--preprocess',
      pre,
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^lab\.png: class 1 \(thing\), P = /);
    const json = JSON.parse(await readFile(path.join(out, 'lab_glas.json'), 'utf8'));
    expect(json.label).toBe('thing');
    expect(json.crop).toMatchObject({ resizedWidth: 224, left: 0, top: 0 });
  });
});
