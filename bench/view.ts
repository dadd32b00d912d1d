/**
 * bench:view — how long from `glas3d view` starting to the first image drawn in the browser,
 * for a 40-subject cohort on the MNI 2 mm grid, and where that time goes.
 *
 * The results folder is fake but valid (the bench measures the viewer, not GLAS): each subject's
 * map is a sum of Gaussian blobs (σ = 10 mm) at random AAL search points, its table and sidecar
 * are written by the run's own writer (writeSubject), and the cohort regions.csv and map by the
 * run's own writeCohortOutputs. The browser is Debian's Chromium, headless; without a GPU its
 * WebGL is SwiftShader (software), so these are CPU-rendering times.
 *
 * Each run is a first open, as a person gets it: the server is a fresh Node process, and the
 * browser is freshly launched and left idle for a few seconds first (its own start-up work done,
 * nothing of the viewer cached). Runs come in pairs: one with an empty view cache (the atlas
 * and template on the grid, src/view/cache.ts; a first start on a machine), then one that finds
 * it filled (any later start). The page splits its time with performance marks
 * (viewer/src/main.ts).
 *
 *   npm run bench:view [-- --subjects 40 --repeats 3 --keep DIR]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { atlasOnGrid, loadAal, type Atlas } from '../src/atlas/index.js';
import { writeCohortOutputs } from '../src/cohort/cohort-outputs.js';
import { writeSubject, type SubjectSidecar } from '../src/cohort/derivatives.js';
import type { Explanation, RegionScore } from '../src/explain/explain-volume.js';
import { mulberry32 } from '../src/model/prng.js';
import {
  chromiumMissing,
  launchChromium,
  startViewServer,
  type ViewerHook,
} from '../src/view/index.js';
import { MNI_GRIDS, voxelToMm, type Volume } from '../src/volume/index.js';

declare const window: { glas3dViewer: ViewerHook };

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

const SUBJECTS = Number(option('subjects', '40'));
const REPEATS = Number(option('repeats', '3'));
const SIGMA = 10;

/** One fake subject: blobs at `k` random regions (two fixed ones always among them). */
function fakeSubject(atlas: Atlas, seed: number): Explanation {
  const grid = atlas.labels;
  const [nx, ny, nz] = grid.dims;
  const r = mulberry32(seed);
  const chosen = new Map<number, number>([
    [37, 0.8 + 0.2 * r()], // Hippocampus_L
    [42, 0.6 + 0.2 * r()], // Amygdala_R
  ]);
  while (chosen.size < 6) {
    const region = atlas.regions[Math.floor(r() * atlas.regions.length)];
    if (!chosen.has(region.index)) chosen.set(region.index, 0.1 + 0.3 * r());
  }
  const blobs = [...chosen].map(([index, amplitude]) => ({
    centre: atlas.regions.find((x) => x.index === index)!.searchPointMm,
    amplitude,
  }));
  const data = new Float32Array(nx * ny * nz);
  const twoSigma2 = 2 * SIGMA * SIGMA;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        const [x, y, z] = voxelToMm(grid, [i, j, k]);
        let v = 0;
        for (const b of blobs) {
          const d2 = (x - b.centre[0]) ** 2 + (y - b.centre[1]) ** 2 + (z - b.centre[2]) ** 2;
          v += b.amplitude * Math.exp(-d2 / twoSigma2);
        }
        data[i + nx * (j + ny * k)] = v * 1e-3;
      }
  const saliency: Volume = { dims: grid.dims, affine: grid.affine, data };
  // Region scores: the map at the search point; region means over the labels.
  const sums = new Map<number, [number, number]>();
  for (let o = 0; o < data.length; o++) {
    const label = grid.data[o];
    if (label === 0) continue;
    const s = sums.get(label) ?? [0, 0];
    s[0] += data[o];
    s[1]++;
    sums.set(label, s);
  }
  const regions: RegionScore[] = atlas.regions.map((region) => {
    const [i, j, k] = region.searchPointVoxel;
    const score = data[i + nx * (j + ny * k)];
    const [sum, n] = sums.get(region.index) ?? [0, 1];
    return {
      rank: 0,
      index: region.index,
      name: region.name,
      hemisphere: region.hemisphere,
      score,
      regionMean: sum / n,
      light: 0.7 + 0.3 * r(),
      shadow: score / 0.8,
      shadowDelta: -score * r(),
      searchPointMm: region.searchPointMm,
    };
  });
  regions.sort((a, b) => b.score - a.score || a.index - b.index);
  regions.forEach((x, n) => (x.rank = n + 1));
  return {
    targetClass: 1,
    probability: 0.6 + 0.35 * r(),
    probabilities: [0, 0],
    mode: 'fusion',
    baseline: 'zero',
    normalize: 'none',
    atlas: 'aal',
    maps: [{ sigmaMm: SIGMA, saliency, regions }],
    forwardPasses: 233,
    timing: { totalMs: 0, modelMs: 0 },
    model: { name: 'fake', inputName: 'input', inputShape: [1, 1, nx, ny, nz] },
  };
}

