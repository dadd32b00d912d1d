/**
 * The view cache's pruning (src/view/cache.ts), on real files in a temporary folder with their
 * times set explicitly: which entries stay (age limit, size limit least recently used first,
 * the entry just written, hits marking an entry as used), that files not named as the cache
 * names its own are never touched, and that nothing about the folder can fail a view — a
 * folder that cannot be read or written, files that vanish between listing and removal, two
 * prunes at once. Failures root does not meet (EACCES) are made by wrapping node:fs/promises.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import {
  lutimes,
  mkdir,
  mkdtemp,
  readdir,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cachedParts, pruneViewCache, viewCacheLimits } from '../../src/view/cache.js';

/** Per-test faults: called before the real function, with its path; may throw or remove. */
const faults = vi.hoisted(() => ({
  lstat: undefined as ((path: string) => Promise<void>) | undefined,
  rm: undefined as ((path: string) => Promise<void>) | undefined,
  utimes: undefined as ((path: string) => Promise<void>) | undefined,
}));

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const wrap =
    <A extends unknown[], R>(name: keyof typeof faults, f: (path: string, ...rest: A) => R) =>
    async (path: string, ...rest: A) => {
      await faults[name]?.(String(path));
      return f(path, ...rest);
    };
  return {
    ...real,
    lstat: wrap('lstat', real.lstat as (path: string) => ReturnType<typeof real.lstat>),
    rm: wrap('rm', real.rm),
    utimes: wrap('utimes', real.utimes),
  };
});

const DAY = 86_400_000;
const NOW = Date.parse('2026-06-01T12:00:00Z');

function denied(path: string): Error {
  return Object.assign(new Error(`EACCES: permission denied, '${path}'`), { code: 'EACCES' });
}

/** A name as the cache names its entries (64 hex digits), from a short label. */
function entryName(label: string): string {
  return `${createHash('sha256').update(label).digest('hex')}.bin`;
}

/** Write `name` in `dir` with `bytes` bytes, last used `daysAgo` days before NOW. */
async function put(dir: string, name: string, bytes: number, daysAgo: number): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, new Uint8Array(bytes));
  const t = new Date(NOW - daysAgo * DAY);
  await utimes(path, t, t);
  return name;
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'glas3d-cache-test-'));
});
afterEach(() => {
  faults.lstat = faults.rm = faults.utimes = undefined;
  vi.unstubAllEnvs();
});

const left = async () => (await readdir(dir)).sort();
const limits = (maxMb: number, maxDays: number) => ({
  maxBytes: maxMb * 1e6,
  maxAgeMs: maxDays * DAY,
});

describe('the cache limits', () => {
  it('are 250 MB and 30 days unless $GLAS3D_CACHE_MAX_MB / $GLAS3D_CACHE_MAX_DAYS say otherwise', () => {
    expect(viewCacheLimits({})).toEqual({ maxBytes: 250e6, maxAgeMs: 30 * DAY });
    expect(viewCacheLimits({ GLAS3D_CACHE_MAX_MB: '1.5', GLAS3D_CACHE_MAX_DAYS: '7' })).toEqual({
      maxBytes: 1.5e6,
      maxAgeMs: 7 * DAY,
    });
    expect(viewCacheLimits({ GLAS3D_CACHE_MAX_MB: '0', GLAS3D_CACHE_MAX_DAYS: '0' })).toEqual({
      maxBytes: 0,
      maxAgeMs: 0,
    });
    // What is not a number ≥ 0 leaves the default: a typo must not empty or fail the cache.
    for (const bad of ['', ' ', 'lots', '-1', 'Infinity', '10MB']) {
      expect(viewCacheLimits({ GLAS3D_CACHE_MAX_MB: bad, GLAS3D_CACHE_MAX_DAYS: bad })).toEqual({
        maxBytes: 250e6,
        maxAgeMs: 30 * DAY,
      });
    }
  });
});

