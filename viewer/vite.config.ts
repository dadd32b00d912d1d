/**
 * The viewer is bundled at build time (npm run build:viewer) into viewer/dist, which
 * `glas3d view` serves; nothing is fetched from elsewhere at run time.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: './',
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // NiiVue is one large module; it is served locally, so its size is only a load-time cost.
    chunkSizeWarningLimit: 4096,
    sourcemap: false,
  },
});