async function makeResults(dir: string, atlas: Atlas): Promise<void> {
  const ids: string[] = [];
  for (let s = 1; s <= SUBJECTS; s++) {
    const id = String(s).padStart(3, '0');
    const e = fakeSubject(atlas, 1000 + s);
    e.probabilities = [1 - e.probability, e.probability];
    const sidecar: SubjectSidecar = {
      subject: `sub-${id}`,
      group: 'cohort',
      source: `/nonexistent/sub-${id}.nii.gz`,
      fingerprint: 'bench',
      targetClass: 1,
      probability: e.probability,
      probabilities: e.probabilities,
      sigmaMm: [SIGMA],
      resampled: false,
      forwardPasses: e.forwardPasses,
      timing: { totalMs: 0, modelMs: 0, prepareMs: 0 },
    };
    await writeSubject(dir, id, 'cohort', e, sidecar);
    ids.push(id);
  }
  await writeCohortOutputs(dir, atlas, { sigmaMm: [SIGMA], cohort: ids, control: [] });
  const grid = MNI_GRIDS.mni2mm;
  await writeFile(
    join(dir, 'run.json'),
    JSON.stringify({ sigmaMm: [SIGMA], grid, atlas: { name: 'aal' }, targetClass: 1 }, null, 2),
  );
}

const ms = (x: number) => `${Math.round(x)} ms`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sleep = (msToWait: number) => new Promise((r) => setTimeout(r, msToWait));

/** `--serve DIR`: the server alone, in its own process; prints its URL and start time. */
async function serve(dir: string): Promise<void> {
  const start = performance.now();
  const server = await startViewServer({ resultsDir: dir });
  const serverMs = performance.now() - start;
  const subjects = server.manifest.subjects.length;
  console.log(JSON.stringify({ url: server.url, serverMs, subjects }));
  process.stdin.resume();
  await once(process.stdin, 'end');
  await server.close();
}

/** Start `--serve` in a fresh Node process; resolves with its URL once it listens. */
async function spawnServer(
  dir: string,
  cacheDir: string,
): Promise<{ child: ChildProcess; url: string; serverMs: number; subjects: number }> {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, ['--import', 'tsx', self, '--serve', dir], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, GLAS3D_CACHE_DIR: cacheDir },
  });
  for await (const line of createInterface({ input: child.stdout! })) {
    if (line.startsWith('{')) return { child, ...JSON.parse(line) };
  }
  throw new Error('the view server exited before listening');
}

/** Marks the viewer sets (viewer/src/main.ts), ms after navigation start. */
const MARKS = ['manifest', 'niivue', 'first-image'] as const;

const ROWS = {
  server: 'server: folder read, manifest built, listening',
  manifest: 'page, since navigation: viewer code run, manifest loaded',
  niivue: 'page, since navigation: NiiVue attached (shaders compiled)',
  firstPaint: 'page, since navigation: background + overlay composited',
  page: 'page: load requested → first image',
  total: '**server start → first image**',
  ready: 'server start → all layers ready (atlas labels, table, chart)',
  subject: 'switch to a subject',
  threshold: 'threshold change',
  row: 'click a table row (crosshair + highlight)',
} as const;
type Row = keyof typeof ROWS;

/**
 * One first open: a freshly launched browser, left idle for its own start-up work (its UI
 * pages), then a fresh server process, the page, and three interactions.
 */
