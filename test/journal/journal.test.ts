// The journal as the hub and the shell use it: what goes in, what is durable when, what comes back after a
// restart, which key signed, and the mistakes it refuses with a sentence.
import assert from 'node:assert/strict';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import type { ActionRecord, FeedEvent } from '../../protocol/index.ts';
import { actionEntry, consoleEntry, eventEntry, logEntry } from '../../main/journal/entries.ts';
import { JournalError } from '../../main/journal/errors.ts';
import { Journal } from '../../main/journal/journal.ts';
import { keyFingerprint, loadOrCreateKeyFile, rawPublicKey } from '../../main/journal/keys.ts';
import { verifyJournal } from '../../main/journal/verify.ts';
import { threatEvent } from '../helpers/events.ts';
import { tempDir } from '../helpers/processes.ts';
import { newKey } from './fixtures.ts';

function action(phase: ActionRecord['phase']): ActionRecord {
  return {
    requestId: 'cockpit-1-req', agentId: 'host-1', vmId: 'vm-9', vmName: 'web-01', kind: 'isolate', params: { mode: 'honeypot' },
    actor: { name: 'alice', role: 'responder', cockpit: 'soc-1' }, reason: 'C2 beacon', requestedAt: new Date().toISOString(), phase,
  };
}

test('events, actions, console sessions and logs go in with their filter fields and come back as written', async () => {
  const dir = tempDir('journal-basic');
  try {
    const j = await Journal.open({ dir: dir.path, signer: newKey(), checkpointMs: 0 });
    assert.equal(j.size, 2, 'a new journal starts with its creation and the key that signs it');
    const fe: FeedEvent = { agentId: 'host-1', seq: 41, event: threatEvent('host-1', 41, { vmId: 'vm-9', severity: 'critical' }), receivedAt: 1_790_000_000_000 };
    const { first } = j.append([eventEntry(fe), logEntry({ agentId: 'host-1', vmId: 'vm-9', source: 'qemu', message: 'vcpu0 paused' })]);
    const asked = await j.appendDurable(actionEntry('asked', action('sending')));
    assert.ok(j.durableSize > asked.index, 'appendDurable resolves once the record is synced');
    j.append([consoleEntry('closed', { sessionId: 's1', agentId: 'host-1', vmId: 'vm-9', actor: { name: 'alice' }, recording: { sha256: 'ab'.repeat(32), bytes: 1234 } })]);

    const ev = j.get(first).record;
    assert.deepEqual({ kind: ev.kind, agentId: ev.agentId, vmId: ev.vmId, severity: ev.severity, time: ev.time }, { kind: 'event', agentId: 'host-1', vmId: 'vm-9', severity: 'critical', time: fe.receivedAt });
    assert.deepEqual(ev.body, { seq: 41, event: fe.event });
    const act = j.get(asked.index);
    assert.equal(act.hash, asked.hash);
    assert.deepEqual(act.record.actor, { name: 'alice', role: 'responder', cockpit: 'soc-1' });
    assert.equal((act.record.body as { step: string }).step, 'asked');
    const timeline = j.query({ vmId: 'vm-9' }).records.map((r) => r.record.kind);
    assert.deepEqual(timeline.sort(), ['action', 'console', 'event', 'log']);
    await j.close();
  } finally {
    dir.remove();
  }
});

test('malformed entries are refused before anything is written, each with its reason', async () => {
  const dir = tempDir('journal-invalid');
  try {
    const j = await Journal.open({ dir: dir.path, signer: newKey(), checkpointMs: 0 });
    const size = j.size;
    const cases: [unknown, RegExp][] = [
      [{ kind: 'events', body: {} }, /"events" is not a journal kind/],
      [{ kind: 'event' }, /the body is a JSON object/],
      [{ kind: 'event', severity: 'urgent', body: {} }, /"urgent" is not a severity/],
      [{ kind: 'event', vmId: '', body: {} }, /vmId is a string of 1 to 256 characters/],
      [{ kind: 'log', body: { value: Number.POSITIVE_INFINITY } }, /\$\.body\.value is Infinity/],
      [{ kind: 'log', body: { big: 'x'.repeat(2 * 1024 * 1024) } }, /once encoded; the limit is/],
    ];
    for (const [entry, message] of cases) {
      assert.throws(() => j.append([{ kind: 'log', body: { fine: true } }, entry as never]), (e: unknown) => e instanceof JournalError && e.code === 'invalid_record' && message.test(e.message));
    }
    assert.equal(j.size, size, 'a batch with one bad entry leaves nothing behind');
    await j.close();
    assert.throws(() => j.append([{ kind: 'log', body: {} }]), /The journal is closed/);
  } finally {
    dir.remove();
  }
});

