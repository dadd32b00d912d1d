/**
 * How `glas3d image` and `eval pointing` load image models the shape alone does not settle:
 * symbolic channel dims (--layout, or the one end a 3-channel photo fits), a model of any size
 * without a fixed crop (loaded per photo size), a grey model (refused up front with the reason);
 * and the note on what a folder holds besides photos. The models are built here: P(class 1) =
 * sigmoid(mean of the red plane of the normalised input), so the truth is computed by hand from
 * the photo's uniform colour.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run-cli.js';
import { GraphBuilder } from '../../src/model/index.js';
import { readNpyByHand } from './npy.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'glas3d-image-model-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * A model on input `dims` whose logits are [0, mean of channel 0], the channel axis being 1
 * (NCHW) or 3 (NHWC): P(class 1) = sigmoid(mean red).
 */
async function redModel(name: string, dims: (number | string)[], channelAxis: 1 | 3) {
  const g = new GraphBuilder(name);
  const x = g.input('input', dims);
  const red = g.node('Slice', [
    x,
    g.int64s('st', [0]),
    g.int64s('en', [1]),
    g.int64s('ax', [channelAxis]),
  ]);
  const m = g.node('ReduceMean', [red], { axes: [1, 2, 3], keepdims: 1 });
  const col = g.node('Reshape', [m, g.int64s('sh', [-1, 1])]);
  g.node('Mul', [col, g.floats('pick', [1, 2], [0, 1])], {}, ['output']);
  g.output('output', ['N', 2]);
  const file = path.join(dir, `${name}.onnx`);
  await writeFile(file, g.toBytes());
  return file;
}

/** A uniform photo of w × h in colour [r, g, b] (PNG: lossless). */
async function photo(file: string, w: number, h: number, rgb: [number, number, number]) {
  await sharp({
    create: { width: w, height: h, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } },
  })
    .png()
    .toFile(file);
  return file;
}

/** P(class 1) for a uniform red value r under ImageNet normalisation, in float32 as fed. */
const truth = (r: number) => {
  const m = Math.fround(Math.fround(r / 255) - Math.fround(0.485)) / Math.fround(0.229);
  return 1 / (1 + Math.exp(-Math.fround(m)));
};

/** glas3d image on `input` with `model`, writing to `out`. */
const imageCli = (input: string, model: string, out: string, ...rest: string[]) =>
  runCli(['image', input, '--model', model, '--out', out, ...rest]);

async function json(out: string, stem: string) {
  return JSON.parse(await readFile(path.join(out, `${stem}_glas.json`), 'utf8'));
}

