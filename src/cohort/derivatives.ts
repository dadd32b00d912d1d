/**
 * The run's output folder, BIDS-derivatives style:
 *   dataset_description.json, regions.csv, cohort_desc-glas_sigma-<σ>_saliency.nii.gz, errors.tsv
 *   sub-<id>/sub-<id>_desc-glas_sigma-<σ>_saliency.nii.gz
 *   sub-<id>/sub-<id>_desc-glas_regions.tsv
 *   sub-<id>/sub-<id>_desc-glas.json      ← written last: the subject is done
 *   control/sub-<id>/…                    ← the control group, same layout
 * Per-subject tables keep full float precision, so cohort outputs computed from the files are
 * the same whether they come from one run, a resumed run or merged shards.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Hemisphere } from '../atlas/index.js';
import type { Explanation } from '../explain/explain-volume.js';
import { formatNumber } from '../report/table.js';
import { writeFileAtomic, writeVolume } from '../volume/index.js';

export type Group = 'cohort' | 'control';

export const subjectFolder = (out: string, id: string, group: Group): string =>
  group === 'control' ? join(out, 'control', `sub-${id}`) : join(out, `sub-${id}`);

export const sigmaLabel = (sigmaMm: number): string => formatNumber(sigmaMm).replace('.', 'p');

export const subjectMapPath = (out: string, id: string, group: Group, sigmaMm: number): string =>
  join(
    subjectFolder(out, id, group),
    `sub-${id}_desc-glas_sigma-${sigmaLabel(sigmaMm)}_saliency.nii.gz`,
  );

export const subjectRegionsPath = (out: string, id: string, group: Group): string =>
  join(subjectFolder(out, id, group), `sub-${id}_desc-glas_regions.tsv`);

export const subjectSidecarPath = (out: string, id: string, group: Group): string =>
  join(subjectFolder(out, id, group), `sub-${id}_desc-glas.json`);

export const cohortMapPath = (out: string, sigmaMm: number, group: Group = 'cohort'): string =>
  join(
    out,
    `${group === 'control' ? 'control_' : ''}cohort_desc-glas_sigma-${sigmaLabel(sigmaMm)}_saliency.nii.gz`,
  );

export interface SubjectSidecar {
  subject: string;
  group: Group;
  /** The subject's scan (resolved path) and the sha256 of its bytes: a rerun reuses the
   * subject only when both still match (the same file, unchanged). */
  source: string;
  sourceSha256?: string;
  /** Fingerprint of everything that determines the result; a mismatch means redo. */
  fingerprint: string;
  targetClass: number;
  probability: number;
  probabilities: number[];
  sigmaMm: number[];
  resampled: boolean;
  templateCorrelation?: number;
  forwardPasses: number;
  timing: { totalMs: number; modelMs: number; prepareMs: number };
  [key: string]: unknown;
}

const REGION_TSV_COLUMNS = [
  'sigma_mm',
  'index',
  'name',
  'hemisphere',
  'score',
  'region_mean',
  'f_light',
  'f_shadow',
  'shadow_delta',
  'search_x_mm',
  'search_y_mm',
  'search_z_mm',
];

/** Round-trip precision: the shortest text that reads back as the same double. */
const exact = (x: number) =>
  Number.isFinite(x) ? String(x) : Number.isNaN(x) ? 'NaN' : x > 0 ? 'Inf' : '-Inf';

/** Write a subject's maps and table, then its sidecar last (the done marker). */
export async function writeSubject(
  out: string,
  id: string,
  group: Group,
  explanation: Explanation,
  sidecar: SubjectSidecar,
): Promise<void> {
  // Gzipped on libuv's thread pool: written together, the maps compress in parallel.
  await Promise.all(
    explanation.maps.map((m) =>
      writeVolume(subjectMapPath(out, id, group, m.sigmaMm), m.saliency, {
        description: `glas3d ${explanation.mode} sigma=${m.sigmaMm}mm`,
      }),
    ),
  );
  const lines = [REGION_TSV_COLUMNS.join('\t')];
  for (const m of explanation.maps) {
    // Atlas order (not ranked), so every subject's table lines up row by row.
    const rows = [...m.regions].sort((a, b) => a.index - b.index);
    for (const r of rows) {
      lines.push(
        [
          exact(m.sigmaMm),
          r.index,
          r.name,
          r.hemisphere,
          exact(r.score),
          exact(r.regionMean),
          exact(r.light),
          exact(r.shadow),
          exact(r.shadowDelta),
          ...r.searchPointMm.map(exact),
        ].join('\t'),
      );
    }
  }
  await writeFileAtomic(subjectRegionsPath(out, id, group), lines.join('\n') + '\n');
  await writeFileAtomic(
    subjectSidecarPath(out, id, group),
    JSON.stringify(sidecar, null, 2) + '\n',
  );
}

/** The sidecar of a finished subject, or undefined when the subject is not done. */
export async function readSidecar(
  out: string,
  id: string,
  group: Group,
): Promise<SubjectSidecar | undefined> {
  const path = subjectSidecarPath(out, id, group);
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(await readFile(path, 'utf8')) as SubjectSidecar;
  } catch {
    return undefined; // unreadable: treat as not done, it will be redone
  }
}

export interface SubjectRegionRow {
  sigmaMm: number;
  index: number;
  name: string;
  hemisphere: Hemisphere;
  score: number;
  /** f_l; NaN in shadow mode. */
  light: number;
  /** f_s; NaN in light mode. */
  shadow: number;
  shadowDelta: number;
  searchPointMm: [number, number, number];
}

export async function readSubjectRegions(
  out: string,
  id: string,
  group: Group,
): Promise<SubjectRegionRow[]> {
  const text = await readFile(subjectRegionsPath(out, id, group), 'utf8');
  const [head, ...lines] = text.trim().split('\n');
  const col = Object.fromEntries(head.split('\t').map((h, i) => [h, i]));
  return lines.map((line) => {
    const c = line.split('\t');
    return {
      sigmaMm: Number(c[col.sigma_mm]),
      index: Number(c[col.index]),
      name: c[col.name],
      hemisphere: c[col.hemisphere] as Hemisphere,
      score: Number(c[col.score]),
      light: Number(c[col.f_light]),
      shadow: Number(c[col.f_shadow]),
      shadowDelta: Number(c[col.shadow_delta]),
      searchPointMm: [
        Number(c[col.search_x_mm]),
        Number(c[col.search_y_mm]),
        Number(c[col.search_z_mm]),
      ],
    };
  });
}

/** Remove temporary files a killed run left behind (they never look complete: `.name.hex.tmp`). */
export async function removeStaleTemporaries(dir: string): Promise<number> {
  if (!existsSync(dir)) return 0;
  let removed = 0;
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  for (const e of entries) {
    if (e.isFile() && /^\..+\.[0-9a-f]{12}\.tmp$/.test(e.name)) {
      await unlink(join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)).catch(
        () => undefined,
      );
      removed++;
    }
  }
  return removed;
}

/**
 * Whether a finished subject's sidecar names this very file, with the same bytes: the rule by
 * which a rerun reuses a subject and merge counts one. An unreadable file (a missing symlink
 * target) is not the same: its turn reports why.
 */
export async function sameSource(
  sidecar: SubjectSidecar,
  path: string,
  hashOf: (path: string) => Promise<string | undefined>,
): Promise<boolean> {
  if (sidecar.source !== resolve(path) || typeof sidecar.sourceSha256 !== 'string') return false;
  return (await hashOf(path).catch(() => undefined)) === sidecar.sourceSha256;
}
