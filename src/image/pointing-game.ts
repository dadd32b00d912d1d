/**
 * The pointing game over a folder of photos with ground-truth boxes, for GLAS, RISE and a
 * centre-of-image baseline, over one ONNX image classifier. See pointing.ts for the rules.
 *
 * Costs are per photo: the passes of one photo serve all of its trials (GLAS and RISE keep every
 * class's response, see class-responses.ts), so a photo with a dog and a cat costs what a photo
 * with a dog costs. Seconds per photo run from decoding the photo to the last trial's score.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { Glas3dError, OptionError } from '../errors.js';
import { flatResponses, gridSearchPoints, type GlasMode, type SigmaSet } from '../glas3d/index.js';
import {
  loadOnnxClassifier,
  type OnnxClassifier,
  type OnnxClassifierOptions,
} from '../model/index.js';
import { IMAGE_BASELINES, type ImageBaselineKind } from './baselines.js';
import { boxesOnPhoto, loadBoxes, type ImageBoxes } from './boxes.js';
import { checkImageClassifier, ImageModels, imageModelPlan } from './image-model.js';
import { classResponses, fuseClass } from './class-responses.js';
import {
  DEFAULT_GRID,
  DEFAULT_IMAGE_SIGMA,
  imageAxes,
  imageModelInput,
  type SigmaUnits,
} from './explain-image.js';
import {
  mapMaximum,
  pointingScores,
  pointingTargets,
  scorePoint,
  type ClassMap,
  type PointingScore,
} from './pointing.js';
import {
  originalToCrop,
  preprocessedGrid,
  preprocessImage,
  type CropGeometry,
  type PreprocessOptions,
  type Size,
} from './preprocess.js';
import { runRise } from './rise.js';

export type PointingMethod = 'glas' | 'rise' | 'centre';
export const POINTING_METHODS: readonly PointingMethod[] = ['glas', 'rise', 'centre'];

/** Photo file extensions looked for in the images folder. */
export const IMAGE_EXTENSIONS = [
  '.jpg',
  '.jpeg',
  '.png',
  '.webp',
  '.tif',
  '.tiff',
  '.gif',
  '.avif',
];

export interface PointingGameOptions {
  /**
   * The model file, a classifier loaded for the crop, or the classifier for a photo size (what
   * a model that takes any size needs without a fixed crop; the game disposes none it is given).
   */
  model: string | OnnxClassifier | ((size: Size) => Promise<OnnxClassifier>);
  modelOptions?: OnnxClassifierOptions;
  /** Folder of photos. */
  images: string;
  /** A folder of VOC XML, a COCO JSON file, or boxes already loaded (keyed by file name). */
  boxes: string | ReadonlyMap<string, ImageBoxes>;
  /** Annotation class name → model classes; without it names must be class indices. */
  classMap?: ClassMap;
  /** Default 'glas'. */
  method?: PointingMethod;
  /** GLAS: default 'fusion', grid 15, σ 5/3/6 in cells, baseline zero. */
  mode?: GlasMode;
  grid?: number;
  sigma?: Partial<SigmaSet>;
  units?: SigmaUnits;
  /** What hidden parts blend toward, for GLAS and RISE (default 'zero'). */
  baseline?: ImageBaselineKind;
  lambda?: number;
  /** RISE: masks N (default 2000), cells s (7), keep probability p (0.5), seed (0). */
  rise?: { masks?: number; cells?: number; keep?: number; seed?: number };
  /** Only the first N photos that have boxes (in file-name order). */
  limit?: number;
  /** Pixels a point may miss a box by and still hit (default 0; Zhang et al. use 15). */
  tolerance?: number;
  preprocess?: PreprocessOptions;
  onPhoto?: (done: number, total: number, file: string) => void;
}

export interface PointingTrial {
  readonly file: string;
  /** Annotation class name. */
  readonly name: string;
  readonly targetClass: number;
  readonly probability: number;
  readonly top1InSet: boolean;
  readonly small: boolean;
  readonly areaFraction: number;
  /** Where the map points, on the original photo (pixel centres) and on the crop. */
  readonly x: number;
  readonly y: number;
  readonly cropX: number;
  readonly cropY: number;
  /** The maximum was tied and the blob rule chose the point. */
  readonly tied: boolean;
  /**
   * Present (true) when the GLAS map is flat (flatResponses: no shadow moved the class's
   * response beyond rounding, e.g. a saturated P): its point is not evidence.
   */
  readonly flat?: true;
  readonly hit: boolean;
  /** No box of the class overlaps the crop: no map over the crop can hit it. */
  readonly outsideCrop: boolean;
}

