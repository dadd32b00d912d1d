/**
 * `glas3d view`'s HTTP server (node:http): the built viewer (viewer/dist) and, read-only, the
 * files of one results folder that the manifest names. Nothing else:
 *
 * - GET and HEAD only (anything else: 405);
 * - the URL path is split into segments and each decoded; a `.`/`..` segment, an empty one
 *   (`//`), or one that decodes to a slash, backslash or NUL is refused (403) before any lookup;
 * - the path must then be one of a fixed set (the viewer's files, `/api/manifest.json`, the files
 *   the manifest lists), else 404 — no path is ever joined onto a folder;
 * - a result file is served only while its real path (symlinks resolved, checked again on each
 *   request) lies inside the results folder's real path (else 403);
 * - bound to 127.0.0.1 unless told otherwise; on a loopback address the Host header must name
 *   the loopback too (so another site cannot reach the server through DNS rebinding).
 *
 * The server opens files for reading only and never writes anywhere.
 */
import { createReadStream } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative, sep } from 'node:path';
import { existsSync } from 'node:fs';
import { packageRoot } from '../atlas/package-root.js';
import { Glas3dError } from '../errors.js';
import { buildManifest, isInside, type ServedFile } from './manifest.js';
import type { ViewManifest } from './manifest-types.js';

export interface ViewServerOptions {
  resultsDir: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  /** The built viewer; default `<package>/viewer/dist`. */
  viewerDir?: string;
}

export interface ViewServer {
  url: string;
  host: string;
  port: number;
  manifest: ViewManifest;
  /** Milliseconds spent reading the folder (manifest) before listening. */
  manifestMs: number;
  /** The file on disk behind a URL the manifest lists (undefined for anything else). */
  pathOf(url: string): string | undefined;
  close(): Promise<void>;
}

/** The built viewer's folder in this package. */
export function defaultViewerDir(): string {
  return join(packageRoot(), 'viewer', 'dist');
}

const TYPES: [RegExp, string][] = [
  [/\.html$/, 'text/html; charset=utf-8'],
  [/\.m?js$/, 'text/javascript; charset=utf-8'],
  [/\.css$/, 'text/css; charset=utf-8'],
  [/\.json$/, 'application/json; charset=utf-8'],
  [/\.svg$/, 'image/svg+xml'],
  [/\.png$/, 'image/png'],
  [/\.ico$/, 'image/x-icon'],
  [/\.wasm$/, 'application/wasm'],
  [/\.woff2$/, 'font/woff2'],
  [/\.tsv$/, 'text/tab-separated-values; charset=utf-8'],
  [/\.csv$/, 'text/csv; charset=utf-8'],
  [/\.gz$/, 'application/gzip'],
];

const contentType = (path: string): string =>
  TYPES.find(([re]) => re.test(path))?.[1] ?? 'application/octet-stream';

const HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self' data: blob:; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'",
};

/** Every file under the built viewer, by URL path (`/assets/x.js`). */
async function viewerFiles(dir: string): Promise<Map<string, ServedFile>> {
  if (!existsSync(join(dir, 'index.html'))) {
    throw new Glas3dError(
      `${dir}: the viewer is not built; run \`npm run build:viewer\` in the glas3d package.`,
    );
  }
  const files = new Map<string, ServedFile>();
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const path = join(e.parentPath, e.name);
    files.set('/' + relative(dir, path).split(sep).join('/'), { path });
  }
  files.set('/', files.get('/index.html')!);
  return files;
}

/** The decoded path of a request, or a status code refusing it. */
export function requestPath(rawUrl: string | undefined): string | 403 | 400 {
  if (!rawUrl || !rawUrl.startsWith('/')) return 400;
  const path = rawUrl.split(/[?#]/, 1)[0];
  if (path === '/') return '/';
  const segments = path.slice(1).split('/');
  const decoded: string[] = [];
  for (const s of segments) {
    let d: string;
    try {
      d = decodeURIComponent(s);
    } catch {
      return 400;
    }
    if (d === '' || d === '.' || d === '..' || /[/\\\0]/.test(d) || /[\\\0]/.test(s)) return 403;
    decoded.push(d);
  }
  return '/' + decoded.join('/');
}

const LOOPBACK_HOSTS = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\]|::1)$/i;

