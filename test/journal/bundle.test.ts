// Offline sync and evidence slices: a field laptop's journal goes to the SOC's as one file; a VM's slice proves
// itself against a signed checkpoint; imports never duplicate, keep where each record came from, and refuse a
// tampered bundle whole, naming its first bad record.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { exportBundle, importBundle, verifyBundle } from '../../main/journal/bundle.ts';
import { JournalError } from '../../main/journal/errors.ts';
import { Journal } from '../../main/journal/journal.ts';
import { keyFingerprint, rawPublicKey } from '../../main/journal/keys.ts';
import { verifierKeyString } from '../../main/journal/note.ts';
import { verifyJournal } from '../../main/journal/verify.ts';
import { tempDir } from '../helpers/processes.ts';
import { newKey, simEntries, syntheticEntry } from './fixtures.ts';

const base = tempDir('journal-bundle');
const fieldKey = newKey();
const socKey = newKey();
let field: Journal;
let soc: Journal;
let fieldBundle: string;
let fieldVerifier: string;

before(async () => {
  field = await Journal.open({ dir: join(base.path, 'field'), signer: fieldKey, checkpointMs: 0 });
  soc = await Journal.open({ dir: join(base.path, 'soc'), signer: socKey, checkpointMs: 0 });
  field.append(simEntries(6000));
  await field.appendDurable({ kind: 'action', agentId: 'sim-1', vmId: 'vm-x', actor: { name: 'alice', cockpit: 'field-laptop' }, body: { step: 'asked', reason: 'beaconing to C2' } });
  for (let i = 0; i < 5; i++) {
    field.append([syntheticEntry(i)]);
    await field.checkpoint();
  }
  fieldBundle = join(base.path, 'field.bundle');
  const summary = await exportBundle(field, fieldBundle);
  assert.equal(summary.readBack?.status, 'verified');
  fieldVerifier = verifierKeyString(field.signer.name, field.signer.publicKey);
});

after(async () => {
  await field.close();
  await soc.close();
  base.remove();
});

const refused = (pattern: RegExp) => (e: unknown) => e instanceof JournalError && e.code === 'bundle_refused' && pattern.test(e.message);

test('the slice about one VM carries its records with proofs, and verifies on its own', async () => {
  const vmId = field.get(50).record.vmId!;
  const file = join(base.path, 'vm.slice');
  const summary = await exportBundle(field, file, { slice: { vmId } });
  const expected = [...field.scan({ vmId })].length;
  assert.equal(summary.records, expected);
  assert.ok(expected > 5);
  const report = await verifyBundle(file, { keys: [fieldVerifier] });
  assert.equal(report.what, 'slice');
  assert.equal(report.status, 'verified', JSON.stringify(report.problems));
  assert.equal(report.records, expected);
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  assert.equal(JSON.parse(lines[0]!).filter.vmId, vmId, 'the header says what the slice is');
  assert.ok(lines.slice(2, -1).every((l) => JSON.parse(l).r.vmId === vmId), 'and it holds nothing else');
});

test('a time-range slice verifies too; an altered record in it is named', async () => {
  const from = field.get(1000).record.time;
  const to = field.get(1200).record.time;
  const file = join(base.path, 'range.slice');
  await exportBundle(field, file, { slice: { from, to } });
  assert.equal((await verifyBundle(file)).status, 'verified');
  const lines = readFileSync(file, 'utf8').split('\n');
  const target = JSON.parse(lines[10]!).i as number;
  lines[10] = lines[10]!.replace('"severity":"', '"severity":"x');
  writeFileSync(file, lines.join('\n'));
  const report = await verifyBundle(file);
  assert.equal(report.status, 'failed');
  assert.equal(report.problems[0]?.index, target);
  assert.match(report.problems[0]!.message, new RegExp(`^Record #${target} is not proved by the signed checkpoint`));
});

