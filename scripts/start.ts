// `npm start`: runs the cockpit in Electron. Since Electron 42 `npm install` no longer fetches Electron's binary: it
// comes on first use, from Electron's releases on GitHub. This script never fetches it behind the responder's back
// (a field laptop may be offline, and a security tool makes no surprise connection): where the binary is absent it
// says how to fetch it, once, and names the browser shell, which needs no binary.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const pkgDir = join(root, 'node_modules', 'electron');
const pathFile = join(pkgDir, 'path.txt');
const binary = existsSync(pathFile) ? join(pkgDir, 'dist', readFileSync(pathFile, 'utf8').trim()) : undefined;

if (!binary || !existsSync(binary)) {
  console.error(`
Cordon cannot start its desktop window: Electron's binary is not installed on this machine (the electron package
installs without it, and fetches it on first use from Electron's releases on GitHub, which this machine may not
reach). Fetch it once with \`npx --no install-electron\` (checked against the SHA-256 sums the electron package
ships), then \`npm start\` again. Everything else works without it: \`npm run serve\` runs the same cockpit in your
browser (the browser shell, on 127.0.0.1 only).
`);
  process.exit(2);
}

const child = spawn(binary, [root, ...process.argv.slice(2)], { stdio: 'inherit' });
child.on('exit', (code) => process.exit(code ?? 0));
