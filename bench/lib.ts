// Shared pieces of the benchmarks: percentiles, a headless Debian Chromium, and a built renderer.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';

export const ROOT = join(import.meta.dirname, '..');

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Debian's Chromium, headless, with nothing that phones home. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium is not at ${CHROMIUM_PATH}: install Debian's (apt-get install -y chromium) or set CHROMIUM_PATH.`);
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

/** Chromium's flags for the tests and the benchmarks: nothing that phones home, a GC the bench can call. */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-default-apps', '--metrics-recording-only',
  '--disable-features=Translate,OptimizationHints,MediaRouter', '--js-flags=--expose-gc'];

/** Builds dist/renderer; `extraArgs` go to vite (e.g. '--minify false', so a profile names the functions). */
export function buildRenderer(extraArgs: string[] = []): void {
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'renderer/vite.config.ts', '--logLevel', 'warn', ...extraArgs], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('The renderer did not build.');
}

