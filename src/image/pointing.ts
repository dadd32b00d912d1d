/**
 * Scoring of the pointing game (Zhang et al. 2016, as the GLAS paper plays it on ILSVRC): a map
 * points where it is largest; a trial is a hit when that point falls in a ground-truth box of the
 * target class, mapped back from the crop to the original photo.
 *
 * - The point is the map's maximum. When the maximum is tied (several pixels within a relative
 *   1e-6 of it, e.g. a flat map), it is the centroid of the largest 8-connected blob of pixels
 *   above 0.95 of the maximum.
 * - A trial is one (photo, object class) pair whose class maps to model classes; its target is
 *   the model's most probable class within that set (an ImageNet model has no "dog", it has 118
 *   breeds). Photos with no such class are skipped and counted.
 * - A trial is "small" when the union of the target class's boxes covers under a quarter of the
 *   photo.
 */
import { readFile } from 'node:fs/promises';
import { OptionError } from '../errors.js';
import type { Box, ImageBoxes } from './boxes.js';
import { cropToOriginal, type CropGeometry } from './preprocess.js';

export interface MapPoint {
  /** Crop pixel coordinates (centres at integers). */
  readonly x: number;
  readonly y: number;
  /** Whether the maximum was tied and the blob rule chose the point. */
  readonly tied: boolean;
}

export interface MapMaximumOptions {
  /** Pixels within this relative distance of the maximum count as tied (default 1e-6). */
  tieTolerance?: number;
  /** The blob threshold as a fraction of the maximum (default 0.95). */
  blobFraction?: number;
}

/** Where a map (width × height, x fastest) points. See the module comment for the tie rule. */
export function mapMaximum(
  map: ArrayLike<number>,
  width: number,
  height: number,
  options: MapMaximumOptions = {},
): MapPoint {
  const n = width * height;
  if (map.length !== n || n === 0) {
    throw new RangeError(`mapMaximum: ${map.length} values for a ${width}×${height} map`);
  }
  let max = -Infinity;
  let argmax = 0;
  for (let i = 0; i < n; i++) {
    if (map[i] > max) {
      max = map[i];
      argmax = i;
    }
  }
  if (!Number.isFinite(max)) throw new RangeError('mapMaximum: the map holds no finite value');
  const tol = (options.tieTolerance ?? 1e-6) * Math.abs(max);
  let tied = 0;
  for (let i = 0; i < n && tied < 2; i++) if (map[i] >= max - tol) tied++;
  if (tied < 2) return { x: argmax % width, y: Math.floor(argmax / width), tied: false };

  // Largest 8-connected blob above the threshold (flood fill with an explicit stack).
  const fraction = options.blobFraction ?? 0.95;
  const threshold = max >= 0 ? fraction * max : max / fraction;
  const label = new Int32Array(n);
  const stack = new Int32Array(n);
  let best = { size: 0, sx: 0, sy: 0 };
  let next = 0;
  for (let start = 0; start < n; start++) {
    if (label[start] !== 0 || !(map[start] >= threshold)) continue;
    next++;
    let top = 0;
    stack[top++] = start;
    label[start] = next;
    let size = 0;
    let sx = 0;
    let sy = 0;
    while (top > 0) {
      const i = stack[--top];
      const x = i % width;
      const y = (i - x) / width;
      size++;
      sx += x;
      sy += y;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= width) continue;
          const j = xx + width * yy;
          if (label[j] === 0 && map[j] >= threshold) {
            label[j] = next;
            stack[top++] = j;
          }
        }
      }
    }
    if (size > best.size) best = { size, sx, sy };
  }
  return { x: best.sx / best.size, y: best.sy / best.size, tied: true };
}

/**
 * Whether a point of the original photo (pixel-centre coordinates, as `cropToOriginal` gives)
 * lies in any of the boxes (edge coordinates), each grown by `tolerance` pixels.
 */
export function pointInBoxes(x: number, y: number, boxes: readonly Box[], tolerance = 0): boolean {
  const ex = x + 0.5;
  const ey = y + 0.5;
  return boxes.some(
    (b) =>
      ex >= b.x0 - tolerance &&
      ex <= b.x1 + tolerance &&
      ey >= b.y0 - tolerance &&
      ey <= b.y1 + tolerance,
  );
}

/** Area of the union of boxes clipped to [0, width) × [0, height), in pixels². */
export function unionArea(boxes: readonly Box[], width: number, height: number): number {
  const clipped = boxes
    .map((b) => ({
      x0: Math.max(0, b.x0),
      y0: Math.max(0, b.y0),
      x1: Math.min(width, b.x1),
      y1: Math.min(height, b.y1),
    }))
    .filter((b) => b.x1 > b.x0 && b.y1 > b.y0);
  const xs = [...new Set(clipped.flatMap((b) => [b.x0, b.x1]))].sort((a, b) => a - b);
  let area = 0;
  for (let i = 0; i + 1 < xs.length; i++) {
    const [a, b] = [xs[i], xs[i + 1]];
    const spans = clipped
      .filter((r) => r.x0 <= a && r.x1 >= b)
      .map((r) => [r.y0, r.y1] as const)
      .sort((p, q) => p[0] - q[0]);
    let covered = 0;
    let end = -Infinity;
    for (const [y0, y1] of spans) {
      if (y1 <= end) continue;
      covered += y1 - Math.max(y0, end);
      end = y1;
    }
    area += covered * (b - a);
  }
  return area;
}

