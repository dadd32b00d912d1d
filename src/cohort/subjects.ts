/**
 * Which subjects a cohort holds: every `.nii`/`.nii.gz` under a folder (sorted, recursive), or
 * a BIDS dataset (participants.tsv and each participant's one T1w, in sub-X/anat/ or
 * sub-X/ses-Y/anat/) filtered by a group column.
 */
import { existsSync } from 'node:fs';
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
  /** BIDS: keep only participants whose group column equals this (e.g. "AD"). */
  group?: string;
  /** A folder whose files are never subjects (the run's --out: glas3d's own maps). */
  exclude?: string;
  /** Told how many files under `exclude` were left out, when any were. */
  onExcluded?: (count: number) => void;
}

const isNifti = (name: string) => /\.nii(\.gz)?$/i.test(name);

export async function discoverSubjects(
  dir: string,
  options: DiscoverOptions = {},
): Promise<Subject[]> {
  if (!existsSync(dir)) throw new OptionError(`${dir}: no such folder.`);
  if (
    existsSync(join(dir, 'participants.tsv')) &&
    existsSync(join(dir, 'dataset_description.json'))
  ) {
    return discoverBids(dir, options);
  }
  if (options.group !== undefined || options.groupColumn !== undefined) {
    throw new OptionError(
      `${dir}: --group/--group-column need a BIDS dataset (participants.tsv and dataset_description.json), which this folder is not.`,
    );
  }
  const all = (await listFiles(dir)).filter(isNifti).sort();
  const files = options.exclude ? all.filter((f) => !isInside(f, options.exclude!)) : all;
  if (files.length < all.length) options.onExcluded?.(all.length - files.length);
  if (files.length === 0) throw new OptionError(`${dir}: no .nii or .nii.gz files found.`);
  return withUniqueIds(files.map((path) => ({ id: idFromFileName(basename(path)), path })));
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
  const stem = name.replace(/\.nii(\.gz)?$/i, '');
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
  const stem = (s: Subject) => basename(s.path).replace(/\.nii(\.gz)?$/i, '');
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

async function discoverBids(dir: string, options: DiscoverOptions): Promise<Subject[]> {
  const tsvPath = join(dir, 'participants.tsv');
  const lines = (await readFile(tsvPath, 'utf8')).split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = lines[0].split('\t').map((h) => h.trim());
  const idCol = header.indexOf('participant_id');
  if (idCol < 0) throw new OptionError(`${tsvPath}: no participant_id column.`);
  let groupCol = -1;
  if (options.group !== undefined) {
    const column = options.groupColumn ?? 'group';
    groupCol = header.indexOf(column);
    if (groupCol < 0) {
      throw new OptionError(
        `${tsvPath}: no column '${column}' (columns: ${header.join(', ')}); give --group-column.`,
      );
    }
  }
  const subjects: Subject[] = [];
  for (const line of lines.slice(1)) {
    const cells = line.split('\t').map((c) => c.trim());
    if (groupCol >= 0 && cells[groupCol] !== options.group) continue;
    const participant = cells[idCol];
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
                ? `${participant} is in participants.tsv but has no T1w (looked for ${participant}/anat/*_T1w.nii[.gz] and ${participant}/ses-*/anat/*_T1w.nii[.gz]).`
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

/** A participant's T1w files, in `anat/` and in every `ses-*\/anat/`, sorted. */
async function participantT1w(folder: string): Promise<string[]> {
  if (!existsSync(folder)) return [];
  const anats = [join(folder, 'anat')];
  // Session folders may be symbolic links (datalad): existsSync below follows them.
  for (const name of (await readdir(folder)).sort()) {
    if (name.startsWith('ses-')) anats.push(join(folder, name, 'anat'));
  }
  const found: string[] = [];
  for (const anat of anats) {
    if (!existsSync(anat)) continue;
    for (const f of await readdir(anat)) if (/_T1w\.nii(\.gz)?$/.test(f)) found.push(join(anat, f));
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
