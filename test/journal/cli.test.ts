// `cordon-verify journal PATH`, run as a responder or a court expert would (`npx cordon-verify`, a real process):
// a plain report, and an exit status a script can trust.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { exportBundle } from '../../main/journal/bundle.ts';
import { Journal } from '../../main/journal/journal.ts';
import { keyFingerprint, rawPublicKey } from '../../main/journal/keys.ts';
import { verifierKeyString } from '../../main/journal/note.ts';
import { ROOT, tempDir } from '../helpers/processes.ts';
import { newKey, syntheticEntry } from './fixtures.ts';

const base = tempDir('journal-cli');
const key = newKey();
let dir: string;
let verifier: string;

before(async () => {
  dir = join(base.path, 'journal');
  const j = await Journal.open({ dir, signer: key, checkpointMs: 0 });
  j.append(Array.from({ length: 2000 }, (_, i) => syntheticEntry(i)));
  await exportBundle(j, join(base.path, 'vm.slice'), { slice: { vmId: 'vm-7' } });
  await exportBundle(j, join(base.path, 'all.bundle'));
  verifier = verifierKeyString(j.signer.name, j.signer.publicKey);
  await j.close();
});

after(() => base.remove());

function cordonVerify(...args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    // The bin entry, through the launcher that `npx cordon-verify` runs.
    const child = spawn(process.execPath, [join(ROOT, 'bin/cordon-verify.js'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => resolve({ code, out }));
  });
}

test('an intact journal: exit 0, a plain report with the key fingerprint', async () => {
  const { code, out } = await cordonVerify('journal', dir);
  assert.equal(code, 0, out);
  assert.match(out, /^Cordon journal verification$/m);
  assert.match(out, /records: +2,003/);
  assert.match(out, /chain: +intact/);
  assert.ok(out.includes(`fingerprint ${keyFingerprint(rawPublicKey(key))}`));
  assert.match(out, /embedded in what is verified: compare this fingerprint with the responder's key/);
  assert.match(out, /^RESULT: VERIFIED\./m);
});

test('with the responder\'s key given: exit 0; with another key: exit 1', async () => {
  const good = await cordonVerify('journal', dir, '--key', verifier);
  assert.equal(good.code, 0, good.out);
  assert.match(good.out, /given on the command line/);
  const stranger = verifierKeyString(verifier.split('+')[0]!, rawPublicKey(newKey()));
  const bad = await cordonVerify('journal', dir, '--key', stranger);
  assert.equal(bad.code, 1, bad.out);
  assert.match(bad.out, /^RESULT: FAILED\. Checkpoint 1 \(size 2\): The checkpoint is signed only by keys this check does not trust/m);
});

test('bundles and slices verify the same way', async () => {
  const slice = await cordonVerify('journal', join(base.path, 'vm.slice'), '--key', verifier);
  assert.equal(slice.code, 0, slice.out);
  assert.match(slice.out, /^Cordon journal slice verification$/m);
  assert.match(slice.out, /every record's inclusion proof leads to the signed root/);
  const bundle = await cordonVerify('journal', join(base.path, 'all.bundle'), '--json');
  assert.equal(bundle.code, 0, bundle.out);
  assert.equal((JSON.parse(bundle.out) as { status: string; records: number }).records, 2002, 'exported before the journal was closed');
});

test('a tampered journal: exit 1, and the report names the record', async () => {
  const seg = join(dir, 'segments', readdirSync(join(dir, 'segments')).find((n) => n.endsWith('.rec'))!);
  const original = readFileSync(seg);
  const bytes = Buffer.from(original);
  const at = bytes.indexOf('"n":1500,');
  bytes.write('"n":1501,', at);
  writeFileSync(seg, bytes);
  try {
    const { code, out } = await cordonVerify('journal', dir);
    assert.equal(code, 1, out);
    assert.match(out, /chain: +BROKEN/);
    assert.match(out, /^RESULT: FAILED\. Record #1502 does not match its chain hash/m);
  } finally {
    writeFileSync(seg, original);
  }
});

test('records not yet under a signature: exit 3; usage errors and unreadable paths: exit 2', async () => {
  const open = join(base.path, 'open');
  const j = await Journal.open({ dir: open, signer: newKey(), checkpointMs: 0 });
  j.append([syntheticEntry(1), syntheticEntry(2)]);
  await j.sync();
  try {
    const { code, out } = await cordonVerify('journal', open);
    assert.equal(code, 3, out);
    assert.match(out, /^RESULT: INTACT, NOT ALL SIGNED\. 2 newest record\(s\) are chained but not yet under a signed checkpoint\./m);
    assert.match(out, /open in a running cockpit/);
  } finally {
    await j.close();
  }
  assert.equal((await cordonVerify('journal')).code, 2);
  assert.equal((await cordonVerify('journal', join(base.path, 'nowhere'))).code, 2);
  assert.equal((await cordonVerify('journal', dir, '--key', 'not-a-key')).code, 2);
  assert.equal((await cordonVerify('evidence', dir)).code, 2);
  const help = await cordonVerify('--help');
  assert.equal(help.code, 0);
  assert.match(help.out, /journal PATH +verify a journal folder, bundle or slice/);
});
