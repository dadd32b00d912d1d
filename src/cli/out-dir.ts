/** The output folder of a command, checked before any work is done. */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { OptionError } from '../errors.js';

/**
 * Throws an OptionError naming `flag` unless `dir` is a folder, or could be made as one (its
 * nearest existing ancestor is a writable folder), so hours of compute never end in a failed
 * write. Nothing is made here: a command that fails early leaves no empty folder behind.
 */
export async function checkOutDir(flag: string, dir: string): Promise<void> {
  let path = resolve(dir);
  for (;;) {
    const info = await stat(path).catch(() => undefined);
    if (info && !info.isDirectory())
      throw new OptionError(
        path === resolve(dir)
          ? `${flag} ${dir} is a file, not a folder: give a folder.`
          : `${flag} ${dir}: ${path} is a file, so the folder cannot be made there.`,
      );
    if (info) break;
    const parent = dirname(path);
    if (parent === path) break;
    path = parent;
  }
  await access(path, constants.W_OK).catch((e: NodeJS.ErrnoException) => {
    throw new OptionError(
      `${flag} ${dir}: cannot write in ${path} (${e.code === 'EROFS' ? 'a read-only file system' : 'permission denied'}).`,
    );
  });
}
