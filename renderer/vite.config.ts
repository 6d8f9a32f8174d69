// Builds the renderer into dist/renderer/: relative paths (base './', so the same files load from file:// in
// Electron and from the browser shell), no inline script and no external URL, so the hosts' strict CSP
// (script-src 'self'; style-src 'self') holds without exceptions.
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: './',
  plugins: [react(), xtermUnderStrictCsp()],
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
  // Pre-bundled, xterm would skip the transform below in the dev server.
  optimizeDeps: { exclude: ['@xterm/xterm'] },
  server: { host: '127.0.0.1', strictPort: true },
});

/** xterm.js 6 puts the CSS of its DOM renderer and scrollbar in <style> elements, and a truecolour or
 *  contrast-corrected cell's colour in a style attribute: the strict CSP refuses both (measured in Chromium: the DOM
 *  renderer then draws proportional text with collapsed spaces and no palette). This rewrites those spots of
 *  xterm's module: its <style> elements become <cordon-xterm-style>, which hands the CSS to an adopted
 *  stylesheet (ui/console/xterm-style.ts), and the attribute is set through CSSOM (`style.cssText`), which the CSP
 *  does not govern. The build fails if xterm's code no longer has those spots (an upgrade must look again). */
function xtermUnderStrictCsp(): Plugin {
  const ADD_STYLE = /_addStyle\((\w+),(\w+)\)\{\1\.setAttribute\("style",`\$\{\1\.getAttribute\("style"\)\|\|""\}\$\{\2\};`\)\}/;
  return {
    name: 'cordon-xterm-strict-csp',
    transform(code, id) {
      if (!/[\\/]@xterm[\\/]xterm[\\/]lib[\\/]xterm\.mjs$/.test(id.split('?')[0]!)) return null;
      const styles = code.split('.createElement("style")').length - 1;
      if (styles !== 3 || !ADD_STYLE.test(code)) {
        this.error(`@xterm/xterm changed: expected 3 <style> elements and one style attribute to rewrite for the strict CSP, found ${styles} and ${ADD_STYLE.test(code) ? 1 : 0}.`);
      }
      return {
        code: code
          .replaceAll('.createElement("style")', '.createElement("cordon-xterm-style")')
          .replace(ADD_STYLE, (_m, el: string, css: string) => `_addStyle(${el},${css}){${el}.style.cssText+=${css}+";"}`),
        map: null,
      };
    },
  };
}
