// Builds the renderer into dist/renderer/: relative paths (base './', so the same files load from file:// in
// Electron and from the browser shell), no inline script and no external URL, so the hosts' strict CSP
// (script-src 'self'; style-src 'self') holds without exceptions.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: './',
  plugins: [react()],
  // Offline by construction: nothing is copied from a public folder, and no asset is inlined as a data: URL.
  publicDir: false,
  clearScreen: false,
  build: {
    outDir: fileURLToPath(new URL('../dist/renderer', import.meta.url)),
    emptyOutDir: true,
    target: 'chrome120',
    assetsInlineLimit: 0,
    // The polyfill would be an inline script; every browser Cordon supports preloads modules natively.
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
  server: { host: '127.0.0.1', strictPort: true },
});
