/**
 * A synthetic AD/NC cohort on disk, with its ground truth:
 *
 *   outDir/ad/sub-ad001.nii.gz …   AD subjects (planted atrophy + age-like atrophy)
 *   outDir/nc/sub-nc001.nii.gz …   normal controls (age-like atrophy only)
 *   outDir/participants.tsv        one row per subject: group, age-like regions, severities
 *   outDir/truth.json              planted regions, generator parameters, every subject's draws
 *
 * The same seed gives byte-identical files (gzip headers carry no time stamp; every draw comes
 * from seeded streams). participants.tsv and truth.json are written last: a cohort without
 * truth.json is incomplete.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { packageRoot } from '../atlas/index.js';
import { OptionError } from '../errors.js';
import { formatDelimited, type Cell } from '../report/table.js';
import { encodeNifti1, writeFileAtomic, type NiftiDatatype } from '../volume/index.js';
import { regionShapes, type RegionShape } from './atrophy.js';
import { DEFAULT_ATROPHY_REGIONS, resolveRegions } from './regions.js';
import {
  DEFAULT_SYNTH_PARAMETERS,
  planSubject,
  renderSubject,
  type AtrophyOutcome,
  type AtrophyRegions,
  type Group,
  type SynthParameters,
  type SynthSubject,
} from './subject.js';
import { loadSynthTemplate, type SynthGridName, type SynthTemplate } from './template.js';

const gzipAsync = promisify(gzip);

/** Bumped whenever the same seed would give different images. */
export const SYNTH_VERSION = 1;

export interface SynthesizeCohortOptions {
  outDir: string;
  nAd: number;
  nNc: number;
  seed: number;
  /** AAL names of the regions AD subjects lose tissue in (default DEFAULT_ATROPHY_REGIONS). */
  atrophy?: readonly string[];
  grid?: SynthGridName;
  /** Stored datatype (default int16: white matter ≈ 1000, half the size of float32). */
  datatype?: 'int16' | 'float32';
  /** Override some of DEFAULT_SYNTH_PARAMETERS. */
  parameters?: Partial<SynthParameters>;
  /** Write into a non-empty outDir, replacing a previous cohort's files. */
  overwrite?: boolean;
  onProgress?: (done: number, total: number) => void;
}

/** One subject as truth.json records it. */
export interface SubjectRecord {
  id: string;
  group: Group;
  /** Relative to outDir. */
  path: string;
  seed: number;
  scale: number;
  maxDisplacementMm: number;
  biasAmplitude: number;
  noiseFraction: number;
  gain: number;
  csfFraction: number;
  atrophy: AtrophyOutcome[];
}

export interface PlantedRegion {
  index: number;
  name: string;
  hemisphere: string;
  /** On the output grid. */
  voxels: number;
  volumeMm3: number;
  centreMm: number[];
}

export interface CohortTruth {
  generator: 'glas3d synth';
  version: number;
  glas3dVersion: string;
  seed: number;
  grid: { name: SynthGridName; dims: number[]; affine: number[][]; xformCode: 4 };
  datatype: 'int16' | 'float32';
  template: string;
  atlas: string;
  whiteMatterTemplate: number;
  planted: PlantedRegion[];
  parameters: SynthParameters;
  counts: { AD: number; NC: number };
  subjects: SubjectRecord[];
}

export interface CohortResult {
  outDir: string;
  participants: string;
  truth: string;
  subjects: SubjectRecord[];
  /** Wall time per subject, generation and writing, seconds. */
  secondsPerSubject: number;
}

