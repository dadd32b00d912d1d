/**
 * One glas3d run per output folder at a time. Two runs writing one --out would replace each
 * other's subject files and cohort outputs, and each would summarize a mix of both. A run holds
 * `.glas3d.lock` (its pid, host and start) in the folder while it writes; a second run is refused
 * with who holds it. A lock left by a run that was killed is taken over when its pid is gone on
 * this host; one held from another host (a shared file system) can only be checked by the user.
 */
import { mkdir, readFile, rmdir, unlink, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { OptionError } from '../errors.js';

export const LOCK_FILE = '.glas3d.lock';

interface LockRecord {
  pid: number;
  host: string;
  since: string;
}

export interface OutputLock {
  /** Removes the lock, and the folder too when the run made it and left nothing in it. */
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

async function readLock(path: string): Promise<LockRecord | undefined> {
  try {
    const record = JSON.parse(await readFile(path, 'utf8')) as LockRecord;
    return Number.isInteger(record.pid) ? record : undefined;
  } catch {
    return undefined;
  }
}

/** Takes `out`'s lock (making the folder), or throws an OptionError naming who holds it. */
export async function lockOutput(out: string, flag = '--out'): Promise<OutputLock> {
  const made = !existsSync(out);
  await mkdir(out, { recursive: true });
  const path = join(out, LOCK_FILE);
  const record: LockRecord = {
    pid: process.pid,
    host: hostname(),
    since: new Date().toISOString(),
  };
  for (let attempt = 0; ; attempt++) {
    try {
      await writeFile(path, JSON.stringify(record) + '\n', { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw e;
      const holder = await readLock(path);
      // A run killed on this host (its pid gone), or a lock too damaged to name anyone: stale.
      const stale = !holder || (holder.host === record.host && !alive(holder.pid));
      if (!stale)
        throw new OptionError(
          `${flag} ${out} is being written by another glas3d run (pid ${holder.pid} on ${holder.host}, since ${holder.since}): wait for it to finish or give another ${flag}. If no such run is going on, delete ${path}.`,
        );
      await unlink(path).catch(() => undefined);
    }
  }
  return {
    async release() {
      await unlink(path).catch(() => undefined);
      if (made) await rmdir(out).catch(() => undefined); // only when empty
    },
  };
}

/** For a signal handler about to exit: removes `out`'s lock when this process holds it. */
export function releaseOwnLockSync(out: string): void {
  const path = join(out, LOCK_FILE);
  try {
    if ((JSON.parse(readFileSync(path, 'utf8')) as LockRecord).pid === process.pid)
      unlinkSync(path);
  } catch {
    // No lock, or not ours: nothing to release.
  }
}
