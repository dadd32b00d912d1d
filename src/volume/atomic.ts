import { randomBytes } from 'node:crypto';
import { mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { OutputWriteError } from '../errors.js';

/**
 * A failed write as an OutputWriteError saying what to do, for the errno codes a user can act on
 * (a full disk, a read-only or forbidden folder); `e` itself otherwise.
 */
export function writeFailure(e: unknown, path: string): unknown {
  const text = writeFailureText((e as NodeJS.ErrnoException).code, path);
  return text ? new OutputWriteError(text) : e;
}

function writeFailureText(code: string | undefined, path: string): string | undefined {
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return `no space left on the device (or over quota) writing ${path}: free space or write elsewhere.`;
    case 'EROFS':
      return `cannot write ${path}: the file system is read-only; write elsewhere.`;
    case 'EACCES':
    case 'EPERM':
      return `cannot write ${path}: permission denied; write elsewhere or fix the folder's permissions.`;
    default:
      return undefined;
  }
}

/**
 * Write a file whole or not at all: write a hidden temporary sibling, then rename it over the
 * target (rename is atomic within a directory), so a killed run never leaves a file that looks
 * complete but is not.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw writeFailure(e, path);
  }
}
