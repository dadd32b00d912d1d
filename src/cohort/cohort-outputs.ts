/**
 * Cohort-level outputs, computed from the per-subject files alone (so a single run, a resumed
 * run and merged shards give the same bytes): the ranked `regions.csv` with bootstrap CIs (and,
 * with a control group, each region's share of the evidence in both groups, their difference,
 * permutation p and FDR q), and the cohort saliency map per σ — the
 * subjects' maps, each divided by its own maximum, summed and normalized to a maximum of 1
 * (appendix A of the paper: "linearly integrated and normalized").
 */
import { regionsLost, type Atlas } from '../atlas/index.js';
import { Glas3dError } from '../errors.js';
import { RANKED_REGION_COLUMNS } from '../report/explanation-files.js';
import { formatDelimited, type Cell } from '../report/table.js';
import { readVolume, writeFileAtomic, writeVolume, type Volume } from '../volume/index.js';
import {
  cohortMapPath,
  readSubjectRegions,
  subjectFolder,
  subjectMapPath,
  type Group,
} from './derivatives.js';
import {
  aggregateRegions,
  benjaminiHochberg,
  normalizeToMax,
  permutationTest,
  shareOfTotal,
} from './stats.js';
import { join } from 'node:path';

export interface CohortRegionRow {
  sigmaMm: number;
  rank: number;
  index: number;
  name: string;
  hemisphere: string;
  score: number;
  sd: number;
  ciLow: number;
  ciHigh: number;
  top10Fraction: number;
  centreMm: [number, number, number];
  n: number;
  /** With a control group: mean shares of the subjects' evidence (shareOfTotal), share − controlShare. */
  control?: {
    /** The control group's `score` (max-normalized, as the ranking). */
    score: number;
    share: number;
    controlShare: number;
    difference: number;
    p: number;
    q: number;
    n: number;
  };
}

export interface CohortOutputsOptions {
  sigmaMm: readonly number[];
  /** Ids of finished subjects. */
  cohort: readonly string[];
  control: readonly string[];
  bootstrap?: number;
  permutations?: number;
  seed?: number;
}

export const COHORT_REGION_COLUMNS = [
  ...RANKED_REGION_COLUMNS,
  'sd',
  'ci_low',
  'ci_high',
  'top10_fraction',
  'centre_x_mm',
  'centre_y_mm',
  'centre_z_mm',
  'n_subjects',
];
const CONTROL_COLUMNS = [
  'control_score',
  'share',
  'control_share',
  'difference',
  'p',
  'q',
  'n_control',
];

/**
 * Reads one of a finished subject's files. One that cannot be read (truncated on disk, deleted)
 * would fail every rerun, since the subject counts as done: the message says how to redo it.
 */
async function subjectFile<T>(
  out: string,
  id: string,
  group: Group,
  read: () => Promise<T>,
): Promise<T> {
  try {
    return await read();
  } catch (e) {
    const folder = subjectFolder(out, id, group);
    throw new Glas3dError(
      `${e instanceof Error ? e.message.replace(/\.$/, '') : String(e)}; this file of a finished subject is damaged or gone: delete ${folder} and rerun glas3d run with the same --out (that subject is explained again, the others are kept).`,
    );
  }
}

/**
 * The atlas's regions that have a voxel on the model grid (`onGrid`: atlasOnGrid of the atlas):
 * the ones subjects are explained on. A region the grid loses is not ranked (it would read as a
 * score of 0, "no evidence"); the regions keep the atlas's own centres, so results on the
 * standard grids do not change.
 */
export function rankedAtlas(atlas: Atlas, onGrid: Atlas): Atlas {
  const lost = new Set(regionsLost(atlas, onGrid));
  return { ...atlas, regions: atlas.regions.filter((r) => !lost.has(r)) };
}

/** Per σ: each subject's region scores (atlas order), raw. */
async function subjectScores(
  out: string,
  ids: readonly string[],
  group: Group,
  atlas: Atlas,
  sigmaMm: number,
): Promise<Float64Array[]> {
  const order = new Map(atlas.regions.map((r, i) => [r.index, i]));
  const result: Float64Array[] = [];
  for (const id of ids) {
    const rows = (
      await subjectFile(out, id, group, () => readSubjectRegions(out, id, group))
    ).filter((r) => r.sigmaMm === sigmaMm);
    const raw = new Float64Array(atlas.regions.length);
    for (const r of rows) {
      const slot = order.get(r.index);
      if (slot !== undefined) raw[slot] = r.score;
    }
    result.push(raw);
  }
  return result;
}

