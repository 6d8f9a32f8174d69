// The event log numbers events durably, replays from any seq (memory or disk), forgets whole old segments beyond
// its retention, and reopens after a crash with the numbering intact and a torn last line cut off, out loud.
import assert from 'node:assert/strict';
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ThreatEvent } from '../../protocol/index.ts';
import { EventLog, type LogRecord } from '../../agent/event-log.ts';
import { AgentError } from '../../agent/errors.ts';
import { agentArgs, BOUNDED, cleanup, firstBreak, spawnAgent, tempDir, TestCockpit } from './helpers.ts';

let made = 0;
function events(n: number, title = 'test event'): ThreatEvent[] {
  return Array.from({ length: n }, () => ({
    id: `e-${made++}`, time: '2026-11-23T10:00:00.000Z', agentId: 'a1', vmId: 'vm-1', severity: 'info', verdict: 'benign',
    category: 'process', title, sensor: { id: 's', kind: 'sim' },
  }));
}

function seqsOf(records: LogRecord[]): number[] {
  return records.map((r) => r.seq);
}

/** Reads every stored record from `seq` on, the way a catching-up subscriber does. */
function readAll(log: EventLog, seq: number, batch = 100): LogRecord[] {
  const out: LogRecord[] = [];
  for (;;) {
    const got = log.readFrom(seq, batch);
    if (got.length === 0) return out;
    out.push(...got);
    seq = got[got.length - 1]!.seq + 1;
  }
}

function open(dir: string, retain = 1_000_000, extra: Partial<Parameters<typeof EventLog.open>[0]> = {}) {
  const notes: string[] = [];
  const log = EventLog.open({ dir, retain, note: (l) => notes.push(l), ...extra });
  return { log, notes };
}

test('append numbers from 1 and each record is the exact event wire message', BOUNDED, (t) => {
  const dir = tempDir(t);
  const { log } = open(dir);
  cleanup(t, () => log.close());
  assert.equal(log.latestSeq, 0);
  assert.equal(log.oldestSeq, 0);
  const first = log.append(events(3));
  assert.deepEqual(seqsOf(first), [1, 2, 3]);
  const second = log.append(events(2, 'ünïcode ✓ <b>title</b>'));
  assert.deepEqual(seqsOf(second), [4, 5]);
  const msg = JSON.parse(second[1]!.data.toString('utf8')) as { type: string; seq: number; event: ThreatEvent };
  assert.equal(msg.type, 'event');
  assert.equal(msg.seq, 5);
  assert.equal(msg.event.title, 'ünïcode ✓ <b>title</b>');
  assert.equal(log.latestSeq, 5);
  assert.equal(log.oldestSeq, 1);
});

test('readFrom replays from memory and from disk alike, across segments', BOUNDED, (t) => {
  const dir = tempDir(t);
  const { log } = open(dir, 1_000_000, { segmentEvents: 50, tailRecords: 30 });
  cleanup(t, () => log.close());
  for (let i = 0; i < 40; i++) log.append(events(7));
  assert.equal(log.latestSeq, 280);
  assert.ok(readdirSync(dir).filter((n) => n.endsWith('.jsonl')).length > 4, 'several segments were made');
  for (const from of [1, 2, 49, 50, 51, 100, 137, 249, 250, 251, 279, 280]) {
    const all = readAll(log, from, 13);
    assert.equal(all[0]!.seq, from, `replay from ${from} starts there`);
    assert.equal(firstBreak(seqsOf(all)), -1, `replay from ${from} is contiguous`);
    assert.equal(all[all.length - 1]!.seq, 280);
    for (const r of all) assert.equal((JSON.parse(r.data.toString()) as { seq: number }).seq, r.seq);
  }
  assert.deepEqual(log.readFrom(281, 10), []);
});

test('a binary search finds any seq in a large segment', BOUNDED, (t) => {
  const dir = tempDir(t);
  const { log } = open(dir, 1_000_000, { segmentEvents: 100_000, tailRecords: 1 });
  cleanup(t, () => log.close());
  for (let i = 0; i < 20; i++) log.append(events(1000));
  for (const from of [1, 2, 999, 1000, 1001, 7777, 12_345, 19_999, 20_000]) {
    const got = log.readFrom(from, 3);
    assert.equal(got[0]!.seq, from);
  }
});

test('retention keeps at least `retain` events and deletes whole old segments', BOUNDED, (t) => {
  const dir = tempDir(t);
  const { log } = open(dir, 100, { segmentEvents: 25 });
  cleanup(t, () => log.close());
  for (let i = 0; i < 50; i++) log.append(events(10));
  assert.equal(log.latestSeq, 500);
  const kept = log.latestSeq - log.oldestSeq + 1;
  assert.ok(kept >= 100 && kept < 100 + 25 + 10, `kept ${kept}`);
  assert.equal(log.oldestSeq, log.firstKeptSeq);
  const replay = readAll(log, 1);
  assert.equal(replay[0]!.seq, log.oldestSeq, 'what is gone is not replayed, from disk or from memory');
  assert.equal(firstBreak(seqsOf(replay)), -1);
  const segments = readdirSync(dir).filter((n) => n.endsWith('.jsonl'));
  assert.ok(segments.length <= 6, `old segments were deleted (${segments.join(', ')})`);
});

