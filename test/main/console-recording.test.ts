// A console session's asciicast v2 recording: a header that says whose session it was, output decoded as UTF-8 even
// when a character is split across reads, input and resizes as their own events, a hash of exactly the bytes on disk,
// and ids that cannot name a path outside the recordings folder.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { AsciicastRecorder, listRecordings, readRecording } from '../../main/console/recording.ts';
import { tempDir } from '../helpers/processes.ts';

test('records output, input and resizes as asciicast v2, hashed as written', () => {
  const dir = tempDir('cast');
  try {
    const rec = new AsciicastRecorder(dir.path, { recordingId: 'con-0001-abcd', agentId: 'hv-1', vmId: 'vm-7', vmName: 'web-07', actor: { name: 'Dana Scully' }, startedAt: '2026-11-23T10:00:00.000Z', readOnly: false }, { cols: 120, rows: 40 });
    const euro = Buffer.from('€', 'utf8'); // three bytes, split across two reads
    rec.output(Buffer.concat([Buffer.from('price: '), euro.subarray(0, 2)]));
    rec.output(Buffer.concat([euro.subarray(2), Buffer.from('\r\n\x1b]52;c;aGk=\x07')]));
    rec.input('ps\r');
    rec.resize(160, 48);
    rec.output(Buffer.from([0xff, 0x41]));
    const meta = rec.close();
    const text = readFileSync(join(dir.path, 'con-0001-abcd.cast'), 'utf8');
    const [header, ...events] = text.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown);
    assert.deepEqual({ ...(header as object), timestamp: 0 }, { version: 2, width: 120, height: 40, timestamp: 0, title: 'web-07 on hv-1, opened by Dana Scully', env: { TERM: 'xterm-256color' } });
    assert.equal((header as { timestamp: number }).timestamp, Date.parse('2026-11-23T10:00:00.000Z') / 1000);
    const kinds = (events as [number, string, string][]).map(([, code, data]) => [code, data]);
    assert.deepEqual(kinds, [
      ['o', 'price: '],
      ['o', '€\r\n\x1b]52;c;aGk=\x07'],
      ['i', 'ps\r'],
      ['r', '160x48'],
      ['o', '\ufffdA'],
    ]);
    assert.ok((events as [number][]).every(([t], i, all) => t >= 0 && (i === 0 || t >= all[i - 1]![0])), 'times never go back');
    assert.equal(meta.sha256, createHash('sha256').update(readFileSync(join(dir.path, 'con-0001-abcd.cast'))).digest('hex'));
    assert.equal(meta.bytes, Buffer.byteLength(text));
    assert.ok(meta.endedAt);
    const listed = listRecordings(dir.path, { vmId: 'vm-7' });
    assert.equal(listed.length, 1);
    assert.equal(listed[0]!.sha256, meta.sha256, 'the sidecar carries the hash');
    assert.deepEqual(listRecordings(dir.path, { vmId: 'vm-8' }), []);
    assert.equal(readRecording(dir.path, 'con-0001-abcd'), text);
    assert.throws(() => readRecording(dir.path, '../../etc/passwd'), /Not a recording id/);
    assert.throws(() => new AsciicastRecorder(dir.path, { ...meta, recordingId: 'con-0001-abcd' }, { cols: 80, rows: 24 }), /EEXIST/, 'a recording is never overwritten');
  } finally {
    dir.remove();
  }
});
