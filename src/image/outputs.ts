/**
 * The files of `glas3d image` for one photo, in `outDir`, named after the photo's stem:
 *
 *   <stem>_glas.png        the map over the photo at the photo's own size (render.ts)
 *   <stem>_glas.npy        the raw map, float32, the crop's height × width (C order)
 *   <stem>_glas.json       class, label, probability, parameters, per-point scores, timings
 *
 * With several σ sets each map gets `_sigma-<l>-<s>-<sp>` before the extension
 * (`<stem>_glas_sigma-6-6-6.png`, …) and `<stem>_glas_strip.png` puts the overlays side by side,
 * in the order given (coarse to fine). Recursive GLAS (on the first σ set) adds
 * `<stem>_glas_pass-<j>.png/.npy` per pass and `<stem>_glas_recursive.png/.npy`, the sum.
 */
import { mkdir } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import type { DecodedImage } from './decode.js';
import type { ImageExplanation } from './explain-image.js';
import { encodeNpy } from './npy.js';
import { cropToOriginal } from './preprocess.js';
import { renderOverlay, renderStrip } from './render.js';
import { writeFileAtomic } from '../volume/atomic.js';

/**
 * The output stem of each photo: its name without the extension ('finch' for finch.jpeg), or,
 * where two photos of one run would share it (a.jpg and a.png), the name with the extension's
 * dot as '_' ('a_jpg', 'a_png'), so that no photo's files overwrite another's.
 */
export function outputStems(paths: readonly string[]): string[] {
  const plain = paths.map((p) => basename(p, extname(p)));
  const count = new Map<string, number>();
  for (const stem of plain) count.set(stem, (count.get(stem) ?? 0) + 1);
  const wanted = paths.map((p, i) =>
    count.get(plain[i])! > 1 ? `${plain[i]}_${extname(p).slice(1)}` : plain[i],
  );
  // 'a.jpg' + 'a.png' become a_jpg and a_png, which 'a_jpg.png' may also want: a later one
  // that finds its stem taken gets -2, -3, … so no photo's files overwrite another's.
  const taken = new Set<string>();
  return wanted.map((stem) => {
    let unique = stem;
    for (let n = 2; taken.has(unique.toLowerCase()); n++) unique = `${stem}-${n}`;
    taken.add(unique.toLowerCase());
    return unique;
  });
}

/**
 * Whether `name`, in a folder holding `siblings`, is a file glas3d image wrote there: its
 * `<stem>_glas.json`, or an overlay or map (`<stem>_glas….png`, `<stem>_glas….npy`) beside that
 * JSON. A rerun into the photo folder must not explain its own overlays, nor count its own
 * outputs among the files it could not read.
 */
export function isImageOutput(name: string, siblings: ReadonlySet<string>): boolean {
  if (/_glas\.json$/i.test(name)) return true;
  const m = /^(.*_glas)(?:_[^.]*)?\.(png|npy)$/i.exec(name);
  return m !== null && siblings.has(`${m[1]}.json`);
}

export interface ImageOutputRequest {
  readonly outDir: string;
  /** File name stem, e.g. 'finch' for finch.jpeg. */
  readonly stem: string;
  /** The photo as decoded (the overlay's background, at its own size). */
  readonly photo: DecodedImage;
  /** One explanation per σ set, same photo, same class. */
  readonly explanations: readonly ImageExplanation[];
  /** The photo's path, recorded in the JSON. */
  readonly image: string;
  readonly labels?: readonly string[];
  /** Named parameter set, recorded in the JSON. */
  readonly preset?: string;
}

export interface ImageOutputFiles {
  readonly json: string;
  readonly overlays: string[];
  readonly maps: string[];
  readonly strip?: string;
  readonly recursive?: { overlays: string[]; maps: string[] };
}

const OVERLAY_NOTE =
  'turbo colour map of the map scaled to [0, 1] between its minimum and maximum over the crop, ' +
  'alpha 0.5 over the photo; outside the crop (which the model never saw) the photo is dimmed ' +
  'to 35 % and the crop edge is a white line';

const sigmaName = (s: { light: number; shadow: number; spatial: number }) =>
  `sigma-${s.light}-${s.shadow}-${s.spatial}`;

