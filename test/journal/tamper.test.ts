// A journal that was edited after the fact is caught, and the report names what and where: a flipped byte, a
// deleted record, a reordered pair, a forged checkpoint, a rewrite that recomputed the whole chain, a swapped key.
import assert from 'node:assert/strict';
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chainHash, FRAME_OVERHEAD, GENESIS_HASH, scanFrames, writeFrame } from '../../main/journal/frames.ts';
import { Journal } from '../../main/journal/journal.ts';
import { keyFingerprint, keySigner, rawPublicKey } from '../../main/journal/keys.ts';
import { checkpointText, parseNote, signNote, verifierKeyString } from '../../main/journal/note.ts';
import { verifyJournal } from '../../main/journal/verify.ts';
import { tempDir } from '../helpers/processes.ts';
import { newKey, syntheticEntry } from './fixtures.ts';

const base = tempDir('journal-tamper');
const key = newKey();
let pristine: string;
let realKey: string;

before(async () => {
  pristine = join(base.path, 'pristine');
  const j = await Journal.open({ dir: pristine, signer: key, checkpointMs: 0 });
  for (let b = 0; b < 3; b++) {
    j.append(Array.from({ length: 1000 }, (_, i) => syntheticEntry(b * 1000 + i)));
    await j.checkpoint();
  }
  realKey = verifierKeyString(j.signer.name, j.signer.publicKey);
  await j.close();
});

after(() => base.remove());

let copies = 0;
function copy(): string {
  const dir = join(base.path, `copy-${++copies}`);
  cpSync(pristine, dir, { recursive: true });
  return dir;
}

function segmentPath(dir: string): string {
  const name = readdirSync(join(dir, 'segments')).find((n) => n.endsWith('.rec'))!;
  return join(dir, 'segments', name);
}

/** The frames of a segment file as separate buffers, to edit. */
function frames(path: string): Buffer[] {
  const buf = readFileSync(path);
  const out: Buffer[] = [];
  scanFrames(buf, (f) => {
    out.push(Buffer.from(buf.subarray(f.offset, f.offset + FRAME_OVERHEAD + f.bytes.length)));
  });
  return out;
}

async function problemsOf(dir: string, keys?: string[]) {
  const report = await verifyJournal(dir, { workers: 0, ...(keys ? { keys } : {}) });
  return { report, first: report.problems[0] };
}

test('the untouched journal verifies, every record under a signature', async () => {
  const { report } = await problemsOf(pristine, [realKey]);
  assert.equal(report.status, 'verified', JSON.stringify(report.problems));
  assert.equal(report.records, report.signedRecords);
  assert.equal(report.keys[0]!.signed, report.checkpoints.total);
});

