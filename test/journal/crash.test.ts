// kill -9 in the middle of heavy appends: every record acknowledged as durable is still there after reopening, the
// chain and signatures still verify, and whatever a crash left unfinished is cut, kept aside and said — in the
// notices and in the journal itself — never silently.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { Journal } from '../../main/journal/journal.ts';
import { loadOrCreateKeyFile } from '../../main/journal/keys.ts';
import { verifyJournal } from '../../main/journal/verify.ts';
import { ROOT, tempDir } from '../helpers/processes.ts';
import { record } from '../security/campaign.ts';

interface Ack {
  durable: number;
  hash: string;
}

/** Runs the crash child until it has acknowledged `acks` durable records (plus a random delay), then SIGKILLs it. */
async function runAndKill(dir: string, keyFile: string, acks: number): Promise<{ acked: Ack[]; ready: { size: number; recovered: unknown[] } }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/journal/crash-child.ts'), dir, keyFile, '2000'], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  const acked: Ack[] = [];
  let ready: { size: number; recovered: unknown[] } | undefined;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`The crash child made no progress. stderr:\n${stderr}`)), 60_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      const msg = JSON.parse(line) as Ack & { ready?: boolean; size: number; recovered: unknown[] };
      if (msg.ready) ready = msg;
      else acked.push(msg);
      if (acked.length === acks) {
        clearTimeout(timer);
        // Land the kill at an arbitrary point of the next batch's encoding, write or sync.
        setTimeout(() => {
          child.kill('SIGKILL');
          resolve();
        }, Math.floor(Math.random() * 40));
      }
    });
    void exited.then(() => reject(new Error(`The crash child exited on its own. stderr:\n${stderr}`)));
  });
  assert.equal(await exited, 'SIGKILL');
  return { acked, ready: ready! };
}

test('kill -9 during heavy appends, three times over: nothing acknowledged as durable is lost, and the journal verifies', async () => {
  const dir = tempDir('journal-crash');
  try {
    const journalDir = join(dir.path, 'journal');
    const keyFile = join(dir.path, 'responder.key');
    const all: Ack[] = [];
    let kills = 0;
    for (let round = 0; round < 3; round++) {
      const { acked, ready } = await runAndKill(journalDir, keyFile, 8 + round * 4);
      kills++;
      if (round > 0) assert.ok(ready.size > all[all.length - 1]!.durable, 'the reopened journal holds at least every acknowledged record');
      all.push(...acked);
    }
    const notes: string[] = [];
    const j = await Journal.open({ dir: journalDir, signer: loadOrCreateKeyFile(keyFile), checkpointMs: 0, note: (l) => notes.push(l) });
    for (const a of all) {
      assert.ok(a.durable < j.size, `acknowledged record #${a.durable} is there`);
      const got = j.get(a.durable);
      assert.equal(got.hash, a.hash, `acknowledged record #${a.durable} is the same record`);
      assert.equal(got.record.kind, 'action');
    }
    // Whatever each reopen cut, it said so: in its notices and in an "opened" record of the journal.
    const opened = j.query({ kind: 'journal', limit: 100 }).records.map((r) => r.record.body as { step: string; recovered?: { message: string; keptAt: string; bytes: number }[] });
    for (const o of opened.filter((b) => b.recovered)) {
      for (const r of o.recovered!) {
        assert.match(r.message, /not closed cleanly: .* \d+ unfinished bytes after record #\d+ were cut \(kept in .*\); every record up to #\d+ is intact\./);
        assert.equal(statSync(r.keptAt).size, r.bytes);
      }
    }
    const lost = all.filter((a) => a.durable >= j.size || j.get(a.durable).hash !== a.hash).length;
    const cuts = opened.flatMap((b) => b.recovered ?? []).length;
    await j.close();
    const report = await verifyJournal(journalDir);
    assert.equal(report.status, 'verified', JSON.stringify(report.problems));
    record({
      campaign: 'fault', kind: 'cockpit journal killed (SIGKILL) mid-append', injected: kills, eventsLost: lost, eventsDoubled: 0, actionsDuplicated: 0, crashes: 0,
      outcome: `Killed ${kills} times in the middle of 2,000-record batches: all ${all.length} records acknowledged as durable were there after each reopen, the same records; ` +
        `${cuts} unfinished tail(s) were cut, kept aside and said in a sentence in the journal itself; the chain and signatures verify.`,
    });
  } finally {
    dir.remove();
  }
});

test('a record cut short by a crash is cut on reopen, kept aside, and reported with what was kept', async () => {
  const dir = tempDir('journal-torn');
  try {
    const journalDir = join(dir.path, 'journal');
    const keyFile = join(dir.path, 'responder.key');
    const { acked } = await runAndKill(journalDir, keyFile, 3);
    const last = acked[acked.length - 1]!;
    // What a kill inside write() leaves: the first part of a frame (its length says more bytes follow).
    const seg = readdirSync(join(journalDir, 'segments')).filter((n) => n.endsWith('.rec')).sort().pop()!;
    const segPath = join(journalDir, 'segments', seg);
    const partial = Buffer.alloc(300, 0x41);
    partial.writeUInt32LE(900, 0);
    appendFileSync(segPath, partial);
    // And the start of a checkpoint line that was being written.
    appendFileSync(join(journalDir, 'checkpoints.jsonl'), '{"size":12,"ti');

    const notes: string[] = [];
    const j = await Journal.open({ dir: journalDir, signer: loadOrCreateKeyFile(keyFile), checkpointMs: 0, note: (l) => notes.push(l) });
    const torn = j.recovered.find((r) => r.code === 'torn_tail_cut');
    assert.ok(torn, `recovered: ${JSON.stringify(j.recovered)}`);
    assert.ok(torn.afterIndex >= last.durable);
    assert.match(torn.message, new RegExp(`^The journal was not closed cleanly: a crash cut its last record short\\. ${torn.bytes} unfinished bytes after record #${torn.afterIndex} were cut`));
    assert.ok(torn.bytes >= 300);
    assert.ok(readFileSync(torn.keptAt).subarray(-300).equals(partial), 'the cut bytes are kept, not destroyed');
    const cpCut = j.recovered.find((r) => r.code === 'checkpoint_line_cut');
    assert.ok(cpCut && cpCut.bytes === 14 && existsSync(cpCut.keptAt));
    assert.equal(notes.length, 2, 'both repairs are said where the cockpit logs');
    // The journal itself records the repair, under the next signature.
    const opened = j.query({ kind: 'journal', limit: 1 }).records[0]!.record;
    assert.equal((opened.body as { step: string }).step, 'opened');
    assert.equal(opened.severity, 'medium');
    assert.equal((opened.body as { recovered: unknown[] }).recovered.length, 2);
    assert.equal(j.get(last.durable).hash, last.hash);
    assert.equal(j.latestCheckpoint!.size, j.size, 'reopening signs a checkpoint over the repaired journal at once');
    await j.close();
    assert.equal((await verifyJournal(journalDir)).status, 'verified');
  } finally {
    dir.remove();
  }
});
