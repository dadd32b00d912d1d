/**
 * The files `glas3d explain` writes: one saliency NIfTI per σ on the volume's grid,
 * `regions.csv` (ranked per σ) and `explanation.json` (parameters, probabilities, timings).
 * Each file is written atomically (temp name, then rename).
 */
import { basename, join } from 'node:path';
import type { Explanation, RegionScore } from '../explain/explain-volume.js';
import { writeFileAtomic, writeVolume } from '../volume/index.js';
import { formatNumber, formatDelimited, type Cell } from './table.js';

/**
 * The leading columns of both ranked region tables, the regions.csv of `explain` and of a
 * cohort: the viewer reads either file's rows the same way.
 */
export const RANKED_REGION_COLUMNS = [
  'sigma_mm',
  'rank',
  'index',
  'name',
  'hemisphere',
  'score',
] as const;

export const REGION_COLUMNS = [
  ...RANKED_REGION_COLUMNS,
  'region_mean',
  'f_light',
  'f_shadow',
  'shadow_delta',
  'search_x_mm',
  'search_y_mm',
  'search_z_mm',
] as const;

export const saliencyFileName = (sigmaMm: number, suffix = ''): string =>
  `saliency_sigma-${formatNumber(sigmaMm)}${suffix}.nii.gz`;

export function regionRows(sigmaMm: number, regions: readonly RegionScore[]): Cell[][] {
  return regions.map((r) => [
    sigmaMm,
    r.rank,
    r.index,
    r.name,
    r.hemisphere,
    r.score,
    r.regionMean,
    r.light,
    r.shadow,
    r.shadowDelta,
    ...r.searchPointMm.map((v) => Number(v.toFixed(2))),
  ]);
}

export interface WrittenFiles {
  saliency: string[];
  regions: string;
  summary: string;
  recursive: string[];
}

export async function writeExplanation(
  outDir: string,
  explanation: Explanation,
  extra: Record<string, unknown> = {},
): Promise<WrittenFiles> {
  // Maps are gzipped on libuv's thread pool: written together, they compress in parallel.
  const writes: Promise<void>[] = [];
  const saliency = explanation.maps.map((m) => {
    const path = join(outDir, saliencyFileName(m.sigmaMm));
    writes.push(
      writeVolume(path, m.saliency, {
        description: `glas3d ${explanation.mode} sigma=${m.sigmaMm}mm`,
      }),
    );
    return path;
  });
  const recursive: string[] = [];
  if (explanation.recursive) {
    const r = explanation.recursive;
    const volumes = [...r.passes, r.accumulated];
    volumes.forEach((volume, p) => {
      const suffix = p < r.passes.length ? `_pass-${p + 1}` : '_recursive';
      const path = join(outDir, saliencyFileName(r.sigmaMm, suffix));
      writes.push(writeVolume(path, volume));
      recursive.push(path);
    });
  }
  await Promise.all(writes);
  const rows: Cell[][] = [[...REGION_COLUMNS]];
  for (const m of explanation.maps) rows.push(...regionRows(m.sigmaMm, m.regions));
  const regions = join(outDir, 'regions.csv');
  await writeFileAtomic(regions, formatDelimited(rows));
  const summary = join(outDir, 'explanation.json');
  const { maps, recursive: rec, ...rest } = explanation;
  await writeFileAtomic(
    summary,
    JSON.stringify(
      {
        ...extra,
        ...rest,
        sigmaMm: maps.map((m) => m.sigmaMm),
        recursive: rec ? { passes: rec.passes.length, stopReason: rec.stopReason } : undefined,
        files: {
          saliency: saliency.map((p) => basename(p)),
          regions: 'regions.csv',
          recursive: recursive.map((p) => basename(p)),
        },
      },
      null,
      2,
    ) + '\n',
  );
  return { saliency, regions, summary, recursive };
}
