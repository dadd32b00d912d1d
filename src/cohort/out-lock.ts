/**
 * One glas3d run per output folder at a time. Two runs writing one --out would replace each
 * other's subject files and cohort outputs, and each would summarize a mix of both. A run holds
 * `.glas3d.lock` (its pid, host and start) in the folder while it writes, and touches it every
 * HEARTBEAT_MS; a second run is refused with who holds it.
 *
 * A lock is stale — taken over — when its run is gone: on this host, when its pid no longer
 * exists; from another host (a cluster node, a container), when it has not been touched for
 * STALE_MS, since that host's processes cannot be seen from here.
 *
 * Creating the lock is atomic with its content (written to a temporary file, then hard-linked to
 * the lock's name, which fails if one exists), and a stale lock is removed by one run at a time,
 * so of runs starting together exactly one gets the lock.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import { link, mkdir, readFile, rmdir, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { OptionError } from '../errors.js';
import { writeFailure } from '../volume/atomic.js';

export const LOCK_FILE = '.glas3d.lock';
/** How often a run touches its lock. */
export const HEARTBEAT_MS = 30_000;
/** A lock from another host untouched this long is a killed run's. */
export const STALE_MS = 10 * 60_000;
/** A takeover (removing a stale lock) takes milliseconds; one this old was left by a killed run. */
const TAKEOVER_MS = 10_000;

export interface LockRecord {
  pid: number;
  host: string;
  since: string;
}

export interface OutputLock {
  /** A one-line note when the lock of a run that is gone was taken over; undefined otherwise. */
  readonly note: string | undefined;
  /** Removes the lock (if still this run's), and the folder when the run made it and left it empty. */
  release(): Promise<void>;
}

/** Whether process `pid` exists on this host (EPERM: it exists, owned by another user). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The lock file's text and who it names as a run still going (see lockHolder). */
async function readLockFile(
  path: string,
): Promise<{ text: string; holder: LockRecord | 'unreadable' | undefined } | undefined> {
  const info = await stat(path).catch(() => undefined);
  const text = info && (await readFile(path, 'utf8').catch(() => undefined));
  if (!info || text === undefined) return undefined;
  const old = Date.now() - info.mtimeMs > STALE_MS;
  let record: LockRecord | undefined;
  try {
    record = JSON.parse(text) as LockRecord;
    if (!Number.isInteger(record.pid)) record = undefined;
  } catch {
    record = undefined;
  }
  const holder = !record
    ? old
      ? undefined
      : 'unreadable'
    : record.host === hostname()
      ? alive(record.pid)
        ? record
        : undefined
      : old
        ? undefined
        : record;
  return { text, holder };
}

/**
 * The run that holds `out`'s lock and is still going, or undefined when there is no lock or it is
 * stale (see above). An unreadable lock counts as live until it is STALE_MS old: it may be one
 * being written right now.
 */
export async function lockHolder(out: string): Promise<LockRecord | 'unreadable' | undefined> {
  return (await readLockFile(join(out, LOCK_FILE)))?.holder;
}

/** Errors of a file system without hard links (some FUSE and SMB mounts). */
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV']);

/**
 * Creates `path` with `tmp`'s content, failing with EEXIST if it exists: a hard link (content and
 * name at once), or where links are not supported an exclusive create, then the content.
 */
async function createExclusive(tmp: string, path: string): Promise<void> {
  try {
    await link(tmp, path);
  } catch (e) {
    if (!NO_LINKS.has((e as NodeJS.ErrnoException).code ?? '')) throw e;
    await writeFile(path, await readFile(tmp), { flag: 'wx' });
  }
}

/** Takes `out`'s lock (making the folder), or throws an OptionError naming who holds it. */
export async function lockOutput(out: string, flag = '--out'): Promise<OutputLock> {
  const made = !existsSync(out);
  const path = join(out, LOCK_FILE);
  const record: LockRecord = {
    pid: process.pid,
    host: hostname(),
    since: new Date().toISOString(),
  };
  const tmp = join(out, `.glas3d.lock.${randomBytes(6).toString('hex')}.tmp`);
  let tookOver: string | undefined;
  try {
    await mkdir(out, { recursive: true });
    for (;;) {
      // (Re)written each turn: the run holding the lock clears stray temporaries at its start.
      if (!existsSync(tmp)) await writeFile(tmp, JSON.stringify(record) + '\n');
      try {
        await createExclusive(tmp, path);
        break;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') continue; // our temporary was cleared meanwhile
        if (code !== 'EEXIST') throw e;
      }
      const seen = await readLockFile(path);
      if (!seen) continue; // gone meanwhile: try again
      const { holder, text } = seen;
      if (holder === 'unreadable')
        throw new OptionError(
          `${flag} ${out} holds a glas3d lock being written or damaged: if no other glas3d run is writing there, delete ${path}.`,
        );
      if (holder)
        throw new OptionError(
          `${flag} ${out} is being written by another glas3d run (pid ${holder.pid} on ${holder.host}, since ${holder.since}): wait for it to finish or give another ${flag}. If no such run is going on, delete ${path}.`,
        );
      // Stale: removed by one run at a time (it holds `.glas3d.lock.takeover` meanwhile), and
      // only if it is still the lock judged stale; whoever links first afterwards holds the lock.
      const takeover = `${path}.takeover`;
      try {
        await createExclusive(tmp, takeover);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        // Another run is taking over: wait for it, unless it died doing so.
        const since = (await stat(takeover).catch(() => undefined))?.mtimeMs;
        if (since !== undefined && Date.now() - since > TAKEOVER_MS)
          await unlink(takeover).catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, 20));
        continue;
      }
      try {
        if ((await readFile(path, 'utf8').catch(() => undefined)) === text) {
          await unlink(path).catch(() => undefined);
          tookOver = text;
        }
      } finally {
        await unlink(takeover).catch(() => undefined);
      }
    }
  } catch (e) {
    throw writeFailure(e, path);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  const heartbeat = setInterval(() => {
    const now = new Date();
    utimes(path, now, now).catch(() => undefined);
  }, HEARTBEAT_MS);
  heartbeat.unref();
  return {
    note: tookOver === undefined ? undefined : takeoverNote(out, tookOver),
    async release() {
      clearInterval(heartbeat);
      releaseOwnLockSync(out);
      if (made) await rmdir(out).catch(() => undefined); // only when empty
    },
  };
}

/** "took over the lock of a run that is gone (pid 1 on node12, since …)". */
function takeoverNote(out: string, text: string): string {
  let who = 'an unreadable lock';
  try {
    const r = JSON.parse(text) as LockRecord;
    who = `pid ${r.pid} on ${r.host}, since ${r.since}`;
  } catch {
    // an empty or damaged lock: said as such
  }
  return `${out}: took over the lock of a glas3d run that is gone (${who}); its finished subjects are kept.`;
}

/** For a signal handler about to exit, and release(): removes `out`'s lock when this process holds it. */
export function releaseOwnLockSync(out: string): void {
  const path = join(out, LOCK_FILE);
  try {
    if ((JSON.parse(readFileSync(path, 'utf8')) as LockRecord).pid === process.pid)
      unlinkSync(path);
  } catch {
    // No lock, or not ours: nothing to release.
  }
}
