// Export to removable media: a good export copies every file, syncs it and reads it back past the cache; an existing
// target is never overwritten; paths that escape are refused before anything is written; a medium that changes a
// byte after the write (simulated by the test-only corruptAfterWrite hook, which flips one byte of the written copy
// on disk) and a source that no longer matches its manifest are both caught by the read-back, naming the file and
// both hashes; an abort removes the incomplete copy. The source is never changed.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, statSync, writeFileSync, writeSync, closeSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { closeDualHashPool } from '../../evidence/dual-hash.ts';
import { exportFolder, type ExportFile, type ExportProgress } from '../../evidence/export.ts';
import { EvidenceIoError } from '../../evidence/io-errors.ts';
import { digestTree } from '../helpers/evidence-store.ts';
import { tempDir } from '../helpers/processes.ts';

const base = tempDir('export');
const source = join(base.path, 'package');
const media = join(base.path, 'media');
const MiB = 1024 * 1024;
let files: ExportFile[];
let sourceDigest: string;
const verifyText = new TextEncoder().encode('VERIFY: run cordon-verify on this folder.\n');

const describe = (bytes: Uint8Array) => ({
  size: bytes.byteLength,
  sha256: createHash('sha256').update(bytes).digest('hex'),
  sha1: createHash('sha1').update(bytes).digest('hex'),
});

const code = (c: string, pattern?: RegExp) => (err: unknown) => {
  assert.ok(err instanceof EvidenceIoError, String(err));
  assert.equal(err.code, c, err.message);
  if (pattern) assert.match(err.message, pattern);
  return true;
};

before(() => {
  mkdirSync(join(source, 'evidence', 'logs'), { recursive: true });
  mkdirSync(media);
  const contents: Record<string, Uint8Array> = {
    'evidence/memory.elf': randomBytes(9 * MiB + 333),
    'evidence/disk.qcow2': randomBytes(3 * MiB),
    'evidence/logs/auth.log': new TextEncoder().encode('Nov 23 12:00:01 host sshd[1]: Accepted publickey for root\n'),
    'evidence/empty.bin': new Uint8Array(0),
    'manifest.json': new TextEncoder().encode('{"format":"cordon-package/1"}\n'),
    'manifest.json.sig': randomBytes(64),
  };
  files = Object.entries(contents).map(([path, bytes]) => {
    writeFileSync(join(source, ...path.split('/')), bytes);
    return { path, ...describe(bytes) };
  });
  sourceDigest = digestTree(source);
});

after(() => {
  closeDualHashPool();
  base.remove();
});

test('a good export: every file copied, synced and read back past the cache, matching; the source untouched', async () => {
  const target = join(media, 'case-42');
  const progress: ExportProgress[] = [];
  const report = await exportFolder(source, target, files, [{ path: 'VERIFY.txt', content: verifyText }], { onProgress: (p) => progress.push(p) });
  assert.equal(report.ok, true);
  assert.equal(report.target, target);
  assert.deepEqual(report.files.map((f) => f.path), [...files.map((f) => f.path), 'VERIFY.txt']);
  assert.equal(report.bytes, files.reduce((n, f) => n + f.size, 0) + verifyText.byteLength);
  for (const f of report.files) {
    assert.equal(f.ok, true, f.path);
    // /tmp may be a tmpfs that refuses O_DIRECT: then the report must say so, and why.
    assert.ok(f.readBack === 'direct' || (f.readBack === 'page-cache' && /O_DIRECT/.test(f.readBackNote ?? '')), `${f.path}: ${f.readBack} ${f.readBackNote}`);
    const copy = readFileSync(join(target, ...f.path.split('/')));
    assert.deepEqual(describe(copy), { size: f.size, sha256: f.sha256, sha1: f.sha1 }, f.path);
    assert.equal(statSync(join(target, ...f.path.split('/'))).mode & 0o222, 0, `${f.path} is read-only on the medium`);
  }
  assert.deepEqual(readFileSync(join(target, 'VERIFY.txt')), Buffer.from(verifyText));
  assert.deepEqual(readdirSync(target).sort(), ['VERIFY.txt', 'evidence', 'manifest.json', 'manifest.json.sig']);
  assert.ok(report.copyMs > 0 && report.verifyMs > 0 && report.ms >= report.copyMs);
  // Progress for both phases, ending at every byte.
  for (const phase of ['copy', 'verify'] as const) {
    const seen = progress.filter((p) => p.phase === phase);
    assert.ok(seen.length > 0, phase);
    assert.equal(Math.max(...seen.map((p) => p.doneBytes)), report.bytes, phase);
    assert.ok(seen.every((p) => p.allBytes === report.bytes && p.bytes <= p.totalBytes));
  }
  assert.equal(digestTree(source), sourceDigest);
});

