#!/usr/bin/env node
// Launcher behind `npx cordon-verify`: registers tsx's TypeScript loader and runs bin/cordon-verify.ts in plain
// Node (no Electron, no build step). The verifier's worker threads register the loader themselves.
import process from 'node:process';
import { URL } from 'node:url';
import { register } from 'tsx/esm/api';

register();
await import(new URL('./cordon-verify.ts', import.meta.url).href).catch((err) => {
  process.stderr.write(`cordon-verify: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 2;
});
