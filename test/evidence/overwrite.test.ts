// Clearing named files: every byte of each file, and of a hard link to it, reads back as zero; no 64-byte window of
// the original content survives in the file; the same inode keeps its length; the report says how it was read back,
// the link count, sparseness, file system, device and limits; a missing file or a symbolic link is reported, not a
// crash. As root on a file system over a readable block device (filefrag and dd present), the test also reads the
// file's physical blocks from the raw device before and after, to show the zeros went where the content was.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, openSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { clearFiles, type ClearReport } from '../../evidence/overwrite.ts';
import { tempDir } from '../helpers/processes.ts';

const base = tempDir('overwrite');
const KiB = 1024;
const WINDOW = 64;
const originals = new Map<string, Buffer>();
/** What must not survive, where it differs from the whole original (a sparse file's data, not its hole). */
const contents = new Map<string, Buffer>();
const contentOf = (p: string) => contents.get(p) ?? originals.get(p)!;
const paths = {
  odd: join(base.path, 'odd.bin'),
  linked: join(base.path, 'linked.bin'),
  link: join(base.path, 'second-name.bin'),
  sparse: join(base.path, 'sparse.bin'),
  empty: join(base.path, 'empty.bin'),
  missing: join(base.path, 'missing.bin'),
  symlink: join(base.path, 'pointer.bin'),
  target: join(base.path, 'pointed-at.bin'),
};
let report: ClearReport;
let inodes: Map<string, number>;
/** Physical extents (device byte ranges) of each file before clearing, when the raw device can be read. */
let raw: { device: string; extents: Map<string, Array<{ logical: number; physical: number; length: number }>> } | undefined;

function writeSynced(path: string, bytes: Uint8Array, at = 0): void {
  const fd = openSync(path, 'w');
  writeSync(fd, bytes, 0, bytes.byteLength, at);
  fsyncSync(fd);
  closeSync(fd);
}

/** Every 64-byte window of `original`, at every offset, hashed (Rabin-Karp, mod 2^32), to look up in another buffer. */
function windows(original: Buffer): Set<number> {
  const set = new Set<number>();
  rolling(original, (h) => set.add(h));
  return set;
}

const BASE = 257;
let top = 1;
for (let i = 0; i < WINDOW - 1; i++) top = Math.imul(top, BASE) >>> 0;

function rolling(bytes: Uint8Array, each: (hash: number, at: number) => void): void {
  if (bytes.byteLength < WINDOW) return;
  let h = 0;
  for (let i = 0; i < WINDOW; i++) h = (Math.imul(h, BASE) + bytes[i]!) >>> 0;
  each(h, 0);
  for (let i = WINDOW; i < bytes.byteLength; i++) {
    h = (Math.imul((h - Math.imul(bytes[i - WINDOW]!, top)) >>> 0, BASE) + bytes[i]!) >>> 0;
    each(h, i - WINDOW + 1);
  }
}

/** The offset in `after` of a 64-byte window that also appears anywhere in `original`, or -1. */
function survivingWindow(original: Buffer, after: Buffer): number {
  const set = windows(original);
  let found = -1;
  const checked = new Set<number>();
  rolling(after, (h, at) => {
    if (found >= 0 || !set.has(h) || checked.has(h)) return;
    checked.add(h);
    if (original.indexOf(after.subarray(at, at + WINDOW)) >= 0) found = at;
  });
  return found;
}

const allZero = (b: Buffer) => b.every((x) => x === 0);