test('after a reopen the numbering continues and nothing is replayed twice', BOUNDED, (t) => {
  const dir = tempDir(t);
  let { log } = open(dir, 1_000_000, { segmentEvents: 40 });
  for (let i = 0; i < 10; i++) log.append(events(9));
  log.close();
  ({ log } = open(dir, 1_000_000, { segmentEvents: 40 }));
  cleanup(t, () => log.close());
  assert.equal(log.latestSeq, 90);
  assert.equal(log.oldestSeq, 1);
  assert.deepEqual(seqsOf(log.append(events(2))), [91, 92]);
  const all = readAll(log, 1);
  assert.equal(all.length, 92);
  assert.equal(firstBreak(seqsOf(all)), -1);
});

test('a torn last line is cut off on reopen and said so; the seq after the last whole line comes next', BOUNDED, (t) => {
  const dir = tempDir(t);
  let { log } = open(dir);
  log.append(events(5));
  log.close();
  const segment = join(dir, readdirSync(dir).find((n) => n.endsWith('.jsonl'))!);
  appendFileSync(segment, '{"type":"event","seq":6,"event":{"id":"torn","ti');
  const reopened = open(dir);
  log = reopened.log;
  const { notes } = reopened;
  cleanup(t, () => log.close());
  assert.equal(log.latestSeq, 5);
  assert.equal(notes.length, 1);
  assert.match(notes[0]!, /torn last line/);
  assert.ok(readFileSync(segment, 'utf8').endsWith('\n'));
  assert.deepEqual(seqsOf(log.append(events(1))), [6]);
  assert.equal(firstBreak(seqsOf(readAll(log, 1))), -1);
});

test('a segment that is nothing but a torn line still knows where numbering stands', BOUNDED, (t) => {
  const dir = tempDir(t);
  let { log } = open(dir, 1_000_000, { segmentEvents: 4 });
  log.append(events(4));
  log.append(events(1)); // rolls over into segment-…5
  log.close();
  const newest = readdirSync(dir).filter((n) => n.endsWith('.jsonl')).sort().pop()!;
  writeFileSync(join(dir, newest), '{"type":"event","seq":5,"ev');
  const reopened = open(dir, 1_000_000, { segmentEvents: 4 });
  log = reopened.log;
  const { notes } = reopened;
  cleanup(t, () => log.close());
  assert.match(notes.join('\n'), /torn/);
  assert.equal(log.latestSeq, 4);
  assert.deepEqual(seqsOf(log.append(events(1))), [5]);
});

test('a second log on the same folder is refused while the first is open', BOUNDED, (t) => {
  const dir = tempDir(t);
  const { log } = open(dir);
  cleanup(t, () => log.close());
  assert.throws(() => open(dir), (err: unknown) => err instanceof AgentError && err.code === 'data_dir_locked');
});

test('a torn line left by the agent process is cut on restart, and the agent says so on stderr', BOUNDED, async (t) => {
  const dir = tempDir(t);
  const dataDir = join(dir, 'data');
  const first = await spawnAgent(t, agentArgs(dir, ['--rate', '500'], dataDir));
  const cockpit = await TestCockpit.open(t, first.ready.url);
  cockpit.send({ type: 'subscribe', since: 0 });
  await cockpit.events(100);
  first.child.kill('SIGTERM');
  assert.equal((await first.exited).code, 0);
  const newest = readdirSync(dataDir).filter((n) => n.endsWith('.jsonl')).sort().pop()!;
  const lines = readFileSync(join(dataDir, newest), 'utf8').trimEnd().split('\n');
  const last = (JSON.parse(lines[lines.length - 1]!) as { seq: number }).seq;
  appendFileSync(join(dataDir, newest), `{"type":"event","seq":${last + 1},"event":{"id":"half-writ`);

  const second = await spawnAgent(t, agentArgs(dir, ['--rate', '500'], dataDir));
  assert.match(second.stderr(), /torn last line/);
  const again = await TestCockpit.open(t, second.ready.url);
  const hello = await again.nextOfType('hello');
  assert.ok(hello.latestSeq >= last);
  again.send({ type: 'subscribe', since: 0 });
  const replay = await again.events(last + 50);
  assert.equal(firstBreak(replay.map((e) => e.seq)), -1);
  assert.ok(replay.every((e) => e.event.id !== 'half-writ'));
  assert.deepEqual(again.invalid, []);
});