test('the field journal imports into the SOC journal with its provenance, and a second import adds nothing', async () => {
  const before = soc.size;
  const first = await importBundle(soc, fieldBundle);
  assert.equal(first.device, field.deviceId);
  assert.equal(first.added, field.latestCheckpoint!.size);
  assert.equal(first.alreadyHere, 0);
  assert.deepEqual(first.keys, [keyFingerprint(field.signer.publicKey)]);
  const afterFirst = soc.size;
  assert.equal(afterFirst, before + first.added + 1, 'the records, and one record of the import itself');

  const again = await importBundle(soc, fieldBundle);
  assert.equal(again.added, 0);
  assert.equal(again.alreadyHere, first.records);
  assert.equal(soc.size, afterFirst + 1, 'only the record of the second import');

  const action = soc.query({ actor: 'alice', kind: 'action' }).records;
  assert.equal(action.length, 1, 'found like any record of the SOC journal');
  const origin = action[0]!.record.origin!;
  assert.equal(origin.device, field.deviceId);
  assert.equal(origin.key, keyFingerprint(field.signer.publicKey));
  assert.equal(origin.leaf, field.leafHash(origin.record).toString('hex'), 'the leaf hash it had in the field journal');
  assert.equal(action[0]!.record.time, field.get(origin.record).record.time, 'with the time it had there');
  const imported = soc.query({ kind: 'journal', text: 'imported', limit: 2 }).records.map((r) => r.record.body as { added: number });
  assert.deepEqual(imported.map((b) => b.added), [0, first.added]);
  assert.equal((await verifyJournal(soc.dir)).status, 'verified');
});

test('a journal passed on keeps the first device as the origin, and never arrives twice', async () => {
  const third = await Journal.open({ dir: join(base.path, 'third'), signer: newKey(), checkpointMs: 0 });
  try {
    const socBundle = join(base.path, 'soc.bundle');
    await exportBundle(soc, socBundle);
    const viaSoc = await importBundle(third, socBundle);
    assert.equal(viaSoc.added, soc.latestCheckpoint!.size);
    const action = third.query({ actor: 'alice', kind: 'action' }).records[0]!.record;
    assert.equal(action.origin?.device, field.deviceId, 'the origin is still the field laptop');
    assert.equal(action.via?.device, soc.deviceId, 'and it came through the SOC');
    const direct = await importBundle(third, fieldBundle);
    assert.equal(direct.added, 0, 'the field journal, imported directly afterwards, brings nothing new');
    assert.equal(direct.alreadyHere, direct.records);
  } finally {
    await third.close();
  }
});

test('a bundle of this journal itself imports as nothing new', async () => {
  const own = join(base.path, 'own.bundle');
  await exportBundle(field, own);
  const r = await importBundle(field, own);
  assert.equal(r.added, 0);
  assert.equal(r.alreadyHere, r.records);
});

function tamperedCopy(name: string, edit: (lines: string[]) => void): string {
  const lines = readFileSync(fieldBundle, 'utf8').split('\n');
  edit(lines);
  const file = join(base.path, name);
  writeFileSync(file, lines.join('\n'));
  return file;
}

/** Line of record #i in a full bundle: the header, then the checkpoints, then records in order. */
function recordLine(lines: string[], i: number): number {
  return lines.findIndex((l) => l.startsWith('{"h":')) + i;
}