export function isLoopback(host: string): boolean {
  return LOOPBACK_HOSTS.test(host) || host === '::1';
}

function send(res: ServerResponse, status: number, text: string, extra: object = {}): void {
  res.writeHead(status, {
    ...HEADERS,
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    ...extra,
  });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}

async function sendFile(
  req: IncomingMessage,
  res: ServerResponse,
  file: ServedFile,
  cache: string,
): Promise<void> {
  if (file.data) {
    res.writeHead(200, {
      ...HEADERS,
      'Content-Type': contentType(file.path),
      'Content-Length': file.data.byteLength,
      'Cache-Control': cache,
    });
    return void res.end(req.method === 'HEAD' ? undefined : file.data);
  }
  let real: string;
  try {
    real = await realpath(file.path);
  } catch {
    return send(res, 404, 'not found\n');
  }
  if (file.root !== undefined && !isInside(file.root, real)) return send(res, 403, 'forbidden\n');
  const info = await stat(real);
  if (!info.isFile()) return send(res, 404, 'not found\n');
  res.writeHead(200, {
    ...HEADERS,
    'Content-Type': contentType(file.path),
    'Content-Length': info.size,
    'Cache-Control': cache,
  });
  if (req.method === 'HEAD') return void res.end();
  await new Promise<void>((resolve) => {
    const stream = createReadStream(real, { flags: 'r' });
    stream.on('error', () => {
      res.destroy();
      resolve();
    });
    stream.on('end', resolve);
    stream.pipe(res);
  });
}

/** Start the server; resolves once it listens. */
export async function startViewServer(options: ViewServerOptions): Promise<ViewServer> {
  const host = options.host ?? '127.0.0.1';
  const started = performance.now();
  const statics = await viewerFiles(options.viewerDir ?? defaultViewerDir());
  const built = await buildManifest(options.resultsDir);
  const manifestMs = performance.now() - started;
  const manifestBody = JSON.stringify(built.manifest);
  const loopback = isLoopback(host);
  let port = 0;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return send(res, 405, 'method not allowed\n', { Allow: 'GET, HEAD' });
    }
    if (loopback) {
      const hostHeader = (req.headers.host ?? '').replace(/:\d+$/, '');
      if (!isLoopback(hostHeader)) return send(res, 403, 'forbidden host\n');
    }
    const path = requestPath(req.url);
    if (path === 400) return send(res, 400, 'bad request\n');
    if (path === 403) return send(res, 403, 'forbidden\n');
    if (path === '/api/manifest.json') {
      res.writeHead(200, {
        ...HEADERS,
        'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': Buffer.byteLength(manifestBody),
        'Cache-Control': 'no-store',
      });
      return void res.end(req.method === 'HEAD' ? undefined : manifestBody);
    }
    const data = built.files.get(path);
    if (data) return sendFile(req, res, data, 'no-cache');
    const asset = statics.get(path);
    if (asset)
      return sendFile(req, res, asset, path.startsWith('/assets/') ? 'max-age=3600' : 'no-cache');
    return send(res, 404, 'not found\n');
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, 'internal error\n');
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE') {
        reject(
          new Glas3dError(
            `port ${options.port ?? 0} on ${host} is in use; choose another with --port (0 = any free port).`,
          ),
        );
      } else if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND') {
        reject(new Glas3dError(`cannot listen on ${host}: no such address on this machine.`));
      } else if (e.code === 'EACCES') {
        reject(new Glas3dError(`port ${options.port} needs privileges; use one above 1024.`));
      } else reject(e);
    });
    server.listen(options.port ?? 0, host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  return {
    url: `http://${urlHost}:${port}/`,
    host,
    port,
    manifest: built.manifest,
    manifestMs,
    pathOf: (url) => {
      try {
        const file = built.files.get(decodeURIComponent(url));
        return file && !file.data ? file.path : undefined;
      } catch {
        return undefined;
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
