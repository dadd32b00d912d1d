/**
 * The viewer in Debian's Chromium (headless, WebGL2 through SwiftShader) on a real `glas3d run`
 * folder, driven like a person would — clicks, mouse moves, selectors — and read back through
 * `window.glas3dViewer`. Plus the `glas3d view` and `glas3d figure` commands end to end.
 * Screenshots go to test-output/view/.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
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
import { parseDelimited } from '../../src/view/manifest.js';
import { MNI_GRIDS, readVolume, voxelToMm, writeVolume } from '../../src/volume/index.js';
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

    it('the control group map ranks the table and chart by control_score, and says so', async () => {
      // The truth: regions.csv's σ = 10 rows ordered by control_score (ties: atlas index).
      const csv = parseDelimited(await readFile(join(run.results, 'regions.csv'), 'utf8'), ',')
        .filter((r) => r.sigma_mm === '10')
        .map((r) => ({ index: Number(r.index), control: Number(r.control_score) }));
      const byControl = [...csv]
        .sort((a, b) => b.control - a.control || a.index - b.index)
        .map((r) => r.index);
      expect(byControl.slice(0, 10)).not.toEqual(csv.map((r) => r.index).slice(0, 10));
      await page.selectOption('#sigma-select', '10');
      await page.selectOption('#map-select', 'cohort:control');
      await idle(page);
      const rows = await page.evaluate(() => window.glas3dViewer.rows());
      expect(rows.map((r) => r.index)).toEqual(byControl);
      expect(rows.map((r) => r.rank)).toEqual(byControl.map((_, i) => i + 1));
      const bars = await page
        .locator('#chart .bar')
        .evaluateAll((b) => b.map((x) => Number(x.getAttribute('data-index'))));
      expect(bars).toEqual(byControl.slice(0, 10));
      expect(await page.locator('#chart text').first().textContent()).toMatch(/control group/);
      expect(await page.locator('#regions thead').innerText()).toContain('control score');
      await page.selectOption('#map-select', 'cohort:cohort');
      await idle(page);
      expect(await page.locator('#chart text').first().textContent()).toBe(
        'Top 10 regions by score',
      );
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

    it('a map with tiny values (~1e-7, a real subject’s) is drawn graded, not in one colour', async () => {
      // NiiVue's overlay shader divides by max(1e-5, cal_max - cal_min): unscaled, every voxel
      // of such a map above the threshold gets the colormap's first colour.
      const dir = join(await mkdtemp(join(tmpdir(), 'glas3d-view-tiny-')), 'results');
      await cp(run.results, dir, { recursive: true });
      const file = join(dir, 'sub-01/sub-01_desc-glas_sigma-10_saliency.nii.gz');
      const v = await readVolume(file);
      const [nx, ny, nz] = v.dims;
      const data = new Float32Array(v.data.length);
      const centre = (fx: number): Vec3 => [
        Math.round(nx * fx),
        Math.round(ny / 2),
        Math.round(nz / 2),
      ];
      const blobs: [Vec3, number][] = [
        [centre(0.35), 0.4e-7],
        [centre(0.65), 1.0e-7],
      ];
      for (const [[ci, cj, ck], value] of blobs)
        for (let k = ck - 2; k <= ck + 2; k++)
          for (let j = cj - 2; j <= cj + 2; j++)
            for (let i = ci - 2; i <= ci + 2; i++) data[i + nx * (j + ny * k)] = value;
      await writeVolume(file, { ...v, data });
      const s = await startViewServer({ resultsDir: dir });
      try {
        const { page: p, errors: errs } = await open(browser, s.url);
        expect(errs).toEqual([]);
        await p.selectOption('#atlas-mode', 'off');
        // Opaque overlay: the colours read back are the colormap's own.
        await p.evaluate(
          "(o => { o.value = '1'; o.dispatchEvent(new Event('input')); })(document.getElementById('opacity'))",
        );
        await p.evaluate(async () => {
          await window.glas3dViewer.selectSubject('01');
          await window.glas3dViewer.selectSigma(10);
          await window.glas3dViewer.setThreshold(0.1);
        });
        const mm = blobs.map(([ijk]) => voxelToMm(v, ijk) as Vec3);
        // The axial slice through both blobs, the crosshair lines away from them.
        await p.evaluate((m) => window.glas3dViewer.setCrosshairMm(m), [
          (mm[0][0] + mm[1][0]) / 2,
          mm[0][1] - 30,
          mm[0][2],
        ] as Vec3);
        await idle(p);
        const { data: px, info } = await sharp(
          await p.screenshot({ path: join(OUTPUT, 'tiny-map-page.png') }),
        )
          .raw()
          .toBuffer({ resolveWithObject: true });
        const colours: number[][] = [];
        for (const m of mm) {
          const xy = await p.evaluate((q) => window.glas3dViewer.mmToClient(q), m);
          expect(xy).not.toBeNull();
          const c = (Math.round(xy![1]) * info.width + Math.round(xy![0])) * info.channels;
          colours.push([px[c], px[c + 1], px[c + 2]]);
        }
        // Warm colormap: 0.4 of the maximum is orange, the maximum yellow.
        const [low, high] = colours;
        expect(low[0]).toBeGreaterThan(200);
        expect(high[0]).toBeGreaterThan(200);
        expect(high[1] - low[1]).toBeGreaterThan(60);
        // The readouts stay in the map's own units.
        expect(await p.locator('#map-info').innerText()).toContain('max 1.0e-7');
        const ticks = (await p.evaluate(() => window.glas3dViewer.colorbarLabels())).map(Number);
        expect(Math.max(...ticks)).toBeGreaterThan(0.3e-7);
        expect(Math.max(...ticks)).toBeLessThanOrEqual(1.0001e-7);
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

    describe('a damaged folder: a truncated map, a missing σ, flat explanations, a failed subject', () => {
      let dir: string;
      let s: ViewServer;
      let p: Page;
      let tinyMax: number;
      const cohortMap = 'cohort_desc-glas_sigma-10_saliency.nii.gz';
      const missing = 'sub-02/sub-02_desc-glas_sigma-15_saliency.nii.gz';

      beforeAll(async () => {
        dir = join(await mkdtemp(join(tmpdir(), 'glas3d-view-damaged-')), 'results');
        await cp(run.results, dir, { recursive: true });
        // The first map the viewer shows, cut short (an interrupted copy).
        await truncate(join(dir, cohortMap), 20_000);
        await rm(join(dir, missing));
        // A map whose values are tiny (a saturated model's probability changes).
        const tiny = join(dir, 'sub-01/sub-01_desc-glas_sigma-10_saliency.nii.gz');
        const v = await readVolume(tiny);
        const data = v.data.map((x) => x * 1e-11);
        tinyMax = data.reduce((m, x) => Math.max(m, x), 0);
        await writeVolume(tiny, { ...v, data });
        // Every cohort subject flat, as glas3d run marks them.
        for (const id of ['01', '02']) {
          const sidecar = join(dir, `sub-${id}/sub-${id}_desc-glas.json`);
          const json = JSON.parse(await readFile(sidecar, 'utf8')) as Record<string, unknown>;
          json.flat = true;
          json.warnings = ['σ 10 mm: the explanation is flat, its ranking rounding noise'];
          await writeFile(sidecar, JSON.stringify(json));
        }
        await writeFile(
          join(dir, 'errors.tsv'),
          'group\tsubject\tfile\treason\ncohort\tsub-bad\tx.nii.gz\tcannot decompress\n',
        );
        // One subject: no bootstrap interval.
        const csv = await readFile(join(dir, 'regions.csv'), 'utf8');
        const [head, ...lines] = csv.trim().split('\n');
        const n = head.split(',').indexOf('n_subjects');
        const one = lines.map((l) =>
          l
            .split(',')
            .map((c, i) => (i === n ? '1' : c))
            .join(','),
        );
        await writeFile(join(dir, 'regions.csv'), [head, ...one].join('\n') + '\n');
        s = await startViewServer({ resultsDir: dir });
        ({ page: p } = await open(browser, s.url));
      }, 120_000);

      afterAll(async () => {
        await p?.close();
        await s?.close();
      });

      it('a truncated map: the banner names the file and the fix, the table still shows', async () => {
        const problems = await p.evaluate(() => window.glas3dViewer.problems());
        expect(problems).toHaveLength(1);
        expect(problems[0].message).toContain(cohortMap);
        expect(problems[0].message).toMatch(/rerun glas3d run with the same --out/);
        expect(await p.locator('#error').isVisible()).toBe(true);
        expect(await p.locator('#regions tbody tr').count()).toBe(116);
        // One subject: the interval reads "–", not a zero-width range.
        const ci = await p.locator('#regions tbody tr:first-child td').nth(3).innerText();
        expect(ci).toBe('–');
        expect(await p.locator('#notes').innerText()).toContain('1 subject failed: see errors.tsv');
      });

      it('every cohort subject flat: a prominent note, no ranking chart, and the figure says so', async () => {
        expect(await p.locator('#notice').isVisible()).toBe(true);
        expect(await p.locator('#notice').innerText()).toMatch(/No ranking: .* rounding noise/);
        expect(await p.locator('#chart .bar').count()).toBe(0);
        expect(await p.locator('#chart text').first().textContent()).toMatch(/rounding noise/);
        await p.evaluate(() => window.glas3dViewer.figureDataUrl());
        const text = (await p.evaluate(() => window.glas3dViewer.figureText())).lines
          .map((l) => l.text)
          .join(' ');
        expect(text).toMatch(/No ranking: every cohort subject’s explanation is flat/);
        expect(text).toMatch(/rounding noise/);
      });

      it('switching to a subject clears the stale error; its flat warning is on its figure; tiny values get readable ticks', async () => {
        await p.evaluate(() => window.glas3dViewer.selectSubject('01'));
        await idle(p);
        expect(await p.evaluate(() => window.glas3dViewer.problems())).toEqual([]);
        expect(await p.locator('#error').isHidden()).toBe(true);
        await p.evaluate(() => window.glas3dViewer.figureDataUrl());
        const text = (await p.evaluate(() => window.glas3dViewer.figureText())).lines
          .map((l) => l.text)
          .join(' ');
        expect(text).toContain('sub-01: σ 10 mm: the explanation is flat');
        const labels = await p.evaluate(() => window.glas3dViewer.colorbarLabels());
        const values = labels.map(Number);
        expect(values.every(Number.isFinite)).toBe(true);
        expect(new Set(labels).size).toBe(labels.length);
        expect(Math.max(...values)).toBeGreaterThan(0.3 * tinyMax);
        expect(Math.max(...values)).toBeLessThanOrEqual(tinyMax * 1.0001);
      });

      it('a subject without the σ asked for: a note names the missing file, σ is not changed silently', async () => {
        await p.evaluate(() => window.glas3dViewer.selectSigma(15));
        await p.selectOption('#map-select', 'subject:cohort:02');
        await idle(p);
        const state = await p.evaluate(() => window.glas3dViewer.state());
        expect(state.sigmaMm).toBe(10);
        expect(state.overlayUrl).toMatch(/sigma-10_saliency/);
        const notice = await p.locator('#notice').innerText();
        expect(notice).toContain(missing);
        expect(notice).toMatch(/Showing σ = 10 mm instead/);
        // σ = 15 is shown again for the next subject that has it.
        await p.evaluate(() => window.glas3dViewer.selectSubject('01'));
        expect((await p.evaluate(() => window.glas3dViewer.state())).sigmaMm).toBe(15);
        expect(await p.locator('#notice').innerText()).not.toContain(missing);
        await p.screenshot({ path: join(OUTPUT, 'damaged-page.png') });
      });

      it('a narrow figure wraps its title inside the picture', async () => {
        await p.setViewportSize({ width: 560, height: 700 });
        await idle(p);
        await p.evaluate(() => window.glas3dViewer.figureDataUrl());
        const { lines, width } = await p.evaluate(() => window.glas3dViewer.figureText());
        expect(lines.some((l) => l.text.startsWith('results —'))).toBe(true);
        for (const l of lines) expect(l.right).toBeLessThanOrEqual(width);
      });

      it('glas3d figure: one line naming the file and the fix, exit 1', async () => {
        const out = join(dir, '..', 'fig.png');
        const gone = await runCli([
          'figure',
          dir,
          '--out',
          out,
          '--subject',
          '02',
          '--sigma',
          '15',
        ]);
        expect(gone.code).toBe(1);
        expect(gone.stderr.trim().split('\n')).toHaveLength(1);
        expect(gone.stderr).toContain(join(dir, missing));
        expect(gone.stderr).toMatch(/rerun glas3d run/);
        const cut = await runCli(['figure', dir, '--out', out]);
        expect(cut.code).toBe(1);
        expect(cut.stderr.trim().split('\n')).toHaveLength(1);
        expect(cut.stderr).toContain(join(dir, cohortMap));
        expect(cut.stderr).toMatch(/truncated.*rerun glas3d run with the same --out/);
      });
    });

    it('glas3d figure with a Chromium that does not start: one line, exit 1, no profile left', async () => {
      const tmp = await mkdtemp(join(tmpdir(), 'glas3d-view-tmp-'));
      const saved = { chromium: process.env.GLAS3D_CHROMIUM, tmp: process.env.TMPDIR };
      process.env.GLAS3D_CHROMIUM = '/bin/true';
      process.env.TMPDIR = tmp;
      try {
        const r = await runCli(['figure', run.results, '--out', join(tmp, 'x.png')]);
        expect(r.code).toBe(1);
        expect(r.stderr).toBe(
          'glas3d: cannot start Chromium at /bin/true: it exited before it opened a page (is it Chromium?); set GLAS3D_CHROMIUM to a Chromium binary\n',
        );
        expect(readdirSync(tmp)).toEqual([]);
      } finally {
        for (const [k, v] of [
          ['GLAS3D_CHROMIUM', saved.chromium],
          ['TMPDIR', saved.tmp],
        ] as const) {
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
        }
      }
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