export interface PointingSkip {
  readonly file: string;
  readonly reason: string;
  /** The photo could not be read or preprocessed (an error, not a rule of the game). */
  readonly failed?: true;
}

export interface PointingGameResult {
  readonly method: PointingMethod;
  /** What was run, for the record. */
  readonly parameters: Record<string, unknown>;
  readonly trials: PointingTrial[];
  readonly skipped: PointingSkip[];
  /** Photos with at least one trial. */
  readonly photos: number;
  readonly overall: PointingScore;
  readonly small: PointingScore;
  /** Trials whose map is flat (PointingTrial.flat), counted in `overall` like any other. */
  readonly flat: number;
  /** `overall` without the flat trials: the accuracy the maps' evidence earns. */
  readonly notFlat: PointingScore;
  /** Means over the photos with trials. */
  readonly forwardPassesPerPhoto: number;
  readonly secondsPerPhoto: number;
  readonly modelSecondsPerPhoto: number;
}

/** The photos of a folder that have boxes, in file-name order, and those skipped. */
export async function pointingPhotos(
  images: string,
  boxes: ReadonlyMap<string, ImageBoxes>,
  limit?: number,
): Promise<{ photos: { path: string; boxes: ImageBoxes }[]; skipped: PointingSkip[] }> {
  const names = await readdir(images).catch((e: unknown) => {
    throw new OptionError(
      `cannot read images folder ${images}: ${e instanceof Error ? e.message : String(e)}`,
    );
  });
  const files: string[] = [];
  for (const f of names.sort()) {
    if (!IMAGE_EXTENSIONS.includes(extname(f).toLowerCase())) continue;
    if (!(await isFolder(join(images, f)))) files.push(f);
  }
  if (files.length === 0)
    throw new OptionError(
      `images folder ${images} holds no photos (${IMAGE_EXTENSIONS.join(', ')}; subfolders are not searched).`,
    );
  const photos: { path: string; boxes: ImageBoxes }[] = [];
  const skipped: PointingSkip[] = [];
  // A photo takes the boxes of its own name, else those of <stem>.jpg (a converted copy); one
  // set of boxes scores one photo, so a second file of the same stem is skipped, not counted twice.
  const scored = new Map<ImageBoxes, string>();
  for (const f of files) {
    const b = boxes.get(f) ?? boxes.get(`${basename(f, extname(f))}.jpg`);
    const already = b && scored.get(b);
    if (!b) skipped.push({ file: f, reason: 'no boxes' });
    else if (already) skipped.push({ file: f, reason: `same boxes as ${already}, scored once` });
    else {
      scored.set(b, f);
      photos.push({ path: join(images, f), boxes: b });
    }
  }
  // Photos with boxes in subfolders are not scored: said, not dropped silently.
  const nested = await photosInSubfolders(images);
  for (const f of nested) {
    const name = basename(f);
    const b = boxes.get(name) ?? boxes.get(`${basename(name, extname(name))}.jpg`);
    if (!b || scored.has(b)) continue;
    scored.set(b, f);
    skipped.push({
      file: f,
      reason: `in a subfolder of ${images}, which is not searched: give that folder as --images, or move the photo up`,
    });
  }
  if (photos.length === 0) {
    throw new OptionError(
      `no photo in ${images} has boxes: the annotations name other files` +
        (nested.length ? ` (subfolders are not searched: ${nested.length} photo(s) there)` : '') +
        '.',
    );
  }
  return { photos: limit !== undefined ? photos.slice(0, limit) : photos, skipped };
}

const isFolder = (path: string) =>
  stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );

/** Photos in the subfolders of a folder, at any depth, as paths relative to it (sorted). */
async function photosInSubfolders(folder: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (relative: string, depth: number) => {
    const names = await readdir(join(folder, relative)).catch(() => [] as string[]);
    for (const f of names.sort()) {
      const path = relative ? join(relative, f) : f;
      if (await isFolder(join(folder, path))) {
        if (depth < 8) await walk(path, depth + 1);
      } else if (relative && IMAGE_EXTENSIONS.includes(extname(f).toLowerCase())) out.push(path);
    }
  };
  await walk('', 0);
  return out;
}

/** Whether any box overlaps the crop (boxes in original edge coordinates). */
function overlapsCrop(
  geometry: CropGeometry,
  boxes: readonly { x0: number; y0: number; x1: number; y1: number }[],
) {
  return boxes.some((b) => {
    // Edge coordinates → pixel-centre coordinates → crop coordinates.
    const [cx0, cy0] = originalToCrop(geometry, b.x0 - 0.5, b.y0 - 0.5);
    const [cx1, cy1] = originalToCrop(geometry, b.x1 - 0.5, b.y1 - 0.5);
    return cx1 > -0.5 && cy1 > -0.5 && cx0 < geometry.width - 0.5 && cy0 < geometry.height - 0.5;
  });
}

