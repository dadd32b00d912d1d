/**
 * Which subjects a cohort holds: a BIDS-like dataset (its subjects are `sub-<id>/anat/` or
 * `sub-<id>/ses-<label>/anat/` folders, or it has participants.tsv and dataset_description.json),
 * one T1w per participant (in one template space, `--space`, where a participant has several, as
 * fMRIPrep writes them), filtered by a group column; or else every scan file under a folder
 * (sorted, recursive), leaving out the files whose name says they are masks or segmentations.
 */
import { existsSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
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
  /**
   * A BIDS participant refused because its T1w scans are in several spaces: their spaces
   * (spaceOf; '' for native), for checkOneSpace's message.
   */
  spaces?: string[];
}

export interface DiscoverOptions {
  /** BIDS: the participants.tsv column that holds the group (e.g. "group", "diagnosis"). */
  groupColumn?: string;
  /** BIDS: keep only participants whose group column equals this (e.g. "AD"), case and all. */
  group?: string;
  /**
   * BIDS: keep, per participant, the T1w files in this space: a `space-` label, optionally with
   * the `cohort-`/`res-` entities fMRIPrep adds (`MNI152NLin6Asym:res-2`, as in its
   * --output-spaces). See parseSpace.
   */
  space?: string;
  /**
   * A folder whose files are never subjects (the run's --out: glas3d's own maps); folders
   * holding a glas3d run.json are left out too.
   */
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

/** A --space: the `space-` label and the entities (res, cohort) a file must also have. */
export interface SpaceSpec {
  label: string;
  entities: Array<[key: string, value: string]>;
  /** "MNI152NLin6Asym:res-2": the spelling run.json records and messages give. */
  text: string;
}

/**
 * "MNI152NLin6Asym:res-2" → label MNI152NLin6Asym, res 2 (fMRIPrep's --output-spaces spelling; a
 * leading "space-" is allowed). Labels match the file names exactly, case included.
 */
export function parseSpace(text: string): SpaceSpec {
  const [first, ...rest] = text.trim().split(':');
  const label = first.replace(/^space-/, '');
  const entities = rest.map((part) => /^([a-z]+)-([A-Za-z0-9]+)$/.exec(part));
  if (!/^[A-Za-z0-9]+$/.test(label) || entities.some((m) => !m)) {
    throw new OptionError(
      `--space ${text}: give a BIDS space label, optionally with its entities as fMRIPrep's --output-spaces writes them, e.g. --space MNI152NLin6Asym or --space MNI152NLin6Asym:res-2.`,
    );
  }
  const pairs = entities.map((m) => [m![1], m![2]] as [string, string]);
  return { label, entities: pairs, text: [label, ...pairs.map(([k, v]) => `${k}-${v}`)].join(':') };
}

/** A BIDS file name's entities: "sub-01_space-X_res-2_desc-preproc_T1w.nii.gz" → sub, space, res, desc. */
function entitiesOf(path: string): Map<string, string> {
  const parts = stemOf(basename(path)).split('_').slice(0, -1);
  return new Map(
    parts.flatMap((p) => {
      const m = /^([A-Za-z0-9]+)-(.+)$/.exec(p);
      return m ? [[m[1], m[2]] as const] : [];
    }),
  );
}

/**
 * A file's space as --space spells it: "MNI152NLin6Asym:res-2" for
 * `…_space-MNI152NLin6Asym_res-2_…`, '' for a file with no `space-` entity (native space).
 */
export function spaceOf(path: string): string {
  const e = entitiesOf(path);
  const space = e.get('space');
  if (space === undefined) return '';
  return [space, ...['cohort', 'res'].filter((k) => e.has(k)).map((k) => `${k}-${e.get(k)}`)].join(
    ':',
  );
}

const showSpace = (space: string) => space || 'native (no space- entity)';

function inSpace(path: string, spec: SpaceSpec): boolean {
  const e = entitiesOf(path);
  return e.get('space') === spec.label && spec.entities.every(([k, v]) => e.get(k) === v);
}

/** "MNI152NLin2009cAsym (3 participant(s)), native (no space- entity) (3 participant(s))": sorted, native last. */
function listSpaces(counts: Iterable<[string, number]>, unit = ' participant(s)'): string {
  return [...counts]
    .sort(([a], [b]) => (a === '' ? 1 : b === '' ? -1 : a < b ? -1 : 1))
    .map(([space, n]) => `${showSpace(space)} (${n}${unit})`)
    .join(', ');
}

/** "--space A or --space B" for the template spaces among `spaces` (native is not one). */
function spaceChoices(spaces: Iterable<string>): string {
  return [...new Set(spaces)]
    .filter((s) => s !== '')
    .sort()
    .map((s) => `--space ${s}`)
    .join(' or ');
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
  if (options.space !== undefined) {
    throw new OptionError(
      `${dir}: --space ${options.space} picks among the T1w scans of a BIDS dataset's participants (sub-<id>/anat/ or sub-<id>/ses-<label>/anat/ folders), which this folder is not: every .nii/.nii.gz in it is a subject. Give a folder that holds only the scans in that space, without --space, or lay it out as sub-<id>/anat/.`,
    );
  }
  const listing = await listFiles(dir);
  // The run's --out and any other glas3d results folder inside (a shard's, an earlier run's)
  // hold glas3d's maps, never subjects.
  const outputs = [
    ...(options.exclude ? [options.exclude] : []),
    ...(await resultFolders(listing)),
  ];
  if (outputs.some((o) => resolve(o) === resolve(dir)))
    throw new OptionError(
      `${dir} is a glas3d results folder (it holds glas3d's run.json), not a folder of scans: give the folder the scans are in.`,
    );
  const all = listing.filter((f) => SCAN.test(f)).sort();
  const kept = all.filter((f) => !outputs.some((o) => isInside(f, o)));
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

/** The folders among `files`' that are glas3d results: a run.json that glas3d wrote. */
async function resultFolders(files: readonly string[]): Promise<string[]> {
  const folders: string[] = [];
  for (const f of files) {
    if (basename(f) !== 'run.json') continue;
    const text = await readFile(f, 'utf8').catch(() => '');
    if (/"glas3dVersion"\s*:/.test(text)) folders.push(dirname(f));
  }
  return folders;
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
      `${tsvPath}: no column '${column}' (columns: ${header.join(', ')}); give --group-column with one of them.`,
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
  const spec = options.space !== undefined ? parseSpace(options.space) : undefined;
  const subjects: Subject[] = [];
  // The spaces of the T1w scans --space left out, and of every T1w found (for the messages).
  const leftOut = new Map<string, number>();
  const found = new Map<string, Set<string>>();
  let matched = 0;
  for (const participant of await participantsOf(dir, folders, options)) {
    const folder = join(dir, participant);
    const id = participant.replace(/^sub-/, '');
    const all = await participantT1w(folder);
    for (const f of all) found.set(spaceOf(f), (found.get(spaceOf(f)) ?? new Set()).add(id));
    const t1 = spec ? all.filter((f) => inSpace(f, spec)) : all;
    matched += t1.length;
    for (const f of all.filter((f) => !t1.includes(f)))
      leftOut.set(spaceOf(f), (leftOut.get(spaceOf(f)) ?? 0) + 1);
    if (t1.length === 1) {
      subjects.push({ id, path: t1[0] });
      continue;
    }
    const withSpaces = (files: string[]) =>
      files.map((f) => `${relative(dir, f)} (${showSpace(spaceOf(f))})`).join(', ');
    const spaces = [...new Set(t1.map(spaceOf))];
    let error: string;
    if (all.length === 0) {
      error = `${participant}${fromTsv ? ' is in participants.tsv but' : ''} has no T1w (looked for ${participant}/anat/*_T1w.nii[.gz] and ${participant}/ses-*/anat/*_T1w.nii[.gz]).`;
    } else if (t1.length === 0) {
      error = `${participant} has no T1w in space ${spec!.text} (its T1w: ${withSpaces(all)}); space labels match exactly, case included.`;
    } else if (spaces.length > 1) {
      error = `${participant} has ${t1.length} T1w scans in different spaces (${withSpaces(t1)}); glas3d explains one scan per participant: give ${spaceChoices(spaces)}, the template space your model takes.`;
    } else {
      error = `${participant} has ${t1.length} T1w scans${spec ? ` in space ${spec.text}` : ''} (${t1.map((f) => relative(dir, f)).join(', ')}); glas3d explains one scan per participant: keep one, or give the scans as a plain folder of files.`;
    }
    subjects.push({ id, path: folder, error, ...(spaces.length > 1 && { spaces }) });
  }
  if (spec && leftOut.size > 0) {
    const counts = listSpaces(leftOut, '');
    const n = [...leftOut.values()].reduce((a, b) => a + b, 0);
    options.onNote?.(`--space ${spec.text}: ${n} T1w scan(s) in other spaces left out: ${counts}.`);
  }
  if (!subjects.some((s) => !s.error)) {
    // No participant left to explain, some for want of a --space: say that, not "no T1w".
    checkOneSpace(dir, subjects);
    if (spec && matched === 0 && found.size > 0) {
      const spaces = listSpaces([...found].map(([space, ids]) => [space, ids.size]));
      throw new OptionError(
        `${dir}: no participant has a T1w in space ${spec.text} (space labels match exactly, case included); the spaces of its T1w scans: ${spaces}.`,
      );
    }
    throw new OptionError(
      `${dir}: no participants with one sub-<id>/anat/<name>_T1w.nii[.gz] or sub-<id>/ses-<label>/anat/<name>_T1w.nii[.gz]${spec ? ` in space ${spec.text}` : ''}${options.group !== undefined ? ` in group '${options.group}'` : ''}.`,
    );
  }
  return subjects.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Refuses a BIDS dataset, discovered without --space, where a participant's T1w scans are in
 * several spaces (an fMRIPrep output: native, MNI152NLin2009cAsym, MNI152NLin6Asym:res-2…),
 * listing the spaces found and the --space to give.
 *
 * Refused, never picked, not even "the only space-MNI* one" with a note: which template a model
 * was trained in is not in the file names, the template check can hardly tell two MNI templates
 * apart, and the only MNI scan may be in one template for one participant and in another for the
 * next, mixing spaces in one ranking behind a note lost in the log. One flag, recorded in
 * run.json, costs less than that.
 */
export function checkOneSpace(dir: string, subjects: readonly Subject[], flag?: string): void {
  const several = subjects.filter((s) => s.spaces);
  if (several.length === 0) return;
  const participants = new Map<string, number>();
  for (const s of subjects) {
    const spaces = s.spaces ?? (s.error ? [] : [spaceOf(s.path)]);
    for (const space of spaces) participants.set(space, (participants.get(space) ?? 0) + 1);
  }
  const counts = listSpaces(participants);
  const ids = several.slice(0, 3).map((s) => `sub-${s.id}`);
  throw new OptionError(
    `${flag ? `${flag} ` : ''}${dir}: T1w scans in several spaces: ${counts}; ${several.length} participant(s) have one in more than one space (${ids.join(', ')}${several.length > 3 ? ', …' : ''}). Give ${spaceChoices(participants.keys())}: the template space your model takes (glas3d does not pick one).`,
  );
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
