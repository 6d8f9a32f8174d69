// Bundles the Electron side for `npm start` and packaging: main (CommonJS, electron external, electron-store
// bundled in since it is ESM-only), the sandboxed preload (CommonJS, one file), and the lab agent.
import { build, type BuildOptions } from 'esbuild';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const common: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node24', // the Node that Electron 45 runs
  sourcemap: false,
  legalComments: 'none',
  external: ['electron'],
  logLevel: 'warning',
  // main/journal starts its worker threads from files beside the bundle when import.meta is empty, as it is here.
  logOverride: { 'empty-import-meta': 'silent' },
};

const started = performance.now();
await Promise.all([
  build({ ...common, entryPoints: [join(root, 'main/shell/electron-main.ts')], outfile: join(root, 'dist/electron/main.cjs') }),
  build({ ...common, entryPoints: [join(root, 'preload/preload.ts')], outfile: join(root, 'dist/electron/preload.cjs') }),
  // The journal's thread (main/journal/host.ts starts it from this file when bundled).
  build({ ...common, entryPoints: [join(root, 'main/journal/journal-worker.ts')], outfile: join(root, 'dist/electron/journal-worker.cjs') }),
  build({ ...common, entryPoints: [join(root, 'main/journal/verify-worker.ts')], outfile: join(root, 'dist/electron/verify-worker.cjs') }),
  // ws's optional native helpers are absent on purpose; it falls back to JS.
  build({ ...common, entryPoints: [join(root, 'agent/cli.ts')], outfile: join(root, 'dist/agent/agent.cjs'), external: ['electron', 'bufferutil', 'utf-8-validate'] }),
]);
console.log(`build:shell: main, preload and agent bundled in ${Math.round(performance.now() - started)} ms`);
