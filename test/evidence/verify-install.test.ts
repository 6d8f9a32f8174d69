// cordon-verify as a third party gets it: the repository packed with npm, installed without its development
// dependencies (no Electron, no build step) into an empty folder, and run from there with npx on a sealed package.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fingerprintOf } from '../../evidence/package.ts';
import { makePackage } from './fixture.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');

test('npm pack, npm install --omit=dev into an empty folder, then npx cordon-verify checks a package', { timeout: 300_000 }, async () => {
  const key = generateKeyPairSync('ed25519').privateKey;
  const pkg = await makePackage(key);
  const dir = mkdtempSync(join(tmpdir(), 'cordon-verify-install-'));
  try {
    await run('npm', ['pack', '--pack-destination', dir], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
    const tarball = readdirSync(dir).find((n) => n.endsWith('.tgz'));
    assert.ok(tarball, 'npm pack made a tarball');
    await run('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', join(dir, tarball)], { cwd: dir, maxBuffer: 64 * 1024 * 1024 });
    assert.ok(!readdirSync(join(dir, 'node_modules')).includes('electron'), 'no Electron came with it');
    const { stdout } = await run('npx', ['--no-install', 'cordon-verify', pkg, '--key', fingerprintOf(key)], { cwd: dir });
    assert.match(stdout, /RESULT: VERIFIED/);
    const unpinned = await run('npx', ['--no-install', 'cordon-verify', pkg], { cwd: dir }).then(() => 0, (err: { code: number }) => err.code);
    assert.equal(unpinned, 3, 'without --key: intact, signer not pinned');
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(pkg, { recursive: true, force: true });
  }
});