test('a target that exists is refused, named, and left as it was', async () => {
  const target = join(media, 'already-here');
  mkdirSync(target);
  writeFileSync(join(target, 'earlier.txt'), 'an earlier export');
  await assert.rejects(exportFolder(source, target, files, []), code('target_exists', new RegExp(`${target}.*never overwrites`)));
  assert.deepEqual(readdirSync(target), ['earlier.txt']);
  assert.equal(readFileSync(join(target, 'earlier.txt'), 'utf8'), 'an earlier export');
  // A folder that is not there to hold it (an unmounted medium) is refused too.
  await assert.rejects(exportFolder(source, join(media, 'not-mounted', 'case'), files, []), code('target_parent_missing', /mount the removable medium/));
});

test('paths that escape the folder, or collide on FAT media, are refused before anything is written', async () => {
  const bad = ['../outside.bin', 'evidence/../../outside.bin', '/etc/passwd', 'C:/evil', 'evidence\\win.bin', 'evi\0dence', '', 'evidence//x', './x'];
  for (const [i, path] of bad.entries()) {
    const target = join(media, `escape-${i}`);
    await assert.rejects(exportFolder(source, target, [...files, { path, size: 0, sha256: '', sha1: '' }], []), code('unsafe_path'), JSON.stringify(path));
    assert.equal(existsSync(target), false);
  }
  await assert.rejects(exportFolder(source, join(media, 'escape-extra'), files, [{ path: '../VERIFY.txt', content: verifyText }]), code('unsafe_path', /outside the export folder/));
  await assert.rejects(exportFolder(source, join(media, 'case-dup'), files, [{ path: 'Manifest.JSON', content: verifyText }]), code('duplicate_path', /differ only in case/));
  await assert.rejects(exportFolder(source, join(media, 'file-dir'), files, [{ path: 'evidence/logs', content: verifyText }]), code('duplicate_path', /both a file and a folder/));
  assert.equal(existsSync(join(base.path, 'outside.bin')), false);
  assert.equal(existsSync(join(media, 'case-dup')), false);
});

test('a medium that changes a byte after the write: readback_mismatch names the file and both hashes; the source is kept', async () => {
  const target = join(media, 'bad-stick');
  const victim = join(target, 'evidence', 'memory.elf');
  const expected = files.find((f) => f.path === 'evidence/memory.elf')!;
  const corruptAfterWrite = (path: string) => {
    if (path !== victim) return;
    chmodSync(path, 0o644);
    const fd = openSync(path, 'r+');
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, 5 * MiB + 7);
    b[0] = b[0]! ^ 0x01;
    writeSync(fd, b, 0, 1, 5 * MiB + 7);
    closeSync(fd);
  };
  await assert.rejects(exportFolder(source, target, files, [{ path: 'VERIFY.txt', content: verifyText }], { corruptAfterWrite }), (err: unknown) => {
    code('readback_mismatch')(err);
    const m = (err as Error).message;
    assert.match(m, /evidence\/memory\.elf/);
    assert.ok(m.includes(expected.sha256) && m.includes(expected.sha1), 'names the expected hashes');
    const corrupted = readFileSync(victim);
    assert.ok(m.includes(describe(corrupted).sha256), 'names the hash read back');
    assert.match(m, /source still matches/);
    assert.match(m, /source is kept/);
    return true;
  });
  assert.ok(existsSync(victim), 'the bad copy is kept for inspection');
  assert.equal(digestTree(source), sourceDigest);
});

test('a source that no longer matches its expected hashes is caught on read-back too, and says the source is at fault', async () => {
  const target = join(media, 'stale-manifest');
  const stale = files.map((f) => (f.path === 'evidence/disk.qcow2' ? { ...f, sha256: 'ab'.repeat(32), sha1: 'cd'.repeat(20) } : f));
  await assert.rejects(exportFolder(source, target, stale, []), code('readback_mismatch', /evidence\/disk\.qcow2.*abab.*cdcd.*source itself no longer matches.*source is kept/s));
  // A size that differs is refused before anything is written.
  const wrongSize = files.map((f) => (f.path === 'manifest.json' ? { ...f, size: f.size + 1 } : f));
  await assert.rejects(exportFolder(source, join(media, 'wrong-size'), wrongSize, []), code('source_changed', /manifest\.json/));
  assert.equal(existsSync(join(media, 'wrong-size')), false);
  await assert.rejects(exportFolder(source, join(media, 'missing'), [...files, { path: 'evidence/gone.bin', size: 1, sha256: '', sha1: '' }], []), code('not_found', /gone\.bin/));
  assert.equal(digestTree(source), sourceDigest);
});

test('an abort stops the export with `aborted` and removes the incomplete copy', async () => {
  const target = join(media, 'aborted');
  const ac = new AbortController();
  await assert.rejects(exportFolder(source, target, files, [], {
    signal: ac.signal,
    onProgress: (p) => {
      if (p.phase === 'copy' && p.bytes > 0) ac.abort();
    },
  }), code('aborted'));
  assert.equal(existsSync(target), false);
  assert.equal(digestTree(source), sourceDigest);
});
