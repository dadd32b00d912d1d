/**
 * The package's root folder, found from this module's own location, so that files shipped
 * with the package (atlases/, models/) are found whether the code runs from src/ (tsx,
 * vitest) or from dist/ (the published build).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/** The nearest folder above this module whose package.json is the glas3d package. */
export function packageRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if (JSON.parse(readFileSync(manifest, 'utf8')).name === 'glas3d') return (cached = dir);
      } catch {
        // Not readable JSON: keep looking further up.
      }
    }
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(
        `cannot find the glas3d package root above ${fileURLToPath(import.meta.url)}`,
      );
    }
    dir = parent;
  }
}