/** Write the files for one photo; returns their paths and the JSON summary written. */
export async function writeImageOutputs(
  request: ImageOutputRequest,
): Promise<{ files: ImageOutputFiles; summary: Record<string, unknown> }> {
  const { outDir, stem, photo, explanations, labels } = request;
  if (explanations.length === 0) throw new RangeError('writeImageOutputs: no explanation given');
  await mkdir(outDir, { recursive: true });
  const first = explanations[0];
  const several = explanations.length > 1;
  const base = join(outDir, `${stem}_glas`);
  const overlays: string[] = [];
  const maps: string[] = [];
  const pngs: Buffer[] = [];
  const mapRecords = [];
  for (const ex of explanations) {
    const name = several ? `${base}_${sigmaName(ex.sigma)}` : base;
    const png = await renderOverlay(photo, ex.map, ex.geometry);
    pngs.push(png);
    await writeFileAtomic(`${name}.png`, png);
    await writeFileAtomic(`${name}.npy`, encodeNpy(ex.map, [ex.height, ex.width]));
    overlays.push(`${name}.png`);
    maps.push(`${name}.npy`);
    let max = -Infinity;
    let argmax = 0;
    for (let i = 0; i < ex.map.length; i++) {
      if (ex.map[i] > max) {
        max = ex.map[i];
        argmax = i;
      }
    }
    const [mx, my] = [argmax % ex.width, Math.floor(argmax / ex.width)];
    const [px, py] = cropToOriginal(ex.geometry, mx, my);
    const perPixel = (u: number) =>
      ex.units === 'cells' ? u * Math.sqrt(ex.cellSize[0] * ex.cellSize[1]) : u;
    mapRecords.push({
      sigma: ex.sigma,
      sigmaUnits: ex.units,
      sigmaPixels: {
        light: perPixel(ex.sigma.light),
        shadow: perPixel(ex.sigma.shadow),
        spatial: perPixel(ex.sigma.spatial),
      },
      png: `${name}.png`,
      npy: `${name}.npy`,
      max,
      maxAt: { crop: [mx, my], photo: [round(px), round(py)] },
      forwardPasses: ex.forwardPasses,
      timingMs: roundAll(ex.timing),
      points: ex.points.map((p) => {
        const [ox, oy] = cropToOriginal(ex.geometry, p.x, p.y);
        return {
          x: round(p.x),
          y: round(p.y),
          photoX: round(ox),
          photoY: round(oy),
          light: finiteOrNull(p.light),
          shadow: finiteOrNull(p.shadow),
          shadowDelta: finiteOrNull(p.shadowDelta),
          score: finiteOrNull(p.score),
        };
      }),
    });
  }
  let strip: string | undefined;
  if (several) {
    strip = `${base}_strip.png`;
    const captions = explanations.map(
      (ex) =>
        `σ ${ex.sigma.light}/${ex.sigma.shadow}/${ex.sigma.spatial} ${ex.units === 'cells' ? 'cells' : 'px'}`,
    );
    await writeFileAtomic(strip, await renderStrip(pngs, captions));
  }
  let recursive: ImageOutputFiles['recursive'];
  let recursiveRecord: Record<string, unknown> | undefined;
  if (first.recursive) {
    const rec = first.recursive;
    const rOverlays: string[] = [];
    const rMaps: string[] = [];
    const passes = [];
    for (let j = 0; j < rec.passes.length; j++) {
      const name = `${base}_pass-${j + 1}`;
      await writeFileAtomic(
        `${name}.png`,
        await renderOverlay(photo, rec.passes[j], first.geometry),
      );
      await writeFileAtomic(`${name}.npy`, encodeNpy(rec.passes[j], [first.height, first.width]));
      rOverlays.push(`${name}.png`);
      rMaps.push(`${name}.npy`);
      passes.push({ png: `${name}.png`, npy: `${name}.npy`, probabilityAfter: rec.pAfter[j] });
    }
    const name = `${base}_recursive`;
    await writeFileAtomic(
      `${name}.png`,
      await renderOverlay(photo, rec.accumulated, first.geometry),
    );
    await writeFileAtomic(`${name}.npy`, encodeNpy(rec.accumulated, [first.height, first.width]));
    rOverlays.push(`${name}.png`);
    rMaps.push(`${name}.npy`);
    recursive = { overlays: rOverlays, maps: rMaps };
    recursiveRecord = {
      sigma: first.sigma,
      passes,
      accumulated: { png: `${name}.png`, npy: `${name}.npy` },
      stopReason: rec.stopReason,
    };
  }

  const label = (c: number) => labels?.[c];
  const order = Array.from(first.probabilities.keys()).sort(
    (a, b) => first.probabilities[b] - first.probabilities[a],
  );
  const summary: Record<string, unknown> = {
    image: request.image,
    photo: { width: photo.width, height: photo.height, format: photo.format },
    crop: first.geometry,
    model: first.model,
    perturbation: first.perturbation,
    class: first.targetClass,
    label: label(first.targetClass) ?? null,
    probability: first.probability,
    top5: order.slice(0, 5).map((c) => ({
      class: c,
      label: label(c) ?? null,
      probability: first.probabilities[c],
    })),
    parameters: {
      preset: request.preset ?? null,
      grid: first.grid,
      cellSizePixels: first.cellSize,
      units: first.units,
      mode: first.mode,
      baseline: first.baseline,
      blurSigmaPixels: first.blurSigmaPixels ?? null,
      sigma: explanations.map((ex) => ex.sigma),
    },
    overlay: OVERLAY_NOTE,
    npy: 'float32, shape (crop height, crop width), C order; the map over the model input crop (see crop)',
    maps: mapRecords,
    strip: strip ?? null,
    recursive: recursiveRecord ?? null,
    forwardPasses: explanations.reduce((s, ex) => s + ex.forwardPasses, 0),
    timingMs: {
      glas: round(explanations.reduce((s, ex) => s + ex.timing.glasMs, 0)),
      model: round(explanations.reduce((s, ex) => s + ex.timing.modelMs, 0)),
      total: round(explanations.reduce((s, ex) => s + ex.timing.totalMs, 0)),
    },
  };
  const warnings = explanations.flatMap((ex) => ex.warnings ?? []);
  if (warnings.length > 0) summary.warnings = warnings;
  const json = `${base}.json`;
  await writeFileAtomic(json, JSON.stringify(summary, null, 2) + '\n');
  return { files: { json, overlays, maps, strip, recursive }, summary };
}

const round = (x: number) => Math.round(x * 1000) / 1000;
const finiteOrNull = (x: number) => (Number.isFinite(x) ? x : null);
const roundAll = (o: Record<string, number>) =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k, round(v)]));