/** filefrag's extents of `path`, in bytes on the device. */
function extentsOf(path: string): Array<{ logical: number; physical: number; length: number }> | undefined {
  const r = spawnSync('filefrag', ['-e', '-v', path], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  const block = Number(/blocks? of (\d+) bytes/.exec(r.stdout)?.[1] ?? NaN);
  if (!Number.isFinite(block)) return undefined;
  const out: Array<{ logical: number; physical: number; length: number }> = [];
  for (const m of r.stdout.matchAll(/^\s*\d+:\s+(\d+)\.\.\s*\d+:\s+(\d+)\.\.\s*\d+:\s+(\d+):/gm)) {
    out.push({ logical: Number(m[1]) * block, physical: Number(m[2]) * block, length: Number(m[3]) * block });
  }
  return out;
}

/** Reads `length` bytes at `offset` of the raw device, past its cache. */
function readRaw(device: string, offset: number, length: number): Buffer | undefined {
  const r = spawnSync('dd', [`if=${device}`, 'bs=65536', `skip=${offset}`, `count=${length}`, 'iflag=direct,skip_bytes,count_bytes', 'status=none'], { maxBuffer: 64 * 1024 * 1024 });
  return r.status === 0 ? r.stdout : undefined;
}

/** The block device holding `path`'s file system, when it is one this process can read. */
function deviceOf(path: string): string | undefined {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return undefined;
  const st = statSync(path, { bigint: true });
  const major = Number(((st.dev >> 8n) & 0xfffn) | ((st.dev >> 32n) & ~0xfffn));
  const minor = Number((st.dev & 0xffn) | ((st.dev >> 12n) & ~0xffn));
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f[2] !== `${major}:${minor}`) continue;
    const source = f[f.indexOf('-') + 2];
    if (!source?.startsWith('/dev/')) return undefined;
    try {
      return statSync(source).isBlockDevice() ? source : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

before(async () => {
  originals.set(paths.odd, randomBytes(256 * KiB + 1000));
  originals.set(paths.linked, randomBytes(512 * KiB));
  for (const p of [paths.odd, paths.linked]) writeSynced(p, originals.get(p)!);
  linkSync(paths.linked, paths.link);
  // A hole of 1 MiB, then 64 KiB of content.
  const tail = randomBytes(64 * KiB);
  writeSynced(paths.sparse, tail, 1024 * KiB);
  originals.set(paths.sparse, Buffer.concat([Buffer.alloc(1024 * KiB), tail]));
  // The hole's zeros are no content of the file: only its data must not survive.
  contents.set(paths.sparse, tail);
  writeSynced(paths.empty, new Uint8Array(0));
  writeFileSync(paths.target, 'not to be touched through a link');
  symlinkSync(paths.target, paths.symlink);

  const device = deviceOf(base.path);
  if (device) {
    const extents = new Map<string, Array<{ logical: number; physical: number; length: number }>>();
    for (const p of [paths.odd, paths.linked, paths.sparse]) {
      const e = extentsOf(p);
      if (e && e.length > 0) extents.set(p, e);
    }
    // Only if the raw device really shows the content where filefrag says: else the method does not apply here.
    const probe = extents.get(paths.odd)?.[0];
    const seen = probe && readRaw(device, probe.physical, probe.length);
    if (seen && seen.subarray(0, 1024).equals(originals.get(paths.odd)!.subarray(probe.logical, probe.logical + 1024))) raw = { device, extents };
  }

  inodes = new Map([paths.odd, paths.linked, paths.sparse, paths.empty].map((p) => [p, statSync(p).ino]));
  report = await clearFiles([paths.odd, paths.linked, paths.sparse, paths.empty, paths.missing, paths.symlink]);
});

after(() => base.remove());

test('every byte of each cleared file, and of the hard link, is zero; no 64-byte window of the content survives', () => {
  for (const p of [paths.odd, paths.linked, paths.link, paths.sparse]) {
    const original = originals.get(p === paths.link ? paths.linked : p)!;
    const now = readFileSync(p);
    assert.equal(now.byteLength, original.byteLength, `${p} keeps its length`);
    assert.ok(allZero(now), `${p} reads zeros`);
    assert.equal(survivingWindow(contentOf(p === paths.link ? paths.linked : p), now), -1, `no window of ${p}'s content survives`);
  }
  assert.equal(readFileSync(paths.empty).byteLength, 0);
  // The same inodes: overwritten in place, not replaced.
  for (const [p, ino] of inodes) assert.equal(statSync(p).ino, ino, p);
  assert.equal(statSync(paths.link).ino, inodes.get(paths.linked));
});

test('the report: verified, one pass of zeros, how it was read back, links, sparseness, file system, device, limits', () => {
  assert.deepEqual(report.files.map((f) => f.path), [paths.odd, paths.linked, paths.sparse, paths.empty, paths.missing, paths.symlink]);
  const [odd, linked, sparse, empty] = report.files;
  for (const f of [odd!, linked!, sparse!, empty!]) {
    assert.equal(f.found, true, f.path);
    assert.equal(f.verified, true, `${f.path}: ${f.error}`);
    assert.equal(f.passes, 1);
    assert.equal(f.pattern, 'zeros');
    assert.equal(f.error, undefined);
    assert.ok(f.readBack === 'direct' || (f.readBack === 'page-cache' && /O_DIRECT/.test(f.readBackNote ?? '')), `${f.readBack}: ${f.readBackNote}`);
    assert.equal(typeof f.fileSystem, 'string');
    assert.ok(['yes', 'no', 'unknown'].includes(f.rotational!));
    assert.ok(f.limits.length >= 2 && f.limits.some((l) => /out of reach/.test(l)), f.limits.join(' | '));
  }
  assert.equal(odd!.bytes, 256 * KiB + 1000);
  assert.equal(odd!.links, 1);
  assert.equal(linked!.links, 2, 'the hard link is counted');
  assert.equal(sparse!.sparse, true);
  assert.equal(odd!.sparse, false);
  assert.equal(empty!.bytes, 0);
  assert.equal(report.bytes, (256 + 512 + 1088) * KiB + 1000);
  assert.equal(report.ok, false, 'not ok: one file was missing and one was a link');
  if (process.platform === 'linux') {
    const fsType = spawnSync('stat', ['-f', '-c', '%t', base.path], { encoding: 'utf8' }).stdout.trim();
    if (fsType === 'ef53') assert.equal(odd!.fileSystem, 'ext2/3/4');
  }
});

test('a missing file is reported as not found, and a symbolic link is not followed', () => {
  const missing = report.files[4]!;
  assert.equal(missing.found, false);
  assert.equal(missing.code, 'not_found');
  assert.equal(missing.verified, false);
  assert.equal(missing.passes, 0);
  assert.match(missing.error ?? '', /not found: nothing was overwritten/);
  const link = report.files[5]!;
  assert.equal(link.code, 'not_regular_file');
  assert.match(link.error ?? '', /symbolic link .*not followed/);
  assert.equal(readFileSync(paths.target, 'utf8'), 'not to be touched through a link');
  assert.equal(readlinkSync(paths.symlink), paths.target);
});

test('on the raw device, the blocks that held the content now hold zeros, and no window of it survives there', (t) => {
  if (!raw) {
    t.skip('needs root, filefrag and dd, and a file system over a block device this process may open (sandboxes often refuse it)');
    return;
  }
  for (const [p, extents] of raw.extents) {
    const original = originals.get(p)!;
    // Filling a hole adds blocks (which may merge with the old extent), but the old ones stay where they were.
    const now = extentsOf(p) ?? [];
    for (const e of extents) {
      const kept = now.some((n) => n.logical <= e.logical && e.logical + e.length <= n.logical + n.length && n.physical + (e.logical - n.logical) === e.physical);
      assert.ok(kept, `${p}'s bytes ${e.logical}… are still at ${e.physical} on ${raw.device}: overwritten in place`);
    }
    for (const e of extents) {
      const bytes = readRaw(raw.device, e.physical, e.length);
      assert.ok(bytes, `read ${raw.device} at ${e.physical}`);
      // Only the file's own length: the rest of its last block is not the file's.
      const inFile = bytes.subarray(0, Math.max(0, Math.min(e.length, original.byteLength - e.logical)));
      assert.ok(allZero(inFile), `${p}'s blocks at ${e.physical} on ${raw.device} read zeros`);
      assert.equal(survivingWindow(contentOf(p), bytes), -1, `no window of ${p}'s content at ${e.physical} on ${raw.device}`);
    }
  }
});
