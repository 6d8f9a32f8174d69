// Lint rules that keep each folder to the runtime it may use (see DESIGN.md): only the thin Electron shell
// files import `electron`; main/, agent/ and protocol/ never touch the DOM; the renderer never touches Node;
// protocol/ runs anywhere; and no React code renders a string as HTML.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const ELECTRON_SHELL_FILES = ['main/shell/**/*.ts', 'preload/**/*.ts'];
const DOM_GLOBALS = ['window', 'document', 'navigator', 'location', 'localStorage', 'sessionStorage', 'HTMLElement', 'Element', 'DOMParser', 'XMLHttpRequest'];
const noDom = DOM_GLOBALS.map((name) => ({ name, message: 'DOM code belongs in renderer/ only.' }));
const noElectron = { name: 'electron', message: 'Only the thin shell (main/shell/, preload/) imports electron; put logic in plain Node modules.' };
const noUiLibs = ['react', 'react-dom', 'zustand', '@tanstack/react-virtual'].map((name) => ({ name, message: 'UI libraries belong in renderer/ only.' }));

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'out/**', 'release/**', 'protocol/generated/**', '.cordon-data/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': ['error', { paths: [noElectron] }],
      // Attacker-controlled text must never become markup.
      'no-restricted-syntax': ['error',
        { selector: "JSXAttribute[name.name='dangerouslySetInnerHTML']", message: 'Render text, never HTML: attacker-controlled strings reach the UI.' },
        { selector: "AssignmentExpression[left.property.name=/^(innerHTML|outerHTML)$/]", message: 'Never assign HTML: use textContent.' },
        { selector: "CallExpression[callee.property.name='insertAdjacentHTML']", message: 'Never insert HTML: use textContent.' },
        { selector: "CallExpression[callee.name='eval']", message: 'No eval.' },
        { selector: "NewExpression[callee.name='Function']", message: 'No new Function (the CSP forbids it too).' },
      ],
    },
  },
  {
    // The shell calls no Electron (or Node) API its pinned typings mark deprecated: raising Electron shows here, in
    // `npm test`, what the next major removes (Electron 45 deprecated safeStorage's synchronous methods, say).
    files: ELECTRON_SHELL_FILES,
    // disallowAutomaticSingleRunInference: with CI=true typescript-eslint would switch to its single-run programs, in
    // which linting a text for a shell file (test/shell/lint-rules.test.ts) crashes TypeScript while it names a
    // deprecated symbol; the same programs everywhere, CI or not.
    languageOptions: { parserOptions: { project: ['./tsconfig.node.json', './tsconfig.preload.json'], tsconfigRootDir: import.meta.dirname, disallowAutomaticSingleRunInference: true } },
    rules: { '@typescript-eslint/no-deprecated': 'error' },
  },
  {
    files: ['main/**/*.ts', 'agent/**/*.ts', 'evidence/**/*.ts', 'protocol/**/*.ts', 'scripts/**/*.ts', 'bench/**/*.ts', 'test/**/*.ts'],
    ignores: ELECTRON_SHELL_FILES,
    languageOptions: { globals: { ...globals.node } },
    rules: {
      'no-restricted-globals': ['error', ...noDom],
      'no-restricted-imports': ['error', { paths: [noElectron, ...noUiLibs] }],
    },
  },
  {
    // Tests and the bench drive a real browser through playwright; the page-side callbacks may name DOM globals.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { 'no-restricted-globals': 'off' },
  },
  {
    files: ['protocol/**/*.ts'],
    ignores: ['protocol/schema-loader.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [noElectron, ...noUiLibs],
        patterns: [{ group: ['node:*', 'fs', 'path', 'os', 'crypto', 'net', 'http', 'child_process'], message: 'protocol/ runs anywhere: no Node modules.' }],
      }],
    },
  },
  {
    files: ['renderer/src/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': ['error', {
        paths: [noElectron],
        patterns: [{ group: ['node:*', 'fs', 'path', 'os', 'child_process', 'ws', '**/main/**', '**/agent/**'], message: 'The renderer knows the cockpit only through the typed API (protocol/cockpit-api.ts).' }],
      }],
    },
  },
  {
    files: ELECTRON_SHELL_FILES,
    languageOptions: { globals: { ...globals.node } },
    rules: { 'no-restricted-imports': ['error', { paths: noUiLibs }] },
  },
  {
    files: ['main/shell/**/*.ts'],
    rules: { 'no-restricted-globals': ['error', ...noDom] },
  },
);