async function openOnce(dir: string, cacheDir: string): Promise<Record<Row, number>> {
  const browser = await launchChromium({ width: 1400, height: 900 });
  const page = await browser.context.newPage();
  page.setDefaultTimeout(180_000);
  await sleep(3000);
  let server: Awaited<ReturnType<typeof spawnServer>> | undefined;
  try {
    server = await spawnServer(dir, cacheDir);
    if (server.subjects !== SUBJECTS) throw new Error('subjects missing');
    const loading = performance.now();
    await page.goto(server.url);
    await page.waitForFunction(() => 'glas3dViewer' in window);
    await page.evaluate(() => window.glas3dViewer.ready);
    const ready = performance.now();
    const { origin, marks } = await page.evaluate(
      (names) => {
        const at = new Map(performance.getEntriesByType('mark').map((m) => [m.name, m.startTime]));
        return {
          origin: performance.timeOrigin,
          marks: names.map((n) => at.get(`glas3d:${n}`) ?? NaN),
        };
      },
      [...MARKS],
    );
    const [manifest, niivue, firstPaint] = marks;
    // The page's clock and ours are both wall clocks of this machine. (A promise awaited from
    // here would be seen late: the reply waits for the page's main thread, busy with the atlas
    // layer by then.) The server counts from its own start: starting Node with tsx for it is
    // not glas3d view's time.
    const shown = origin + firstPaint - performance.timeOrigin;
    const timed = async (act: () => Promise<unknown>) => {
      const a = performance.now();
      await act();
      return performance.now() - a;
    };
    return {
      server: server.serverMs,
      manifest,
      niivue,
      firstPaint,
      page: shown - loading,
      total: server.serverMs + (shown - loading),
      ready: server.serverMs + (ready - loading),
      subject: await timed(() => page.evaluate(() => window.glas3dViewer.selectSubject('021'))),
      threshold: await timed(() => page.evaluate(() => window.glas3dViewer.setThreshold(0.5))),
      row: await timed(async () => {
        await page.locator('#regions tbody tr').first().click();
        await page.evaluate(() => window.glas3dViewer.idle());
      }),
    };
  } finally {
    server?.child.stdin!.end();
    await browser.close();
  }
}

async function main(): Promise<void> {
  const missing = chromiumMissing();
  if (missing) {
    console.log(`bench:view needs Chromium: ${missing}`);
    process.exitCode = 1;
    return;
  }
  const keep = option('keep', '');
  const dir = keep || (await mkdtemp(join(tmpdir(), 'glas3d-bench-view-')));
  const cacheDir = await mkdtemp(join(tmpdir(), 'glas3d-bench-view-cache-'));
  const atlas = atlasOnGrid(await loadAal(), MNI_GRIDS.mni2mm);
  const t = performance.now();
  await makeResults(dir, atlas);
  console.log(
    `made a ${SUBJECTS}-subject 2 mm results folder in ${ms(performance.now() - t)}: ${dir}`,
  );
  const empty: Record<Row, number>[] = [];
  const filled: Record<Row, number>[] = [];
  try {
    // In pairs: a start with an empty view cache (the first start on a machine), which fills
    // it, then one that finds it filled (every later start).
    for (let rep = 0; rep < REPEATS; rep++) {
      await rm(cacheDir, { recursive: true, force: true });
      empty.push(await openOnce(dir, cacheDir));
      filled.push(await openOnce(dir, cacheDir));
    }
  } finally {
    await rm(cacheDir, { recursive: true, force: true });
    if (!keep) await rm(dir, { recursive: true, force: true });
  }
  console.log(
    `\nglas3d view, ${SUBJECTS} subjects on the MNI 2 mm grid; Chromium headless (SwiftShader WebGL2), ${cpus().length} CPU cores, Node ${process.versions.node}. Each start: a fresh server process and a freshly launched browser; ${REPEATS} with an empty view cache, ${REPEATS} with it filled; median (min–max).\n`,
  );
  console.log('| step | first start (empty view cache) | later starts (cache filled) |');
  console.log('|---|---|---|');
  const cell = (runs: Record<Row, number>[], key: Row) => {
    const xs = runs.map((r) => r[key]);
    return `${ms(median(xs))} (${ms(Math.min(...xs))}–${ms(Math.max(...xs))})`;
  };
  for (const [key, name] of Object.entries(ROWS) as [Row, string][]) {
    console.log(`| ${name} | ${cell(empty, key)} | ${cell(filled, key)} |`);
  }
}

if (process.argv.includes('--serve')) await serve(option('serve', ''));
else await main();
