// The journal view's logic: the form turned into a journal.query the schema accepts (or a sentence naming the
// field), records told in one line, and the timeline's layout.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { checkJournalQuery, type JournalRecord } from '../../protocol/index.ts';
import { EMPTY_FORM, layoutTimeline, queryOf, summarize, utcOfLocalInput } from '../../renderer/src/ui/journal/journal-model.ts';

test('a filled form becomes a query the schema accepts, times read as UTC', () => {
  const q = queryOf({ ...EMPTY_FORM, from: '2026-11-23T05:40', to: '2026-11-23T06:00:30', agentId: 'hv-1', vmId: 'vm-7', kinds: ['event', 'action'], actor: 'Dana Scully', minSeverity: 'high', text: 'curl "203.0.113.7"' });
  assert.ok(q.ok);
  assert.equal(q.query.from, Date.UTC(2026, 10, 23, 5, 40));
  assert.equal(q.query.to, Date.UTC(2026, 10, 23, 6, 0, 30));
  assert.deepEqual(q.query.vmId, ['vm-7']);
  assert.deepEqual(q.query.kind, ['event', 'action']);
  assert.ok(checkJournalQuery(q.query).ok, 'main will accept it');
  const empty = queryOf(EMPTY_FORM);
  assert.ok(empty.ok);
  assert.deepEqual(empty.query, { limit: 100 });
});

test('a wrong field is named with a sentence, before anything is asked', () => {
  const cases: [Partial<typeof EMPTY_FORM>, string][] = [
    [{ from: 'yesterday' }, 'from'],
    [{ from: '2026-02-31T10:00' }, 'from'],
    [{ from: '2026-11-23T06:00', to: '2026-11-23T05:00' }, 'to'],
    [{ vmId: 'vm 7; rm -rf' }, 'vmId'],
    [{ agentId: '../etc' }, 'agentId'],
    [{ text: 'x'.repeat(513) }, 'text'],
  ];
  for (const [patch, field] of cases) {
    const q = queryOf({ ...EMPTY_FORM, ...patch });
    assert.ok(!q.ok, JSON.stringify(patch));
    assert.equal(q.field, field);
    assert.ok(q.message.length > 10);
  }
  assert.equal(utcOfLocalInput('2026-11-23T05:40:01.5'), Date.UTC(2026, 10, 23, 5, 40, 1, 500));
  assert.equal(utcOfLocalInput('2026-11-23T24:00'), null);
});

const rec = (over: Partial<JournalRecord>): JournalRecord => ({ index: 1, time: 1_000, kind: 'event', body: {}, ...over });

test('each kind of record is told in one line, from what it carries', () => {
  assert.equal(summarize(rec({ body: { event: { title: 'Reverse shell to 203.0.113.7', verdict: 'malicious' }, seq: 4 } })), 'Reverse shell to 203.0.113.7 (malicious)');
  const action = { requestId: 'r-00000001', kind: 'freeze', vmId: 'vm-1', vmName: 'web-01', reason: 'beacon', ok: true, state: 'frozen' };
  assert.equal(summarize(rec({ kind: 'action', body: { step: 'asked', action } })), 'asked: freeze web-01 — “beacon”');
  assert.equal(summarize(rec({ kind: 'action', body: { step: 'result', action } })), 'freeze web-01: done, now frozen');
  assert.equal(summarize(rec({ kind: 'action', body: { step: 'result', action: { ...action, ok: false, error: { code: 'x', message: 'QMP timed out' } } } })), 'freeze web-01: failed: QMP timed out');
  assert.equal(summarize(rec({ kind: 'log', body: { source: 'serial', message: 'login: root' } })), '[serial] login: root');
  // A hostile body never breaks the line: missing or odd-typed members fall back to words.
  assert.equal(summarize(rec({ kind: 'action', body: { step: 7, action: 'nope' } })), 'action step');
});

test('the timeline puts each kind in its lane, oldest left, newest right', () => {
  const { marks, from, to } = layoutTimeline([
    rec({ index: 3, time: 3_000, kind: 'action' }),
    rec({ index: 2, time: 2_000, kind: 'log' }),
    rec({ index: 1, time: 1_000, kind: 'event', severity: 'critical' }),
    rec({ index: 0, time: 500, kind: 'journal' }),
  ]);
  assert.equal(from, 1_000);
  assert.equal(to, 3_000);
  assert.deepEqual(marks.map((m) => [m.index, m.lane, m.x]), [[3, 1, 1], [2, 3, 0.5], [1, 0, 0]]);
  assert.equal(marks[2]!.severity, 'critical');
  assert.deepEqual(layoutTimeline([]).marks, []);
});
