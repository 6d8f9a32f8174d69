// The agent's log store on a real disk: records from many sources come back newest first, filtered by VM, source,
// time, text and severity, page after page without a record twice or missing; they survive a restart (a torn last
// line is cut); retention by bytes and by age drops whole old segments and says so; every string is bounded.
import assert from 'node:assert/strict';
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkLogRecord, type LogRecord } from '../../../protocol/index.ts';
import { LogStore, MAX_MESSAGE, type LogEntry, type LogQuery } from '../../../agent/logs/store.ts';
import { BOUNDED, tempDir } from '../helpers.ts';

const T0 = Date.parse('2026-11-23T10:00:00.000Z');

function open(dir: string, extra: Partial<Parameters<typeof LogStore.open>[0]> = {}, notes: string[] = []): LogStore {
  return LogStore.open({ dir, agentId: 'hv-test', flushMs: 0, note: (l) => notes.push(l), now: () => T0 + 3_600_000, ...extra });
}

/** Every page of a query, following `next`, as one list. */
function all(store: LogStore, q: Omit<LogQuery, 'limit'>, limit = 7): LogRecord[] {
  const out: LogRecord[] = [];
  let before: number | undefined;
  for (let pages = 0; pages < 10_000; pages++) {
    const page = store.query({ ...q, limit, ...(before !== undefined ? { before } : {}) });
    out.push(...page.records);
    if (!page.truncated) return out;
    assert.ok(page.next !== undefined, 'a truncated page says where to go on');
    before = page.next;
  }
  throw new Error('paging did not end');
}

function fill(store: LogStore, n: number): LogEntry[] {
  const entries: LogEntry[] = [];
  for (let i = 0; i < n; i++) {
    const e: LogEntry = {
      source: (['serial', 'hypervisor', 'syslog', 'agent'] as const)[i % 4]!,
      time: T0 + i * 1000,
      message: i % 10 === 3 ? `sshd[${i}]: Accepted publickey for "deploy" from 10.20.3.5` : `line ${i}: nothing to see`,
      severity: i % 8,
    };
    if (e.source === 'serial' || e.source === 'hypervisor') e.vmId = `vm-${i % 3}`;
    entries.push(e);
  }
  store.append(entries);
  return entries;
}

test('records come back newest first, each page continuing where the last stopped, whatever the filters', BOUNDED, (t) => {
  const dir = tempDir(t);
  const store = open(dir, { segmentBytes: 4096 });
  t.after(() => store.close());
  fill(store, 500);
  assert.ok(readdirSync(dir).filter((f) => f.endsWith('.jsonl')).length > 5, 'several segments');

  const everything = all(store, {});
  assert.deepEqual(everything.map((r) => r.seq), Array.from({ length: 500 }, (_, i) => 500 - i), 'every seq once, newest first');
  for (const r of everything) assert.ok(checkLogRecord(r).ok, 'valid LogRecord');

  const vm1 = all(store, { vmId: 'vm-1' });
  assert.ok(vm1.length > 50 && vm1.every((r) => r.vmId === 'vm-1'));
  const serial = all(store, { sources: ['serial'] });
  assert.equal(serial.length, 125);
  assert.ok(serial.every((r) => r.source === 'serial'));

  const from = T0 + 100_000;
  const to = T0 + 199_000;
  const window = all(store, { from, to });
  assert.equal(window.length, 100, 'an inclusive time range');
  assert.ok(window.every((r) => Date.parse(r.time) >= from && Date.parse(r.time) <= to));

  const accepted = all(store, { text: 'ACCEPTED PUBLICKEY for "DEPLOY"' });
  assert.equal(accepted.length, 50, 'text ignores case, quotes included');
  const none = all(store, { text: 'agentId' });
  assert.equal(none.length, 0, 'a field name is not text of the record');
  const warnings = all(store, { severityAtMost: 4 });
  assert.ok(warnings.length > 0 && warnings.every((r) => r.severity! <= 4));
  const combined = all(store, { vmId: 'vm-0', sources: ['serial'], from, to, text: 'line' });
  assert.ok(combined.every((r) => r.vmId === 'vm-0' && r.source === 'serial' && r.message.includes('line')));
});

test('a restart keeps every record and goes on numbering; a torn last line is cut, and said', BOUNDED, (t) => {
  const dir = tempDir(t);
  const first = open(dir);
  fill(first, 20);
  first.close();
  const segment = readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort().pop()!;
  appendFileSync(join(dir, segment), '{"seq":21,"time":"2026-11-23T10:0');
  const notes: string[] = [];
  const again = open(dir, {}, notes);
  t.after(() => again.close());
  assert.ok(notes.some((n) => /torn last line/.test(n)), notes.join('\n'));
  assert.equal(again.latestSeq, 20);
  again.append([{ source: 'agent', message: 'after the restart' }]);
  const page = again.query({ limit: 3 });
  assert.deepEqual(page.records.map((r) => r.seq), [21, 20, 19]);
  assert.equal(page.records[0]!.message, 'after the restart');
});