describe('pruneViewCache', () => {
  it('removes the entries not used within the age limit, and keeps the others', async () => {
    const recent = await put(dir, entryName('recent'), 10, 1);
    const edge = await put(dir, entryName('edge'), 10, 29.9);
    await put(dir, entryName('old'), 10, 31);
    await put(dir, entryName('ancient'), 10, 400);
    await pruneViewCache(dir, limits(250, 30), NOW);
    expect(await left()).toEqual([recent, edge].sort());
  });

  it('keeps the total under the size limit, removing the least recently used first', async () => {
    const a = await put(dir, entryName('a'), 400_000, 1);
    const b = await put(dir, entryName('b'), 400_000, 2);
    await put(dir, entryName('c'), 400_000, 3); // 1.2 MB with a and b: over 1 MB
    await put(dir, entryName('d'), 100_000, 4); // would fit alone, but was used before c
    await pruneViewCache(dir, limits(1, 30), NOW);
    expect(await left()).toEqual([a, b].sort());
  });

  it('keeps the entry just written even when it is over the size limit alone', async () => {
    const fresh = await put(dir, entryName('fresh'), 2_000_000, 0);
    await put(dir, entryName('older'), 10, 1);
    await pruneViewCache(dir, limits(1, 30), NOW, fresh);
    expect(await left()).toEqual([fresh]);
    // And with a limit of 0 days, all but that entry go.
    const other = await put(dir, entryName('other'), 10, 0);
    await pruneViewCache(dir, limits(250, 0), NOW + 1000, fresh);
    expect(await left()).toEqual([fresh]);
    expect(await left()).not.toContain(other);
  });

  it('removes temporary files a dead writer left, not one being written now', async () => {
    const entry = entryName('e');
    const writing = await put(dir, `${entry}.123.${NOW}.tmp`, 10, 0);
    await put(dir, `${entry}.456.${NOW - 2 * DAY}.tmp`, 10, 2);
    await pruneViewCache(dir, limits(250, 30), NOW);
    expect(await left()).toEqual([writing]);
  });

  it('never touches files not named as the cache names its own, however old or large', async () => {
    const foreign = [
      await put(dir, 'README', 10, 400),
      await put(dir, 'notes.bin', 10, 400),
      await put(dir, entryName('upper').toUpperCase().replace('.BIN', '.bin'), 10, 400),
      await put(dir, `${entryName('suffix')}.bak`, 10, 400),
      await put(dir, `x${entryName('prefix')}`, 10, 400),
      await put(dir, `${entryName('tmp')}.1.2.tmp.keep`, 10, 400),
      await put(dir, 'big.dat', 5_000_000, 0),
    ];
    // A folder and a symbolic link with an entry's name are not entries either.
    const folder = entryName('folder');
    await mkdir(join(dir, folder));
    await put(join(dir, folder), 'inside', 10, 400);
    const t = new Date(NOW - 400 * DAY);
    await utimes(join(dir, folder), t, t);
    const link = entryName('link');
    await symlink(join(dir, 'big.dat'), join(dir, link));
    await lutimes(join(dir, link), t, t);
    await pruneViewCache(dir, limits(1, 30), NOW);
    expect(await left()).toEqual([...foreign, folder, link].sort());
    expect(await readdir(join(dir, folder))).toEqual(['inside']);
    // The foreign files do not count towards the size limit either.
    const mine = await put(dir, entryName('mine'), 900_000, 1);
    await pruneViewCache(dir, limits(1, 30), NOW);
    expect(await left()).toEqual([...foreign, folder, link, mine].sort());
  });

  it('does nothing, and does not fail, when the folder is missing or is a file', async () => {
    await expect(pruneViewCache(join(dir, 'missing'), limits(0, 0), NOW)).resolves.toBeUndefined();
    const file = await put(dir, 'a-file', 10, 400);
    await expect(pruneViewCache(join(dir, file), limits(0, 0), NOW)).resolves.toBeUndefined();
    expect(await left()).toEqual([file]);
  });

  it('passes over files that vanish between listing and removal, or cannot be removed', async () => {
    const kept = await put(dir, entryName('kept'), 10, 1);
    const vanishing = await put(dir, entryName('vanishing'), 10, 400);
    const racing = await put(dir, entryName('racing'), 10, 400);
    const stuck = await put(dir, entryName('stuck'), 10, 400);
    const gone = await put(dir, entryName('gone'), 10, 400);
    // Another process removes `vanishing` after the listing, before its stat; and `racing`
    // after its stat, before this prune removes it; `stuck` cannot be removed (EACCES) and
    // removing `gone` fails because another process removed it just before (ENOENT).
    faults.lstat = async (path) => {
      if (path.endsWith(vanishing)) await fs.unlink(path);
    };
    faults.rm = async (path) => {
      if (path.endsWith(racing)) await fs.unlink(path);
      if (path.endsWith(stuck)) throw denied(path);
      if (path.endsWith(gone)) {
        await fs.unlink(path);
        throw Object.assign(new Error(`ENOENT: '${path}'`), { code: 'ENOENT' });
      }
    };
    await expect(pruneViewCache(dir, limits(250, 30), NOW)).resolves.toBeUndefined();
    expect(await left()).toEqual([kept, stuck].sort());
  });

  it('runs side by side with other prunes of the same folder (two servers at once)', async () => {
    const keep = [
      await put(dir, entryName('k1'), 300_000, 1),
      await put(dir, entryName('k2'), 300_000, 2),
      await put(dir, entryName('k3'), 300_000, 3),
    ];
    for (let i = 0; i < 20; i++) await put(dir, entryName(`old${i}`), 300_000, 40 + i);
    for (let i = 0; i < 20; i++) await put(dir, entryName(`big${i}`), 300_000, 4 + i / 10);
    const prunes = Array.from({ length: 4 }, () => pruneViewCache(dir, limits(1, 30), NOW));
    await expect(Promise.all(prunes)).resolves.toHaveLength(4);
    expect(await left()).toEqual(keep.sort());
  });
});

