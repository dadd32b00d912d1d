/** Region names as users type them: exact (any case) or an error that lists close AAL names. */
import type { Region } from '../atlas/index.js';
import { OptionError } from '../errors.js';

/** The AD-typical default: medial temporal lobe and inferior temporal gyrus, both sides. */
export const DEFAULT_ATROPHY_REGIONS: readonly string[] = Object.freeze([
  'Hippocampus_L',
  'Hippocampus_R',
  'Amygdala_L',
  'Amygdala_R',
  'Temporal_Inf_L',
  'Temporal_Inf_R',
]);

/**
 * The atlas regions named by `names`, in the given order. Case is ignored; an unknown name, or
 * one given twice, is an OptionError naming it and the closest names.
 */
export function resolveRegions(names: readonly string[], regions: readonly Region[]): Region[] {
  const byName = new Map(regions.map((r) => [r.name.toLowerCase(), r]));
  const seen = new Set<number>();
  return names.map((raw) => {
    const name = raw.trim();
    const region = byName.get(name.toLowerCase());
    if (!region) {
      const close = closeNames(
        name,
        regions.map((r) => r.name),
      );
      throw new OptionError(
        `unknown AAL region "${name}"` +
          (close.length > 0 ? `; close names: ${close.join(', ')}` : '') +
          ` (glas3d atlas aal lists all ${regions.length}).`,
      );
    }
    if (seen.has(region.index)) {
      throw new OptionError(`AAL region ${region.name} is listed twice; list each region once.`);
    }
    seen.add(region.index);
    return region;
  });
}

/**
 * Up to `max` names near `query` (case-insensitive): the names containing it when there are
 * any ("hippocampus" → both hippocampi), else those within a few edits ("Hipocampus_L").
 */
export function closeNames(query: string, names: readonly string[], max = 6): string[] {
  const q = query.toLowerCase();
  if (q.length === 0) return [];
  // A part of a name ("hippocampus", "Temporal_Inf"): the names that hold it.
  const holding = names.filter((n) => n.toLowerCase().includes(q));
  if (holding.length > 0) return holding.slice(0, max);
  // A typo: the smallest edit distances to the name or to its start (the side left out).
  const limit = Math.max(2, Math.floor(q.length / 3));
  return names
    .map((name) => {
      const n = name.toLowerCase();
      return { name, d: Math.min(editDistance(q, n), prefixDistance(q, n)) };
    })
    .filter((s) => s.d <= limit)
    .sort((a, b) => a.d - b.d || a.name.localeCompare(b.name))
    .slice(0, max)
    .map((s) => s.name);
}

/** Levenshtein distance. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** Edit distance from `q` to the best prefix of `n` (a name typed without its side suffix). */
function prefixDistance(q: string, n: string): number {
  let best = Infinity;
  for (let len = Math.max(1, q.length - 2); len <= Math.min(n.length, q.length + 2); len++) {
    best = Math.min(best, editDistance(q, n.slice(0, len)));
  }
  return best;
}