test('retention by bytes drops whole old segments, says so, and the answer tells where the store now begins', BOUNDED, (t) => {
  const dir = tempDir(t);
  const notes: string[] = [];
  const store = open(dir, { segmentBytes: 8192, maxBytes: 40_000 }, notes);
  t.after(() => store.close());
  fill(store, 2000);
  assert.ok(store.bytes <= 40_000 + 8192 + 1024, `bounded: ${store.bytes} bytes`);
  assert.ok(store.dropped > 0);
  assert.ok(notes.some((n) => /retention dropped \d+ log record\(s\).*over 0 MiB|retention dropped/.test(n)), notes.join('\n'));
  const page = store.query({ limit: 1000 });
  const kept = all(store, {});
  assert.equal(kept.length + store.dropped, 2000, 'what is kept and what was dropped add up');
  assert.equal(page.oldestTime, kept[kept.length - 1]!.time, 'oldestTime is the oldest record kept');
});

test('retention by age forgets what is older than its days', BOUNDED, (t) => {
  const dir = tempDir(t);
  let now = T0;
  const store = LogStore.open({ dir, agentId: 'hv-test', flushMs: 0, segmentBytes: 2048, maxAgeMs: 86_400_000, note: () => {}, now: () => now });
  t.after(() => store.close());
  store.append(Array.from({ length: 100 }, (_, i) => ({ source: 'agent' as const, message: `old ${i}`, time: T0 - 1000 + i })));
  now = T0 + 2 * 86_400_000;
  store.append(Array.from({ length: 100 }, (_, i) => ({ source: 'agent' as const, message: `new ${i}`, time: now + i })));
  const kept = all(store, {});
  const old = kept.filter((r) => r.message.startsWith('old'));
  // Whole segments go: only the one that also holds new records may keep a few old lines.
  assert.ok(old.length < 30, `${old.length} old records kept`);
  assert.ok(store.dropped >= 70);
  assert.equal(kept.length - old.length, 100, 'every new record is kept');
});

test('every string is bounded and every record valid, whatever a source hands in', BOUNDED, (t) => {
  const dir = tempDir(t);
  const store = open(dir);
  t.after(() => store.close());
  store.append([
    { source: 'syslog', message: 'x'.repeat(MAX_MESSAGE + 500), app: 'a'.repeat(100), host: 'h'.repeat(300), msgid: 'm'.repeat(40), vmId: '../../etc', time: 'yesterday', severity: 9, facility: 30 },
    { source: 'serial', message: `emoji at the cut ${'y'.repeat(MAX_MESSAGE - 18)}😀`, time: T0 + 100 * 365 * 86_400_000 },
    { source: 'nonsense' as 'agent', message: 'not a source' },
  ]);
  const page = store.query({ limit: 10 });
  assert.equal(page.records.length, 2, 'an entry of no known source is not kept');
  for (const r of page.records) assert.ok(checkLogRecord(r).ok, JSON.stringify(r).slice(0, 200));
  const [emoji, long] = page.records;
  assert.equal(long!.message.length, MAX_MESSAGE);
  assert.equal(long!.truncated, true);
  assert.equal(long!.app!.length, 48);
  assert.equal(long!.vmId, undefined, 'a VM id that is not one is left out');
  assert.equal(long!.severity, undefined);
  assert.equal(long!.time, new Date(T0 + 3_600_000).toISOString(), 'a time that is not one becomes the arrival time');
  assert.ok(!emoji!.message.endsWith('\ud83d'), 'never half a surrogate pair');
  assert.equal(emoji!.time, new Date(T0 + 3_600_000).toISOString(), 'a clock a century ahead is not believed');
});

test('an answer stays within its byte budget and says it is truncated', BOUNDED, (t) => {
  const dir = tempDir(t);
  const store = open(dir, { answerBytes: 50_000 });
  t.after(() => store.close());
  store.append(Array.from({ length: 40 }, (_, i) => ({ source: 'serial' as const, vmId: 'vm-1', message: `${i} ${'z'.repeat(5000)}` })));
  const page = store.query({ limit: 1000 });
  assert.ok(page.records.length < 40 && page.records.length >= 8, `${page.records.length} records`);
  assert.equal(page.truncated, true);
  assert.equal(all(store, {}, 1000).length, 40);
});

test('a non-ASCII search finds what it names, ignoring case', BOUNDED, (t) => {
  const dir = tempDir(t);
  const store = open(dir);
  t.after(() => store.close());
  store.append([{ source: 'syslog', message: 'Ошибка: ДИСК переполнен' }, { source: 'syslog', message: 'all fine' }]);
  assert.deepEqual(store.query({ limit: 5, text: 'диск' }).records.map((r) => r.message), ['Ошибка: ДИСК переполнен']);
  const raw = readFileSync(join(dir, readdirSync(dir).find((f) => f.endsWith('.jsonl'))!), 'utf8');
  assert.ok(raw.includes('ДИСК'), 'stored as UTF-8 text');
});