/** Play the pointing game with one method over a folder of photos. */
export async function runPointingGame(options: PointingGameOptions): Promise<PointingGameResult> {
  const method = options.method ?? 'glas';
  if (!POINTING_METHODS.includes(method)) {
    throw new OptionError(`method '${method}' is not one of ${POINTING_METHODS.join(', ')}.`);
  }
  const mode = options.mode ?? 'fusion';
  const grid = options.grid ?? DEFAULT_GRID;
  const units = options.units ?? 'cells';
  const sigma: SigmaSet = { ...DEFAULT_IMAGE_SIGMA, ...definedOnly(options.sigma) };
  const baseline = options.baseline ?? 'zero';
  const tolerance = options.tolerance ?? 0;
  if (!IMAGE_BASELINES.includes(baseline)) {
    throw new OptionError(
      `unknown baseline '${baseline}': use one of ${IMAGE_BASELINES.join(', ')}.`,
    );
  }
  if (!Number.isInteger(grid) || grid < 1)
    throw new OptionError(`grid ${grid} must be a whole number ≥ 1.`);
  if (options.limit !== undefined && !(Number.isInteger(options.limit) && options.limit >= 1)) {
    throw new OptionError(`limit ${options.limit} must be a whole number ≥ 1.`);
  }
  const boxes = typeof options.boxes === 'string' ? await loadBoxes(options.boxes) : options.boxes;
  const { photos, skipped } = await pointingPhotos(options.images, boxes, options.limit);

  const models = await pointingModels(options);
  const rise = { masks: 2000, cells: 7, keep: 0.5, seed: 0, ...options.rise };
  const parameters: Record<string, unknown> =
    method === 'glas'
      ? { method, mode, grid, sigma, units, baseline, tolerance }
      : method === 'rise'
        ? { method, ...rise, baseline, tolerance }
        : { method, tolerance };
  const trials: PointingTrial[] = [];
  let evaluated = 0;
  let passes = 0;
  let ms = 0;
  let modelMs = 0;
  try {
    for (let p = 0; p < photos.length; p++) {
      const photo = photos[p];
      const file = basename(photo.path);
      const start = performance.now();
      let pre;
      try {
        pre = await preprocessImage(photo.path, options.preprocess);
      } catch (e) {
        if (!(e instanceof Glas3dError)) throw e;
        skipped.push({ file, reason: e.message, failed: true });
        continue;
      }
      const g = pre.geometry;
      const annotated = photo.boxes;
      if (
        (annotated.width !== undefined && annotated.width !== g.originalWidth) ||
        (annotated.height !== undefined && annotated.height !== g.originalHeight)
      ) {
        skipped.push({
          file,
          reason: `annotated as ${annotated.width}×${annotated.height}, the photo is ${g.originalWidth}×${g.originalHeight}`,
        });
        continue;
      }
      // Annotations without a size are checked against the photo here (refused wholly outside).
      const annotatedBoxes = boxesOnPhoto(annotated, g.originalWidth, g.originalHeight);
      const classifier = await models.for(pre);
      const axes = imageAxes(classifier, pre);
      const { input } = imageModelInput(axes, pre, { grid, units, baseline });
      const photoSize = { width: g.originalWidth, height: g.originalHeight };

      // One unperturbed pass gives the targets; GLAS and RISE reuse it.
      const probe = await classResponses(classifier, input, [], {
        lightSigmas: [],
        shadowSigmas: [],
      });
      const probabilities = probe.probabilities;
      let photoPasses = probe.forwardPasses;
      let photoModelMs = probe.modelMs;
      const { targets, unmapped } = pointingTargets(
        annotatedBoxes,
        probabilities,
        classifier.classes,
        photoSize,
        options.classMap,
      );
      if (targets.length === 0) {
        skipped.push({ file, reason: unmappedReason(unmapped, options.classMap) });
        continue;
      }
      const classes = targets.map((t) => t.targetClass);
      let maps: Float32Array[] = []; // none for 'centre': the point is the crop's centre
      let flat: boolean[] = [];
      if (method === 'glas') {
        const points = gridSearchPoints([pre.width, pre.height], grid);
        const responses = await classResponses(classifier, input, points, {
          lightSigmas: mode === 'shadow' ? [] : [sigma.light],
          shadowSigmas: mode === 'light' ? [] : [sigma.shadow],
          probabilities,
        });
        photoPasses += responses.forwardPasses;
        photoModelMs += responses.modelMs;
        const fused = classes.map((t) =>
          fuseClass(responses, t, {
            mode,
            lightSigma: sigma.light,
            shadowSigma: sigma.shadow,
            spatialSigma: sigma.spatial,
            lambda: options.lambda,
          }),
        );
        maps = fused.map((f) => f.map);
        flat = fused.map(
          (f, i) =>
            flatResponses(f, mode, probabilities[classes[i]], classifier.responseNoise) !==
            undefined,
        );
      } else if (method === 'rise') {
        const r = await runRise(classifier, input, { ...rise, targets: classes, probabilities });
        photoPasses += r.forwardPasses;
        photoModelMs += r.timing.modelMs;
        maps = r.maps;
      }
      targets.forEach((t, i) => {
        const point =
          method === 'centre'
            ? { x: (pre.width - 1) / 2, y: (pre.height - 1) / 2, tied: false }
            : mapMaximum(maps[i], pre.width, pre.height);
        const scored = scorePoint(point, g, t.boxes, tolerance);
        trials.push({
          file,
          name: t.name,
          targetClass: t.targetClass,
          probability: t.probability,
          top1InSet: t.top1InSet,
          small: t.small,
          areaFraction: t.areaFraction,
          x: scored.x,
          y: scored.y,
          cropX: point.x,
          cropY: point.y,
          tied: point.tied,
          ...(flat[i] && { flat: true as const }),
          hit: scored.hit,
          outsideCrop: !overlapsCrop(g, t.boxes),
        });
      });
      evaluated++;
      passes += photoPasses;
      modelMs += photoModelMs;
      ms += performance.now() - start;
      options.onPhoto?.(p + 1, photos.length, file);
    }
  } finally {
    await models.dispose();
  }
  const { overall, small } = pointingScores(trials);
  const notFlat = pointingScores(trials.filter((t) => !t.flat)).overall;
  return {
    method,
    parameters,
    trials,
    skipped,
    photos: evaluated,
    overall,
    small,
    flat: overall.trials - notFlat.trials,
    notFlat,
    forwardPassesPerPhoto: evaluated ? passes / evaluated : NaN,
    secondsPerPhoto: evaluated ? ms / 1000 / evaluated : NaN,
    modelSecondsPerPhoto: evaluated ? modelMs / 1000 / evaluated : NaN,
  };
}

