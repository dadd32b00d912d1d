/**
 * `runCohort`: explain every subject of a cohort (and of a control group), resumably, one
 * subject at a time, then rank the regions across subjects. Nothing is lost: each file is
 * written atomically, a subject's sidecar is written last and marks it done, a failing subject
 * is recorded in errors.tsv while the rest go on, and a rerun skips what is done.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { readFile, readdir, unlink } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { atlasOnGrid, loadAtlas } from '../atlas/index.js';
import { Glas3dError, OptionError } from '../errors.js';
import { BASELINE_KINDS, type BaselineSpec } from '../explain/baselines.js';
import { BatchDependenceError, OutputWriteError } from '../errors.js';
import { DEFAULT_SIGMA_MM, explain, missingRegionWarnings } from '../explain/explain-volume.js';
import type { GlasMode } from '../glas3d/index.js';
import {
  type InGraphOnnxClassifier,
  type PerturbationSite,
  type AxisOrder,
  type Device,
  type DeviceChoice,
  type GridAxes,
  type Layout,
  type OnnxClassifier,
} from '../model/index.js';
import { loadClassifiers } from '../model/combined-model.js';
import type { Activation } from '../model/activation.js';
import { formatDelimited } from '../report/table.js';
import {
  MNI_GRIDS,
  readFailure,
  readVolume,
  resample,
  sameGrid,
  writeFileAtomic,
  type Grid,
  type IntensityNormalization,
  type Volume,
} from '../volume/index.js';
import { rankedAtlas, writeCohortOutputs, type CohortRegionRow } from './cohort-outputs.js';
import { lockOutput } from './out-lock.js';
import {
  readSidecar,
  removeStaleTemporaries,
  sameSource,
  writeSubject,
  type Group,
  type SubjectSidecar,
} from './derivatives.js';
import {
  checkGroupOptions,
  checkOneSpace,
  discoverSubjects,
  idFromFileName,
  isInside,
  parseSpace,
  shardOf,
  type DiscoverOptions,
  type Subject,
} from './subjects.js';
import {
  SubjectError,
  modelGrid,
  prepareSubject,
  templateReference,
  type TemplateReference,
} from './template-space.js';

export interface RunOptions {
  cohort: string;
  control?: string;
  out: string;
  model: string;
  atlas?: string;
  names?: string;
  /** T1 template in the atlas's space (default: the atlas's own, Colin27 for AAL). */
  template?: string;
  sigmaMm?: number[];
  mode?: GlasMode;
  /** zero | mean | blur | template | control (the control group's mean) | a volume file. */
  baseline?: string;
  /** Class to explain; default 1 for two-class models (the positive class, e.g. AD). */
  targetClass?: number;
  layout?: Layout;
  axes?: AxisOrder;
  /** cpu (default), cuda, webgpu, or auto (CUDA, then WebGPU, then CPU). */
  device?: DeviceChoice;
  batchSize?: number;
  /** Where perturbed copies are made (see ExplainOptions.perturbation); default by device. */
  perturbation?: PerturbationSite;
  /** Run a quantized model as its float twin (see OnnxClassifierOptions.dequantize). */
  dequantize?: boolean;
  /** How the model's outputs become responses (default 'auto'; 'identity' for a regression). */
  activation?: Activation;
  /** The model output holding the class scores (default: the first float one). */
  outputName?: string;
  normalize?: IntensityNormalization;
  /** A volume on the model's grid, for grids that are not standard MNI ones. */
  grid?: string;
  shard?: { index: number; count: number };
  groupColumn?: string;
  group?: string;
  /** BIDS: the --control participants whose --group-column holds this value (needs --group). */
  controlGroup?: string;
  /**
   * BIDS: explain each participant's T1w in this space (`MNI152NLin6Asym:res-2`: see parseSpace),
   * for the cohort and the control group; needed where a participant has T1w scans in several
   * spaces (an fMRIPrep output), refused for a plain folder.
   */
  space?: string;
  /** Refuse scans that do not line up with the template (default true). */
  checkSpace?: boolean;
  bootstrap?: number;
  permutations?: number;
  seed?: number;
  onEvent?: (event: RunEvent) => void;
}

