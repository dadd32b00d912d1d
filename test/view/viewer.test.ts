/**
 * The viewer in Debian's Chromium (headless, WebGL2 through SwiftShader) on a real `glas3d run`
 * folder, driven like a person would — clicks, mouse moves, selectors — and read back through
 * `window.glas3dViewer`. Plus the `glas3d view` and `glas3d figure` commands end to end.
 * Screenshots go to test-output/view/.
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { atlasOnGrid, loadAal } from '../../src/atlas/index.js';
import { runCli } from '../../src/cli/run-cli.js';
import { explain } from '../../src/explain/explain-volume.js';
import { writeExplanation } from '../../src/report/explanation-files.js';
import {
  chromiumMissing,
  launchChromium,
  startViewServer,
  type HeadlessBrowser,
  type ViewerHook,
  type ViewServer,
} from '../../src/view/index.js';
import { MNI_GRIDS, voxelToMm } from '../../src/volume/index.js';
import { TARGETS } from '../cohort/cohort-fixtures.js';
import { linearOracle, oracleWorld, regionWeights } from '../explain/oracle-fixtures.js';
import {
  ensureViewerBuilt,
  folderFingerprint,
  makeRunResults,
  OUTPUT,
  pixelDifference,
  pixelStats,
  ROOT,
  type RunResults,
} from './fixtures.js';

declare const window: { glas3dViewer: ViewerHook };
type Vec3 = [number, number, number];

const missing = chromiumMissing();
if (missing) console.warn(`viewer browser tests skipped: ${missing}`);

let run: RunResults;
let before: string;

beforeAll(async () => {
  mkdirSync(OUTPUT, { recursive: true });
  await ensureViewerBuilt();
  run = await makeRunResults();
  before = folderFingerprint(run.results);
}, 300_000);

/** Open the viewer and collect every console error, page error and failed request. */
async function open(
  browser: HeadlessBrowser,
  url: string,
): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.context.newPage();
  page.setDefaultTimeout(90_000);
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`page: ${e.message}`));
  page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()}`));
  page.on('response', (r) => {
    if (r.status() >= 400) errors.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  await page.goto(url);
  await page.waitForFunction(() => 'glas3dViewer' in window);
  await page.evaluate(() => window.glas3dViewer.ready);
  return { page, errors };
}

const canvasShot = (page: Page, name?: string) =>
  page.locator('#gl').screenshot(name ? { path: join(OUTPUT, name) } : {});

const idle = (page: Page) => page.evaluate(() => window.glas3dViewer.idle());

describe.skipIf(missing !== undefined)(
  `the viewer in Chromium${missing ? ` (${missing})` : ''}`,
  () => {
    let server: ViewServer;
    let browser: HeadlessBrowser;
    let page: Page;
    let errors: string[];

    beforeAll(async () => {
      server = await startViewServer({ resultsDir: run.results });
      browser = await launchChromium({ width: 1400, height: 900 });
      ({ page, errors } = await open(browser, server.url));
    }, 300_000);

    afterAll(async () => {
      await browser?.close();
      await server?.close();
    });

    it('loads with no console errors and draws a brain (the canvas is not blank)', async () => {
      expect(errors).toEqual([]);
      await page.screenshot({ path: join(OUTPUT, 'cohort-page.png') });
      const { variance, mean } = await pixelStats(await canvasShot(page, 'cohort-canvas.png'));
      expect(mean).toBeGreaterThan(5);
      expect(variance).toBeGreaterThan(300);
      const state = await page.evaluate(() => window.glas3dViewer.state());
      expect(state.map).toBe('cohort:cohort');
      // Background and overlay first, the atlas layer and the table after (bench:view's marks).
      const marks = await page.evaluate(() =>
        performance.getEntriesByType('mark').map((m) => m.name),
      );
      expect(marks).toEqual([
        'glas3d:manifest',
        'glas3d:niivue',
        'glas3d:first-image',
        'glas3d:ready',
      ]);
      expect(state.overlayUrl).toBe(server.manifest.cohortMaps[0].url);
      expect(await page.locator('#regions tbody tr').count()).toBe(116);
      expect(await page.locator('#chart .bar').count()).toBe(10);
      // The cohort table has the bootstrap CI and, with a control group, p and q.
      const head = await page.locator('#regions thead').innerText();
      for (const column of ['95% CI', 'p', 'q']) expect(head).toContain(column);
    });

    it('the image changes when the threshold slider moves', async () => {
      const a = await canvasShot(page);
      await page.locator('#threshold').fill('0.02');
      await idle(page);
      expect((await page.evaluate(() => window.glas3dViewer.state())).threshold).toBeCloseTo(0.02);
      const b = await canvasShot(page, 'threshold-0.02.png');
      expect(await pixelDifference(a, b)).toBeGreaterThan(0.5);
      await page.evaluate(() => window.glas3dViewer.setThreshold(0.3));
      const c = await canvasShot(page);
      expect(await pixelDifference(a, c)).toBeLessThan(0.5);
    });

    it('clicking the first row puts the crosshair on its region’s search point and highlights it', async () => {
      await page.evaluate(() => window.glas3dViewer.setCrosshairMm([0, 0, 40]));
      const row = (await page.evaluate(() => window.glas3dViewer.rows()))[0];
      expect(TARGETS).toContain(row.index);
      const searchPoint = server.manifest.atlas.regions.find(
        (r) => r.index === row.index,
      )!.searchPointMm;
      expect(row.pointMm).toEqual(searchPoint);
      const far = await page.evaluate(() => window.glas3dViewer.crosshairMm());
      expect(Math.max(...far.map((v, i) => Math.abs(v - searchPoint[i])))).toBeGreaterThan(10);
      const unselected = await canvasShot(page);

      await page.locator('#regions tbody tr').first().click();
      await idle(page);
      const mm = await page.evaluate(() => window.glas3dViewer.crosshairMm());
      // Within one voxel (2 mm) on every axis.
      for (let a = 0; a < 3; a++) expect(Math.abs(mm[a] - searchPoint[a])).toBeLessThanOrEqual(2);
      expect(await page.locator('#regions tbody tr.selected').count()).toBe(1);
      expect(await page.locator('#regions tbody tr.selected td.name').innerText()).toBe(row.name);
      expect((await page.evaluate(() => window.glas3dViewer.state())).selected).toBe(row.index);
      expect(await page.locator('#crosshair-region').innerText()).toBe(row.name);
      expect(await page.locator('#chart .bar.selected').getAttribute('data-index')).toBe(
        String(row.index),
      );
      // The highlight is drawn: the views differ from the same crosshair without a selection.
      const selected = await canvasShot(page, 'row-1-selected.png');
      expect(await pixelDifference(unselected, selected)).toBeGreaterThan(0.2);
      await page.screenshot({ path: join(OUTPUT, 'row-1-selected-page.png') });
    });

    it('hovering over a voxel deep inside Hippocampus_L shows its AAL name', async () => {
      // A voxel of the atlas on the 2 mm grid whose six neighbours are Hippocampus_L too.
      const onGrid = atlasOnGrid(await loadAal(), MNI_GRIDS.mni2mm);
      const hippocampus = onGrid.regions.find((r) => r.name === 'Hippocampus_L')!;
      const [nx, ny] = onGrid.labels.dims;
      const label = (i: number, j: number, k: number) => onGrid.labels.data[i + nx * (j + ny * k)];
      let best: Vec3 | undefined;
      let bestDistance = Infinity;
      const [ci, cj, ck] = hippocampus.centreVoxel;
      for (let k = 1; k < onGrid.labels.dims[2] - 1; k++)
        for (let j = 1; j < ny - 1; j++)
          for (let i = 1; i < nx - 1; i++) {
            if (label(i, j, k) !== hippocampus.index) continue;
            const inside = [
              [1, 0, 0],
              [-1, 0, 0],
              [0, 1, 0],
              [0, -1, 0],
              [0, 0, 1],
              [0, 0, -1],
            ].every(([a, b, c]) => label(i + a, j + b, k + c) === hippocampus.index);
            const d = (i - ci) ** 2 + (j - cj) ** 2 + (k - ck) ** 2;
            if (inside && d < bestDistance) [best, bestDistance] = [[i, j, k], d];
          }
      expect(best).toBeDefined();
      const mm = voxelToMm(onGrid.labels, best!) as Vec3;
      expect(await page.evaluate((p) => window.glas3dViewer.regionAt(p), mm)).toEqual({
        index: hippocampus.index,
        name: 'Hippocampus_L',
      });
      await page.evaluate((p) => window.glas3dViewer.setCrosshairMm(p), mm);
      await idle(page);
      const at = await page.evaluate((p) => window.glas3dViewer.mmToClient(p), mm);
      expect(at).not.toBeNull();
      await page.mouse.move(at![0], at![1]);
      await expect.poll(() => page.locator('#hover-region').innerText()).toBe('Hippocampus_L');
      // Somewhere outside the brain: not a region.
      const box = (await page.locator('#gl').boundingBox())!;
      await page.mouse.move(box.x + 2, box.y + 2);
      await expect.poll(() => page.locator('#hover-region').innerText()).not.toBe('Hippocampus_L');
    });

    it('the map selector swaps the overlay for a subject’s map, with the subject’s own table', async () => {
      await page.evaluate(() => window.glas3dViewer.setCrosshairMm([26, 0, -18]));
      await idle(page);
      const cohort = await canvasShot(page);
      await page.selectOption('#map-select', 'subject:cohort:02');
      await idle(page);
      const sub02 = server.manifest.subjects.find((s) => s.id === '02')!;
      const state = await page.evaluate(() => window.glas3dViewer.state());
      expect(state.overlayUrl).toBe(sub02.maps.find((m) => m.sigmaMm === 10)!.url);
      const subject = await canvasShot(page, 'subject-02.png');
      expect(await pixelDifference(cohort, subject)).toBeGreaterThan(0.05);
      const head = await page.locator('#regions thead').innerText();
      expect(head).not.toContain('95% CI');
      expect(head).toContain('shadow Δ');
      const rows = await page.evaluate(() => window.glas3dViewer.rows());
      expect(rows).toHaveLength(116);
      expect(TARGETS).toContain(rows[0].index);
      expect(await page.locator('#map-info').innerText()).toMatch(/sub-02 · P=0\.\d{3}/);

      // Through the hook too, and on to the control group's map and the subject's own scan.
      await page.evaluate(() => window.glas3dViewer.selectSubject('sub-01'));
      expect((await page.evaluate(() => window.glas3dViewer.state())).map).toBe(
        'subject:cohort:01',
      );
      await page.selectOption('#background-select', 'source');
      await idle(page);
      expect((await page.evaluate(() => window.glas3dViewer.state())).backgroundUrl).toBe(
        server.manifest.subjects[0].sourceUrl,
      );
      await page.evaluate(() => window.glas3dViewer.selectSubject('control'));
      const control = await page.evaluate(() => window.glas3dViewer.state());
      expect(control.map).toBe('cohort:control');
      expect(control.background).toBe('template');
      expect(errors).toEqual([]);
    });

    it('the σ selector shows the σ = 15 mm map', async () => {
      await page.selectOption('#sigma-select', '15');
      await idle(page);
      const state = await page.evaluate(() => window.glas3dViewer.state());
      expect(state.sigmaMm).toBe(15);
      expect(state.overlayUrl).toMatch(/sigma-15_saliency/);
      expect(
        (await page.evaluate(() => window.glas3dViewer.rows())).every((r) => r.sigmaMm === 15),
      ).toBe(true);
      await page.selectOption('#map-select', 'cohort:cohort');
      await idle(page);
      await page.screenshot({ path: join(OUTPUT, 'sigma-15-page.png') });
    });

    it('"Save figure" downloads a PNG of the views with the top-10 chart', async () => {
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.locator('#save-figure').click(),
      ]);
      expect(download.suggestedFilename()).toMatch(/^glas3d_results_cohort-cohort_sigma-15\.png$/);
      const path = join(OUTPUT, 'saved-figure.png');
      await download.saveAs(path);
      const png = await readFile(path);
      const meta = await sharp(png).metadata();
      const canvas = (await page.locator('#gl').boundingBox())!;
      expect(meta.format).toBe('png');
      expect(meta.width).toBeGreaterThanOrEqual(Math.floor(canvas.width));
      expect(meta.height).toBeGreaterThan(canvas.height + 150);
      expect((await pixelStats(png)).variance).toBeGreaterThan(300);
      expect(errors).toEqual([]);
    });

    it('shows glas3d explain output (one volume, no cohort map)', async () => {
      const w = await oracleWorld();
      const dir = await mkdtemp(join(tmpdir(), 'glas3d-view-explain-'));
      const volume = join(run.cohort, 'sub-01.nii.gz');
      const e = await explain(volume, {
        model: linearOracle(w, regionWeights(w, { [TARGETS[0]]: 1 })),
        atlas: await loadAal(),
        sigmaMm: [10],
        baseline: 'zero',
      });
      await writeExplanation(dir, e, { volume });
      const s = await startViewServer({ resultsDir: dir });
      try {
        const { page: p, errors: errs } = await open(browser, s.url);
        expect(errs).toEqual([]);
        const state = await p.evaluate(() => window.glas3dViewer.state());
        expect(state.map).toBe('subject:cohort:sub-01');
        expect(await p.locator('#map-select option').count()).toBe(1);
        expect((await p.evaluate(() => window.glas3dViewer.rows()))[0].index).toBe(TARGETS[0]);
        expect(
          (await pixelStats(await canvasShot(p, 'explain-canvas.png'))).variance,
        ).toBeGreaterThan(300);
        await p.screenshot({ path: join(OUTPUT, 'explain-page.png') });
        await p.close();
      } finally {
        await s.close();
      }
    });

    it('glas3d figure writes the same figure headless', async () => {
      const out = join(OUTPUT, 'figure-cli.png');
      const r = await runCli([
        'figure',
        run.results,
        '--out',
        out,
        '--subject',
        '01',
        '--region',
        'Hippocampus_L',
        '--threshold',
        '0.1',
      ]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(out);
      const meta = await sharp(await readFile(out)).metadata();
      expect(meta.width).toBeGreaterThan(1000); // the views' canvas of a 1600 px page
      const bad = await runCli(['figure', run.results, '--out', out, '--subject', '77']);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/--subject 77: not in/);
    });
  },
);

describe('glas3d view on the command line', () => {
  it('prints the URL, serves the manifest, stops cleanly on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/entry.ts', 'view', run.results, '--port', '0'],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code) => resolve(code)),
    );
    try {
      await expect.poll(() => stdout, { timeout: 60_000 }).toMatch(/http:\/\/127\.0\.0\.1:\d+\//);
      const url = stdout.match(/http:\/\/127\.0\.0\.1:\d+\//)![0];
      expect(stdout).toContain('run: 2 subject(s) + 1 control(s)');
      const manifest = (await (await fetch(`${url}api/manifest.json`)).json()) as { kind: string };
      expect(manifest.kind).toBe('run');
      expect((await fetch(url)).headers.get('content-type')).toMatch(/text\/html/);
      expect((await fetch(`${url}api/manifest.json`, { method: 'POST' })).status).toBe(405);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(stderr.replace(/npm warn.*\n/g, '')).toBe('');
  });

  it('--host other than 127.0.0.1 warns on stderr', async () => {
    const r = await runCli(['view', join(run.dir, 'no-such-folder'), '--host', '0.0.0.0']);
    expect(r.stderr).toMatch(/warning: --host 0\.0\.0\.0: .*readable by anyone/);
    expect(r.stderr).toMatch(/no such folder/);
    expect(r.code).toBe(1);
  });

  it('bad arguments: one line and exit 1', async () => {
    const r = await runCli(['view', run.results, '--port', '70000']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--port 70000/);
    const n = await runCli(['view', run.cohort]);
    expect(n.code).toBe(1);
    expect(n.stderr).toMatch(/not a glas3d results folder/);
  });

  it('the results folder is unchanged after everything above', () => {
    expect(folderFingerprint(run.results)).toBe(before);
  });
});
