// `npm start`: runs the cockpit in Electron. Where the Electron binary is absent (it is downloaded by
// electron's own install script, which some networks block), says so and names the browser shell.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const pkgDir = join(root, 'node_modules', 'electron');
const pathFile = join(pkgDir, 'path.txt');
const binary = existsSync(pathFile) ? join(pkgDir, 'dist', readFileSync(pathFile, 'utf8').trim()) : undefined;

if (!binary || !existsSync(binary)) {
  console.error(`
Cordon cannot start its desktop window: the Electron binary is not installed on this machine (npm installed the
electron package without it, e.g. with ELECTRON_SKIP_BINARY_DOWNLOAD=1 or a network that blocks the download).
Everything else works: run \`npm run serve\` to use the same cockpit in your browser (the browser shell, on
127.0.0.1 only), or reinstall with network access to Electron's releases (\`npm install electron\`) for the window.
`);
  process.exit(2);
}

const child = spawn(binary, [root, ...process.argv.slice(2)], { stdio: 'inherit' });
child.on('exit', (code) => process.exit(code ?? 0));