export type RunEvent =
  | {
      kind: 'start';
      total: number;
      cohort: number;
      control: number;
      targetClass: number;
      /** How the model's outputs are read; 'identity': `probability`s below are raw values. */
      activation: Activation;
    }
  | { kind: 'subject'; group: Group; id: string; position: number; total: number }
  | { kind: 'progress'; done: number; total: number }
  | { kind: 'skipped'; group: Group; id: string }
  | { kind: 'done'; group: Group; id: string; seconds: number; probability: number }
  | { kind: 'failed'; group: Group; id: string; reason: string }
  | { kind: 'note'; text: string }
  /** A warning about a subject's explanation (a flat ranking, see flatWarnings): printed even when quiet. */
  | { kind: 'warning'; group: Group; id: string; text: string };

export interface SubjectFailure {
  group: Group;
  id: string;
  path: string;
  reason: string;
}

export interface RunSummary {
  out: string;
  targetClass: number;
  explained: number;
  skipped: number;
  failed: SubjectFailure[];
  /** Cohort rows (all σ), ranked; empty for a shard (merge builds them) or no cohort subject. */
  regions: CohortRegionRow[];
  /** This run's --shard i/n; absent for a whole run. */
  shard?: string;
  files: string[];
  secondsPerSubject: number;
  /**
   * Subjects (this run's and those kept from earlier ones) whose explanation is flat (see
   * flatWarnings; the reasons are in their sidecars): their maps are rounding noise, yet, each
   * normalized to its maximum, count in the cohort ranking like any other.
   */
  flat: Array<{ group: Group; id: string }>;
  /**
   * Every cohort subject counted in regions.csv is flat: the ranking is then rounding noise (ties
   * broken by index), not evidence. False when no cohort subject is counted.
   */
  allFlat: boolean;
  /** Present (true) only when the float twin of the quantized model ran. */
  dequantized?: true;
}

export const GLAS3D_VERSION = await packageVersion();

/** The search-point rule of src/atlas/atlas.ts, as run.json records it. */
export const SEARCH_POINT_RULE = 'centre of mass, else the nearest region voxel';

