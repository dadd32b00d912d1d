/**
 * `glas3d view RESULTS_DIR`: serve the results viewer on 127.0.0.1 until interrupted.
 * `glas3d figure RESULTS_DIR --out fig.png`: the same viewer, headless, saved as a PNG.
 */
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { Glas3dError, OptionError } from '../../errors.js';
import { remakeHint, resultPathOf } from '../../view/fixes.js';
import { isLoopback, startViewServer, type ViewServer } from '../../view/server.js';
import { launchChromium, openViewer } from '../../view/headless.js';
import type { ViewerHook, ViewManifest } from '../../view/manifest-types.js';
import type { CliIo } from '../io.js';
import { parseCount } from '../options.js';

declare const window: { glas3dViewer: ViewerHook };

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new OptionError(`--port ${value}: give a port number 0–65535 (0 = any free port).`);
  }
  return port;
}

function parseFraction(flag: string) {
  return (value: string): number => {
    const x = Number(value);
    if (!Number.isFinite(x) || x < 0 || x > 1) {
      throw new OptionError(`${flag} ${value}: give a number from 0 to 1.`);
    }
    return x;
  };
}

/** Open `url` in the desktop's browser; a failure is only a warning. */
function openInBrowser(url: string, io: CliIo): void {
  const [command, args] =
    process.platform === 'darwin'
      ? ['open', [url]]
      : process.platform === 'win32'
        ? ['cmd', ['/c', 'start', '', url]]
        : ['xdg-open', [url]];
  try {
    const child = spawn(command, args as string[], { stdio: 'ignore', detached: true });
    child.on('error', () => io.err(`glas3d: warning: could not open a browser; open ${url}\n`));
    child.unref();
  } catch {
    io.err(`glas3d: warning: could not open a browser; open ${url}\n`);
  }
}

/** Resolve when the process is asked to stop (Ctrl-C, SIGTERM). */
function untilStopped(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: string) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(signal);
    };
    const onInt = () => stop('SIGINT');
    const onTerm = () => stop('SIGTERM');
    process.once('SIGINT', onInt);
    process.once('SIGTERM', onTerm);
  });
}

function describe(server: ViewServer): string {
  const m = server.manifest;
  const controls = m.subjects.filter((s) => s.group === 'control').length;
  const what =
    m.kind === 'run'
      ? `${m.subjects.length - controls} subject(s)${controls ? ` + ${controls} control(s)` : ''}, ${m.cohortMaps.length} group map(s)`
      : `one volume (${m.subjects[0]?.id})`;
  return `glas3d view: ${m.title} (${m.kind}: ${what}, σ = ${m.sigmaMm.join(', ')} mm)`;
}

/** Refuse an --out the PNG cannot be written to, before a browser starts. */
function checkOut(out: string): void {
  if (existsSync(out) && statSync(out).isDirectory()) {
    throw new OptionError(`--out ${out}: is a folder; give a file name such as fig.png.`);
  }
  if (!existsSync(dirname(out))) {
    throw new OptionError(
      `--out ${out}: the folder ${dirname(out)} does not exist; create it first.`,
    );
  }
}

/** The id `selectSubject` takes for --subject, checked against the manifest. */
function subjectId(m: ViewManifest, wanted: string, results: string): string {
  const id = wanted.replace(/^sub-/, '');
  if (!m.subjects.some((s) => s.id === id) && !['cohort', 'control'].includes(id)) {
    throw new OptionError(
      `--subject ${wanted}: not in ${results} (subjects: ${m.subjects.map((s) => s.id).join(', ')}).`,
    );
  }
  return id;
}

/** Refuse a σ the chosen map does not have, naming the missing file and the fix. */
function checkSigma(m: ViewManifest, id: string | undefined, sigmaMm: number, results: string) {
  if (!m.sigmaMm.includes(sigmaMm)) {
    throw new OptionError(`--sigma ${sigmaMm}: the results have σ = ${m.sigmaMm.join(', ')} mm.`);
  }
  const subject = m.subjects.find((s) => s.id === id);
  const group = id === 'control' ? 'control' : 'cohort';
  const has = subject
    ? subject.maps.some((x) => x.sigmaMm === sigmaMm)
    : m.cohortMaps.some((x) => x.group === group && x.sigmaMm === sigmaMm) ||
      (m.kind === 'explain' && m.subjects[0]?.maps.some((x) => x.sigmaMm === sigmaMm));
  if (has) return;
  const missing = subject?.missingMaps?.find((x) => x.sigmaMm === sigmaMm);
  const what = subject ? `sub-${subject.id}` : `the ${group} group`;
  throw new Glas3dError(
    missing
      ? `${join(results, missing.file)}: missing (the σ = ${sigmaMm} mm map of ${what}); ${remakeHint(missing.file, m.kind)}.`
      : `${results}: no σ = ${sigmaMm} mm map of ${what}; rerun glas3d run with the same --out.`,
  );
}

interface FigureFlags {
  out: string;
  subject?: string;
  sigma?: number;
  threshold?: number;
  region?: string;
  width: number;
  height: number;
}