/** Generate the cohort and write it (see the module comment for the layout). */
export async function synthesizeCohort(options: SynthesizeCohortOptions): Promise<CohortResult> {
  const params = checkOptions(options);
  const template = await loadSynthTemplate(options.grid ?? 'mni2mm');
  const regions = atrophyRegions(template, options.atrophy ?? DEFAULT_ATROPHY_REGIONS, params);
  await prepareOutDir(options);
  const started = Date.now();
  const width = Math.max(3, String(Math.max(options.nAd, options.nNc)).length);
  const plan: { group: Group; number: number }[] = [
    ...range(options.nAd).map((n) => ({ group: 'AD' as const, number: n })),
    ...range(options.nNc).map((n) => ({ group: 'NC' as const, number: n })),
  ];
  const datatype = options.datatype ?? 'int16';
  const records: SubjectRecord[] = [];
  let pending: Promise<void> | undefined;
  try {
    for (const [done, p] of plan.entries()) {
      const subject = renderSubject(
        template,
        planSubject(template, regions, params, options.seed, p.group, p.number, width),
        params,
      );
      // Compression runs on libuv's pool while the next subject is computed.
      await pending;
      const record = subjectRecord(subject);
      pending = writeSubject(join(options.outDir, record.path), subject, datatype);
      records.push(record);
      options.onProgress?.(done + 1, plan.length);
    }
    await pending;
  } catch (e) {
    await pending?.catch(() => undefined);
    throw e;
  }
  const truth = cohortTruth(options, params, template, regions, records, datatype);
  const participants = join(options.outDir, 'participants.tsv');
  const truthPath = join(options.outDir, 'truth.json');
  await writeFileAtomic(participants, participantsTsv(truth));
  await writeFileAtomic(truthPath, JSON.stringify(truth, null, 2) + '\n');
  return {
    outDir: options.outDir,
    participants,
    truth: truthPath,
    subjects: records,
    secondsPerSubject: (Date.now() - started) / 1000 / Math.max(1, plan.length),
  };
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

function checkOptions(options: SynthesizeCohortOptions): SynthParameters {
  for (const [key, value] of [
    ['nAd', options.nAd],
    ['nNc', options.nNc],
  ] as const) {
    if (!Number.isInteger(value) || value < 0) {
      throw new OptionError(`${key} ${value}: give a whole number ≥ 0.`);
    }
  }
  if (options.nAd + options.nNc === 0) {
    throw new OptionError('an empty cohort: ask for at least one AD or NC subject.');
  }
  if (!Number.isSafeInteger(options.seed)) {
    throw new OptionError(`seed ${options.seed}: give a whole number.`);
  }
  if (options.datatype && !['int16', 'float32'].includes(options.datatype)) {
    throw new OptionError(`datatype ${options.datatype}: int16 or float32.`);
  }
  return checkParameters(options.parameters);
}

function checkParameters(overrides: Partial<SynthParameters> = {}): SynthParameters {
  const params: SynthParameters = { ...DEFAULT_SYNTH_PARAMETERS, ...overrides };
  for (const [key, value] of Object.entries(params)) {
    const pair = Array.isArray(value) ? value : [value, value];
    if (pair.length !== 2 || !pair.every(Number.isFinite) || pair[0] > pair[1]) {
      throw new OptionError(`parameter ${key} ${JSON.stringify(value)}: give [low, high].`);
    }
  }
  for (const key of ['plantedLoss', 'ageLoss'] as const) {
    const [lo, hi] = params[key];
    if (lo < 0 || hi > 0.5) {
      throw new OptionError(`parameter ${key} [${lo}, ${hi}]: volume losses lie in [0, 0.5].`);
    }
  }
  return params;
}

export interface SynthesizeSubjectOptions {
  seed: number;
  group: Group;
  /** 1-based number within the group: sub-ad003 is AD number 3. */
  number: number;
  atrophy?: readonly string[];
  grid?: SynthGridName;
  parameters?: Partial<SynthParameters>;
}

/**
 * One subject in memory, exactly as `synthesizeCohort` with the same seed, regions and
 * parameters writes it (before rounding to int16), with its deformation (`warp`) so the truth
 * can be measured: e.g. `warpLabels(template.atlas.labels, subject.warp, 'full')`.
 */
export async function synthesizeSubject(options: SynthesizeSubjectOptions): Promise<SynthSubject> {
  if (!Number.isSafeInteger(options.seed)) {
    throw new OptionError(`seed ${options.seed}: give a whole number.`);
  }
  if (!Number.isInteger(options.number) || options.number < 1) {
    throw new OptionError(`number ${options.number}: subjects are numbered from 1.`);
  }
  const params = checkParameters(options.parameters);
  const template = await loadSynthTemplate(options.grid ?? 'mni2mm');
  const regions = atrophyRegions(template, options.atrophy ?? DEFAULT_ATROPHY_REGIONS, params);
  const plan = planSubject(template, regions, params, options.seed, options.group, options.number);
  return renderSubject(template, plan, params);
}

/** Planted regions (resolved by name) and the age-like pool (every other big-enough region). */
export function atrophyRegions(
  template: SynthTemplate,
  names: readonly string[],
  params: SynthParameters,
): AtrophyRegions {
  const regions = template.atlas.regions;
  const named = resolveRegions(names, regions);
  const planted = new Set(named.map((r) => r.index));
  const eligible = regions.filter((r) => planted.has(r.index) || r.voxels >= params.ageMinVoxels);
  const shapes = regionShapes(template.atlas.labels, eligible, params.supportScale);
  const byIndex = new Map(shapes.map((s) => [s.index, s]));
  return {
    // In the order the user named them.
    planted: named.map((r) => byIndex.get(r.index) as RegionShape),
    agePool: shapes.filter((s) => !planted.has(s.index)),
  };
}

async function prepareOutDir(options: SynthesizeCohortOptions): Promise<void> {
  const { outDir } = options;
  if (!existsSync(outDir)) return;
  const entries = await readdir(outDir);
  if (entries.length === 0) return;
  if (!options.overwrite) {
    throw new OptionError(
      `${outDir} is not empty; choose a new folder, or replace a previous cohort there (library: overwrite: true; CLI: --overwrite).`,
    );
  }
  // Subjects of a bigger previous cohort must not linger next to the new one.
  for (const group of ['ad', 'nc']) {
    const dir = join(outDir, group);
    if (!existsSync(dir)) continue;
    for (const name of await readdir(dir)) {
      if (/^sub-(ad|nc)\d+\.nii\.gz$/.test(name)) await unlink(join(dir, name));
    }
  }
}

function subjectRecord(subject: SynthSubject): SubjectRecord {
  const { plan } = subject;
  return {
    id: plan.id,
    group: plan.group,
    path: `${plan.group.toLowerCase()}/${plan.id}.nii.gz`,
    seed: plan.seed,
    scale: plan.anatomy.scale,
    maxDisplacementMm: plan.anatomy.maxDisplacementMm,
    biasAmplitude: plan.bias.amplitude,
    noiseFraction: plan.noiseFraction,
    gain: plan.gain,
    csfFraction: plan.csfFraction,
    atrophy: subject.atrophy,
  };
}

async function writeSubject(
  path: string,
  subject: SynthSubject,
  datatype: NiftiDatatype,
): Promise<void> {
  const encoded = encodeNifti1({
    dims: subject.volume.dims,
    affine: subject.volume.affine,
    data: subject.volume.data,
    datatype,
    description: `glas3d synth v${SYNTH_VERSION} ${subject.plan.id}`,
    xformCode: 4,
  });
  // Same settings as writeVolume; zlib writes no time stamp (MTIME 0) in the gzip header.
  await writeFileAtomic(path, await gzipAsync(encoded, { level: 6 }));
}

function glas3dVersion(): string {
  try {
    const manifest = join(packageRoot(), 'package.json');
    return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));

function cohortTruth(
  options: SynthesizeCohortOptions,
  params: SynthParameters,
  template: SynthTemplate,
  regions: AtrophyRegions,
  subjects: SubjectRecord[],
  datatype: 'int16' | 'float32',
): CohortTruth {
  const byIndex = new Map(template.atlas.regions.map((r) => [r.index, r]));
  return {
    generator: 'glas3d synth',
    version: SYNTH_VERSION,
    glas3dVersion: glas3dVersion(),
    seed: options.seed,
    grid: {
      name: template.gridName,
      dims: [...template.grid.dims],
      affine: template.grid.affine.map((r) => r.slice()),
      xformCode: 4,
    },
    datatype,
    template: 'Colin27 ch2bet (atlases/aal/ch2bet.nii.gz), anti-aliased onto the grid',
    atlas: 'AAL (atlases/aal/aal.nii.gz), nearest onto the grid',
    whiteMatterTemplate: round(template.whiteMatter, 4),
    planted: regions.planted.map((s) => {
      const r = byIndex.get(s.index);
      return {
        index: s.index,
        name: s.name,
        hemisphere: r?.hemisphere ?? '',
        voxels: s.voxels,
        volumeMm3: r?.volumeMm3 ?? 0,
        centreMm: s.centreMm.map((x) => round(x, 2)),
      };
    }),
    parameters: params,
    counts: { AD: options.nAd, NC: options.nNc },
    subjects,
  };
}

/**
 * participants.tsv: participant_id, group (AD/NC), path, age_atrophy (`Name:loss` pairs joined
 * by `;`, `n/a` when none), then one column per planted region holding the fraction of its
 * volume the subject lost (0 for NC).
 */
export function participantsTsv(truth: CohortTruth): string {
  const header: Cell[] = [
    'participant_id',
    'group',
    'path',
    'age_atrophy',
    ...truth.planted.map((r) => r.name),
  ];
  const rows: Cell[][] = truth.subjects.map((s) => {
    const age = s.atrophy.filter((a) => a.kind === 'age');
    const planted = new Map(
      s.atrophy.filter((a) => a.kind === 'planted').map((a) => [a.index, a.targetLoss]),
    );
    return [
      s.id,
      s.group,
      s.path,
      age.length > 0 ? age.map((a) => `${a.name}:${a.targetLoss}`).join(';') : 'n/a',
      ...truth.planted.map((r) => planted.get(r.index) ?? 0),
    ];
  });
  return formatDelimited([header, ...rows], '\t');
}
