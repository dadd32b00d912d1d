/**
 * `mergeShards`: the outputs of `glas3d run --shard i/n` (one folder per shard) joined into one
 * results folder, with the cohort outputs built from the subjects' files exactly as a single
 * run builds them — so n shards + merge give the same regions.csv and cohort maps as one run.
 * The cohort and control folders recorded in run.json are discovered again, as the run did: a
 * subject that no shard finished (a shard killed, or its folder not given) is listed in
 * errors.tsv, never silently left out of the ranking. A shard's subject folder counts by the
 * rules a rerun applies: its subject is still in the folder, and its sidecar names that scan
 * with the same bytes (`sourceSha256`); an older folder left beside a failure is not merged.
 */
import { existsSync } from 'node:fs';
import { cp, readdir, readFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { atlasOnGrid, loadAtlas } from '../atlas/index.js';
import { OptionError } from '../errors.js';
import { formatDelimited } from '../report/table.js';
import { writeFileAtomic } from '../volume/index.js';
import { rankedAtlas, writeCohortOutputs, type CohortRegionRow } from './cohort-outputs.js';
import {
  readSidecar,
  sameSource,
  subjectFolder,
  type Group,
  type SubjectSidecar,
} from './derivatives.js';
import { lockHolder, lockOutput } from './out-lock.js';
import { fingerprintOf, scanHasher, type RunSettings } from './run.js';
import { discoverSubjects, isInside, parseShard, type Subject } from './subjects.js';

/** A subject of the cohort (or control) folder that no shard finished or reported failed. */
export interface UnfinishedSubject {
  group: Group;
  id: string;
  path: string;
  reason: string;
}

export interface MergeSummary {
  out: string;
  cohort: number;
  control: number;
  regions: CohortRegionRow[];
  files: string[];
  /** Every merged cohort subject is flat: regions.csv's order is noise (see RunSummary). */
  allFlat: boolean;
  /** Subjects that failed in their shard (the shard's errors.tsv rows, kept in errors.tsv). */
  failed: number;
  /** Subjects of the recorded folders in no shard's results: listed in errors.tsv too. */
  unfinished: UnfinishedSubject[];
  /** How many subjects the recorded folders hold, where they could be discovered again. */
  expected: Partial<Record<Group, number>>;
  /** Why some completeness could not be checked (a recorded folder no longer readable). */
  warnings: string[];
}

/** The errors.tsv reason of a subject no shard finished (recognised when merging a merge). */
const UNFINISHED = 'not finished in any shard';

async function readSettings(dir: string): Promise<RunSettings> {
  const path = join(dir, 'run.json');
  if (!existsSync(path))
    throw new OptionError(`${dir}: no run.json; is this the --out folder of a glas3d run?`);
  return JSON.parse(await readFile(path, 'utf8')) as RunSettings;
}

/** The subject folders finished with these settings: each one's id and sidecar. */
async function finishedFolders(
  dir: string,
  group: Group,
  fingerprint: string,
): Promise<Array<{ id: string; sidecar: SubjectSidecar }>> {
  const base = group === 'control' ? join(dir, 'control') : dir;
  if (!existsSync(base)) return [];
  const found: Array<{ id: string; sidecar: SubjectSidecar }> = [];
  for (const e of await readdir(base, { withFileTypes: true })) {
    if (!e.isDirectory() || !e.name.startsWith('sub-')) continue;
    const id = e.name.slice(4);
    const sidecar = await readSidecar(dir, id, group);
    if (sidecar?.fingerprint === fingerprint) found.push({ id, sidecar });
  }
  return found;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The leaves where two settings objects differ, nested keys as a.b (arrays are leaves). */
function differingKeys(a: unknown, b: unknown, prefix = ''): string[] {
  if (!isPlainObject(a) || !isPlainObject(b))
    return JSON.stringify(a) === JSON.stringify(b) ? [] : [prefix];
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  return keys.flatMap((k) => differingKeys(a[k], b[k], prefix ? `${prefix}.${k}` : k));
}

/** "seed: 7 vs 1": a differing setting with both values, long ones cut short. */
function describeDifference(path: string, a: RunSettings, b: RunSettings): string {
  const at = (s: unknown) =>
    path.split('.').reduce<unknown>((v, k) => (isPlainObject(v) ? v[k] : undefined), s);
  const show = (v: unknown) => {
    const text = v === undefined ? 'none' : JSON.stringify(v);
    return text.length > 40 ? `${text.slice(0, 39)}…` : text;
  };
  return `${path}: ${show(at(a))} vs ${show(at(b))}`;
}

/** Refuses shards whose fingerprinted settings differ, naming the settings that do. */
function checkSameSettings(shardDirs: readonly string[], settings: RunSettings[]): string {
  const fingerprint = fingerprintOf(settings[0]);
  settings.forEach((s, i) => {
    // Not fingerprinted (a sidecar names its scan), but it decides which scans the shards took.
    if ((s.space ?? null) !== (settings[0].space ?? null))
      throw new OptionError(
        `${shardDirs[i]} was run with --space ${s.space ?? '(none)'}, ${shardDirs[0]} with ${settings[0].space ?? '(none)'}: shards must come from one command.`,
      );
    if (fingerprintOf(s) === fingerprint) return;
    // Only the fingerprinted settings count (not the version, the folders or the bootstrap): a
    // top-level key does when taking this shard's value for it changes the fingerprint.
    const fingerprinted = (key: string) =>
      fingerprintOf({ ...settings[0], [key]: s[key as keyof RunSettings] }) !== fingerprint;
    const differing = differingKeys(s, settings[0]).filter((k) => fingerprinted(k.split('.')[0]));
    const what =
      differing.length > 0
        ? `${differing.map((k) => describeDifference(k, s, settings[0])).join('; ')} (its run.json's value first)`
        : 'their run.json settings differ';
    throw new OptionError(
      `${shardDirs[i]} was run with other settings than ${shardDirs[0]}: ${what}; shards must come from one command.`,
    );
  });
  return fingerprint;
}

/** A participant's T1w as BIDS discovery finds it: sub-<id>/[ses-<label>/]anat/<name>. */
const BIDS_T1W = /^sub-[^/\\]+[/\\](ses-[^/\\]+[/\\])?anat[/\\]/;

/** "sub-a, sub-b, sub-c and 4 more". */
function listIds(
  subjects: ReadonlyArray<Pick<UnfinishedSubject, 'group' | 'id'>>,
  max = 5,
): string {
  const names = subjects
    .slice(0, max)
    .map((s) => `${s.group === 'control' ? 'control ' : ''}sub-${s.id}`);
  return names.join(', ') + (subjects.length > max ? ` and ${subjects.length - max} more` : '');
}

const FLAG = { cohort: '--cohort', control: '--control' } as const;

/** The folder run.json records for a group. */
const recordedFolder = (settings: RunSettings, group: Group): string | undefined =>
  group === 'cohort' ? settings.cohort : settings.control;

/**
 * The subjects of the folders run.json records, discovered again as the run discovered them
 * (glas3d's own outputs left out), by group; a group whose folder could not be read is absent,
 * with a warning: its completeness and scans go unchecked.
 */
async function discoverRecorded(
  first: RunSettings,
  outputs: readonly string[],
): Promise<{ discovered: Partial<Record<Group, Subject[]>>; warnings: string[] }> {
  const discovered: Partial<Record<Group, Subject[]>> = {};
  const warnings: string[] = [];
  for (const group of ['cohort', 'control'] as const) {
    const folder = recordedFolder(first, group);
    if (folder === undefined) continue;
    const bids = {
      ...(group === 'cohort' &&
        first.group && { groupColumn: first.group.column, group: first.group.value }),
      ...(group === 'control' &&
        first.controlGroup && {
          groupColumn: first.controlGroup.column,
          group: first.controlGroup.value,
        }),
      ...(first.space && { space: first.space }),
    };
    try {
      const subjects = await discoverSubjects(folder, bids);
      // Outputs inside the folder are glas3d's own maps: discovery leaves out folders with a
      // run.json, and these too before theirs is written (a merge cut short).
      discovered[group] = subjects.filter((s) => !outputs.some((o) => isInside(s.path, o)));
    } catch (e) {
      warnings.push(
        `could not check that the shards hold every subject of ${FLAG[group]} ${folder} (${e instanceof Error ? e.message : String(e)}); the merged results cover the subjects the shards finished.`,
      );
    }
  }
  return { discovered, warnings };
}

/**
 * The subjects of the recorded folders that no shard finished or reported failed, each with the
 * shard to rerun when run.json records it.
 */
function unfinishedSubjects(
  shardDirs: readonly string[],
  settings: readonly RunSettings[],
  discovered: Partial<Record<Group, Subject[]>>,
  handled: Record<Group, Set<string>>,
): Pick<MergeSummary, 'unfinished' | 'expected' | 'warnings'> {
  const first = settings[0];
  const unfinished: UnfinishedSubject[] = [];
  const expected: MergeSummary['expected'] = {};
  const warnings: string[] = [];
  // Which folder holds shard i/n, where the shards recorded it.
  const shardFolders = new Map<string, string>();
  let count: number | undefined;
  settings.forEach((s, k) => {
    if (typeof s.shard !== 'string') return;
    try {
      const shard = parseShard(s.shard);
      count ??= shard.count;
      if (!shardFolders.has(s.shard)) shardFolders.set(s.shard, shardDirs[k]);
    } catch {
      // not a shard this version understands: the reason then names no shard
    }
  });
  for (const group of ['cohort', 'control'] as const) {
    const folder = recordedFolder(first, group);
    const all = discovered[group];
    if (folder === undefined || all === undefined) continue;
    const flag = FLAG[group];
    expected[group] = all.length;
    const missing = all
      .map((s, position) => ({ s, position }))
      .filter(({ s }) => !handled[group].has(s.id));
    if (
      missing.length > 0 &&
      group === 'cohort' &&
      first.group === undefined &&
      existsSync(join(folder, 'participants.tsv')) &&
      all.some((s) => s.error !== undefined || BIDS_T1W.test(relative(folder, s.path)))
    ) {
      // A BIDS dataset, and a run.json that does not say whether --group picked participants.
      warnings.push(
        `${missing.length} participant(s) of ${flag} ${folder} are in no shard (${missing
          .slice(0, 5)
          .map(({ s }) => `sub-${s.id}`)
          .join(
            ', ',
          )}${missing.length > 5 ? ', …' : ''}): expected if the shards ran with --group (their run.json does not say); if not, rerun the shards that hold them, then merge again.`,
      );
      continue;
    }
    for (const { s, position } of missing) {
      const shard = count === undefined ? undefined : `${(position % count) + 1}/${count}`;
      const where = shard && shardFolders.get(shard);
      const rerun = shard
        ? where
          ? `rerun \`glas3d run … --shard ${shard} --out ${where}\` (the shard that holds it, with the options of the other shards), then glas3d merge again`
          : `run shard ${shard}, which holds it (\`glas3d run … --shard ${shard}\`, with the options of the other shards; no folder of that shard was given to merge), then glas3d merge again with its folder`
        : `rerun the shard that holds it (\`glas3d run … --shard i/n\`, with the options of the other shards; or give merge that shard's folder if it was left out), then glas3d merge again`;
      unfinished.push({ group, id: s.id, path: s.path, reason: `${UNFINISHED}: ${rerun}.` });
    }
  }
  return { unfinished, expected, warnings };
}

/**
 * The errors.tsv rows of the shards, for subjects not finished, each subject once; a row of a
 * subject no longer in its discovered folder is left out (added to `gone`), as a rerun drops it.
 */
async function shardErrors(
  shardDirs: readonly string[],
  finished: Record<Group, Set<string>>,
  inFolder: Partial<Record<Group, Map<string, Subject>>>,
  gone: Record<Group, Set<string>>,
): Promise<string[][]> {
  const rows = new Map<string, string[]>();
  for (const dir of shardDirs) {
    const errorsPath = join(dir, 'errors.tsv');
    if (!existsSync(errorsPath)) continue;
    const lines = (await readFile(errorsPath, 'utf8')).split('\n').slice(1);
    for (const row of lines.filter((l) => l.trim()).map((l) => l.split('\t'))) {
      const [group, subject, , reason = ''] = row;
      if (reason.startsWith(UNFINISHED)) continue; // an earlier merge's: checked again below
      const id = subject.replace(/^sub-/, '');
      if (finished[group as Group]?.has(id)) continue;
      const subjects = inFolder[group as Group];
      if (subjects && !subjects.has(id)) {
        gone[group as Group].add(id);
        continue;
      }
      if (!rows.has(`${group}\t${subject}`)) rows.set(`${group}\t${subject}`, row);
    }
  }
  return [...rows.values()];
}

export async function mergeShards(
  shardDirs: readonly string[],
  outDir: string,
): Promise<MergeSummary> {
  if (shardDirs.length === 0) throw new OptionError('merge: give at least one shard folder.');
  // A shard still being written would be merged half done.
  for (const dir of shardDirs) {
    const holder = await lockHolder(dir);
    if (holder)
      throw new OptionError(
        `${dir} is being written by a glas3d run now${holder === 'unreadable' ? '' : ` (pid ${holder.pid} on ${holder.host})`}: merge when it has finished.`,
      );
  }
  const out = resolve(outDir);
  // The merged folder is written by one merge (or run) at a time, as a run's --out is.
  const lock = await lockOutput(out);
  try {
    return await mergeInto(out, shardDirs);
  } finally {
    await lock.release();
  }
}

async function mergeInto(out: string, shardDirs: readonly string[]): Promise<MergeSummary> {
  const settings = await Promise.all(shardDirs.map(readSettings));
  const fingerprint = checkSameSettings(shardDirs, settings);
  const first = settings[0];
  const recorded = await discoverRecorded(first, [...shardDirs, out]);
  const inFolder: Partial<Record<Group, Map<string, Subject>>> = {};
  for (const group of ['cohort', 'control'] as const) {
    const subjects = recorded.discovered[group];
    if (subjects) inFolder[group] = new Map(subjects.map((s) => [s.id, s]));
  }
  // Each scan hashed once (streamed), and only where a sidecar names it.
  const hashOf = scanHasher();
  const ids: Record<Group, Set<string>> = { cohort: new Set(), control: new Set() };
  // Results of a subject no longer in its folder, and results of another file or other bytes
  // than the subject's scan now (with the first shard folder holding them): neither is merged.
  const gone: Record<Group, Set<string>> = { cohort: new Set(), control: new Set() };
  const stale: Record<Group, Map<string, string>> = { cohort: new Map(), control: new Map() };
  let flatCohort = 0;
  const finished = await Promise.all(
    shardDirs.map(async (dir) => ({
      dir,
      cohort: await finishedFolders(dir, 'cohort', fingerprint),
      control: await finishedFolders(dir, 'control', fingerprint),
    })),
  );
  // The scans the sidecars name, hashed up front a few at a time: merge reads every scan once,
  // as a rerun does, and on a network file system one at a time is slow.
  const named = [
    ...new Set(
      finished.flatMap((f) =>
        (['cohort', 'control'] as const).flatMap((group) =>
          f[group].flatMap(({ id, sidecar }) => {
            const subject = inFolder[group]?.get(id);
            return subject && sidecar.source === resolve(subject.path) ? [subject.path] : [];
          }),
        ),
      ),
    ),
  ];
  for (let i = 0; i < named.length; i += 4)
    await Promise.allSettled(named.slice(i, i + 4).map(hashOf)); // an unreadable one: not the same scan

  for (const { dir, ...byGroup } of finished) {
    for (const group of ['cohort', 'control'] as const) {
      for (const { id, sidecar } of byGroup[group]) {
        if (ids[group].has(id)) continue; // the same subject in two shards: keep the first
        const subjects = inFolder[group];
        if (subjects) {
          // Where the folder could be read, the rules of a rerun (see runCohort).
          const subject = subjects.get(id);
          if (!subject) {
            gone[group].add(id);
            continue;
          }
          // A subject discovery now fails (e.g. a second T1w) fails as in a rerun: see below.
          if (subject.error !== undefined) continue;
          if (!(await sameSource(sidecar, subject.path, hashOf))) {
            if (!stale[group].has(id)) stale[group].set(id, dir);
            continue;
          }
        }
        ids[group].add(id);
        if (sidecar.flat === true && group === 'cohort') flatCohort++;
        const from = subjectFolder(dir, id, group);
        const to = subjectFolder(out, id, group);
        if (resolve(from) !== to) await cp(from, to, { recursive: true });
      }
    }
  }
  const failedRows = await shardErrors(shardDirs, ids, inFolder, gone);
  // Subjects whose discovery fails now fail with that reason, as a rerun lists them.
  for (const group of ['cohort', 'control'] as const) {
    for (const s of recorded.discovered[group] ?? []) {
      if (s.error === undefined || ids[group].has(s.id)) continue;
      const row = [group, `sub-${s.id}`, s.path, s.error];
      const at = failedRows.findIndex((r) => r[0] === group && r[1] === row[1]);
      if (at >= 0) failedRows[at] = row;
      else failedRows.push(row);
    }
  }
  const handled: Record<Group, Set<string>> = {
    cohort: new Set(ids.cohort),
    control: new Set(ids.control),
  };
  for (const [group, subject] of failedRows)
    handled[group as Group]?.add(subject.replace(/^sub-/, ''));
  const check = unfinishedSubjects(shardDirs, settings, recorded.discovered, handled);
  const warnings = [...recorded.warnings];
  for (const group of ['cohort', 'control'] as const) {
    const left = [...gone[group]].sort();
    if (left.length > 0)
      warnings.push(
        `${left.length} ${group === 'cohort' ? 'subject(s)' : 'control(s)'} in the shards' results but no longer in ${FLAG[group]} ${recordedFolder(first, group)} (${listIds(left.map((id) => ({ group, id })))}): left out, as a rerun of the command leaves them out.`,
      );
    const old = [...stale[group]].filter(([id]) => !ids[group].has(id)).sort();
    if (old.length > 0)
      warnings.push(
        `${old.length} ${group === 'cohort' ? 'subject(s)' : 'control(s)'} with results made from another file or other bytes than the scan now in ${FLAG[group]} ${recordedFolder(first, group)} (${listIds(old.map(([id]) => ({ group, id })))}; e.g. ${subjectFolder(old[0][1], old[0][0], group)}): not merged; listed in errors.tsv (the failure of its shard's latest run, or not finished).`,
      );
  }
  warnings.push(...check.warnings);
  const groupOrder = (g: string) => (g === 'control' ? 1 : 0);
  const errors = [
    ...failedRows,
    ...check.unfinished.map((u) => [u.group, `sub-${u.id}`, u.path, u.reason]),
  ].sort((a, b) => groupOrder(a[0]) - groupOrder(b[0]) || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  await writeFileAtomic(
    join(out, 'dataset_description.json'),
    await readFile(join(shardDirs[0], 'dataset_description.json'), 'utf8'),
  );
  // The merged folder is no one shard: its run.json says which settings, not which shard, nor
  // where one shard ran (each subject's sidecar says where it did).
  const { shard: _shard, device: _device, perturbation: _site, ...merged } = first;
  await writeFileAtomic(join(out, 'run.json'), JSON.stringify(merged, null, 2) + '\n');
  await writeFileAtomic(
    join(out, 'errors.tsv'),
    formatDelimited([['group', 'subject', 'file', 'reason'], ...errors], '\t'),
  );
  const atlas = await loadAtlas(first.atlas.labels, {
    names: first.atlas.names,
    name: first.atlas.name,
  });
  const sorted = (s: Set<string>) => [...s].sort();
  const written = await writeCohortOutputs(
    out,
    rankedAtlas(atlas, atlasOnGrid(atlas, first.grid)),
    {
      sigmaMm: first.sigmaMm,
      cohort: sorted(ids.cohort),
      control: sorted(ids.control),
      bootstrap: first.bootstrap,
      permutations: first.permutations,
      seed: first.seed,
    },
  );
  return {
    out,
    cohort: ids.cohort.size,
    control: ids.control.size,
    regions: written.rows,
    files: [...written.files, join(out, 'errors.tsv')],
    allFlat: ids.cohort.size > 0 && flatCohort === ids.cohort.size,
    failed: failedRows.length,
    unfinished: check.unfinished,
    expected: check.expected,
    warnings,
  };
}

/**
 * What is wrong with a merge whose results are written (the CLI exits 1 with it), or undefined:
 * subjects in no shard's results, and subjects that failed in their shard.
 */
export function mergeProblems(summary: MergeSummary): string | undefined {
  const errorsTsv = join(summary.out, 'errors.tsv');
  const problems: string[] = [];
  if (summary.unfinished.length > 0) {
    const counts = (['cohort', 'control'] as const)
      .map((g) => {
        const n = summary.unfinished.filter((u) => u.group === g).length;
        const of = summary.expected[g];
        return n === 0
          ? ''
          : `${n}${of === undefined ? '' : ` of ${of}`} ${g === 'cohort' ? 'subject(s)' : 'control(s)'}`;
      })
      .filter(Boolean)
      .join(' and ');
    problems.push(
      `${counts} not finished in any shard (${listIds(summary.unfinished)}; listed in ${errorsTsv}): rerun the shards that hold them, then merge again; the cohort outputs are written from the ${summary.cohort} subject(s) and ${summary.control} control(s) merged`,
    );
  }
  if (summary.failed > 0)
    problems.push(`${summary.failed} subject(s) failed in their shard (reasons in ${errorsTsv})`);
  return problems.length > 0 ? problems.join('; ') : undefined;
}
