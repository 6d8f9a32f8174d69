// EvidenceWriter on this machine's disk: bytes given in odd-sized chunks land in the file exactly, past the page cache
// where the file system allows it; a flush at an unaligned length and a reopen there continue the file without a
// gap or a doubled byte; a file that cannot be opened is an error in a sentence.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { EvidenceWriter, WRITE_BLOCK } from '../../evidence/direct-write.ts';
import { EvidenceIoError } from '../../evidence/io-errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'cordon-direct-write-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Feeds `data` to the writer in chunks of the given sizes, round and round. */
async function feed(w: EvidenceWriter, data: Buffer, sizes: number[]): Promise<void> {
  for (let at = 0, i = 0; at < data.length; i++) {
    const n = Math.min(sizes[i % sizes.length]!, data.length - at);
    await w.write(data.subarray(at, at + n));
    at += n;
  }
}

describe('EvidenceWriter', () => {
  it('writes every byte in order, several blocks in flight, and says how', async () => {
    const data = randomBytes(3 * WRITE_BLOCK + 12_345);
    const path = join(dir, 'whole.bin');
    const w = await EvidenceWriter.open(path, 0, { direct: true });
    await feed(w, data, [1_048_571, 65_536, 7, 300_001]);
    assert.ok(w.written <= w.position && w.position === data.length, 'staged bytes are not counted as written');
    await w.flush();
    assert.equal(w.written, data.length);
    await w.datasync();
    const how = w.report();
    await w.close();
    assert.ok(readFileSync(path).equals(data), 'the file holds exactly the bytes given');
    // On this project's disks (ext4, xfs) the writes go past the page cache; elsewhere the reason is given.
    assert.ok(how.method === 'direct' || (how.note ?? '').length > 20, JSON.stringify(how));
    console.log(`# EvidenceWriter on ${dir}: ${how.method}${how.note ? ` (${how.note})` : ''}`);
  });

  it('a flush at an unaligned length, more writes, and a reopen there continue the file exactly', async () => {
    const data = randomBytes(2 * WRITE_BLOCK + 99_999);
    const cut1 = 1_000_003;
    const cut2 = WRITE_BLOCK + 4097;
    const path = join(dir, 'resumed.bin');
    let w = await EvidenceWriter.open(path, 0, { direct: true });
    await w.write(data.subarray(0, cut1));
    await w.flush();
    assert.equal(w.written, cut1);
    assert.equal(statSync(path).size, cut1, 'the partial block is in the file after a flush');
    await w.write(data.subarray(cut1, cut2));
    await w.flush();
    await w.datasync();
    await w.close();
    assert.ok(readFileSync(path).equals(data.subarray(0, cut2)));
    // As after a cut: the file is continued at its unaligned length by a new writer.
    w = await EvidenceWriter.open(path, cut2, { direct: true });
    assert.equal(w.written, cut2);
    await feed(w, data.subarray(cut2), [777_777]);
    await w.flush();
    await w.close();
    assert.ok(readFileSync(path).equals(data), 'no gap and no doubled byte at either joint');
  });

  it('without direct, through the page cache, the same bytes, and the reason said', async () => {
    const data = randomBytes(WRITE_BLOCK + 5);
    const path = join(dir, 'plain.bin');
    writeFileSync(path, data.subarray(0, 10));
    const w = await EvidenceWriter.open(path, 10, {});
    await w.write(data.subarray(10));
    await w.flush();
    await w.close();
    assert.equal(w.report().method, 'page-cache');
    assert.match(w.report().note ?? '', /direct write was not asked for/);
    assert.ok(readFileSync(path).equals(data));
  });

  it('a file that cannot be opened is a write_failed error naming it', async () => {
    const path = join(dir, 'no-such-folder', 'x.bin');
    await assert.rejects(EvidenceWriter.open(path, 0, { direct: true }), (err: Error) => {
      assert.ok(err instanceof EvidenceIoError);
      assert.equal(err.code, 'write_failed');
      assert.match(err.message, /x\.bin could not be opened for writing \(ENOENT\)/);
      return true;
    });
  });
});
