// The parallel SHA-256 + SHA-1 hasher gives exactly node:crypto's one-thread digests, at every size around its slot
// and read boundaries, through the page cache and past it, for many hashes at once and for a stream in odd chunks;
// it stops when asked, and the pool keeps working afterwards.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DualHashStream, SLOTS, SLOT_BYTES, SPAN_BYTES, closeDualHashPool, hashFileDual } from '../../evidence/dual-hash.ts';
import { EvidenceIoError } from '../../evidence/io-errors.ts';
import { tempDir } from '../helpers/processes.ts';

const base = tempDir('dual-hash');
const MiB = 1024 * 1024;
let big: Buffer;
let bigPath: string;

const expected = (bytes: Uint8Array) => ({
  size: bytes.byteLength,
  sha256: createHash('sha256').update(bytes).digest('hex'),
  sha1: createHash('sha1').update(bytes).digest('hex'),
});

function file(name: string, bytes: Uint8Array): string {
  const path = join(base.path, name);
  writeFileSync(path, bytes);
  return path;
}

const code = (c: string) => (err: unknown) => err instanceof EvidenceIoError && err.code === c;

before(() => {
  big = randomBytes(50 * MiB);
  bigPath = file('big.bin', big);
});

after(() => {
  closeDualHashPool();
  base.remove();
});

// Around a slot, a direct read's span and the ring, and sizes that are no multiple of anything.
const SIZES: Array<[string, number]> = [
  ['empty', 0], ['1 byte', 1], ['4095 bytes', 4095], ['exactly one slot', SLOT_BYTES], ['one slot + 1', SLOT_BYTES + 1],
  ['one slot - 1', SLOT_BYTES - 1], ['one span', SPAN_BYTES], ['one span + 1', SPAN_BYTES + 1],
  ['the ring + 4097', SLOTS * SLOT_BYTES + 4097], ['3 MiB + 123', 3 * MiB + 123],
];

for (const direct of [false, true]) {
  const how = direct ? 'past the page cache' : 'through the page cache';
  for (const [label, size] of SIZES) {
    test(`${label}, ${how}: the digests are node:crypto's`, async () => {
      const bytes = big.subarray(0, size);
      const d = await hashFileDual(file(`${label.replace(/\W+/g, '-')}-${direct}.bin`, bytes), { direct });
      assert.deepEqual({ size: d.size, sha256: d.sha256, sha1: d.sha1 }, expected(bytes));
      if (!direct) assert.equal(d.readMethod, 'page-cache');
    });
  }

  test(`a random 50 MiB file, ${how}: the digests are node:crypto's, progress climbs to the size, the method is said`, async () => {
    const seen: number[] = [];
    const d = await hashFileDual(bigPath, { direct, onBytes: (n) => seen.push(n) });
    assert.deepEqual({ size: d.size, sha256: d.sha256, sha1: d.sha1 }, expected(big));
    assert.ok(seen.length > 1, 'progress is reported along the way');
    assert.deepEqual(seen, [...seen].sort((a, b) => a - b), 'progress never goes back');
    assert.equal(seen.at(-1), big.byteLength);
    if (direct) {
      // /tmp may be a tmpfs that refuses O_DIRECT: then the fallback must say why.
      assert.ok(d.readMethod === 'direct' || (d.readMethod === 'page-cache' && /O_DIRECT/.test(d.readNote ?? '')), `${d.readMethod}: ${d.readNote}`);
    } else {
      assert.equal(d.readMethod, 'page-cache');
      assert.match(d.readNote ?? '', /not asked/);
    }
  });
}

test('many hashes at once (more than the pool has threads) each get their own file\'s digests', async () => {
  const files = Array.from({ length: 12 }, (_, i) => {
    const bytes = big.subarray(i * 3 * MiB + i, i * 3 * MiB + i + (i + 1) * 700_001);
    return { path: file(`many-${i}.bin`, bytes), want: expected(bytes) };
  });
  const got = await Promise.all(files.map((f, i) => hashFileDual(f.path, { direct: i % 3 === 0 })));
  got.forEach((d, i) => assert.deepEqual({ size: d.size, sha256: d.sha256, sha1: d.sha1 }, files[i]!.want, `file ${i}`));
});