async function packageVersion(): Promise<string> {
  try {
    const text = await readFile(new URL('../../package.json', import.meta.url), 'utf8');
    return (JSON.parse(text) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch (e) {
    // A scan deleted or moved mid-run fails as that subject, in words (not as a bug).
    throw await readFailure(path, e);
  }
  return hash.digest('hex');
}

/** sha256File, each path read once (the promise kept): `hashOf(path)`. */
export function scanHasher(): (path: string) => Promise<string> {
  const hashes = new Map<string, Promise<string>>();
  return (path) => {
    let hash = hashes.get(path);
    if (!hash) hashes.set(path, (hash = sha256File(path)));
    return hash;
  };
}

/** The run's settings, as recorded in run.json and fingerprinted into every sidecar. */
export interface RunSettings {
  glas3dVersion: string;
  model: {
    path: string;
    sha256: string;
    inputShape: number[];
    /** How outputs became responses (ModelRecord.activation). */
    activation?: string;
    /** The output read (a model may have several). */
    outputName?: string;
    layout?: string;
    axes?: string;
    /** Present (true) only when the float twin of the quantized model ran. */
    dequantized?: true;
  };
  atlas: {
    name: string;
    labels: string;
    names?: string;
    /** The T1 template (baseline and space check) and its content: another one means other results. */
    template?: { path: string; sha256: string };
  };
  /**
   * Where each region's search point sits (Region.searchPointMm). In the fingerprint so that a
   * rerun does not mix in subjects explained under the earlier rule (the centre's voxel).
   */
  searchPoints: typeof SEARCH_POINT_RULE;
  /** The model grid's geometry (dims, affine, xformCode): what decides the maps, never voxels. */
  grid: Grid;
  /**
   * The --grid file the geometry was read from; absent for a standard grid. Not fingerprinted:
   * another file with the same geometry gives the same maps, so a rerun keeps its subjects.
   */
  gridFile?: string;
  sigmaMm: number[];
  mode: GlasMode;
  baseline: string;
  baselineSource?: string;
  targetClass: number;
  normalize: IntensityNormalization;
  checkSpace: boolean;
  bootstrap: number;
  permutations: number;
  seed: number;
  cohort: string;
  control?: string;
  /** BIDS --group-column/--group that picked the cohort's participants; null when none. */
  group?: { column: string; value: string } | null;
  /** BIDS --group-column/--control-group that picked the control participants; absent when none. */
  controlGroup?: { column: string; value: string };
  /**
   * BIDS --space whose T1w scans were explained ("MNI152NLin6Asym:res-2"); null when none. Not
   * fingerprinted: it picks which file is a subject's scan, and that file's path and sha256 are
   * in the sidecar already (a subject whose file another --space changes is explained again).
   */
  space?: string | null;
  /** This run's --shard i/n; absent for a whole run. */
  shard?: string;
  /**
   * Where the model ran and where the perturbed copies were made. Not fingerprinted: every
   * device gives the same results to rounding (the in-graph path is tested against the host's),
   * so a run resumed on another machine keeps its subjects; each sidecar says where it ran.
   */
  device?: Device;
  perturbation?: PerturbationSite;
}

/**
 * The settings that decide a subject's results: not where the cohort lies, how it was split, or
 * the cohort statistics' bootstrap, permutations and seed (another seed redoes only those).
 */
export function fingerprintOf(settings: RunSettings): string {
  const {
    glas3dVersion: _v,
    cohort: _c,
    control: _k,
    bootstrap: _b,
    permutations: _p,
    seed: _sd,
    group: _g,
    controlGroup: _cg,
    space: _sp,
    shard: _s,
    gridFile: _gf,
    device: _d,
    perturbation: _pt,
    ...rest
  } = settings;
  return createHash('sha256').update(JSON.stringify(rest)).digest('hex').slice(0, 16);
}

/**
 * A scan in both the cohort and the control group would be compared with itself: the group
 * difference silently shrinks toward nothing. Refused, naming the scan(s) and the fix.
 */
function checkNoSharedScans(
  cohort: readonly { path: string }[],
  control: readonly { path: string }[],
  options: RunOptions,
): void {
  if (control.length === 0) return;
  const inCohort = new Set(cohort.map((s) => resolve(s.path)));
  const shared = control.map((s) => resolve(s.path)).filter((p) => inCohort.has(p));
  if (shared.length === 0) return;
  const named =
    shared.slice(0, 3).join(', ') + (shared.length > 3 ? ` and ${shared.length - 3} more` : '');
  const fix =
    options.group !== undefined && options.controlGroup === undefined
      ? `--group ${options.group} picks only the cohort's participants: give --control-group VALUE to pick the control participants by --group-column ${options.groupColumn ?? 'group'} (e.g. --control-group CN), or point --control at other scans.`
      : 'point --control at other scans than --cohort.';
  throw new OptionError(
    `${shared.length} scan(s) are in both --cohort and --control (${named}): a group would be compared with itself; ${fix}`,
  );
}

export async function runCohort(options: RunOptions): Promise<RunSummary> {
  const emit = options.onEvent ?? (() => undefined);
  const out = resolve(options.out);
  checkGroupOptions(options);
  if (options.controlGroup !== undefined && (options.group === undefined || !options.control)) {
    throw new OptionError(
      `--control-group ${options.controlGroup} needs --control (a BIDS folder) and --group VALUE: the control participants are picked by the same --group-column as the cohort's.`,
    );
  }
  // A malformed --space is refused before the model is loaded.
  const space = options.space !== undefined ? parseSpace(options.space).text : undefined;
  if (!existsSync(options.model)) throw new OptionError(`${options.model}: no such model file.`);
  // One run per --out at a time (see out-lock.ts): refused before the model is loaded.
  const lock = await lockOutput(out);
  if (lock.note) emit({ kind: 'note', text: lock.note });
  try {
    return await loadAndRun(out, { ...options, space }, emit);
  } catch (e) {
    if (e instanceof OutputWriteError)
      throw new OutputWriteError(
        `${e.message} Then rerun the same command: the subjects finished so far are kept.`,
      );
    throw e;
  } finally {
    await lock.release();
  }
}

async function loadAndRun(
  out: string,
  options: RunOptions,
  emit: (e: RunEvent) => void,
): Promise<RunSummary> {
  // On a GPU the perturbed copies are made inside the graph (loaded once for all subjects).
  // A model with symbolic sample dims runs on the --grid volume's grid, else on MNI 2 mm.
  const gridVolume = options.grid ? await readVolume(options.grid) : undefined;
  const { classifier, inGraph, notes, dispose } = await loadClassifiers(options.model, {
    dataGrid: { dims: gridVolume?.dims ?? MNI_GRIDS.mni2mm.dims, channels: 1 },
    layout: options.layout,
    axes: options.axes,
    device: options.device,
    batchSize: options.batchSize,
    perturbation: options.perturbation,
    dequantize: options.dequantize,
    activation: options.activation,
    outputName: options.outputName,
    check: (c) => void volumeModelAxes(c, options.model),
  });
  for (const text of notes) emit({ kind: 'note', text });
  try {
    return await runWith(classifier, out, options, emit, inGraph, gridVolume);
  } finally {
    await dispose();
  }
}

/** The model's volume axes; a model that does not take a 3-D volume is refused. */
function volumeModelAxes(classifier: OnnxClassifier, model: string): GridAxes {
  const axes = classifier.gridAxes;
  if (axes?.tensorAxis.length === 2)
    throw new OptionError(
      `${model}: the model takes images ([${classifier.inputShape.join(', ')}], ${axes.layout}), not volumes: explain photos with glas3d image.`,
    );
  if (!axes || axes.tensorAxis.length !== 3) {
    throw new OptionError(
      `${model}: the model input [${classifier.inputShape.join(', ')}] is not a 3-D volume; give --layout NCDHW or NDHWC if it is one.`,
    );
  }
  return axes;
}

async function runWith(
  classifier: OnnxClassifier,
  out: string,
  options: RunOptions,
  emit: (e: RunEvent) => void,
  inGraph?: InGraphOnnxClassifier,
  gridVolume?: Volume,
): Promise<RunSummary> {
  const axes = volumeModelAxes(classifier, options.model);
  const grid = modelGrid(axes.gridDims, gridVolume, {
    grid: options.grid,
    model: classifier.modelName,
  });
  const atlas = await loadAtlas(options.atlas ?? 'aal', {
    names: options.names,
    template: options.template,
  });
  const atlasGrid = atlasOnGrid(atlas, grid);
  // Regions too small (or outside) for the model grid are not ranked: said once for the run.
  for (const text of missingRegionWarnings(atlas, atlasGrid, grid)) emit({ kind: 'note', text });
  const template = atlas.template ? await readVolume(atlas.template) : undefined;
  const reference = template ? templateReference(template, grid) : undefined;
  if (!template && (options.baseline ?? 'template') === 'template')
    throw new OptionError(
      `baseline 'template' needs a T1 template in the space of the atlas ${atlas.source.labels}: give --template FILE, or use --baseline mean, blur, zero, control or a volume FILE.`,
    );
  if (!template && options.checkSpace !== false)
    emit({
      kind: 'note',
      text: `the atlas ${atlas.source.labels} has no template (--template FILE): scans are not checked for template space.`,
    });
  const targetClass = options.targetClass ?? defaultClass(classifier);
  classifier.checkClass(targetClass);

  const shard = options.shard ?? { index: 1, count: 1 };
  // glas3d's own outputs are never subjects: the --out folder is left out of discovery.
  for (const [flag, dir] of [
    ['--cohort', options.cohort],
    ['--control', options.control],
  ] as const) {
    if (dir !== undefined && isInside(dir, out)) {
      throw new OptionError(
        `${flag} ${dir} is the --out folder or inside it: give --out a folder of its own, where glas3d's outputs cannot be taken for subjects.`,
      );
    }
  }
  const discover = async (dir: string, flag: string, bids: DiscoverOptions = {}) => {
    const subjects = await discoverSubjects(dir, {
      groupColumn: bids.groupColumn,
      group: bids.group,
      space: options.space,
      exclude: out,
      onExcluded: (count) =>
        emit({
          kind: 'note',
          text: `${count} file(s) of glas3d's own results (under --out ${out} or another folder with glas3d's run.json) left out of ${flag} ${dir}.`,
        }),
      onNote: (text) => emit({ kind: 'note', text: `${flag} ${dir}: ${text}` }),
    });
    // Several spaces and no --space: the run is refused, not each participant (checkOneSpace).
    if (options.space === undefined) checkOneSpace(dir, subjects, flag);
    // Two files whose names clean to one id: say which got a suffix.
    for (const s of subjects) {
      const clean = idFromFileName(basename(s.path));
      if (s.id !== clean && subjects.some((t) => t !== s && t.id === clean))
        emit({ kind: 'note', text: `${s.path}: its id ${clean} is taken; it is sub-${s.id}.` });
    }
    return subjects;
  };
  const cohortAll = await discover(options.cohort, '--cohort', options);
  const cohort = shardOf(cohortAll, shard);
  const allControl = options.control
    ? await discover(
        options.control,
        '--control',
        options.controlGroup !== undefined
          ? { groupColumn: options.groupColumn, group: options.controlGroup }
          : {},
      )
    : [];
  checkNoSharedScans(cohortAll, allControl, options);
  const control = shardOf(allControl, shard);
  const baselineName = options.baseline ?? 'template';
  if (baselineName === 'control' && !options.control) {
    throw new OptionError(
      '--baseline control needs --control DIR (the control group whose mean is the baseline).',
    );
  }
  const normalize = options.normalize ?? 'none';
  // Each scan's sha256, computed once: a subject is reused only if its scan is unchanged.
  const hashOf = scanHasher();
  const settings: RunSettings = {
    glas3dVersion: GLAS3D_VERSION,
    model: {
      path: resolve(options.model),
      sha256: await sha256File(options.model),
      inputShape: [...classifier.inputShape],
      activation: classifier.activation,
      outputName: classifier.outputName,
      layout: classifier.layout,
      axes: classifier.axes,
      ...(classifier.dequantized && { dequantized: true as const }),
    },
    atlas: {
      name: atlas.name,
      labels: atlas.source.labels,
      names: atlas.source.names,
      ...(atlas.template && {
        template: { path: resolve(atlas.template), sha256: await sha256File(atlas.template) },
      }),
    },
    searchPoints: SEARCH_POINT_RULE,
    grid,
    ...(options.grid !== undefined && { gridFile: resolve(options.grid) }),
    sigmaMm: options.sigmaMm ?? [DEFAULT_SIGMA_MM],
    mode: options.mode ?? 'fusion',
    baseline: baselineName,
    baselineSource: await baselineSource(baselineName, allControl, hashOf),
    targetClass,
    normalize,
    checkSpace: options.checkSpace !== false,
    bootstrap: options.bootstrap ?? 2000,
    permutations: options.permutations ?? 5000,
    seed: options.seed ?? 1,
    cohort: resolve(options.cohort),
    control: options.control ? resolve(options.control) : undefined,
    // For glas3d merge, to tell which subjects a complete set of shards must hold.
    group:
      options.group === undefined
        ? null
        : { column: options.groupColumn ?? 'group', value: options.group },
    ...(options.controlGroup !== undefined && {
      controlGroup: { column: options.groupColumn ?? 'group', value: options.controlGroup },
    }),
    space: options.space ?? null,
    ...(shard.count > 1 && { shard: `${shard.index}/${shard.count}` }),
    device: classifier.device,
    perturbation: inGraph ? 'device' : 'host',
  };
  const fingerprint = fingerprintOf(settings);

  await removeStaleTemporaries(out);
  const previousSettings = await readPreviousSettings(out);

  const work: Array<{ group: Group; subject: Subject }> = [
    ...cohort.map((subject) => ({ group: 'cohort' as const, subject })),
    ...control.map((subject) => ({ group: 'control' as const, subject })),
  ];
  emit({
    kind: 'start',
    total: work.length,
    cohort: cohort.length,
    control: control.length,
    targetClass,
    activation: classifier.activation,
  });

  // The baseline volume shared by every subject ('control' or a file), built only when needed.
  let sharedBaseline: Volume | undefined;
  const baselineFor = async (): Promise<BaselineSpec> => {
    if ((BASELINE_KINDS as readonly string[]).includes(baselineName))
      return baselineName as BaselineSpec;
    sharedBaseline ??=
      baselineName === 'control'
        ? await controlMean(
            allControl.filter((s) => !s.error),
            grid,
            reference,
            settings.checkSpace,
          )
        : await onGrid(await readVolume(baselineName), grid);
    return sharedBaseline;
  };

  const failed: SubjectFailure[] = [];
  const finished: Record<Group, string[]> = { cohort: [], control: [] };
  const flat: RunSummary['flat'] = [];
  let explained = 0;
  let skipped = 0;
  let explainSeconds = 0;
  // Subjects finished earlier with the same settings are kept; the others are explained in turn.
  const todo: Array<{ group: Group; subject: Subject; position: number }> = [];
  for (const [position, { group, subject }] of work.entries()) {
    const previous = subject.error ? undefined : await readSidecar(out, subject.id, group);
    const sameSettings = previous?.fingerprint === fingerprint;
    if (previous && sameSettings && (await sameSource(previous, subject.path, hashOf))) {
      skipped++;
      finished[group].push(subject.id);
      if (previous.flat === true) flat.push({ group, id: subject.id });
      emit({ kind: 'skipped', group, id: subject.id });
    } else {
      if (previous && sameSettings)
        emit({
          kind: 'note',
          text: `sub-${subject.id}: its results were made from another file or other bytes than ${subject.path}; explaining it again.`,
        });
      todo.push({ group, subject, position });
    }
  }
  // The cohort outputs (regions.csv, cohort maps, errors.tsv) describe one complete run. Before
  // anything changes — other settings, or a subject to explain — they are removed, and written
  // again at the end: a run cut short never leaves a folder whose parts disagree.
  if (todo.length > 0 || previousSettings !== JSON.stringify(settings))
    await removeCohortOutputs(out);
  await writeDatasetDescription(out, settings);
  // Each subject's file is read (and inflated, on libuv's thread pool) while the one before is
  // explained: onnxruntime's runs hold the JS thread, not the pool. A failed read is that
  // subject's failure, raised when its turn comes.
  const readAhead = (k: number) => {
    const path = k < todo.length && !todo[k].subject.error ? todo[k].subject.path : undefined;
    // Read first: its error (truncated, a missing symlink target) is the one worth reporting.
    const read = path
      ? readVolume(path).then(async (v) => [v, await hashOf(path)] as const)
      : undefined;
    read?.catch(() => undefined);
    return read;
  };
  let nextRead = readAhead(0);
  for (const [k, { group, subject, position }] of todo.entries()) {
    const read = nextRead;
    nextRead = readAhead(k + 1);
    emit({ kind: 'subject', group, id: subject.id, position: position + 1, total: work.length });
    const started = performance.now();
    try {
      if (subject.error || !read) throw new SubjectError(subject.error ?? subject.path);
      const [volume, sourceSha256] = await read;
      const prepared = prepareSubject(volume, subject.path, grid, reference, {
        checkSpace: settings.checkSpace,
      });
      const prepareMs = performance.now() - started;
      const explanation = await explain(prepared.volume, {
        model: classifier,
        atlas: atlasGrid,
        // On the model grid already: the template baseline is then not resampled per subject.
        template: reference?.template ?? template,
        sigmaMm: settings.sigmaMm,
        mode: settings.mode,
        baseline: await baselineFor(),
        normalize,
        targetClass,
        perturbation: inGraph ? 'device' : 'host',
        inGraph,
        onProgress: (done, total) => emit({ kind: 'progress', done, total }),
      });
      const sidecar: SubjectSidecar = {
        subject: `sub-${subject.id}`,
        group,
        source: resolve(subject.path),
        sourceSha256,
        fingerprint,
        targetClass,
        probability: explanation.probability,
        probabilities: explanation.probabilities,
        sigmaMm: settings.sigmaMm,
        resampled: prepared.resampled,
        templateCorrelation: prepared.templateCorrelation,
        forwardPasses: explanation.forwardPasses,
        timing: { ...explanation.timing, prepareMs },
        parameters: settings,
        ...(explanation.warnings && { warnings: explanation.warnings }),
        ...(explanation.flat && { flat: true }),
      };
      await writeSubject(out, subject.id, group, explanation, sidecar);
      const seconds = (performance.now() - started) / 1000;
      explainSeconds += seconds;
      explained++;
      finished[group].push(subject.id);
      emit({ kind: 'done', group, id: subject.id, seconds, probability: explanation.probability });
      for (const text of explanation.warnings ?? [])
        emit({ kind: 'warning', group, id: subject.id, text });
      if (explanation.flat) flat.push({ group, id: subject.id });
    } catch (e) {
      // A model that no subject can be explained with stops the run at once.
      // So does an output that cannot be written (disk full): the next subject would fail alike.
      if (e instanceof BatchDependenceError || e instanceof OutputWriteError) throw e;
      // One subject's failure never stops the cohort; an unexpected one is labelled as a bug.
      const reason =
        e instanceof Glas3dError
          ? e.message
          : `unexpected error (a bug in glas3d, please report it): ${e instanceof Error ? e.message : String(e)}`;
      failed.push({ group, id: subject.id, path: subject.path, reason });
      emit({ kind: 'failed', group, id: subject.id, reason });
    }
  }

  await writeErrors(out, failed);
  let regions: CohortRegionRow[] = [];
  const files = [join(out, 'errors.tsv')];
  if (shard.count === 1) {
    const written = await writeCohortOutputs(out, rankedAtlas(atlas, atlasGrid), {
      sigmaMm: settings.sigmaMm,
      cohort: finished.cohort,
      control: finished.control,
      bootstrap: settings.bootstrap,
      permutations: settings.permutations,
      seed: settings.seed,
    });
    regions = written.rows;
    files.unshift(...written.files);
  }
  // Each cohort subject is counted once (explained or kept), so counts compare.
  const flatCohort = flat.filter((f) => f.group === 'cohort');
  return {
    out,
    targetClass,
    explained,
    skipped,
    failed,
    regions,
    files,
    secondsPerSubject: explained > 0 ? explainSeconds / explained : 0,
    flat,
    allFlat: finished.cohort.length > 0 && flatCohort.length === finished.cohort.length,
    ...(settings.shard && { shard: settings.shard }),
    ...(settings.model.dequantized && { dequantized: true as const }),
  };
}

/**
 * Two-class models explain class 1 (the positive class, e.g. AD), a model with one output (a
 * regression) that output; others must say.
 */
function defaultClass(classifier: OnnxClassifier): number {
  if (classifier.classes === 2) return 1;
  if (classifier.classes === 1) return 0;
  throw new OptionError(
    `${classifier.modelName} has ${classifier.classes} classes: give --class N (0–${classifier.classes - 1}), the class whose evidence the cohort shares.`,
  );
}

async function baselineSource(
  name: string,
  control: readonly Subject[],
  hashOf: (path: string) => Promise<string>,
): Promise<string | undefined> {
  if (name === 'control') {
    // The control group's files and contents: a changed group means a different baseline.
    const lines: string[] = [];
    for (const s of control) {
      const hash = s.error ? 'none' : await hashOf(s.path).catch(() => 'unreadable');
      lines.push(`${s.path}:${hash}`);
    }
    return `control:${createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 16)}`;
  }
  if ((BASELINE_KINDS as readonly string[]).includes(name)) return undefined;
  if (!existsSync(name)) {
    throw new OptionError(
      `--baseline ${name}: not one of ${BASELINE_KINDS.join(', ')}, control, and no such file.`,
    );
  }
  return `file:${await sha256File(name)}`;
}

async function onGrid(volume: Volume, grid: Grid): Promise<Volume> {
  return sameGrid(volume, grid) ? volume : resample(volume, grid, 'linear');
}

/**
 * The voxelwise mean of the control group on the model grid (stored intensities; each subject's
 * normalization is applied to it later), in one streaming pass.
 */
async function controlMean(
  subjects: Subject[],
  grid: Grid,
  reference: TemplateReference | undefined,
  checkSpace: boolean,
): Promise<Volume> {
  let sum: Float64Array | undefined;
  let n = 0;
  for (const s of subjects) {
    try {
      const prepared = prepareSubject(await readVolume(s.path), s.path, grid, reference, {
        checkSpace,
      });
      sum ??= new Float64Array(prepared.volume.data.length);
      for (let o = 0; o < sum.length; o++) sum[o] += prepared.volume.data[o];
      n++;
    } catch (e) {
      if (!(e instanceof Glas3dError)) throw e; // a bad control is reported when it is explained
    }
  }
  if (!sum || n === 0)
    throw new OptionError('--baseline control: no control subject could be read.');
  const mean = new Float32Array(sum.length);
  for (let o = 0; o < sum.length; o++) mean[o] = sum[o] / n;
  return { dims: [...grid.dims], affine: grid.affine, data: mean };
}

async function writeDatasetDescription(out: string, settings: RunSettings): Promise<void> {
  await writeFileAtomic(
    join(out, 'dataset_description.json'),
    JSON.stringify(
      {
        Name: 'glas3d saliency maps and region rankings',
        BIDSVersion: '1.9.0',
        DatasetType: 'derivative',
        GeneratedBy: [
          {
            Name: 'glas3d',
            Version: settings.glas3dVersion,
            Description: `GLAS ${settings.mode}, sigma ${settings.sigmaMm.join(',')} mm, baseline ${settings.baseline}, class ${settings.targetClass}`,
          },
        ],
      },
      null,
      2,
    ) + '\n',
  );
  await writeFileAtomic(join(out, 'run.json'), JSON.stringify(settings, null, 2) + '\n');
}

/** The previous run.json of this folder as text (settings compare by it), if any. */
async function readPreviousSettings(out: string): Promise<string | undefined> {
  try {
    return JSON.stringify(JSON.parse(await readFile(join(out, 'run.json'), 'utf8')));
  } catch {
    return undefined;
  }
}

/** What writeCohortOutputs and writeErrors write at the top of the folder. */
const COHORT_OUTPUT =
  /^(regions\.csv|errors\.tsv|(control_)?cohort_desc-glas_sigma-.+_saliency\.nii\.gz)$/;

async function removeCohortOutputs(out: string): Promise<void> {
  if (!existsSync(out)) return;
  for (const name of await readdir(out)) {
    if (COHORT_OUTPUT.test(name)) await unlink(join(out, name));
  }
}

async function writeErrors(out: string, failed: SubjectFailure[]): Promise<void> {
  const rows = [
    ['group', 'subject', 'file', 'reason'],
    ...failed.map((f) => [f.group, `sub-${f.id}`, f.path, f.reason]),
  ];
  await writeFileAtomic(join(out, 'errors.tsv'), formatDelimited(rows, '\t'));
}
