/**
 * The viewer in a headless browser (playwright-core driving the system's Chromium), for
 * `glas3d figure`, the tests and the bench. No browser is downloaded: Debian's `chromium`
 * package (or GLAS3D_CHROMIUM) is used; WebGL2 runs there in software (SwiftShader).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { Glas3dError } from '../errors.js';
import type { ViewerHook } from './manifest-types.js';

/** The page's global, as seen from code that page.evaluate() runs there. */
declare const window: { glas3dViewer: ViewerHook };

export const DEFAULT_CHROMIUM = '/usr/bin/chromium';

/** The Chromium to use: $GLAS3D_CHROMIUM, else Debian's. */
export function chromiumPath(env: Record<string, string | undefined> = process.env): string {
  return env.GLAS3D_CHROMIUM || DEFAULT_CHROMIUM;
}

/** Why headless viewing cannot run here, or undefined when it can. */
export function chromiumMissing(path = chromiumPath()): string | undefined {
  if (existsSync(path)) return undefined;
  return path === DEFAULT_CHROMIUM
    ? `${path} not found (Debian: apt-get install chromium; or set GLAS3D_CHROMIUM to a Chromium binary)`
    : `${path} not found: GLAS3D_CHROMIUM names no file; set it to a Chromium binary, or unset it for ${DEFAULT_CHROMIUM}`;
}

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  // Software WebGL (SwiftShader under ANGLE's Vulkan back end) otherwise compiles a pipeline for
  // every linked program on background threads — NiiVue links ~50, the viewer draws with ~10 —
  // and on a 2-core machine that work (~5 s of CPU) delays the first image by seconds.
  // Pipelines are still built when first drawn with.
  '--disable-angle-features=warmUpPipelineCacheAtLink',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface HeadlessBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Start Chromium headless with a fresh, throw-away profile. */
export async function launchChromium(
  options: { width?: number; height?: number; path?: string } = {},
): Promise<HeadlessBrowser> {
  const path = options.path ?? chromiumPath();
  const missing = chromiumMissing(path);
  if (missing) throw new Glas3dError(missing);
  let playwright: typeof import('playwright-core');
  try {
    playwright = await import('playwright-core');
  } catch {
    throw new Glas3dError('headless figures need playwright-core: npm install playwright-core');
  }
  const profile = await mkdtemp(join(tmpdir(), 'glas3d-chromium-'));
  let context: BrowserContext;
  try {
    context = await playwright.chromium.launchPersistentContext(profile, {
      executablePath: path,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: options.width ?? 1400, height: options.height ?? 900 },
      acceptDownloads: true,
    });
  } catch (e) {
    await rm(profile, { recursive: true, force: true });
    throw new Glas3dError(
      `cannot start Chromium at ${path}: ${launchFailure(e)}; set GLAS3D_CHROMIUM to a Chromium binary`,
    );
  }
  return {
    context,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** The gist of playwright's launch error: its first line, without the method's name. */
export function launchFailure(e: unknown): string {
  const first = String((e as Error)?.message ?? e).split('\n')[0];
  const spawnError = /spawn .* (E[A-Z]+)/.exec(first);
  if (spawnError) return `cannot run it (${spawnError[1]})`;
  const gist = first.replace(/^[\w.]+: /, '').trim();
  return gist === '' || /has been closed/.test(gist)
    ? 'it exited before it opened a page (is it Chromium?)'
    : gist;
}

/** Open the viewer at `url` and wait until its first image is drawn. */
export async function openViewer(
  context: BrowserContext,
  url: string,
  timeoutMs = 120_000,
): Promise<Page> {
  const page = await context.newPage();
  page.setDefaultTimeout(timeoutMs);
  await page.goto(url);
  await page.waitForFunction(() => 'glas3dViewer' in window);
  try {
    await page.evaluate(() => window.glas3dViewer.ready);
  } catch (e) {
    const first = String((e as Error).message).split('\n')[0];
    throw new Glas3dError(
      `the viewer could not start: ${first.replace(/^[\w.]+: (Error: )?/, '')}`,
    );
  }
  return page;
}