test('tampered bundles are refused whole, naming the first bad record, and nothing is imported', async () => {
  const target = await Journal.open({ dir: join(base.path, 'target'), signer: newKey(), checkpointMs: 0 });
  try {
    const size = target.size;
    const flipped = tamperedCopy('flipped.bundle', (l) => {
      const at = recordLine(l, 3210);
      l[at] = l[at]!.replace(/"title":"(.)/, (_m, c: string) => `"title":"${c === 'A' ? 'B' : 'A'}`);
    });
    await assert.rejects(importBundle(target, flipped), refused(/was refused, nothing was imported: Record #3210 does not match its chain hash/));
    const deleted = tamperedCopy('deleted.bundle', (l) => l.splice(recordLine(l, 777), 1));
    await assert.rejects(importBundle(target, deleted), refused(/Record #777 is missing/));
    const swapped = tamperedCopy('swapped.bundle', (l) => {
      const at = recordLine(l, 4000);
      [l[at], l[at + 1]] = [l[at + 1]!, l[at]!];
    });
    await assert.rejects(importBundle(target, swapped), refused(/Records #4000 and #4001 are in each other's place/));
    const forged = tamperedCopy('forged.bundle', (l) => {
      const at = l.findIndex((x) => x.startsWith('{"t":"checkpoint"'));
      const cp = JSON.parse(l[at]!) as { note: string };
      const parts = cp.note.split('\n');
      parts[2] = Buffer.alloc(32, 1).toString('base64');
      l[at] = JSON.stringify({ ...cp, note: parts.join('\n') });
    });
    await assert.rejects(importBundle(target, forged), refused(/Checkpoint 1 \(size \d+\): The signature by key .* does not verify/));
    const cut = tamperedCopy('cut.bundle', (l) => l.splice(recordLine(l, 5000)));
    await assert.rejects(importBundle(target, cut), refused(/no end line: it was cut short/));
    const stranger = verifierKeyString(field.signer.name, rawPublicKey(newKey()));
    await assert.rejects(importBundle(target, fieldBundle, { trustedKeys: [stranger] }), refused(/signed only by keys this check does not trust/));
    assert.equal(target.size, size, 'nothing of any refused bundle went in');
    const ok = await importBundle(target, fieldBundle, { trustedKeys: [fieldVerifier] });
    assert.equal(ok.added, ok.records);
  } finally {
    await target.close();
  }
});

test('a device whose journal was rewritten after an import is refused on the next one', async () => {
  const lab = await Journal.open({ dir: join(base.path, 'lab'), signer: newKey(), checkpointMs: 0 });
  const forkKey = newKey();
  const forkDir = join(base.path, 'fork');
  try {
    lab.append(Array.from({ length: 300 }, (_, i) => syntheticEntry(i)));
    const labBundle = join(base.path, 'lab.bundle');
    await exportBundle(lab, labBundle);
    const socBefore = await importBundle(soc, labBundle);
    assert.ok(socBefore.added > 300);
    // Same device id, different history: a rewritten (or reset and replayed) journal.
    const fork = await Journal.open({ dir: forkDir, signer: forkKey, checkpointMs: 0, deviceId: lab.deviceId });
    fork.append(Array.from({ length: 400 }, (_, i) => syntheticEntry(i + 7)));
    const forkBundle = join(base.path, 'fork.bundle');
    await exportBundle(fork, forkBundle);
    await fork.close();
    await assert.rejects(importBundle(soc, forkBundle), refused(/no longer matches the checkpoint of size \d+ imported before; it was rewritten/));
  } finally {
    await lab.close();
  }
});

test('an import a crash interrupted is recognised by the next one: nothing arrives twice', async () => {
  const target = await Journal.open({ dir: join(base.path, 'interrupted'), signer: newKey(), checkpointMs: 0 });
  try {
    const startedAt = target.size;
    const first = await importBundle(target, fieldBundle);
    // What a crash after the records but before peers.json was completed leaves: the import marked pending, no runs.
    const peersPath = join(target.dir, 'peers.json');
    const peers = JSON.parse(readFileSync(peersPath, 'utf8')) as { devices: Record<string, { runs: unknown[] }>; watermark: number; pending?: number };
    peers.devices[field.deviceId]!.runs = [];
    peers.pending = startedAt;
    writeFileSync(peersPath, JSON.stringify(peers));
    const again = await importBundle(target, fieldBundle);
    assert.equal(again.added, 0);
    assert.equal(again.alreadyHere, first.added);
  } finally {
    await target.close();
  }
});
