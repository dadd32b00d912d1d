/**
 * Results folders for the viewer tests, made by the real pipeline on a tiny cohort (the oracle
 * model of test/explain, 2 subjects + 1 control, σ = 10 and 15 mm), plus helpers: a
 * fingerprint of a folder (to prove the server never writes), the built viewer, PNG pixels.
 *
 * Importing this module points the view cache (src/view/cache.ts) at a fresh temporary folder,
 * for this test process and the commands it starts: tests never touch the user's cache.
 */
import { createHash } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
} from 'node:fs';
import { copyFile, mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { runCohort } from '../../src/cohort/run.js';
import { makeCohort } from '../cohort/cohort-fixtures.js';

export const ROOT = join(__dirname, '../..');
export const OUTPUT = join(ROOT, 'test-output', 'view');
export const CACHE_DIR = mkdtempSync(join(tmpdir(), 'glas3d-view-cache-'));
process.env.GLAS3D_CACHE_DIR = CACHE_DIR;

export interface RunResults {
  dir: string;
  results: string;
  model: string;
  cohort: string;
}

/** `glas3d run` on 2 subjects (2 mm) with 1 control, baseline zero, σ = 10 and 15 mm. */
export async function makeRunResults(): Promise<RunResults> {
  const dir = await mkdtemp(join(tmpdir(), 'glas3d-view-'));
  const fx = await makeCohort(dir, 2, 0);
  const control = join(dir, 'control');
  await mkdir(control);
  await copyFile(join(fx.cohort, 'sub-02.nii.gz'), join(control, 'sub-c1.nii.gz'));
  const results = join(dir, 'results');
  await runCohort({
    cohort: fx.cohort,
    control,
    out: results,
    model: fx.model,
    baseline: 'zero',
    sigmaMm: [10, 15],
    permutations: 200,
    bootstrap: 200,
  });
  return { dir, results, model: fx.model, cohort: fx.cohort };
}

/** A fingerprint of everything under `dir`: names, kinds, sizes, mtimes, link targets, bytes. */
export function folderFingerprint(dir: string): string {
  const hash = createHash('sha256');
  const entries = readdirSync(dir, { recursive: true, withFileTypes: true })
    .map((e) => join(e.parentPath, e.name))
    .sort();
  for (const path of entries) {
    const s = lstatSync(path);
    const link = s.isSymbolicLink() ? readlinkSync(path) : '';
    hash.update(`${path.slice(dir.length)}|${s.mode}|${s.size}|${s.mtimeMs}|${link}\n`);
    if (s.isFile()) hash.update(readFileSync(path));
  }
  return hash.digest('hex');
}

/** Build viewer/dist when it is missing or older than its sources. */
export async function ensureViewerBuilt(): Promise<void> {
  const index = join(ROOT, 'viewer', 'dist', 'index.html');
  const sources = [
    join(ROOT, 'viewer', 'index.html'),
    join(ROOT, 'viewer', 'vite.config.ts'),
    join(ROOT, 'src', 'view', 'manifest-types.ts'),
    ...readdirSync(join(ROOT, 'viewer', 'src')).map((f) => join(ROOT, 'viewer', 'src', f)),
  ];
  const newest = Math.max(...sources.map((f) => statSync(f).mtimeMs));
  if (existsSync(index) && statSync(index).mtimeMs >= newest) return;
  const { build } = await import('vite');
  await build({ configFile: join(ROOT, 'viewer', 'vite.config.ts'), logLevel: 'warn' });
}

/** Grey-level statistics of a PNG (mean, variance over pixels). */
export async function pixelStats(png: Buffer): Promise<{ mean: number; variance: number }> {
  const { data } = await sharp(png).greyscale().raw().toBuffer({ resolveWithObject: true });
  let sum = 0;
  let sq = 0;
  for (const v of data) {
    sum += v;
    sq += v * v;
  }
  const mean = sum / data.length;
  return { mean, variance: sq / data.length - mean * mean };
}

/** Mean absolute difference of two same-sized PNGs, per channel value (0–255). */
export async function pixelDifference(a: Buffer, b: Buffer): Promise<number> {
  const [x, y] = await Promise.all(
    [a, b].map((p) => sharp(p).removeAlpha().raw().toBuffer({ resolveWithObject: true })),
  );
  if (x.info.width !== y.info.width || x.info.height !== y.info.height) return 255;
  let d = 0;
  for (let i = 0; i < x.data.length; i++) d += Math.abs(x.data[i] - y.data[i]);
  return d / x.data.length;
}