test('an abort stops a hash in progress with `aborted`, and the pool hashes correctly afterwards', async () => {
  for (const direct of [false, true]) {
    const ac = new AbortController();
    await assert.rejects(hashFileDual(bigPath, { direct, signal: ac.signal, onBytes: () => ac.abort() }), code('aborted'));
  }
  const already = AbortSignal.abort();
  await assert.rejects(hashFileDual(bigPath, { signal: already }), code('aborted'));
  // Aborting hashes that wait in the queue behind busy pairs.
  const ac = new AbortController();
  const running = [hashFileDual(bigPath), hashFileDual(bigPath)];
  const queued = hashFileDual(bigPath, { signal: ac.signal });
  ac.abort();
  await assert.rejects(queued, code('aborted'));
  for (const d of await Promise.all(running)) assert.equal(d.sha256, expected(big).sha256);
  const d = await hashFileDual(bigPath, { direct: true });
  assert.deepEqual({ size: d.size, sha256: d.sha256, sha1: d.sha1 }, expected(big));
});

test('a missing file is `not_found`, a folder is `not_regular_file`', async () => {
  await assert.rejects(hashFileDual(join(base.path, 'nope.bin')), code('not_found'));
  await assert.rejects(hashFileDual(base.path), code('not_regular_file'));
});

test('the streaming form, fed odd chunk sizes (empty, 1 byte, across slots), gives node:crypto\'s digests', async () => {
  const data = big.subarray(0, 20 * MiB + 17);
  const stream = new DualHashStream();
  const sizes = [0, 1, 2, 3, SLOT_BYTES - 7, SLOT_BYTES + 13, 65_536, 1, 3 * MiB + 5, 7, 999_983];
  let at = 0;
  for (let i = 0; at < data.byteLength; i++) {
    const n = Math.min(sizes[i % sizes.length]!, data.byteLength - at);
    // A copy, as a socket's chunk would be: the hasher must not depend on the caller's buffer after update().
    const p = stream.update(Buffer.from(data.subarray(at, at + n)));
    if (p) await p;
    at += n;
  }
  assert.equal(stream.bytes, data.byteLength);
  assert.deepEqual(await stream.digest(), expected(data));
  assert.throws(() => stream.update(new Uint8Array(1)), code('stream_closed'));
});

test('the streaming form: updates given without awaiting are hashed in order; empty and aborted streams', async () => {
  const data = big.subarray(5 * MiB, 5 * MiB + 6 * MiB + 3);
  const stream = new DualHashStream();
  const pending: Array<void | Promise<void>> = [];
  for (let at = 0; at < data.byteLength; at += 100_003) pending.push(stream.update(data.subarray(at, at + 100_003)));
  await Promise.all(pending);
  assert.deepEqual(await stream.digest(), expected(data));

  assert.deepEqual(await new DualHashStream().digest(), expected(new Uint8Array(0)));

  const ac = new AbortController();
  const aborted = new DualHashStream({ signal: ac.signal });
  await aborted.update(data.subarray(0, 3 * MiB));
  ac.abort();
  assert.throws(() => aborted.update(data.subarray(0, 10)), code('aborted'));
  await assert.rejects(async () => aborted.digest(), code('aborted'));
  // Aborted with updates still queued behind a full ring: they settle (rejected), none hangs.
  const busy = new DualHashStream();
  const queued: Array<void | Promise<void>> = [];
  for (let i = 0; i < 16; i++) queued.push(busy.update(big.subarray(i * 3 * MiB, (i + 1) * 3 * MiB)));
  await new Promise((resolve) => setImmediate(resolve));
  busy.abort(new Error('the transfer was cancelled'));
  const settled = await Promise.allSettled(queued);
  assert.ok(settled.every((r) => r.status === 'fulfilled' || code('aborted')(r.reason)), 'every queued update settled');
  await assert.rejects(async () => busy.digest(), code('aborted'));
  // Its threads went back to the pool.
  const after = new DualHashStream();
  await after.update(data);
  assert.deepEqual(await after.digest(), expected(data));
});
