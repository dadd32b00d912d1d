/**
 * A label atlas: an integer label volume, the names of its regions, and per-region geometry
 * (size, centre of mass, a search point guaranteed to lie inside the region, hemisphere).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AtlasError } from '../errors.js';
import { applyAffine, type Vec3 } from '../volume/affine.js';
import {
  positionUnknown,
  positionUnknownText,
  readVolume,
  voxelToMm,
  type Volume,
} from '../volume/volume.js';
import { labelCensus, nearestLabelledVoxels } from './census.js';
import { hemisphereOf, type Hemisphere } from './hemisphere.js';
import { checkNamesAgainstLabels, readNames, type NameEntry, type NamesTable } from './names.js';
import { packageRoot } from './package-root.js';

export interface Region {
  /** The label value in the atlas volume. */
  index: number;
  name: string;
  /** From the name when it states a side, else from the sign of the centre's x (mm). */
  hemisphere: Hemisphere;
  voxels: number;
  volumeMm3: number;
  /** Centre of mass in world mm (RAS+). */
  centreMm: Vec3;
  /** Centre of mass in continuous voxel coordinates. */
  centreVoxel: Vec3;
  /** A point inside the region: the centre of mass itself when the voxel holding it carries
   *  the label, else the region's voxel nearest (in mm) to the centre. */
  searchPointMm: Vec3;
  /** The search point in continuous voxel coordinates (whole numbers for a nearest voxel). */
  searchPointVoxel: [number, number, number];
  /** Whether the voxel nearest the centre of mass carries this region's label. */
  centreInside: boolean;
}

export interface AtlasSource {
  /** The label image (a path, or a description for atlases built in memory). */
  labels: string;
  /** The names file, when there was one. */
  names?: string;
}

export interface Atlas {
  name: string;
  /** Integer labels, 0 = background. */
  labels: Volume;
  /** One per label present in `labels`, ascending by index. */
  regions: Region[];
  /** Path of a template image in the atlas's space (for AAL, Colin27 `ch2bet`); it may be on
   *  another grid than `labels` after `atlasOnGrid`. */
  template?: string;
  source: AtlasSource;
  /** What was left out or changed while building the atlas (names without voxels, …). */
  notes: string[];
}

export interface AtlasMeta {
  name?: string;
  source?: AtlasSource;
  template?: string;
}

/**
 * Build an atlas from a label volume and names. Labels with voxels but no name are an
 * AtlasError; names without voxels are dropped with a note in `atlas.notes`.
 *
 * Cost: one pass over the volume for counts and centres, then one more pass only when some
 * region's centre of mass falls outside it (to find its nearest inside voxel).
 */
export function atlasFromVolume(
  labels: Volume,
  names: NamesTable | readonly Pick<NameEntry, 'index' | 'name'>[],
  meta: AtlasMeta = {},
): Atlas {
  const source = meta.source ?? { labels: '(labels in memory)' };
  const table: NamesTable = Array.isArray(names)
    ? {
        source: source.names ?? '(names in memory)',
        format: 'whitespace',
        entries: names.map((e, i) => ({ index: e.index, name: e.name, line: i + 1 })),
        notes: [],
      }
    : (names as NamesTable);
  const census = labelCensus(labels, source.labels);
  const check = checkNamesAgainstLabels(table, census.voxels, source.labels);
  return {
    name: meta.name ?? 'atlas',
    labels,
    regions: regionsFromCensus(labels, check.kept, census),
    template: meta.template,
    source,
    notes: check.notes,
  };
}

/** The geometry of every named region, given the census of the label volume. */
function regionsFromCensus(
  labels: Volume,
  entries: readonly NameEntry[],
  census: ReturnType<typeof labelCensus>,
): Region[] {
  const [nx, ny, nz] = labels.dims;
  const a = labels.affine;
  const voxelMm3 = Math.abs(
    a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) -
      a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
      a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]),
  );
  const regions: Region[] = [];
  const outside = new Map<number, Vec3>();
  for (const e of entries) {
    const voxels = census.voxels.get(e.index) ?? 0;
    const centreVoxel = census.centreVoxel.get(e.index) as Vec3;
    const centreMm = voxelToMm(labels, centreVoxel);
    // The centre of mass lies in the bounding box of the region, so its nearest voxel is in
    // the grid; clamp anyway against rounding at the edges.
    const near: [number, number, number] = [
      clamp(Math.round(centreVoxel[0]), nx),
      clamp(Math.round(centreVoxel[1]), ny),
      clamp(Math.round(centreVoxel[2]), nz),
    ];
    const centreInside = labels.data[near[0] + nx * (near[1] + ny * near[2])] === e.index;
    if (!centreInside) outside.set(e.index, centreVoxel);
    regions.push({
      index: e.index,
      name: e.name,
      hemisphere: hemisphereOf(e.name, centreMm[0]),
      voxels,
      volumeMm3: voxels * voxelMm3,
      centreMm,
      centreVoxel,
      // The centre itself, not its voxel: snapping would move it by up to half a voxel, and
      // a centre halfway between voxels would snap differently in LAS and RAS storage.
      searchPointMm: centreMm,
      searchPointVoxel: [...centreVoxel],
      centreInside,
    });
  }
  if (outside.size > 0) {
    const nearest = nearestLabelledVoxels(labels, outside);
    for (const r of regions) {
      const ijk = nearest.get(r.index);
      if (r.centreInside || !ijk) continue;
      r.searchPointVoxel = ijk;
      r.searchPointMm = applyAffine(a, ijk);
    }
  }
  return regions;
}

