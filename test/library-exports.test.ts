/**
 * The library API the README names is what the package's entry exports (a user imports
 * 'glas3d', not src/ files), and the package paths it promises resolve.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import * as glas3d from '../src/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('the library entry', () => {
  it('exports every function the README offers under "Library:" and in its Library section', () => {
    const named = new Set<string>();
    // "Library: `a`, `b(…)`, …" lines and the Library section's import line.
    for (const m of readme.matchAll(/[Ll]ibrary:\s+([^.;\n]*(?:\n[^.;\n]*)?)/g))
      for (const id of m[1].matchAll(/(?<!'s )`([A-Za-z]\w*)(?:\(|`)/g)) named.add(id[1]); // not "explain's `modelOptions`"
    for (const m of readme.matchAll(/import \{([^}]*)\} from 'glas3d'/g))
      for (const id of m[1].split(',')) named.add(id.trim());
    expect(named).toContain('runGlasInGraph');
    const missing = [...named].filter((id) => /^[a-z]/.test(id) && !(id in glas3d));
    expect(missing).toEqual([]);
  });

  it("resolves the package paths the README names through package.json's exports", () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    expect(pkg.exports['./models/*']).toBe('./models/*');
    const model = createRequire(import.meta.url).resolve('glas3d/models/reference-cnn3d.onnx');
    expect(existsSync(model)).toBe(true);
    expect(pkg.dependencies['playwright-core']).toBeDefined(); // glas3d figure needs it at run time
    expect(existsSync(new URL('../LICENSE', import.meta.url))).toBe(true);
  });
});