/** The classifier for each photo (see PointingGameOptions.model): loaded here from a file. */
async function pointingModels(
  options: PointingGameOptions,
): Promise<{ for(size: Size): Promise<OnnxClassifier>; dispose(): Promise<void> }> {
  const model = options.model;
  if (typeof model === 'function') return { for: model, dispose: async () => {} };
  if (typeof model !== 'string') return { for: async () => model, dispose: async () => {} };
  const plan = await imageModelPlan(model, options.preprocess, options.modelOptions?.layout);
  const models = new ImageModels(plan.perSize, async (size) => {
    const c = await loadOnnxClassifier(model, {
      dataGrid: size
        ? { dims: [size.width, size.height], channels: 3 }
        : preprocessedGrid(options.preprocess),
      layout: plan.layout,
      ...options.modelOptions,
    });
    try {
      checkImageClassifier(c);
    } catch (e) {
      await c.dispose();
      throw e;
    }
    return c;
  });
  return models;
}

/**
 * Why a photo whose classes all map to nothing is skipped; a name the class map holds in
 * another case ("Dog" for "dog") is pointed out, since names match exactly.
 */
function unmappedReason(unmapped: readonly string[], classMap: ClassMap | undefined): string {
  const reason = `no object class maps to a model class (${unmapped.join(', ') || 'no objects'})`;
  const keys = [...(classMap?.keys() ?? [])];
  const cased = unmapped.flatMap((name) => {
    const key = keys.find((k) => k !== name && k.toLowerCase() === name.toLowerCase());
    return key ? [`"${key}" for "${name}"`] : [];
  });
  return cased.length
    ? `${reason}; the class map has ${cased.join(', ')} (names match exactly, case included)`
    : reason;
}

function definedOnly(sigma: Partial<SigmaSet> | undefined): Partial<SigmaSet> {
  const out: { light?: number; shadow?: number; spatial?: number } = {};
  for (const key of ['light', 'shadow', 'spatial'] as const) {
    if (sigma?.[key] !== undefined) out[key] = sigma[key];
  }
  return out;
}
