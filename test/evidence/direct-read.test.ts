// Reading past the page cache: the bytes are the file's, whatever the area's offset in its buffer; a sparse file
// (whose holes accept any alignment, so an early probe can be wrong) reads right; and every read says how it was
// done, with a reason when it was not past the cache.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DIRECT_ALIGNMENT, DIRECT_SUPPORTED, EvidenceReader, readThrough } from '../../evidence/direct-read.ts';
import { EvidenceIoError } from '../../evidence/io-errors.ts';
import { tempDir } from '../helpers/processes.ts';

const base = tempDir('direct-read');
after(() => base.remove());

const MiB = 1024 * 1024;
const directOk = (r: { method: string; note?: string }) =>
  r.method === 'direct' || (r.method === 'page-cache' && /O_DIRECT/.test(r.note ?? ''));

async function readAll(path: string, options: { direct: boolean; chunkBytes?: number }) {
  const parts: Buffer[] = [];
  const how = await readThrough(path, options, (chunk) => {
    parts.push(Buffer.from(chunk));
  });
  return { bytes: Buffer.concat(parts), ...how };
}

test('a direct read gives the file\'s bytes and says how it was read', async () => {
  const bytes = randomBytes(5 * MiB + 4321);
  const path = join(base.path, 'plain.bin');
  writeFileSync(path, bytes);
  const direct = await readAll(path, { direct: true, chunkBytes: MiB });
  assert.ok(directOk(direct), `${direct.method}: ${direct.note}`);
  assert.ok(direct.bytes.equals(bytes));
  assert.equal(direct.size, bytes.byteLength);
  if (process.platform === 'linux') assert.equal(DIRECT_SUPPORTED, true);
  const cached = await readAll(path, { direct: false });
  assert.equal(cached.method, 'page-cache');
  assert.match(cached.note ?? '', /not asked/);
  assert.ok(cached.bytes.equals(bytes));
});

test('areas at any offset of one buffer: the reader finds an aligned place in each, and the bytes are right', async () => {
  const bytes = randomBytes(3 * 65536 + 100);
  const path = join(base.path, 'areas.bin');
  writeFileSync(path, bytes);
  const reader = await EvidenceReader.open(path, { direct: true });
  try {
    const buffer = new ArrayBuffer(4 * (65536 + DIRECT_ALIGNMENT) + 64);
    for (const [i, start] of [0, 7, 16, 4099].entries()) {
      const area = new Uint8Array(buffer, start + i * 8, 65536 + DIRECT_ALIGNMENT);
      const { offset, bytes: n } = await reader.read(area, 65536, i * 65536);
      const want = bytes.subarray(i * 65536, i * 65536 + 65536);
      assert.equal(n, want.byteLength, `area at ${start}`);
      assert.ok(Buffer.from(area.subarray(offset, offset + n)).equals(want), `area at ${start}`);
    }
    assert.ok(directOk(reader.report()));
  } finally {
    await reader.close();
  }
  await assert.rejects(reader.read(new Uint8Array(100), 4096, 0), RangeError);
});

test('a sparse file (a hole first, then data) reads right past the cache', async () => {
  const data = randomBytes(300_001);
  const path = join(base.path, 'sparse.bin');
  const fd = openSync(path, 'w');
  writeSync(fd, data, 0, data.byteLength, 2 * MiB);
  closeSync(fd);
  const got = await readAll(path, { direct: true, chunkBytes: 256 * 1024 });
  assert.ok(directOk(got), `${got.method}: ${got.note}`);
  assert.equal(got.size, 2 * MiB + data.byteLength);
  assert.ok(got.bytes.subarray(0, 2 * MiB).every((b) => b === 0));
  assert.ok(got.bytes.subarray(2 * MiB).equals(data));
});

test('a missing file, a folder, and an aborted read are errors with codes', async () => {
  const code = (c: string) => (err: unknown) => err instanceof EvidenceIoError && err.code === c;
  await assert.rejects(EvidenceReader.open(join(base.path, 'nope'), { direct: true }), code('not_found'));
  await assert.rejects(EvidenceReader.open(base.path, { direct: true }), code('not_regular_file'));
  const path = join(base.path, 'abort.bin');
  writeFileSync(path, randomBytes(MiB));
  await assert.rejects(readThrough(path, { direct: true, signal: AbortSignal.abort() }, () => undefined), code('aborted'));
});