export async function writeCohortOutputs(
  out: string,
  atlas: Atlas,
  options: CohortOutputsOptions,
): Promise<{ rows: CohortRegionRow[]; files: string[] }> {
  const rows: CohortRegionRow[] = [];
  const files: string[] = [];
  // Sorted ids: the bootstrap and permutations depend on subject order, which must not depend
  // on how the subjects were found (one run, resumed, or merged shards).
  options = {
    ...options,
    cohort: [...options.cohort].sort(),
    control: [...options.control].sort(),
  };
  for (const sigmaMm of options.sigmaMm) {
    if (options.cohort.length === 0) break;
    const cohort = await subjectScores(out, options.cohort, 'cohort', atlas, sigmaMm);
    // The ranking: each subject's scores divided by its maximum (every subject weighs the same).
    const aggregate = aggregateRegions(cohort.map(normalizeToMax), {
      bootstrap: options.bootstrap,
      seed: options.seed,
    });
    let control: CohortRegionRow['control'][] | undefined;
    if (options.control.length > 0) {
      // The comparison: shares of each subject's evidence, which pin no region (shareOfTotal).
      const shares = cohort.map(shareOfTotal);
      const ctrlScores = await subjectScores(out, options.control, 'control', atlas, sigmaMm);
      const ctrlMean = aggregateRegions(ctrlScores.map(normalizeToMax), { bootstrap: 1 });
      const ctrl = ctrlScores.map(shareOfTotal);
      const test = permutationTest(shares, ctrl, {
        permutations: options.permutations,
        seed: options.seed,
      });
      const q = benjaminiHochberg(test.p);
      const mean = (group: Float64Array[], i: number) =>
        group.reduce((s, subject) => s + subject[i], 0) / group.length;
      control = atlas.regions.map((_, i) => ({
        score: ctrlMean[i].mean,
        share: mean(shares, i),
        controlShare: mean(ctrl, i),
        difference: test.difference[i],
        p: test.p[i],
        q: q[i],
        n: ctrl.length,
      }));
    }
    const forSigma = atlas.regions.map((r, i): CohortRegionRow => ({
      sigmaMm,
      rank: 0,
      index: r.index,
      name: r.name,
      hemisphere: r.hemisphere,
      score: aggregate[i].mean,
      sd: aggregate[i].sd,
      ciLow: aggregate[i].ciLow,
      ciHigh: aggregate[i].ciHigh,
      top10Fraction: aggregate[i].topKFraction,
      centreMm: r.centreMm,
      n: aggregate[i].n,
      control: control?.[i],
    }));
    forSigma.sort((a, b) => b.score - a.score || a.index - b.index);
    forSigma.forEach((row, k) => (row.rank = k + 1));
    rows.push(...forSigma);

    for (const [group, ids] of [
      ['cohort', options.cohort],
      ['control', options.control],
    ] as const) {
      if (ids.length === 0) continue;
      const path = cohortMapPath(out, sigmaMm, group);
      await writeVolume(path, await integrateMaps(out, ids, group, sigmaMm), {
        description: `glas3d cohort map sigma=${sigmaMm}mm n=${ids.length}`,
      });
      files.push(path);
    }
  }
  const withControl = options.control.length > 0;
  const table: Cell[][] = [[...COHORT_REGION_COLUMNS, ...(withControl ? CONTROL_COLUMNS : [])]];
  for (const r of rows) {
    table.push([
      r.sigmaMm,
      r.rank,
      r.index,
      r.name,
      r.hemisphere,
      r.score,
      r.sd,
      r.ciLow,
      r.ciHigh,
      r.top10Fraction,
      ...r.centreMm.map((v) => Number(v.toFixed(2))),
      r.n,
      ...(withControl && r.control
        ? [
            r.control.score,
            r.control.share,
            r.control.controlShare,
            r.control.difference,
            r.control.p,
            r.control.q,
            r.control.n,
          ]
        : []),
    ]);
  }
  const regionsPath = join(out, 'regions.csv');
  await writeFileAtomic(regionsPath, formatDelimited(table));
  files.unshift(regionsPath);
  return { rows, files };
}

/** Σ_s S_s / max(S_s), then divided by its own maximum. Streams: one map in memory at a time. */
async function integrateMaps(
  out: string,
  ids: readonly string[],
  group: Group,
  sigmaMm: number,
): Promise<Volume> {
  let sum: Float64Array | undefined;
  let grid: Volume | undefined;
  for (const id of ids) {
    const map = await subjectFile(out, id, group, () =>
      readVolume(subjectMapPath(out, id, group, sigmaMm)),
    );
    sum ??= new Float64Array(map.data.length);
    grid ??= map;
    let max = 0;
    for (let o = 0; o < map.data.length; o++) if (map.data[o] > max) max = map.data[o];
    if (max > 0) for (let o = 0; o < map.data.length; o++) sum[o] += map.data[o] / max;
  }
  let max = 0;
  for (let o = 0; o < sum!.length; o++) if (sum![o] > max) max = sum![o];
  const data = new Float32Array(sum!.length);
  if (max > 0) for (let o = 0; o < data.length; o++) data[o] = sum![o] / max;
  return { dims: grid!.dims, affine: grid!.affine, xformCode: grid!.xformCode, data };
}