/** Object class name → the model classes that count as it (e.g. voc-to-imagenet.json). */
export type ClassMap = ReadonlyMap<string, readonly number[]>;

/** A JSON object of name → list of class indices; keys starting with "_" are comments. */
export function parseClassMap(text: string, source = 'class map'): Map<string, number[]> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new OptionError(
      `class map ${source} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new OptionError(
      `class map ${source} must be a JSON object: { "dog": [151, 152, …], "person": [] }.`,
    );
  }
  const out = new Map<string, number[]>();
  for (const [name, list] of Object.entries(value)) {
    if (name.startsWith('_')) continue;
    if (!Array.isArray(list) || list.some((c) => !Number.isInteger(c) || c < 0)) {
      throw new OptionError(
        `class map ${source}: "${name}" must list class indices (whole numbers ≥ 0).`,
      );
    }
    out.set(name, list as number[]);
  }
  return out;
}

export async function readClassMap(path: string): Promise<Map<string, number[]>> {
  const text = await readFile(path, 'utf8').catch((e: unknown) => {
    throw new OptionError(
      `cannot read class map ${path}: ${e instanceof Error ? e.message : String(e)}`,
    );
  });
  return parseClassMap(text, path);
}

/** One object class of a photo, as a pointing-game trial. */
export interface PointingTarget {
  /** The annotation's class name. */
  readonly name: string;
  /** The model classes that count as it. */
  readonly classSet: readonly number[];
  /** The most probable of them on the photo: the class explained. */
  readonly targetClass: number;
  readonly probability: number;
  /** Whether the model's top-1 class over all classes is in the set. */
  readonly top1InSet: boolean;
  /** Every box of this class on the photo (difficult ones included). */
  readonly boxes: readonly Box[];
  /** Union of the boxes under a quarter of the photo. */
  readonly small: boolean;
  readonly areaFraction: number;
}

/**
 * The trials of one photo: one per object class that maps to model classes. Without a class
 * map, class names must be model class indices. `unmapped` lists names that map to nothing.
 */
export function pointingTargets(
  boxes: ImageBoxes,
  probabilities: ArrayLike<number>,
  classes: number,
  photo: { width: number; height: number },
  classMap?: ClassMap,
): { targets: PointingTarget[]; unmapped: string[] } {
  let top1 = 0;
  for (let c = 1; c < classes; c++) if (probabilities[c] > probabilities[top1]) top1 = c;
  const names = [...new Set(boxes.objects.map((o) => o.name))];
  const targets: PointingTarget[] = [];
  const unmapped: string[] = [];
  for (const name of names) {
    let set: readonly number[] | undefined;
    if (classMap) set = classMap.get(name);
    else if (/^\d+$/.test(name)) set = [Number(name)];
    else {
      throw new OptionError(
        `${boxes.source}: class "${name}" is not a class index; give a class map (--classes MAP.json) from names to model classes.`,
      );
    }
    if (!set || set.length === 0) {
      unmapped.push(name);
      continue;
    }
    for (const c of set) {
      if (c >= classes) {
        throw new OptionError(
          `class map: "${name}" lists class ${c}, but the model has ${classes} classes (0–${classes - 1}).`,
        );
      }
    }
    let target = set[0];
    for (const c of set) if (probabilities[c] > probabilities[target]) target = c;
    const classBoxes = boxes.objects.filter((o) => o.name === name).map((o) => o.box);
    const areaFraction =
      unionArea(classBoxes, photo.width, photo.height) / (photo.width * photo.height);
    targets.push({
      name,
      classSet: set,
      targetClass: target,
      probability: probabilities[target],
      top1InSet: set.includes(top1),
      boxes: classBoxes,
      small: areaFraction < 0.25,
      areaFraction,
    });
  }
  return { targets, unmapped };
}

/** A map's point on the original photo, and whether it hits the target's boxes. */
export function scorePoint(
  point: { x: number; y: number },
  geometry: CropGeometry,
  boxes: readonly Box[],
  tolerance = 0,
): { x: number; y: number; hit: boolean } {
  const [x, y] = cropToOriginal(geometry, point.x, point.y);
  return { x, y, hit: pointInBoxes(x, y, boxes, tolerance) };
}

export interface PointingScore {
  readonly hits: number;
  readonly trials: number;
  /** hits / trials (NaN with no trials). */
  readonly accuracy: number;
}

/** Overall and small-object pointing accuracy of a list of trials. */
export function pointingScores(trials: readonly { hit: boolean; small: boolean }[]): {
  overall: PointingScore;
  small: PointingScore;
} {
  const score = (list: readonly { hit: boolean }[]): PointingScore => {
    const hits = list.filter((t) => t.hit).length;
    return { hits, trials: list.length, accuracy: list.length ? hits / list.length : NaN };
  };
  return { overall: score(trials), small: score(trials.filter((t) => t.small)) };
}