export function register(program: Command, io: CliIo): void {
  program
    .command('view')
    .description(
      'browse a results folder (glas3d run or explain) in the browser: maps on the brain, the ranked regions, subjects',
    )
    .argument('<results>', 'the --out folder of glas3d run or glas3d explain')
    .option('--port <n>', 'port to listen on (0 = any free port)', parsePort, 7373)
    .option(
      '--host <address>',
      'address to listen on (default 127.0.0.1: this machine only); anything else exposes the results to the network',
    )
    .option('--open', 'open the viewer in the default browser')
    .action(async (results: string, flags: { port: number; host?: string; open?: boolean }) => {
      const host = flags.host ?? '127.0.0.1';
      if (flags.host !== undefined && !isLoopback(host)) {
        io.err(
          `glas3d: warning: --host ${host}: the viewer and the results folder are readable by anyone who can reach this address (no authentication).\n`,
        );
      }
      const server = await startViewServer({ resultsDir: results, host, port: flags.port });
      io.out(`${describe(server)}\n`);
      for (const note of server.manifest.notes) io.err(`glas3d: note: ${note}\n`);
      io.out(`${server.url}\n(Ctrl-C stops the server)\n`);
      if (flags.open) openInBrowser(server.url, io);
      await untilStopped();
      await server.close();
    });

  program
    .command('figure')
    .description('save the viewer’s figure of a results folder as a PNG, headless (needs Chromium)')
    .argument('<results>', 'the --out folder of glas3d run or glas3d explain')
    .requiredOption('--out <file.png>', 'the PNG to write')
    .option('--subject <id>', 'a subject instead of the cohort map (e.g. 01 or sub-01)')
    .option('--sigma <mm>', 'which σ when several were run', (v) => {
      const x = Number(v);
      if (!(x > 0)) throw new OptionError(`--sigma ${v}: give a positive number (mm).`);
      return x;
    })
    .option(
      '--threshold <fraction>',
      'overlay threshold, fraction of the map maximum',
      parseFraction('--threshold'),
    )
    .option('--region <name|index>', 'select this region (crosshair and highlight)')
    .option('--width <px>', 'page width', parseCount('--width', 400), 1600)
    .option('--height <px>', 'page height', parseCount('--height', 300), 900)
    .action(async (results: string, flags: FigureFlags) => {
      checkOut(flags.out);
      const server = await startViewServer({ resultsDir: results });
      const m = server.manifest;
      let id: string | undefined;
      try {
        id = flags.subject ? subjectId(m, flags.subject, results) : undefined;
        if (flags.sigma !== undefined) checkSigma(m, id, flags.sigma, results);
      } catch (e) {
        await server.close();
        throw e;
      }
      const browser = await launchChromium({ width: flags.width, height: flags.height }).catch(
        async (e) => {
          await server.close();
          throw e;
        },
      );
      try {
        const page = await openViewer(browser.context, server.url);
        if (id !== undefined) {
          await page.evaluate((s) => window.glas3dViewer.selectSubject(s), id);
        }
        if (flags.sigma !== undefined) {
          await page.evaluate((s) => window.glas3dViewer.selectSigma(s), flags.sigma);
        }
        if (flags.threshold !== undefined) {
          await page.evaluate((t) => window.glas3dViewer.setThreshold(t), flags.threshold);
        }
        if (!flags.region && (id !== undefined || flags.sigma !== undefined)) {
          // The page starts at the cohort map's top region: a figure of another map (a subject,
          // the controls, another σ) is centred on that map's own top region.
          await page.evaluate(() => {
            const top = window.glas3dViewer.rows()[0];
            if (top) window.glas3dViewer.setCrosshairMm(top.pointMm);
          });
          await page.evaluate('new Promise((r) => requestAnimationFrame(() => r(null)))');
        }
        if (flags.region) {
          const wanted = flags.region;
          const region = m.atlas.regions.find(
            (r) => String(r.index) === wanted || r.name.toLowerCase() === wanted.toLowerCase(),
          );
          if (!region)
            throw new OptionError(`--region ${wanted}: no such region in ${m.atlas.name}.`);
          await page.evaluate((i) => window.glas3dViewer.selectRegion(i), region.index);
          await page.evaluate('new Promise((r) => requestAnimationFrame(() => r(null)))');
        }
        // A file the page could not read (a damaged map): no figure without it.
        const [problem] = await page.evaluate(() => window.glas3dViewer.problems());
        if (problem) {
          const file = problem.url && resultPathOf(problem.url);
          throw new Glas3dError(
            file
              ? `${server.pathOf(problem.url!) ?? join(results, file)}: cannot be read (${problem.reason}); ${remakeHint(file, m.kind)}.`
              : problem.message,
          );
        }
        const dataUrl = await page.evaluate(() => window.glas3dViewer.figureDataUrl());
        await writeFile(
          flags.out,
          Buffer.from(dataUrl.replace(/^data:image\/png;base64,/, ''), 'base64'),
        ).catch((e: NodeJS.ErrnoException) => {
          throw new Glas3dError(`--out ${flags.out}: cannot write it (${e.code ?? e.message}).`);
        });
        io.out(`wrote ${flags.out}\n`);
      } finally {
        await browser.close();
        await server.close();
      }
    });
}
