// The Electron side, checked without the Electron binary: electron-builder's own schema accepts our config with
// the security fuses set, and the shell bundles (main, sandboxed CommonJS preload, lab agent) build.
import { strict as assert } from 'node:assert';
import { readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { ROOT } from '../helpers/processes.ts';

const require = createRequire(import.meta.url);

describe('packaging and the Electron shell', () => {
  // js-yaml is what electron-builder itself reads its YAML with.
  const yaml = require('js-yaml') as { load(s: string): unknown };
  const config = yaml.load(readFileSync(join(ROOT, 'electron-builder.yml'), 'utf8')) as Record<string, unknown>;

  it('is a configuration electron-builder accepts', async () => {
    const { validateConfiguration } = require('app-builder-lib/out/util/config/config.js') as { validateConfiguration(c: unknown, l: unknown): Promise<void> };
    const { DebugLogger } = require('builder-util') as { DebugLogger: new (enabled: boolean) => unknown };
    await validateConfiguration(structuredClone(config), new DebugLogger(false));
    await assert.rejects(validateConfiguration({ ...config, electronFuses: { runAsNode: false, notAFuse: true } }, new DebugLogger(false)));
  });

  it('sets the security fuses and builds for Linux, Windows and macOS', () => {
    const fuses = config.electronFuses as Record<string, boolean>;
    assert.equal(fuses.runAsNode, false);
    assert.equal(fuses.enableNodeOptionsEnvironmentVariable, false);
    assert.equal(fuses.enableNodeCliInspectArguments, false);
    assert.equal(fuses.enableEmbeddedAsarIntegrityValidation, true);
    assert.equal(fuses.onlyLoadAppFromAsar, true);
    assert.equal(fuses.enableCookieEncryption, true);
    assert.equal(fuses.grantFileProtocolExtraPrivileges, false, 'the renderer is served from app://, so file:// pages get no extra rights');
    assert.equal(config.asar, true);
    assert.deepEqual((config.linux as { target: string[] }).target, ['AppImage', 'deb']);
    assert.deepEqual((config.win as { target: string[] }).target, ['nsis']);
    assert.deepEqual((config.mac as { target: string[] }).target, ['dmg']);
  });

  it('bundles main and a self-contained CommonJS preload that needs nothing but electron', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/build-shell.ts')], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const preload = readFileSync(join(ROOT, 'dist/electron/preload.cjs'), 'utf8');
    const requires = [...preload.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
    assert.deepEqual([...new Set(requires)], ['electron'], 'a sandboxed preload may require only electron');
    assert.match(preload, /exposeInMainWorld\("cordon"/);
    const main = readFileSync(join(ROOT, 'dist/electron/main.cjs'), 'utf8');
    for (const setting of ['contextIsolation: true', 'sandbox: true', 'nodeIntegration: false']) assert.ok(main.includes(setting), setting);
    assert.ok(existsSync(join(ROOT, 'dist/agent/agent.cjs')));
  });

  it('npm start explains itself where the Electron binary is absent', (t) => {
    if (existsSync(join(ROOT, 'node_modules/electron/path.txt'))) {
      t.skip('this machine has the Electron binary, so npm start opens the window instead');
      return;
    }
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/start.ts')], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /Electron's binary is not installed/);
    assert.match(r.stderr, /npx --no install-electron/, 'says how to fetch it, and does not fetch it itself');
    assert.match(r.stderr, /npm run serve/);
    assert.equal(existsSync(join(ROOT, 'node_modules/electron/path.txt')), false, 'nothing was fetched');
  });
});
