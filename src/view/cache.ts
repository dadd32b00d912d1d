/**
 * A small on-disk cache for what the view server derives from fixed inputs: the atlas regions
 * and the atlas and template images on a results grid. Making them (reading the 1 mm atlas and
 * template, resampling, finding each region's search point) is most of a server start; they
 * only change when those files, the grid or glas3d change, and all of these are in the key.
 *
 * Entries live in $GLAS3D_CACHE_DIR, else $XDG_CACHE_HOME/glas3d/view, else
 * ~/.cache/glas3d/view — never in a results folder. The cache is an optimisation only: an entry
 * that cannot be read is made again, and one that cannot be written is not kept.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../atlas/package-root.js';

/** The cache folder for `env`. */
export function viewCacheDir(env: Record<string, string | undefined> = process.env): string {
  if (env.GLAS3D_CACHE_DIR) return env.GLAS3D_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'glas3d', 'view');
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
 * version of glas3d is added): read back when a whole entry exists, else made and stored —
 * written under a temporary name and renamed, so no reader ever sees half an entry.
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
    if (parts) return parts;
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
  return parts;
}