test('a flipped byte in one record is caught at that record', async () => {
  const dir = copy();
  const path = segmentPath(dir);
  const fr = frames(path);
  const f = fr[700]!;
  f[4 + 40]! ^= 0x01;
  writeFileSync(path, Buffer.concat(fr));
  const { report, first } = await problemsOf(dir);
  assert.equal(report.status, 'failed');
  assert.equal(first?.code, 'record_altered');
  assert.equal(first?.index, 700);
  assert.match(first!.message, /^Record #700 does not match its chain hash/);
  await assert.rejects(Journal.open({ dir, signer: key }), (e: Error & { code?: string }) => e.code === 'journal_damaged' && /record #700 does not match its hash/.test(e.message));
});

test('a deleted record is named as missing', async () => {
  const dir = copy();
  const path = segmentPath(dir);
  const fr = frames(path);
  fr.splice(1234, 1);
  writeFileSync(path, Buffer.concat(fr));
  const { first } = await problemsOf(dir);
  assert.equal(first?.code, 'record_missing');
  assert.equal(first?.index, 1234);
  assert.match(first!.message, /^Record #1234 is missing: the record in its place is #1235; records were deleted\./);
});

test('two records swapped are named as a reordered pair', async () => {
  const dir = copy();
  const path = segmentPath(dir);
  const fr = frames(path);
  [fr[2000], fr[2001]] = [fr[2001]!, fr[2000]!];
  writeFileSync(path, Buffer.concat(fr));
  const { first } = await problemsOf(dir);
  assert.equal(first?.code, 'records_swapped');
  assert.equal(first?.index, 2000);
  assert.match(first!.message, /^Records #2000 and #2001 are in each other's place/);
});

test('a checkpoint whose root was changed under its old signature is caught as forged', async () => {
  const dir = copy();
  const cpPath = join(dir, 'checkpoints.jsonl');
  const lines = readFileSync(cpPath, 'utf8').trim().split('\n');
  const last = JSON.parse(lines[lines.length - 1]!) as { size: number; time: number; note: string };
  const parts = last.note.split('\n');
  parts[2] = Buffer.alloc(32, 7).toString('base64');
  lines[lines.length - 1] = JSON.stringify({ ...last, note: parts.join('\n') });
  writeFileSync(cpPath, `${lines.join('\n')}\n`);
  const { report } = await problemsOf(dir);
  const forged = report.problems.find((p) => p.code === 'checkpoint_forged');
  assert.ok(forged, JSON.stringify(report.problems));
  assert.match(forged.message, new RegExp(`^Checkpoint ${lines.length} \\(size ${last.size}\\): The signature by key .* does not verify: the checkpoint was altered or forged\\.`));
  assert.ok(report.problems.some((p) => p.code === 'checkpoint_mismatch'), 'and the records do not match the changed root');
});

test('a record rewritten with the whole chain recomputed after it still fails the signed tree', async () => {
  const dir = copy();
  const path = segmentPath(dir);
  const buf = readFileSync(path);
  const out: Buffer[] = [];
  let prev: Buffer = GENESIS_HASH;
  let n = 0;
  scanFrames(buf, (f) => {
    let bytes = Buffer.from(f.bytes);
    if (n++ === 1500) bytes = Buffer.from(bytes.toString('utf8').replace(/"title":"[a-z0-9]+/, '"title":"innocent'));
    const chain = chainHash(prev, bytes);
    const frame = Buffer.alloc(FRAME_OVERHEAD + bytes.length);
    writeFrame(frame, 0, bytes, chain);
    out.push(frame);
    prev = chain;
  });
  writeFileSync(path, Buffer.concat(out));
  const { report } = await problemsOf(dir);
  assert.ok(!report.problems.some((p) => p.code.startsWith('record')), 'the chain itself is consistent again');
  const mismatch = report.problems.find((p) => p.code === 'checkpoint_mismatch');
  assert.ok(mismatch, JSON.stringify(report.problems));
  assert.match(mismatch.message, /^The records do not match checkpoint 3 \(size 2002\): records #1002…#2001 \(the checkpoint of size 1002 still matches\) were altered, removed or inserted after it was signed\./);
  await assert.rejects(Journal.open({ dir, signer: key }), /no longer match the last signed checkpoint/);
});

test('checkpoints re-signed with another key: refused against the responder\'s key, and the embedded fingerprint differs', async () => {
  const dir = copy();
  const forger = keySigner(newKey(), JSON.parse(readFileSync(join(dir, 'journal.json'), 'utf8')).origin as string);
  const cpPath = join(dir, 'checkpoints.jsonl');
  const lines = readFileSync(cpPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { size: number; time: number; note: string });
  const resigned = await Promise.all(lines.map(async (l) => {
    const text = parseNote(l.note);
    assert.ok(!('error' in text));
    return JSON.stringify({ ...l, note: await signNote(text.text, forger) });
  }));
  writeFileSync(cpPath, `${resigned.join('\n')}\n`);
  const keysPath = join(dir, 'keys.json');
  const keys = JSON.parse(readFileSync(keysPath, 'utf8')) as { keys: { verifierKey: string; fingerprint: string }[] };
  keys.keys[0]!.verifierKey = verifierKeyString(forger.name, forger.publicKey);
  keys.keys[0]!.fingerprint = keyFingerprint(forger.publicKey);
  writeFileSync(keysPath, JSON.stringify(keys));

  const given = await problemsOf(dir, [realKey]);
  assert.equal(given.report.status, 'failed');
  assert.equal(given.first?.code, 'checkpoint_unsigned');
  assert.match(given.first!.message, /signed only by keys this check does not trust/);
  const embedded = await problemsOf(dir);
  assert.notEqual(embedded.report.keys[0]!.fingerprint, keyFingerprint(rawPublicKey(key)), 'the report shows a fingerprint the responder will not recognise');
  assert.ok(embedded.report.problems.some((p) => p.code === 'key_unrecorded'), 'and the journal never recorded that key');
});

test('a checkpoint line forged from scratch for more records than exist is caught', async () => {
  const dir = copy();
  const j = JSON.parse(readFileSync(join(dir, 'journal.json'), 'utf8')) as { origin: string };
  const note = await signNote(checkpointText(j.origin, 999_999, Buffer.alloc(32)), keySigner(newKey(), j.origin));
  writeFileSync(join(dir, 'checkpoints.jsonl'), `${readFileSync(join(dir, 'checkpoints.jsonl'), 'utf8')}${JSON.stringify({ size: 999_999, time: 0, note })}\n`);
  const { report } = await problemsOf(dir, [realKey]);
  assert.ok(report.problems.some((p) => p.code === 'checkpoint_unsigned'), JSON.stringify(report.problems));
  assert.ok(report.problems.some((p) => p.code === 'records_missing' && /covers 999999 records but only \d+ are here/.test(p.message)));
});

test('in a journal of several full segments, checked on worker threads, an altered record is named too', async () => {
  const dir = join(base.path, 'big');
  const j = await Journal.open({ dir, signer: key, checkpointMs: 0 });
  for (let b = 0; b < 140_000; b += 10_000) j.append(Array.from({ length: 10_000 }, (_, i) => syntheticEntry(b + i)));
  await j.close();
  const good = await verifyJournal(dir, { workers: 2 });
  assert.equal(good.status, 'verified', JSON.stringify(good.problems));
  assert.equal(good.records, 140_003, 'created, key, 140,000 entries, closed');

  const second = join(dir, 'segments', 'seg-0000000000065536.rec');
  const fr = frames(second);
  fr[100]![4 + 30]! ^= 0x20;
  writeFileSync(second, Buffer.concat(fr));
  const bad = await verifyJournal(dir, { workers: 2 });
  assert.equal(bad.problems[0]?.code, 'record_altered');
  assert.equal(bad.problems[0]?.index, 65_536 + 100);
});
