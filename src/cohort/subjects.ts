/**
 * Which subjects a cohort holds: every `.nii`/`.nii.gz` under a folder (sorted, recursive), or
 * a BIDS dataset (participants.tsv and each sub-X/anat/X_T1w.nii[.gz]) filtered by a group column.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { OptionError } from '../errors.js';

export interface Subject {
  /** BIDS label without the `sub-` prefix: letters and digits only. */
  id: string;
  path: string;
}

export interface DiscoverOptions {
  /** BIDS: the participants.tsv column that holds the group (e.g. "group", "diagnosis"). */
  groupColumn?: string;
  /** BIDS: keep only participants whose group column equals this (e.g. "AD"). */
  group?: string;
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
  const files = (await listFiles(dir)).filter(isNifti).sort();
  if (files.length === 0) throw new OptionError(`${dir}: no .nii or .nii.gz files found.`);
  return withUniqueIds(
    files.map((path) => ({ id: idFromFileName(basename(path)), path })),
    dir,
  );
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

/** Two files that clean to the same id get -2, -3… in path order, so ids stay unique. */
function withUniqueIds(subjects: Subject[], dir: string): Subject[] {
  const seen = new Map<string, number>();
  return subjects.map((s) => {
    const n = (seen.get(s.id) ?? 0) + 1;
    seen.set(s.id, n);
    if (n === 1) return s;
    const id = `${s.id}${n}`;
    if (seen.has(id))
      throw new OptionError(`${dir}: cannot give ${relative(dir, s.path)} a unique subject id.`);
    return { ...s, id };
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
  const missing: string[] = [];
  for (const line of lines.slice(1)) {
    const cells = line.split('\t').map((c) => c.trim());
    if (groupCol >= 0 && cells[groupCol] !== options.group) continue;
    const participant = cells[idCol];
    const anat = join(dir, participant, 'anat');
    const t1 = existsSync(anat)
      ? (await readdir(anat)).filter((f) => /_T1w\.nii(\.gz)?$/.test(f)).sort()
      : [];
    if (t1.length === 0) {
      missing.push(participant);
      continue;
    }
    // The first T1w (sessions/runs sorted) stands for the participant.
    subjects.push({ id: participant.replace(/^sub-/, ''), path: join(anat, t1[0]) });
  }
  if (subjects.length === 0) {
    throw new OptionError(
      `${dir}: no participants with a sub-<id>/anat/<name>_T1w.nii[.gz]${options.group !== undefined ? ` in group '${options.group}'` : ''}.`,
    );
  }
  return subjects.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
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
