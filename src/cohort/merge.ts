/**
 * `mergeShards`: the outputs of `glas3d run --shard i/n` (one folder per shard) joined into one
 * results folder, with the cohort outputs built from the subjects' files exactly as a single
 * run builds them — so n shards + merge give the same regions.csv and cohort maps as one run.
 */
import { existsSync } from 'node:fs';
import { cp, readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadAtlas } from '../atlas/index.js';
import { OptionError } from '../errors.js';
import { formatDelimited } from '../report/table.js';
import { writeFileAtomic } from '../volume/index.js';
import { writeCohortOutputs, type CohortRegionRow } from './cohort-outputs.js';
import { readSidecar, type Group } from './derivatives.js';
import { fingerprintOf, type RunSettings } from './run.js';

export interface MergeSummary {
  out: string;
  cohort: number;
  control: number;
  regions: CohortRegionRow[];
  files: string[];
  /** Every merged cohort subject is flat: regions.csv is in atlas order (see RunSummary). */
  allFlat: boolean;
}

async function readSettings(dir: string): Promise<RunSettings> {
  const path = join(dir, 'run.json');
  if (!existsSync(path))
    throw new OptionError(`${dir}: no run.json; is this the --out folder of a glas3d run?`);
  return JSON.parse(await readFile(path, 'utf8')) as RunSettings;
}

/** The subjects finished with these settings, and whether each one's explanation is flat. */
async function finishedIds(
  dir: string,
  group: Group,
  fingerprint: string,
): Promise<Array<{ id: string; flat: boolean }>> {
  const base = group === 'control' ? join(dir, 'control') : dir;
  if (!existsSync(base)) return [];
  const ids: Array<{ id: string; flat: boolean }> = [];
  for (const e of await readdir(base, { withFileTypes: true })) {
    if (!e.isDirectory() || !e.name.startsWith('sub-')) continue;
    const id = e.name.slice(4);
    const sidecar = await readSidecar(dir, id, group);
    if (sidecar?.fingerprint === fingerprint) ids.push({ id, flat: sidecar.flat === true });
  }
  return ids;
}

export async function mergeShards(
  shardDirs: readonly string[],
  outDir: string,
): Promise<MergeSummary> {
  if (shardDirs.length === 0) throw new OptionError('merge: give at least one shard folder.');
  const out = resolve(outDir);
  const settings = await Promise.all(shardDirs.map(readSettings));
  const fingerprint = fingerprintOf(settings[0]);
  settings.forEach((s, i) => {
    if (fingerprintOf(s) !== fingerprint) {
      throw new OptionError(
        `${shardDirs[i]} was run with other settings than ${shardDirs[0]} (model, atlas, σ, mode, baseline, class or normalization differ); shards must come from one command.`,
      );
    }
  });
  const ids: Record<Group, Set<string>> = { cohort: new Set(), control: new Set() };
  const errors: string[][] = [];
  let flatCohort = 0;
  for (const dir of shardDirs) {
    for (const group of ['cohort', 'control'] as const) {
      for (const { id, flat } of await finishedIds(dir, group, fingerprint)) {
        if (ids[group].has(id)) continue; // the same subject in two shards: keep the first
        ids[group].add(id);
        if (flat && group === 'cohort') flatCohort++;
        const from =
          group === 'control' ? join(dir, 'control', `sub-${id}`) : join(dir, `sub-${id}`);
        const to = group === 'control' ? join(out, 'control', `sub-${id}`) : join(out, `sub-${id}`);
        if (resolve(from) !== to) await cp(from, to, { recursive: true });
      }
    }
    const errorsPath = join(dir, 'errors.tsv');
    if (existsSync(errorsPath)) {
      const lines = (await readFile(errorsPath, 'utf8')).trim().split('\n').slice(1);
      errors.push(...lines.filter((l) => l.trim()).map((l) => l.split('\t')));
    }
  }
  const first = settings[0];
  for (const name of ['dataset_description.json', 'run.json']) {
    await writeFileAtomic(join(out, name), await readFile(join(shardDirs[0], name), 'utf8'));
  }
  await writeFileAtomic(
    join(out, 'errors.tsv'),
    formatDelimited([['group', 'subject', 'file', 'reason'], ...errors], '\t'),
  );
  const atlas = await loadAtlas(first.atlas.labels, {
    names: first.atlas.names,
    name: first.atlas.name,
  });
  const sorted = (s: Set<string>) => [...s].sort();
  const written = await writeCohortOutputs(out, atlas, {
    sigmaMm: first.sigmaMm,
    cohort: sorted(ids.cohort),
    control: sorted(ids.control),
    bootstrap: first.bootstrap,
    permutations: first.permutations,
    seed: first.seed,
  });
  return {
    out,
    cohort: ids.cohort.size,
    control: ids.control.size,
    regions: written.rows,
    files: [...written.files, join(out, 'errors.tsv')],
    allFlat: ids.cohort.size > 0 && flatCohort === ids.cohort.size,
  };
}
