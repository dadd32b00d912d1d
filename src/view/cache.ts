/**
 * A small on-disk cache for what the view server derives from fixed inputs: the atlas regions
 * and the atlas and template images on a results grid. Making them (reading the 1 mm atlas and
 * template, resampling, finding each region's search point) is most of a server start; they
 * only change when those files, the grid or glas3d change, and all of these are in the key.
 *
 * Entries live in $GLAS3D_CACHE_DIR, else $XDG_CACHE_HOME/glas3d/view, else
 * ~/.cache/glas3d/view — never in a results folder. The cache is an optimisation only: an entry
 * that cannot be read is made again, and one that cannot be written is not kept.
 *
 * Keys change with glas3d's version and the grid, so old entries would pile up: each write
 * prunes the folder (pruneViewCache) — entries not used for $GLAS3D_CACHE_MAX_DAYS (30) days
 * go, then the least recently used until the entries take at most $GLAS3D_CACHE_MAX_MB (250)
 * MB. 'Used' is the entry's modification time, set on every write and every hit (access times
 * are not kept on noatime mounts). Only files named as this cache names them are touched.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  lstat,
  mkdir,
  readdir,
  readFile,
  realpath,
  rename,
  rm,
  stat,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { packageRoot } from '../atlas/package-root.js';

/** The cache folder for `env`. */
export function viewCacheDir(env: Record<string, string | undefined> = process.env): string {
  if (env.GLAS3D_CACHE_DIR) return env.GLAS3D_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'glas3d', 'view');
}

/** How much the cache keeps: entries used within `maxAgeMs`, newest first, up to `maxBytes`. */
export interface ViewCacheLimits {
  maxBytes: number;
  maxAgeMs: number;
}

const DAY_MS = 86_400_000;

/** A limit from the environment: a number ≥ 0, else (unset, empty, not a number) `fallback`. */
function envLimit(value: string | undefined, fallback: number): number {
  const n = value === undefined || value.trim() === '' ? NaN : Number(value);
  return Number.isFinite(n) && n >= 0 ? n : fallback;
}

/** The cache's limits for `env`: $GLAS3D_CACHE_MAX_MB (250) and $GLAS3D_CACHE_MAX_DAYS (30). */
export function viewCacheLimits(
  env: Record<string, string | undefined> = process.env,
): ViewCacheLimits {
  return {
    maxBytes: envLimit(env.GLAS3D_CACHE_MAX_MB, 250) * 1e6,
    maxAgeMs: envLimit(env.GLAS3D_CACHE_MAX_DAYS, 30) * DAY_MS,
  };
}

/** The names this cache gives its files: entries, and entries being written (cachedParts). */
const ENTRY = /^[0-9a-f]{64}\.bin$/;
const TEMP = /^[0-9a-f]{64}\.bin\.\d+\.\d+\.tmp$/;
/** A temporary file this old was left by a writer that died: no write takes an hour. */
const TEMP_ORPHANED_MS = 3_600_000;

/**
 * Remove from `dir` the entries not used (written or read) within `limits.maxAgeMs` of `now`,
 * then, least recently used first, those beyond `limits.maxBytes` in all, and temporary files
 * a dead writer left. The entry named `keep` (the one just written) stays and counts first.
 * Files and folders not named as the cache names its own are never touched. Never fails: a
 * folder that cannot be read is left as it is, and a file that cannot be removed, or that
 * another process removed first (two servers pruning at once), is passed over.
 */
export async function pruneViewCache(
  dir: string,
  limits: ViewCacheLimits,
  now: number = Date.now(),
  keep?: string,
): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  const remove = (name: string) => rm(join(dir, name), { force: true }).catch(() => undefined);
  const found = await Promise.all(
    names
      .filter((name) => ENTRY.test(name) || TEMP.test(name))
      .map(async (name) => {
        const s = await lstat(join(dir, name)).catch(() => undefined);
        return s?.isFile() ? { name, size: s.size, used: s.mtimeMs } : undefined;
      }),
  );
  const files = found.filter((f) => f !== undefined);
  for (const { name, used } of files) {
    if (TEMP.test(name) && now - used > TEMP_ORPHANED_MS) await remove(name);
  }
  // Newest first, so what is over the size limit is what was used least recently; the oldest
  // are also the ones past the age limit.
  const entries = files
    .filter((f) => ENTRY.test(f.name))
    .sort((a, b) => Number(b.name === keep) - Number(a.name === keep) || b.used - a.used);
  let total = 0;
  for (const { name, size, used } of entries) {
    total += size;
    if (name !== keep && (now - used > limits.maxAgeMs || total > limits.maxBytes)) {
      await remove(name);
    }
  }
}

let version: string | undefined;

/** glas3d's version, part of every key: the derivation may change between versions. */
function glas3dVersion(): string {
  if (version === undefined) {
    try {
      const text = readFileSync(join(packageRoot(), 'package.json'), 'utf8');
      version = String((JSON.parse(text) as { version?: unknown }).version);
    } catch {
      version = 'unknown';
    }
  }
  return version;
}

/** A file's identity in a key: its real path, size and modification time (absent: null). */
export async function fileStamp(path: string | undefined): Promise<string | null> {
  if (!path) return null;
  try {
    const real = await realpath(path);
    const s = await stat(real);
    return `${real}|${s.size}|${s.mtimeMs}`;
  } catch {
    return null;
  }
}

/** Entry layout: part count, each part's length (uint32 LE), then the parts. */
function pack(parts: Uint8Array[]): Uint8Array {
  const head = new DataView(new ArrayBuffer(4 * (parts.length + 1)));
  head.setUint32(0, parts.length, true);
  parts.forEach((p, i) => head.setUint32(4 * (i + 1), p.byteLength, true));
  return Buffer.concat([new Uint8Array(head.buffer), ...parts]);
}

function unpack(bytes: Uint8Array, count: number): Uint8Array[] | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 4 * (count + 1) || view.getUint32(0, true) !== count) return undefined;
  const parts: Uint8Array[] = [];
  let offset = 4 * (count + 1);
  for (let i = 0; i < count; i++) {
    const length = view.getUint32(4 * (i + 1), true);
    parts.push(new Uint8Array(bytes.buffer, bytes.byteOffset + offset, length));
    offset += length;
  }
  return offset === bytes.byteLength ? parts : undefined;
}

/**
 * The `count` byte arrays `make` returns, kept in the cache under `key` (any JSON value; the
 * version of glas3d is added): read back when a whole entry exists (and marked as used), else
 * made and stored — written under a temporary name and renamed, so no reader ever sees half an
 * entry — and the cache pruned.
 */
export async function cachedParts(
  key: unknown,
  count: number,
  make: () => Promise<Uint8Array[]>,
): Promise<Uint8Array[]> {
  const dir = viewCacheDir();
  const hash = createHash('sha256')
    .update(JSON.stringify({ glas3d: glas3dVersion(), key }))
    .digest('hex');
  const path = join(dir, `${hash}.bin`);
  try {
    const parts = unpack(await readFile(path), count);
    if (parts) {
      const now = new Date();
      await utimes(path, now, now).catch(() => undefined);
      return parts;
    }
  } catch {
    // no entry yet (or unreadable): make it
  }
  const parts = await make();
  const temp = `${path}.${process.pid}.${Date.now()}.tmp`;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(temp, pack(parts), { mode: 0o600 });
    await rename(temp, path);
  } catch {
    await rm(temp, { force: true }).catch(() => undefined);
  }
  await pruneViewCache(dir, viewCacheLimits(), Date.now(), basename(path)).catch(() => undefined);
  return parts;
}
