// Queries over a generated journal of a million records give exactly what a brute-force filter over the same
// records gives, newest first, page after page, through full segments, the segment being written, and a reopen.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Journal } from '../../main/journal/journal.ts';
import type { JournalQuery } from '../../main/journal/query.ts';
import type { Severity } from '../../protocol/index.ts';
import { tempDir } from '../helpers/processes.ts';
import { newKey, synthetic, SEVERITY_LIST, T0, type Synthetic } from './fixtures.ts';

const N = 1_000_000;
/** Records #0 ("created") and #1 (the key) come before the generated ones. */
const OFFSET = 2;
const dir = tempDir('journal-query');
const key = newKey();
let journal: Journal;
const timings: number[] = [];

before(async () => {
  journal = await Journal.open({ dir: dir.path, signer: key, checkpointMs: 0 });
  const { syntheticEntry } = await import('./fixtures.ts');
  for (let b = 0; b < N; b += 10_000) journal.append(Array.from({ length: 10_000 }, (_, i) => syntheticEntry(b + i)));
  await journal.checkpoint();
});

after(async () => {
  await journal.close();
  dir.remove();
});

interface Expect {
  time?: [number, number];
  agentId?: string[];
  vmId?: string[];
  kind?: string[];
  actor?: string[];
  severity?: Severity[];
  words?: string[];
  phrase?: string;
}

function searchable(s: Synthetic): string[] {
  const title = `${s.process} on ${s.vmId}${s.marker ? ` ${s.marker}` : ''}`;
  return [s.kind, s.severity, s.agentId, s.vmId, ...(s.actor ? [s.actor, 'responder'] : []), title, s.process, `/usr/bin/${s.process} --flag ${s.n % 97}`, String(1000 + (s.n % 50_000))];
}

let all: Synthetic[] | undefined;

/** The brute-force answer: every generated record that matches, newest first (time, then index). */
function bruteForce(e: Expect): { index: number; time: number }[] {
  all ??= Array.from({ length: N }, (_, n) => synthetic(n));
  const out: { index: number; time: number }[] = [];
  for (let n = 0; n < N; n++) {
    const s = all[n]!;
    if (e.time && (s.time < e.time[0] || s.time >= e.time[1])) continue;
    if (e.agentId && !e.agentId.includes(s.agentId)) continue;
    if (e.vmId && !e.vmId.includes(s.vmId)) continue;
    if (e.kind && !e.kind.includes(s.kind)) continue;
    if (e.actor && (!s.actor || !e.actor.includes(s.actor))) continue;
    if (e.severity && !e.severity.includes(s.severity)) continue;
    if (e.words || e.phrase) {
      const texts = searchable(s);
      const words = new Set(texts.flatMap((t) => t.toLowerCase().split(/[^\p{L}\p{N}_]+/u)));
      if (e.words && !e.words.every((w) => words.has(w))) continue;
      if (e.phrase && !texts.join('\n').toLowerCase().includes(e.phrase)) continue;
    }
    out.push({ index: n + OFFSET, time: s.time });
  }
  return out.sort((a, b) => b.time - a.time || b.index - a.index);
}

function run(q: JournalQuery) {
  const t = performance.now();
  const page = journal.query(q);
  timings.push(performance.now() - t);
  return page;
}

/** Pages through a query to the end and checks the whole sequence against brute force. */
function checkAll(q: JournalQuery, e: Expect, maxPages = 50): number {
  const want = bruteForce(e);
  const got: number[] = [];
  let before: JournalQuery['before'];
  for (let p = 0; p < maxPages; p++) {
    const page = run({ ...q, ...(before ? { before } : {}) });
    got.push(...page.records.map((r) => r.record.index));
    if (!page.next) break;
    before = page.next;
  }
  assert.deepEqual(got, want.slice(0, got.length).map((w) => w.index));
  if (got.length < maxPages * (q.limit ?? 100)) assert.equal(got.length, want.length, 'every match, and nothing more');
  return want.length;
}

test('one VM, page after page to the end, equals the brute-force filter', () => {
  const n = checkAll({ vmId: 'vm-17', limit: 200 }, { vmId: ['vm-17'] });
  assert.ok(n > 300, `vm-17 has ${n} records`);
});

test('agent, severities and a time range together', () => {
  const from = T0 + 2_000_000;
  const to = T0 + 6_000_000;
  checkAll({ agentId: 'host-b', severity: ['high', 'critical'], from, to: new Date(to).toISOString(), limit: 1000 }, { agentId: ['host-b'], severity: ['high', 'critical'], time: [from, to] }, 3);
});

test('actions by one actor, and a minimum severity', () => {
  checkAll({ kind: 'action', actor: 'chen', minSeverity: 'high', limit: 500 }, { kind: ['action'], actor: ['chen'], severity: ['high', 'critical'] }, 10);
});

test('free text: a rare word, common words with two VMs, and a quoted phrase', () => {
  const rare = checkAll({ text: 'zebra1', limit: 1000 }, { words: ['zebra1'] });
  assert.ok(rare > 20 && rare < 200, `zebra1 appears ${rare} times`);
  checkAll({ text: 'NC usr', vmId: ['vm-5', 'vm-1500'], limit: 100 }, { words: ['nc', 'usr'], vmId: ['vm-5', 'vm-1500'] });
  checkAll({ text: '"nc on vm-5"', kind: ['event', 'log'], limit: 100 }, { phrase: 'nc on vm-5', kind: ['event', 'log'], words: ['nc', 'on', 'vm', '5'] }, 3);
});

test('a time range alone, with backdated records among them, is newest first by time', () => {
  const from = T0 + 5_000_000;
  const to = T0 + 5_500_000;
  checkAll({ from, to, limit: 1000 }, { time: [from, to] }, 60);
});

test('what matches nothing answers at once, complete and empty', () => {
  const page = run({ vmId: 'vm-does-not-exist', text: 'curl' });
  assert.deepEqual(page.records, []);
  assert.equal(page.complete, true);
  assert.equal(page.next, undefined);
  assert.deepEqual(run({ severity: 'low', minSeverity: 'high' }).records, [], 'contradictory filters');
});

test('malformed queries are refused with a sentence', () => {
  assert.throws(() => journal.query({ kind: 'events' as never }), /"events" is not a journal kind/);
  assert.throws(() => journal.query({ limit: 5000 }), /A page holds 1 to 1000 records/);
  assert.throws(() => journal.query({ from: 'yesterday' }), /neither milliseconds nor an ISO time/);
});

test('after a reopen (full segments from their index files, the last rebuilt) the answers are the same', async (t) => {
  await journal.close();
  journal = await Journal.open({ dir: dir.path, signer: key, checkpointMs: 0 });
  checkAll({ vmId: 'vm-1999', limit: 100 }, { vmId: ['vm-1999'] });
  checkAll({ text: 'zebra2', limit: 1000 }, { words: ['zebra2'] });
  const sorted = [...timings].sort((a, b) => a - b);
  const p = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!.toFixed(1);
  t.diagnostic(`${timings.length} query pages over ${N.toLocaleString('en-US')} records: p50 ${p(0.5)} ms, p99 ${p(0.99)} ms, max ${p(1)} ms`);
  assert.ok(sorted[Math.floor(sorted.length / 2)]! < 200, 'a typical page is fast even on a busy machine');
});

test('the severity list is what the protocol has', () => {
  assert.deepEqual(SEVERITY_LIST, ['info', 'low', 'medium', 'high', 'critical']);
});
