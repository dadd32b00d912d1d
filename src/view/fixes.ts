/**
 * What to do about a result file that is missing or cannot be read, from its path relative to
 * the results folder. No imports: the viewer (bundled for the browser) uses it too.
 */

/** The fix for a damaged or missing file of a `glas3d run` (or `explain`) folder. */
export function remakeHint(relativePath: string, kind: 'run' | 'explain' = 'run'): string {
  if (kind === 'explain') return 'run glas3d explain again with the same --out to write it again';
  const subject = /^((?:control\/)?sub-[^/]+)\//.exec(relativePath);
  return subject
    ? `delete ${subject[1]}/ and rerun glas3d run with the same --out to explain that subject again (a finished subject is otherwise kept as it is)`
    : 'rerun glas3d run with the same --out: it writes the group maps and regions.csv again from the subjects';
}

/** The results-folder path behind a `/results/…` URL of the manifest, else undefined. */
export function resultPathOf(url: string): string | undefined {
  return url.startsWith('/results/')
    ? url.slice('/results/'.length).split('/').map(decodeURIComponent).join('/')
    : undefined;
}