describe('image models with symbolic dims', () => {
  it('[N,C,224,224] and [N,224,224,C]: the only end a 3-channel photo fits is the channel axis', async () => {
    const p = await photo(path.join(dir, 'red.png'), 224, 224, [200, 40, 90]);
    const pre = path.join(dir, 'whole.json');
    await writeFile(pre, JSON.stringify({ resize: false, crop: 224 }));
    for (const [name, dims, axis, layout] of [
      ['c_first', ['N', 'C', 224, 224], 1, 'NCHW'],
      ['c_last', ['N', 224, 224, 'C'], 3, 'NHWC'],
    ] as const) {
      const model = await redModel(name, [...dims], axis);
      const out = path.join(dir, `out-${name}`);
      const r = await imageCli(p, model, out, '--preprocess', pre, '--grid', '2', '--quiet');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const j = await json(out, 'red');
      expect(j.model.layout).toBe(layout);
      expect(j.class).toBe(1);
      expect(j.probability).toBeCloseTo(truth(200), 4);
    }
  });

  it('[N,C,H,W]: --layout says where the channels are; without it the message names the flag', async () => {
    const p = await photo(path.join(dir, 'red2.png'), 256, 256, [30, 200, 90]);
    const nchw = await redModel('dyn_nchw', ['N', 'C', 'H', 'W'], 1);
    const nhwc = await redModel('dyn_nhwc', ['N', 'H', 'W', 'C'], 3);
    const bare = await imageCli(p, nchw, path.join(dir, 'o-bare'), '--quiet');
    expect(bare.code).toBe(1);
    expect(bare.stderr).toMatch(/give --layout NCHW or NHWC/);
    for (const [model, layout] of [
      [nchw, 'NCHW'],
      [nhwc, 'NHWC'],
    ]) {
      const out = path.join(dir, `o-${layout}`);
      const r = await imageCli(p, model, out, '--layout', layout, '--grid', '2', '--quiet');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const j = await json(out, 'red2');
      expect(j.model.layout).toBe(layout);
      expect(j.model.inputShape).toEqual(layout === 'NCHW' ? [3, 224, 224] : [224, 224, 3]);
      expect(j.probability).toBeCloseTo(1 - truth(30), 4); // red 30: class 0 is the top one
    }
  });

  it('[N,3,H,W] without a crop: each photo is fed at its own size (one load per size)', async () => {
    const model = await redModel('dyn_hw', ['N', 3, 'H', 'W'], 1);
    const photos = path.join(dir, 'sizes');
    await mkdir(photos);
    await photo(path.join(photos, 'a.png'), 40, 30, [220, 0, 0]);
    await photo(path.join(photos, 'b.png'), 30, 50, [180, 0, 0]);
    await photo(path.join(photos, 'c.png'), 30, 50, [160, 0, 0]);
    const pre = path.join(dir, 'nocrop.json');
    await writeFile(pre, JSON.stringify({ resize: false, crop: false }));
    const out = path.join(dir, 'o-sizes');
    const r = await imageCli(photos, model, out, '--preprocess', pre, '--grid', '2', '--quiet');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (const [stem, w, h, red] of [
      ['a', 40, 30, 220],
      ['b', 30, 50, 180],
      ['c', 30, 50, 160],
    ] as const) {
      const j = await json(out, stem);
      expect(j.model.inputShape).toEqual([3, h, w]);
      expect(j.probability).toBeCloseTo(truth(red), 4);
      const npy = readNpyByHand(await readFile(path.join(out, `${stem}_glas.npy`)));
      expect(npy.shape).toEqual([h, w]);
    }
  });

  it('--device auto with one load per photo size: one note of the device taken, and each JSON says where it ran', async () => {
    const model = await redModel('dyn_hw_auto', ['N', 3, 'H', 'W'], 1);
    const photos = path.join(dir, 'sizes-auto');
    await mkdir(photos);
    await photo(path.join(photos, 'a.png'), 40, 30, [220, 0, 0]);
    await photo(path.join(photos, 'b.png'), 30, 50, [180, 0, 0]);
    const pre = path.join(dir, 'nocrop-auto.json');
    await writeFile(pre, JSON.stringify({ resize: false, crop: false }));
    const out = path.join(dir, 'o-sizes-auto');
    const r = await imageCli(
      photos,
      model,
      out,
      '--preprocess',
      pre,
      '--grid',
      '2',
      '--device',
      'auto',
    );
    expect(r.code).toBe(0);
    const notes = r.stderr.match(/device auto took (cuda|webgpu|cpu)/g) ?? [];
    expect(notes).toHaveLength(1);
    const device = notes[0]?.split(' ').at(-1);
    for (const stem of ['a', 'b']) {
      const j = await json(out, stem);
      expect(j.model.device).toBe(device);
      expect(j.perturbation).toBe(device === 'cpu' ? 'host' : 'device');
    }
  });

  it('a grey model is refused up front: 2D mode feeds 3 channels, with what to do', async () => {
    const p = await photo(path.join(dir, 'grey.png'), 64, 64, [100, 100, 100]);
    const fixed = await redModel('grey28', ['N', 1, 28, 28], 1);
    const dynamic = await redModel('grey_dyn', ['N', 1, 'H', 'W'], 1);
    for (const model of [fixed, dynamic]) {
      const r = await imageCli(p, model, path.join(dir, 'o-grey'), '--quiet');
      expect(r.code).toBe(1);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(
        /takes images with 1 channel .*2D mode feeds RGB photos \(3 channels\): export a model that takes RGB/,
      );
      expect(r.stderr).not.toMatch(/crop/);
    }
    const boxes = path.join(dir, 'grey-boxes.json');
    await writeFile(
      boxes,
      JSON.stringify({
        images: [{ id: 1, file_name: 'grey.png' }],
        annotations: [],
        categories: [],
      }),
    );
    const r = await runCli([
      'eval',
      'pointing',
      '--model',
      fixed,
      '--images',
      dir,
      '--boxes',
      boxes,
      '--quiet',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/takes images with 1 channel/);
  });
});

describe('glas3d image DIR', () => {
  it('says how many subfolders and files of other types it left out', async () => {
    const model = await redModel('fixed', ['N', 3, 224, 224], 1);
    const folder = path.join(dir, 'mixed');
    await mkdir(path.join(folder, 'sub'), { recursive: true });
    await photo(path.join(folder, 'one.png'), 256, 256, [90, 90, 90]);
    await photo(path.join(folder, 'sub', 'two.png'), 256, 256, [90, 90, 90]);
    await writeFile(path.join(folder, 'three.bmp'), 'BM');
    await writeFile(path.join(folder, 'notes.txt'), 'x');
    const r = await imageCli(folder, model, path.join(dir, 'o-mixed'), '--grid', '2', '--quiet');
    expect(r.code).toBe(0);
    // --quiet silences notes; without it the note is on stderr.
    const loud = await imageCli(folder, model, path.join(dir, 'o-mixed'), '--grid', '2', '--json');
    expect(loud.code).toBe(0);
    expect(loud.stderr).toMatch(
      /left out 1 subfolder \(not searched[^)]*\) and 2 files of other types \(\.bmp 1, \.txt 1;/,
    );
    expect(JSON.parse(loud.stdout)).toHaveLength(1);
  });
});