test('one cockpit at a time: a second open of the same folder is refused while the first holds it', async () => {
  const dir = tempDir('journal-lock');
  try {
    const j = await Journal.open({ dir: dir.path, signer: newKey(), checkpointMs: 0 });
    await assert.rejects(Journal.open({ dir: dir.path, signer: newKey() }), (e: unknown) => e instanceof JournalError && e.code === 'journal_locked' && /open in another process \(pid \d+\)/.test(e.message));
    await j.close();
    const again = await Journal.open({ dir: dir.path, signer: newKey(), checkpointMs: 0 });
    await again.close();
  } finally {
    dir.remove();
  }
});

test('checkpoints come every few seconds while records arrive, and on close; a reopen picks up where it was', async () => {
  const dir = tempDir('journal-timer');
  try {
    const key = newKey();
    const j = await Journal.open({ dir: dir.path, signer: key, checkpointMs: 40, syncMs: 10 });
    j.append([logEntry({ source: 'agent', message: 'one' })]);
    await sleep(300);
    assert.equal(j.latestCheckpoint?.size, j.size, 'the timer signed what arrived');
    const before = j.checkpoints().length;
    await sleep(150);
    assert.equal(j.checkpoints().length, before, 'and signs nothing more while nothing changes');
    await j.close();
    const closedSize = j.size;
    const k = await Journal.open({ dir: dir.path, signer: key, checkpointMs: 0 });
    assert.equal(k.size, closedSize + 1, 'everything, and a record of the reopening');
    assert.deepEqual(k.recovered, []);
    assert.equal((k.get(closedSize).record.body as { step: string }).step, 'opened');
    await k.close();
  } finally {
    dir.remove();
  }
});

test('a new responder key is recorded in the journal before it signs, and both keys verify their checkpoints', async () => {
  const dir = tempDir('journal-keys');
  try {
    const alice = newKey();
    const bogdan = newKey();
    const j1 = await Journal.open({ dir: dir.path, signer: alice, checkpointMs: 0 });
    await j1.close();
    const j2 = await Journal.open({ dir: dir.path, signer: bogdan, checkpointMs: 0 });
    const keys = j2.keys();
    assert.deepEqual(keys.map((k) => k.fingerprint), [keyFingerprint(rawPublicKey(alice)), keyFingerprint(rawPublicKey(bogdan))]);
    const rec = j2.get(keys[1]!.record).record;
    assert.equal((rec.body as { step: string; fingerprint: string }).fingerprint, keys[1]!.fingerprint);
    await j2.close();
    const report = await verifyJournal(dir.path, { workers: 0 });
    assert.equal(report.status, 'verified', JSON.stringify(report.problems));
    assert.ok(report.keys.every((k) => k.signed > 0));
  } finally {
    dir.remove();
  }
});

test('the file-backed key is created for its owner only, loads back the same, and a damaged one is refused', async () => {
  const dir = tempDir('journal-keyfile');
  try {
    const path = join(dir.path, 'keys', 'responder.pem');
    const k1 = loadOrCreateKeyFile(path);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.ok(rawPublicKey(loadOrCreateKeyFile(path)).equals(rawPublicKey(k1)));
    writeFileSync(path, 'not a key');
    assert.throws(() => loadOrCreateKeyFile(path), (e: unknown) => e instanceof JournalError && e.code === 'bad_key' && /does not hold an Ed25519 private key/.test(e.message));
  } finally {
    dir.remove();
  }
});

test('a signer that fails leaves the records and says why the checkpoint is missing', async () => {
  const dir = tempDir('journal-signfail');
  try {
    const key = newKey();
    const j = await Journal.open({ dir: dir.path, signer: key, checkpointMs: 0 });
    await j.close();
    let fail = false;
    const good = (await import('../../main/journal/keys.ts')).keySigner(key, j.origin);
    const flaky = { ...good, sign: (m: Buffer) => (fail ? Promise.reject(new Error('safeStorage is locked')) : good.sign(m)) };
    const k = await Journal.open({ dir: dir.path, signer: flaky, checkpointMs: 0 });
    fail = true;
    k.append([logEntry({ source: 'agent', message: 'kept' })]);
    await assert.rejects(k.checkpoint(), (e: unknown) => e instanceof JournalError && e.code === 'sign_failed' && /safeStorage is locked/.test(e.message));
    fail = false;
    await k.close();
    assert.equal((await verifyJournal(dir.path, { workers: 0 })).status, 'verified');
    // A key that cannot sign at all refuses the open, and leaves the folder free for the next attempt.
    const broken = { ...good, sign: () => Promise.reject(new Error('no key')) };
    await assert.rejects(Journal.open({ dir: dir.path, signer: broken, checkpointMs: 0 }), (e: unknown) => e instanceof JournalError && e.code === 'sign_failed');
    const again = await Journal.open({ dir: dir.path, signer: key, checkpointMs: 0 });
    await again.close();
  } finally {
    dir.remove();
  }
});