function clamp(i: number, n: number): number {
  return Math.min(Math.max(i, 0), n - 1);
}

export interface LoadAtlasOptions {
  /** Names file; default: a sibling of the label image (`X.nii.txt`, `X.txt`, `X.tsv`,
   *  `X.csv` for `X.nii[.gz]`). */
  names?: string;
  /** Atlas name (default: the file name without extension). */
  name?: string;
  /** Template image in the atlas's space. */
  template?: string;
}

/**
 * Load an atlas from a label image and its names file. `"aal"` (any case) loads the AAL atlas
 * shipped with the package, unless a file of that name exists.
 */
export async function loadAtlas(
  pathOrName: string,
  options: LoadAtlasOptions = {},
): Promise<Atlas> {
  if (options.template !== undefined && !existsSync(options.template))
    throw new AtlasError(`${options.template}: no such template file.`);
  if (pathOrName.toLowerCase() === 'aal' && !existsSync(pathOrName)) {
    const aal = await loadAal(options.names ? { names: options.names } : {});
    return options.template ? { ...aal, template: options.template } : aal;
  }
  const path = pathOrName;
  if (!existsSync(path)) {
    throw new AtlasError(
      `${path}: no such file, and not the name of a built-in atlas (built in: aal).`,
    );
  }
  const namesPath = options.names ?? findNamesFile(path);
  const [labels, names] = await Promise.all([readVolume(path), readNames(namesPath)]);
  if (labels.source.volumes > 1) {
    throw new AtlasError(
      `${path}: the image has ${labels.source.volumes} volumes; a label atlas is one 3-D volume of integer labels (probabilistic 4-D atlases are not supported).`,
    );
  }
  // Placed by voxel size alone, the labels would land nowhere near any data: refuse, saying why.
  if (positionUnknown(labels))
    throw new AtlasError(
      `${positionUnknownText(path)} A label atlas must be placed in its template's space.`,
    );
  const volume: Volume = {
    dims: labels.dims,
    affine: labels.affine,
    xformCode: labels.xformCode,
    data: labels.data,
  };
  return atlasFromVolume(volume, names, {
    name: options.name ?? stem(path),
    source: { labels: path, names: namesPath },
    template: options.template,
  });
}

/** Where the AAL atlas shipped with the package lives (`atlases/aal/` under the package root). */
export function aalDir(): string {
  return join(packageRoot(), 'atlases', 'aal');
}

/**
 * The AAL atlas (Tzourio-Mazoyer et al. 2002) as MRIcron distributes it: 116 regions on the
 * Colin27 grid (181×217×181, 1 mm), with Colin27 `ch2bet` as template.
 */
export async function loadAal(options: { names?: string } = {}): Promise<Atlas> {
  const dir = aalDir();
  return loadAtlas(join(dir, 'aal.nii.gz'), {
    names: options.names ?? join(dir, 'aal.nii.txt'),
    name: 'aal',
    template: join(dir, 'ch2bet.nii.gz'),
  });
}

function stem(path: string): string {
  const base = path.split(/[\\/]/).pop() ?? path;
  return base.replace(/\.nii(\.gz)?$/i, '');
}

function findNamesFile(path: string): string {
  const base = path.replace(/\.nii(\.gz)?$/i, '');
  const candidates = [`${base}.nii.txt`, `${base}.txt`, `${base}.tsv`, `${base}.csv`];
  const found = candidates.find((c) => existsSync(c));
  if (!found) {
    throw new AtlasError(
      `${path}: no names file found next to the label image (looked for ${candidates.join(', ')}); give one explicitly (CLI: --names FILE).`,
    );
  }
  return found;
}
