export * from './manifest-types.js';
export { buildManifest, parseDelimited, type BuiltManifest, type ServedFile } from './manifest.js';
export {
  defaultViewerDir,
  isLoopback,
  requestPath,
  startViewServer,
  type ViewServer,
  type ViewServerOptions,
} from './server.js';
export * from './headless.js';
export { remakeHint, resultPathOf } from './fixes.js';