describe('cachedParts', () => {
  const parts = [new Uint8Array([1, 2, 3]), new Uint8Array(1000)];
  const bins = async () => (await readdir(dir)).filter((n) => /^[0-9a-f]{64}\.bin$/.test(n));

  beforeEach(() => {
    vi.stubEnv('GLAS3D_CACHE_DIR', dir);
  });

  it('prunes after writing an entry, and keeps the one written', async () => {
    vi.stubEnv('GLAS3D_CACHE_MAX_DAYS', '10');
    const now = Date.now();
    const recent = entryName('recent');
    await writeFile(join(dir, recent), new Uint8Array(10));
    const stale = entryName('stale');
    await writeFile(join(dir, stale), new Uint8Array(10));
    const t = new Date(now - 11 * DAY);
    await utimes(join(dir, stale), t, t);
    await writeFile(join(dir, 'foreign.txt'), 'not ours');
    await utimes(join(dir, 'foreign.txt'), t, t);
    const make = vi.fn(async () => parts);
    expect(await cachedParts({ test: 'prune' }, 2, make)).toEqual(parts);
    expect(make).toHaveBeenCalledTimes(1);
    const written = (await bins()).filter((n) => n !== recent);
    expect(written).toHaveLength(1);
    expect(await left()).toEqual([recent, written[0], 'foreign.txt'].sort());
  });

  it('marks an entry as used on a hit (modification time: access times may not be kept)', async () => {
    const make = vi.fn(async () => parts);
    await cachedParts({ test: 'hit' }, 2, make);
    const [entry] = await bins();
    const t = new Date(Date.now() - 20 * DAY);
    await utimes(join(dir, entry), t, t);
    const before = Date.now();
    expect(await cachedParts({ test: 'hit' }, 2, make)).toEqual(parts);
    expect(make).toHaveBeenCalledTimes(1);
    expect((await stat(join(dir, entry))).mtimeMs).toBeGreaterThanOrEqual(before - 1000);
    // So a later prune with a 10-day limit (another entry written) keeps it.
    vi.stubEnv('GLAS3D_CACHE_MAX_DAYS', '10');
    await cachedParts({ test: 'another' }, 2, make);
    expect(await bins()).toContain(entry);
    expect(await bins()).toHaveLength(2);
  });

  it('serves a view when the cache can be read but not changed', async () => {
    const make = vi.fn(async () => parts);
    await cachedParts({ test: 'read-only' }, 2, make);
    vi.stubEnv('GLAS3D_CACHE_MAX_DAYS', '0');
    faults.utimes = async (path) => {
      throw denied(path);
    };
    faults.rm = async (path) => {
      throw denied(path);
    };
    // A hit whose time cannot be set, and a write whose prune cannot remove anything.
    expect(await cachedParts({ test: 'read-only' }, 2, make)).toEqual(parts);
    expect(make).toHaveBeenCalledTimes(1);
    expect(await cachedParts({ test: 'new' }, 2, make)).toEqual(parts);
    expect(make).toHaveBeenCalledTimes(2);
    expect(await bins()).toHaveLength(2);
  });

  it('serves a view when the cache folder cannot be listed or made', async () => {
    const file = join(dir, 'not-a-folder');
    await writeFile(file, '');
    vi.stubEnv('GLAS3D_CACHE_DIR', file);
    const make = vi.fn(async () => parts);
    expect(await cachedParts({ test: 'blocked' }, 2, make)).toEqual(parts);
    expect(await readdir(dir)).toEqual(['not-a-folder']);
  });
});
