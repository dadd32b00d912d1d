/**
 * The view server alone (no browser): what the manifest says about a real `glas3d run` folder
 * and a real `glas3d explain` folder, and what the server refuses — paths out of the folder in
 * every spelling, symlinks out of it, methods other than GET/HEAD, foreign Host headers — and
 * that it listens on 127.0.0.1 only and never changes the folder.
 */
import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import {
  cp,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  symlink,
  truncate,
  writeFile,
} from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAal, loadAtlas } from '../../src/atlas/index.js';
import { LOCK_FILE } from '../../src/cohort/out-lock.js';
import { explain } from '../../src/explain/explain-volume.js';
import { writeExplanation } from '../../src/report/explanation-files.js';
import {
  buildManifest,
  requestPath,
  startViewServer,
  type ViewServer,
} from '../../src/view/index.js';
import { parseNifti } from '../../src/volume/index.js';
import { TARGETS } from '../cohort/cohort-fixtures.js';
import { linearOracle, oracleWorld, regionWeights } from '../explain/oracle-fixtures.js';
import { CACHE_DIR, folderFingerprint, makeRunResults, type RunResults } from './fixtures.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One raw HTTP request: the path goes on the wire exactly as given (no URL normalization). */
function raw(
  port: number,
  path: string,
  options: { method?: string; host?: string; address?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: options.address ?? '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        headers: { Host: options.host ?? `127.0.0.1:${port}` },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

let run: RunResults;
let viewerDir: string;
let server: ViewServer;
let before: string;

beforeAll(async () => {
  run = await makeRunResults();
  // A stand-in for the built viewer: these tests are about the server, not the page.
  viewerDir = await mkdtemp(join(tmpdir(), 'glas3d-viewer-dist-'));
  await mkdir(join(viewerDir, 'assets'));
  await writeFile(join(viewerDir, 'index.html'), '<!doctype html><title>viewer</title>');
  await writeFile(join(viewerDir, 'assets', 'app.js'), 'console.log(1)');
  before = folderFingerprint(run.results);
  server = await startViewServer({ resultsDir: run.results, viewerDir });
}, 300_000);

afterAll(async () => {
  await server?.close();
});

describe('the manifest of a glas3d run folder', () => {
  it('lists σ, the cohort and control maps, subjects with probabilities, the parsed table and the atlas', () => {
    const m = server.manifest;
    expect(m.kind).toBe('run');
    expect(m.sigmaMm).toEqual([10, 15]);
    expect(m.grid).toEqual({ dims: [91, 109, 91], voxelMm: [2, 2, 2] });
    expect(m.cohortMaps.map((c) => `${c.group}:${c.sigmaMm}:${c.n}`)).toEqual([
      'cohort:10:2',
      'cohort:15:2',
      'control:10:1',
      'control:15:1',
    ]);
    expect(m.subjects.map((s) => `${s.group}:${s.id}`)).toEqual([
      'cohort:01',
      'cohort:02',
      'control:c1',
    ]);
    for (const s of m.subjects) {
      expect(s.maps.map((x) => x.sigmaMm)).toEqual([10, 15]);
      expect(s.probability).toBeGreaterThan(0.5);
      expect(s.regionsUrl).toMatch(/^\/results\/.*_desc-glas_regions\.tsv$/);
      expect(s.sourceUrl).toMatch(/^\/files\/\d+\/sub-.*\.nii\.gz$/);
    }
    // The cohort table: 116 regions per σ, the oracle's two regions first, with CI and p/q.
    expect(m.regions).toHaveLength(232);
    const top = m.regions.filter((r) => r.sigmaMm === 10).slice(0, 2);
    expect(top.map((r) => r.index).sort()).toEqual(TARGETS);
    expect(top[0]).toMatchObject({ rank: 1, pointKind: 'search' });
    for (const key of ['ciLow', 'ciHigh', 'p', 'q', 'difference'] as const) {
      expect(typeof top[0][key]).toBe('number');
    }
    // A row's point is the atlas region's search point on the run's grid.
    const region = m.atlas.regions.find((r) => r.index === top[0].index)!;
    expect(top[0].pointMm).toEqual(region.searchPointMm);
    expect(m.atlas.regions).toHaveLength(116);
    expect(m.atlas.labelsUrl).toMatch(/^\/files\/\d+\/aal_labels_on-grid\.nii$/);
    expect(m.atlas.templateUrl).toMatch(/template_on-grid\.nii$/);
    expect(m.atlas.templateFineUrl).toMatch(/ch2bet\.nii\.gz$/);
    expect(m.notes).toEqual([]);
  });

  it('serves every listed file, with the bytes on disk', async () => {
    const m = server.manifest;
    const urls = [
      ...m.cohortMaps.map((c) => c.url),
      ...m.subjects.flatMap((s) => [...s.maps.map((x) => x.url), s.regionsUrl!, s.sourceUrl!]),
      m.atlas.labelsUrl,
      m.atlas.templateUrl!,
      m.atlas.templateFineUrl!,
    ];
    for (const url of urls) expect((await raw(server.port, url)).status, url).toBe(200);
    const map = m.subjects[0].maps[0].url;
    const onDisk = await readFile(
      join(run.results, decodeURIComponent(map.slice('/results/'.length))),
    );
    expect((await raw(server.port, map)).body.equals(onDisk)).toBe(true);
    const head = await raw(server.port, map, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(Number(head.headers['content-length'])).toBe(onDisk.length);
    const manifest = await raw(server.port, '/api/manifest.json');
    expect(JSON.parse(manifest.body.toString()).kind).toBe('run');
    expect((await raw(server.port, '/')).body.toString()).toContain('<title>viewer</title>');
    expect((await raw(server.port, '/assets/app.js')).status).toBe(200);
  });

  it('does not serve files the viewer does not need (sidecars, run.json, the cohort csv)', async () => {
    for (const path of [
      '/results/run.json',
      '/results/regions.csv',
      '/results/errors.tsv',
      '/results/sub-01/sub-01_desc-glas.json',
      '/results/dataset_description.json',
      '/files/999/x.nii.gz',
    ]) {
      expect((await raw(server.port, path)).status, path).toBe(404);
    }
  });
});

describe('the atlas and template on the results grid', () => {
  it('the template is served as an 8-bit image on the grid of the maps', async () => {
    const reply = await raw(server.port, server.manifest.atlas.templateUrl!);
    const image = parseNifti(reply.body, 'template');
    expect(image.header.datatype).toBe('uint8');
    expect(image.dims).toEqual([91, 109, 91]);
    let max = 0;
    for (const v of image.raw) max = Math.max(max, v);
    expect(max).toBe(255);
  });

  it('are kept in the view cache and read back from it, the same as made afresh', async () => {
    const entries = async () => (await readdir(CACHE_DIR)).filter((f) => f.endsWith('.bin'));
    const [entry] = await entries();
    expect(entry).toBeDefined();
    const path = join(CACHE_DIR, entry);
    const size = (await stat(path)).size;
    const atlasOf = async (dir: string) => {
      const built = await buildManifest(dir);
      const file = (url: string) => built.files.get(url)!.data!;
      const { atlas } = built.manifest;
      return {
        regions: atlas.regions,
        labels: file(atlas.labelsUrl),
        template: file(atlas.templateUrl!),
      };
    };
    const fromCache = await atlasOf(run.results);
    // Made afresh: with a damaged entry (it is made again and rewritten) …
    await truncate(path, 100);
    expect(await atlasOf(run.results)).toEqual(fromCache);
    expect((await stat(path)).size).toBe(size);
    // … and with a cache that cannot be written (its folder is a file): nothing kept, no error.
    const blocked = join(run.dir, 'not-a-folder');
    await writeFile(blocked, '');
    process.env.GLAS3D_CACHE_DIR = blocked;
    try {
      expect(await atlasOf(run.results)).toEqual(fromCache);
    } finally {
      process.env.GLAS3D_CACHE_DIR = CACHE_DIR;
    }
    expect(await entries()).toEqual([entry]);
  });
});

describe('what the server refuses', () => {
  it('paths that climb out: ../, encoded %2e%2e, encoded slashes, backslashes, empty segments', async () => {
    const attempts = [
      '/results/../run.json',
      '/results/../../../../etc/passwd',
      '/../package.json',
      '/results/%2e%2e/%2e%2e/etc/passwd',
      '/results/%2E%2E/run.json',
      '/results/sub-01/%2e%2e/%2e%2e/run.json',
      '/results/..%2frun.json',
      '/results/..%2Frun.json',
      '/results/%2Fetc%2Fpasswd',
      '/results/..%5crun.json',
      '/results//etc/passwd',
      '//etc/passwd',
      '/assets/../index.html',
      '/results/sub-01/./sub-01_desc-glas_regions.tsv',
      '/results/%00',
    ];
    for (const path of attempts) {
      const r = await raw(server.port, path);
      expect([403, 404], path).toContain(r.status);
      expect(r.body.toString(), path).not.toMatch(/root:|glas3dVersion/);
    }
    expect((await raw(server.port, '/results/..%2frun.json')).status).toBe(403);
    expect(requestPath('/results/%2e%2e/x')).toBe(403);
    expect(requestPath('/results/%zz')).toBe(400);
    expect(requestPath('/results/sub-01/a%20b.tsv?x=1')).toBe('/results/sub-01/a b.tsv');
  });

  it('absolute paths on disk are not paths of the server', async () => {
    const abs = join(run.results, 'regions.csv');
    for (const path of [
      abs,
      `/results${abs}`,
      `/results/${encodeURIComponent(abs)}`,
      '/etc/passwd',
    ]) {
      expect([403, 404], path).toContain((await raw(server.port, path)).status);
    }
  });

  it('symlinks out of the folder: left out of the manifest, and refused if swapped in later', async () => {
    const copy = join(run.dir, 'results-with-links');
    await cp(run.results, copy, { recursive: true });
    const outside = join(run.dir, 'outside.nii.gz');
    await writeFile(outside, 'secret outside the results folder');
    // sub-02's σ=15 map is a symlink out of the folder from the start…
    const linked = join(copy, 'sub-02', 'sub-02_desc-glas_sigma-15_saliency.nii.gz');
    await rename(linked, `${linked}.bak`);
    await symlink(outside, linked);
    // …and a whole subject folder is a symlink to a folder outside.
    await cp(join(copy, 'sub-01'), join(run.dir, 'sub-99-outside'), { recursive: true });
    await symlink(join(run.dir, 'sub-99-outside'), join(copy, 'sub-99'));
    const s = await startViewServer({ resultsDir: copy, viewerDir });
    try {
      const sub02 = s.manifest.subjects.find((x) => x.id === '02')!;
      expect(sub02.maps.map((m) => m.sigmaMm)).toEqual([10]);
      expect(s.manifest.notes.join('\n')).toMatch(/sub-02_desc-glas_sigma-15_saliency.*outside/);
      expect(s.manifest.subjects.some((x) => x.id === '99')).toBe(false);
      for (const path of [
        '/results/sub-02/sub-02_desc-glas_sigma-15_saliency.nii.gz',
        '/results/sub-99/sub-01_desc-glas_sigma-10_saliency.nii.gz',
        '/results/sub-99/sub-99_desc-glas_sigma-10_saliency.nii.gz',
      ]) {
        const r = await raw(s.port, path);
        expect([403, 404], path).toContain(r.status);
        expect(r.body.toString()).not.toContain('secret');
      }
      // A listed file replaced by a symlink out after the server started: refused on request.
      const url = s.manifest.subjects[0].maps[0].url;
      const file = join(copy, decodeURIComponent(url.slice('/results/'.length)));
      expect((await raw(s.port, url)).status).toBe(200);
      await rename(file, `${file}.bak`);
      await symlink(outside, file);
      const r = await raw(s.port, url);
      expect(r.status).toBe(403);
      expect(r.body.toString()).not.toContain('secret');
    } finally {
      await s.close();
    }
  });

  it('methods other than GET and HEAD: 405', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      for (const path of ['/api/manifest.json', server.manifest.subjects[0].maps[0].url, '/']) {
        const r = await raw(server.port, path, { method });
        expect(r.status, `${method} ${path}`).toBe(405);
        expect(r.headers.allow).toBe('GET, HEAD');
      }
    }
  });

  it('a foreign Host header (DNS rebinding) on the loopback server: 403', async () => {
    expect((await raw(server.port, '/api/manifest.json', { host: 'evil.example' })).status).toBe(
      403,
    );
    expect(
      (await raw(server.port, '/api/manifest.json', { host: `localhost:${server.port}` })).status,
    ).toBe(200);
  });

  it('listens on 127.0.0.1 only by default', async () => {
    expect(server.host).toBe('127.0.0.1');
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/`);
    // Another loopback address of this machine is not served.
    await expect(raw(server.port, '/api/manifest.json', { address: '127.0.0.2' })).rejects.toThrow(
      /ECONNREFUSED/,
    );
  });

  it('sends no-sniff and a same-origin content security policy', async () => {
    const r = await raw(server.port, '/');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(String(r.headers['content-security-policy'])).toContain("default-src 'self'");
  });
});

describe('the manifest of a glas3d explain folder', () => {
  it('one subject, its maps per σ, the ranked table with search points, no cohort maps', async () => {
    const w = await oracleWorld();
    const dir = await mkdtemp(join(tmpdir(), 'glas3d-view-explain-'));
    const volume = join(run.dir, 'cohort', 'sub-01.nii.gz');
    const model = linearOracle(w, regionWeights(w, { [TARGETS[0]]: 1 }));
    const explanation = await explain(volume, {
      model,
      atlas: await loadAal(),
      sigmaMm: [10],
      baseline: 'zero',
    });
    await writeExplanation(dir, explanation, { volume });
    const built = await buildManifest(dir);
    const m = built.manifest;
    expect(m.kind).toBe('explain');
    expect(m.cohortMaps).toEqual([]);
    expect(m.subjects).toHaveLength(1);
    expect(m.subjects[0]).toMatchObject({ id: 'sub-01', maps: [{ sigmaMm: 10 }] });
    expect(m.subjects[0].sourceUrl).toMatch(/sub-01\.nii\.gz$/);
    expect(m.subjects[0].rawOutput).toBeUndefined(); // a probability
    expect(m.regions).toHaveLength(116);
    expect(m.regions[0]).toMatchObject({ rank: 1, index: TARGETS[0], pointKind: 'search' });
    expect(m.regions[0].shadowDelta).toBeTypeOf('number');
    expect([...built.files.keys()]).toContain('/results/saliency_sigma-10.nii.gz');
  });

  it('a label-image atlas (even one named aal.nii.gz) is the atlas the viewer shows, not AAL', async () => {
    const w = await oracleWorld();
    const volume = join(run.dir, 'cohort', 'sub-01.nii.gz');
    const model = linearOracle(w, regionWeights(w, { [TARGETS[0]]: 1 }));
    // AAL's labels under other names: the viewer must show these names, from these files.
    const atlasDir = await mkdtemp(join(tmpdir(), 'glas3d-view-atlas-'));
    const aal = await loadAal();
    const labels = join(atlasDir, 'aal.nii.gz');
    await cp(aal.source.labels, labels);
    const names = join(atlasDir, 'names.txt');
    const renamed = (await readFile(aal.source.names!, 'utf8')).replace(
      /^(\d+) (\S+)/gm,
      '$1 My_$2',
    );
    await writeFile(names, renamed);
    const dir = await mkdtemp(join(tmpdir(), 'glas3d-view-explain-'));
    const explanation = await explain(volume, {
      model,
      atlas: await loadAtlas(labels, { names }),
      sigmaMm: [10],
      baseline: 'zero',
    });
    expect(explanation.atlasSource).toEqual({ labels, names });
    await writeExplanation(dir, explanation, { volume });
    const m = (await buildManifest(dir)).manifest;
    expect(m.notes.join(' ')).not.toMatch(/showing AAL/);
    expect(m.atlas.regions).toHaveLength(116);
    expect(m.atlas.regions.every((r) => r.name.startsWith('My_'))).toBe(true);
  });

  it('a regression explained as a value (--activation identity) is marked as a raw output', async () => {
    const w = await oracleWorld();
    const dir = await mkdtemp(join(tmpdir(), 'glas3d-view-explain-'));
    const volume = join(run.dir, 'cohort', 'sub-01.nii.gz');
    // A "predicted age" of 70 on the template (the subject is a noisy copy of it).
    const model = linearOracle(w, regionWeights(w, { [TARGETS[0]]: 1 }), {
      output: 'one-logit',
      zAtVolume: 70,
    });
    const explanation = await explain(volume, {
      model,
      modelOptions: { activation: 'identity' },
      atlas: await loadAal(),
      sigmaMm: [10],
      mode: 'shadow',
      baseline: 'zero',
    });
    await writeExplanation(dir, explanation, { volume });
    const subject = (await buildManifest(dir)).manifest.subjects[0];
    expect(subject.rawOutput).toBe(true);
    expect(subject.probability).toBeCloseTo(70, 0);
    expect(subject.warnings).toBeUndefined();

    // The same model read as a logit saturates: the flat warning reaches the viewer's notes.
    const flatDir = await mkdtemp(join(tmpdir(), 'glas3d-view-explain-'));
    const flat = await explain(volume, {
      model,
      atlas: await loadAal(),
      sigmaMm: [10],
      baseline: 'zero',
    });
    await writeExplanation(flatDir, flat, { volume });
    const m = (await buildManifest(flatDir)).manifest;
    expect(m.subjects[0].warnings).toHaveLength(1);
    expect(m.notes.some((n) => /the explanation is flat/.test(n))).toBe(true);
  });

  it('a run folder cut short (no regions.csv) or being written (a run holds its lock) says so', async () => {
    const cut = join(run.dir, 'cut-short');
    await cp(run.results, cut, { recursive: true });
    await rm(join(cut, 'regions.csv'));
    const { manifest } = await buildManifest(cut);
    expect(manifest.notes[0]).toMatch(
      /^no regions\.csv: the run did not finish .*rerun glas3d run with the same --out/,
    );
    // A live run's lock (this process): being written. A killed run's: still just unfinished.
    const lock = join(cut, LOCK_FILE);
    await writeFile(lock, JSON.stringify({ pid: process.pid, host: hostname(), since: '' }));
    const busy = await buildManifest(cut);
    expect(busy.manifest.notes[0]).toMatch(/^a glas3d run is writing this folder now/);
    const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
    await writeFile(lock, JSON.stringify({ pid: gone, host: hostname(), since: '' }));
    expect((await buildManifest(cut)).manifest.notes[0]).toMatch(
      /^no regions\.csv: the run did not finish/,
    );
  });

  it('a folder that is not a results folder: one clear error', async () => {
    await expect(buildManifest(join(run.dir, 'cohort'))).rejects.toThrow(
      /not a glas3d results folder/,
    );
    await expect(buildManifest(join(run.dir, 'nope'))).rejects.toThrow(/no such folder/);
  });
});

describe('read-only', () => {
  it('the results folder is byte-for-byte unchanged after all of the above', () => {
    expect(folderFingerprint(run.results)).toBe(before);
  });
});
