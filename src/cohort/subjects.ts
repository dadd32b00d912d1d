/**
 * Which subjects a cohort holds: a BIDS-like dataset (its subjects are `sub-<id>/anat/` or
 * `sub-<id>/ses-<label>/anat/` folders, or it has participants.tsv and dataset_description.json),
 * one T1w per participant, filtered by a group column; or else every scan file under a folder
 * (sorted, recursive), leaving out the files whose name says they are masks or segmentations.
 */
import { existsSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';
import { OptionError } from '../errors.js';

export interface Subject {
  /** BIDS label without the `sub-` prefix: letters and digits only. */
  id: string;
  path: string;
  /**
   * Why this subject cannot be explained, known from discovery alone (a BIDS participant with
   * no T1w, or several): the run lists it in errors.tsv without reading anything.
   */
  error?: string;
}

export interface DiscoverOptions {
  /** BIDS: the participants.tsv column that holds the group (e.g. "group", "diagnosis"). */
  groupColumn?: string;
  /** BIDS: keep only participants whose group column equals this (e.g. "AD"), case and all. */
  group?: string;
  /** A folder whose files are never subjects (the run's --out: glas3d's own maps). */
  exclude?: string;
  /** Told how many files under `exclude` were left out, when any were. */
  onExcluded?: (count: number) => void;
  /** Told what else discovery left out (masks and segmentations in a plain folder), when any. */
  onNote?: (text: string) => void;
}

/**
 * Scan files: single-file NIfTI, and the header of a .hdr/.img pair (NIfTI-1 pair or ANALYZE),
 * which is taken as a subject so that reading it fails in errors.tsv with the conversion advice.
 */
const SCAN = /\.(nii(\.gz)?|hdr(\.gz)?)$/i;
const stemOf = (name: string) => name.replace(SCAN, '');

/**
 * Why a plain-folder file's name marks it as not an anatomical scan, or undefined: a BIDS or FSL
 * suffix of a mask, segmentation, label map or FAST partial-volume map, or a `_label-<name>`
 * entity ("sub-01_desc-brain_mask" → "_mask", "sub-01_label-GM_probseg" → "_probseg").
 */
export function notAnatomical(stem: string): string | undefined {
  const suffix = /(?:^|_)(mask|brainmask|dseg|probseg|seg|pveseg|labels|roi|pve_\d+)$/i.exec(stem);
  if (suffix) return `_${suffix[1]}`;
  return /_label-[A-Za-z0-9]+(?:_|$)/.test(stem) ? '_label-…' : undefined;
}

/** `--group-column` alone would pool every participant: refused, asking for `--group`. */
export function checkGroupOptions(options: DiscoverOptions): void {
  if (options.groupColumn !== undefined && options.group === undefined) {
    throw new OptionError(
      `--group-column ${options.groupColumn} needs --group VALUE: the value of that participants.tsv column whose participants to explain (e.g. --group AD).`,
    );
  }
}

export async function discoverSubjects(
  dir: string,
  options: DiscoverOptions = {},
): Promise<Subject[]> {
  if (!existsSync(dir)) throw new OptionError(`${dir}: no such folder.`);
  checkGroupOptions(options);
  const participantFolders = await bidsParticipantFolders(dir);
  if (
    participantFolders.length > 0 ||
    (existsSync(join(dir, 'participants.tsv')) && existsSync(join(dir, 'dataset_description.json')))
  ) {
    return discoverBids(dir, participantFolders, options);
  }
  if (options.group !== undefined) throw new OptionError(await groupInPlainFolder(dir));
  const all = (await listFiles(dir)).filter((f) => SCAN.test(f)).sort();
  const kept = options.exclude ? all.filter((f) => !isInside(f, options.exclude!)) : all;
  if (kept.length < all.length) options.onExcluded?.(all.length - kept.length);
  const files = kept.filter((f) => !notAnatomical(stemOf(basename(f))));
  if (files.length < kept.length) options.onNote?.(notAnatomicalNote(kept, files));
  if (files.length === 0) {
    throw new OptionError(
      `${dir}: no .nii or .nii.gz files found${kept.length > 0 ? ' other than masks and segmentations' : ''}.`,
    );
  }
  return withUniqueIds(files.map((path) => ({ id: idFromFileName(basename(path)), path })));
}

/** "3 file(s) … left out: _brainmask (1), _probseg (2)…" for the files not kept. */
function notAnatomicalNote(all: string[], kept: string[]): string {
  const counts = new Map<string, number>();
  for (const f of all.filter((f) => !kept.includes(f))) {
    const suffix = notAnatomical(stemOf(basename(f)))!;
    counts.set(suffix, (counts.get(suffix) ?? 0) + 1);
  }
  const list = [...counts].map(([suffix, n]) => `${suffix} (${n})`).join(', ');
  return `${all.length - kept.length} file(s) whose name marks a mask or segmentation, not an anatomical scan, left out: ${list}; rename a file to explain it.`;
}

/** The message for --group on a folder that is not BIDS-like, saying what to give instead. */
async function groupInPlainFolder(dir: string): Promise<string> {
  const folders = (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => join(dir, e.name))
    .sort();
  const instead =
    folders.length > 0
      ? `give one group's folder as --cohort (e.g. --cohort ${folders[0]}${folders[1] ? ` --control ${folders[1]}` : ''})`
      : "give a folder of that group's scans as --cohort";
  return `${dir}: --group/--group-column pick participants of a BIDS dataset (sub-<id>/anat/ folders and participants.tsv), which this folder is not: ${instead}, without --group.`;
}

/**
 * The `sub-*` folders of `dir` (symbolic links followed), or none unless one of them holds
 * `anat/` or `ses-*\/anat/`: those make the folder BIDS-like.
 */
async function bidsParticipantFolders(dir: string): Promise<string[]> {
  const folders = (await readdir(dir))
    .filter((name) => /^sub-[A-Za-z0-9]+$/.test(name) && isFolder(join(dir, name)))
    .sort();
  for (const name of folders) {
    const folder = join(dir, name);
    if (isFolder(join(folder, 'anat')) || (await sessionAnats(folder)).length > 0) return folders;
  }
  return [];
}

const isFolder = (path: string) => statSync(path, { throwIfNoEntry: false })?.isDirectory();

async function sessionAnats(folder: string): Promise<string[]> {
  return (await readdir(folder))
    .filter((name) => name.startsWith('ses-'))
    .sort()
    .map((name) => join(folder, name, 'anat'))
    .filter(isFolder);
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  // Symbolic links count (datalad and git-annex datasets are made of them); one whose target
  // is missing fails as that subject's error, which says so.
  return entries
    .filter((e) => (e.isFile() || e.isSymbolicLink()) && !e.name.startsWith('.'))
    .map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
}

/** "sub-ad001_T1w.nii.gz" → "ad001"; "Subject 01.nii" → "Subject01". */
export function idFromFileName(name: string): string {
  const stem = stemOf(name);
  const bids = /^sub-([A-Za-z0-9]+)/.exec(stem);
  const id = (bids ? bids[1] : stem).replace(/[^A-Za-z0-9]/g, '');
  return id || 'x';
}

/** Whether `path` is `folder` or lies under it (both resolved). */
export function isInside(path: string, folder: string): boolean {
  const p = resolve(path);
  const f = resolve(folder);
  return p === f || p.startsWith(f.endsWith(sep) ? f : f + sep);
}

/**
 * Unique subject ids: a file named exactly sub-<id> (or <id>) keeps its id, wherever it sorts;
 * the others that clean to a taken id get 2, 3… in path order, skipping any suffixed id that is
 * another file's own id or was given already, so no two files ever share an id.
 */
function withUniqueIds(subjects: Subject[]): Subject[] {
  const base = new Set(subjects.map((s) => s.id));
  const given = new Set<string>();
  const stem = (s: Subject) => stemOf(basename(s.path));
  const exact = subjects.map((s) => stem(s) === `sub-${s.id}` || stem(s) === s.id);
  const ids: (string | undefined)[] = subjects.map((s, i) => {
    if (!exact[i] || given.has(s.id)) return undefined;
    given.add(s.id);
    return s.id;
  });
  return subjects.map((s, i) => {
    let id = ids[i];
    if (id === undefined) {
      id = s.id;
      if (given.has(id)) {
        let n = 2;
        while (base.has(`${s.id}${n}`) || given.has(`${s.id}${n}`)) n++;
        id = `${s.id}${n}`;
      }
      given.add(id);
    }
    return id === s.id ? s : { ...s, id };
  });
}

/** The participants: participants.tsv's rows (filtered by the group) or, without it, the folders. */
async function participantsOf(
  dir: string,
  folders: string[],
  options: DiscoverOptions,
): Promise<string[]> {
  const tsvPath = join(dir, 'participants.tsv');
  if (!existsSync(tsvPath)) {
    if (options.group !== undefined) {
      throw new OptionError(
        `${dir}: --group reads participants.tsv, which this dataset has not (fMRIPrep does not write one): copy the raw BIDS dataset's participants.tsv into it.`,
      );
    }
    return folders;
  }
  const lines = (await readFile(tsvPath, 'utf8')).split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = lines[0].split('\t').map((h) => h.trim());
  const rows = lines.slice(1).map((line) => line.split('\t').map((c) => c.trim()));
  const idCol = header.indexOf('participant_id');
  if (idCol < 0) throw new OptionError(`${tsvPath}: no participant_id column.`);
  if (options.group === undefined) return rows.map((cells) => cells[idCol]);
  const column = options.groupColumn ?? 'group';
  const groupCol = header.indexOf(column);
  if (groupCol < 0) {
    throw new OptionError(
      `${tsvPath}: no column '${column}' (columns: ${header.join(', ')}); give --group-column.`,
    );
  }
  const inGroup = rows.filter((cells) => cells[groupCol] === options.group);
  if (inGroup.length === 0) {
    const counts = new Map<string, number>();
    for (const cells of rows) counts.set(cells[groupCol], (counts.get(cells[groupCol]) ?? 0) + 1);
    const values = [...counts].map(([v, n]) => `'${v}' (${n})`).join(', ');
    throw new OptionError(
      `${tsvPath}: no participant has ${column} '${options.group}' (values must match exactly, case included); its values: ${values || 'none'}.`,
    );
  }
  return inGroup.map((cells) => cells[idCol]);
}

async function discoverBids(
  dir: string,
  folders: string[],
  options: DiscoverOptions,
): Promise<Subject[]> {
  const fromTsv = existsSync(join(dir, 'participants.tsv'));
  const subjects: Subject[] = [];
  for (const participant of await participantsOf(dir, folders, options)) {
    const folder = join(dir, participant);
    const id = participant.replace(/^sub-/, '');
    const t1 = await participantT1w(folder);
    const listed = t1.map((f) => relative(dir, f)).join(', ');
    subjects.push(
      t1.length === 1
        ? { id, path: t1[0] }
        : {
            id,
            path: folder,
            error:
              t1.length === 0
                ? `${participant}${fromTsv ? ' is in participants.tsv but' : ''} has no T1w (looked for ${participant}/anat/*_T1w.nii[.gz] and ${participant}/ses-*/anat/*_T1w.nii[.gz]).`
                : `${participant} has ${t1.length} T1w scans (${listed}); glas3d explains one scan per participant: keep one, or give the scans as a plain folder of files.`,
          },
    );
  }
  if (!subjects.some((s) => !s.error)) {
    throw new OptionError(
      `${dir}: no participants with one sub-<id>/anat/<name>_T1w.nii[.gz] or sub-<id>/ses-<label>/anat/<name>_T1w.nii[.gz]${options.group !== undefined ? ` in group '${options.group}'` : ''}.`,
    );
  }
  return subjects.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * A participant's T1w files, in `anat/` and in every `ses-*\/anat/`, sorted. A `_T1w.hdr` counts
 * too: reading it fails in errors.tsv with the advice to convert it.
 */
async function participantT1w(folder: string): Promise<string[]> {
  if (!existsSync(folder)) return [];
  // Session folders may be symbolic links (datalad): isFolder follows them.
  const anats = [join(folder, 'anat'), ...(await sessionAnats(folder))];
  const found: string[] = [];
  for (const anat of anats) {
    if (!isFolder(anat)) continue;
    for (const f of await readdir(anat))
      if (/_T1w\.(nii|hdr)(\.gz)?$/.test(f)) found.push(join(anat, f));
  }
  return found.sort();
}

/** The subjects of shard i of n (1-based): every n-th subject in sorted order, starting at i. */
export function shardOf<T>(subjects: readonly T[], shard: { index: number; count: number }): T[] {
  return subjects.filter((_, k) => k % shard.count === shard.index - 1);
}

/** "2/5" → { index: 2, count: 5 }. */
export function parseShard(text: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count) {
    throw new OptionError(`--shard ${text}: give i/n with 1 ≤ i ≤ n, e.g. --shard 2/5.`);
  }
  return { index, count };
}
