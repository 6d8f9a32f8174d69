// The action journal remembers every request id durably: a reopened journal answers as the first did, an action a
// crash interrupted is recorded as failed (never to run again), a torn last line is cut, and it stays bounded.
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ActionJournal, INTERRUPTED, JOURNAL_FILE, type ActionRequest } from '../../agent/action-journal.ts';
import { BOUNDED, tempDir } from './helpers.ts';

const request = (n: number, kind: ActionRequest['kind'] = 'freeze'): ActionRequest => ({
  requestId: `req-${String(n).padStart(6, '0')}`, vmId: 'vm-web-01', kind, params: {}, actor: { name: 'alice' }, reason: `case ${n}`,
});
const T0 = '2026-11-23T10:00:00.000Z';
const T1 = '2026-11-23T10:00:01.000Z';

test('a reopened journal knows every request: its result, its refusal, and what was running is now failed', BOUNDED, async (t) => {
  const dir = tempDir(t);
  const notes: string[] = [];
  const first = ActionJournal.open({ dir, note: (l) => notes.push(l) });
  await first.begin(request(1), T0);
  await first.finish('req-000001', { ok: true, state: 'frozen', startedAt: T0, finishedAt: T1 });
  await first.reject(request(2, 'release'), { code: 'wrong_state', message: 'web-01 is not isolated: there is nothing to release.', state: 'frozen', at: T1 });
  await first.begin(request(3, 'seize'), T1);
  // No finish for 3: the agent dies here (no close either).

  const second = ActionJournal.open({ dir, note: (l) => notes.push(l), now: () => '2026-11-23T10:01:00.000Z' });
  assert.deepEqual(second.get('req-000001')?.result, { ok: true, state: 'frozen', startedAt: T0, finishedAt: T1 });
  assert.equal(second.get('req-000002')?.phase, 'rejected');
  assert.equal(second.get('req-000002')?.rejection?.code, 'wrong_state');
  const interrupted = second.get('req-000003')!;
  assert.equal(interrupted.phase, 'done');
  assert.deepEqual(interrupted.result, { ok: false, error: INTERRUPTED, startedAt: T1, finishedAt: '2026-11-23T10:01:00.000Z' });
  assert.match(INTERRUPTED.message, /^The agent restarted while this ran.*check the VM's state/);
  assert.deepEqual(second.interrupted.map((e) => e.request.requestId), ['req-000003']);
  await second.close();

  // Recorded once: a third start finds it failed already and says nothing more about it.
  const third = ActionJournal.open({ dir, note: (l) => notes.push(l) });
  assert.deepEqual(third.interrupted, []);
  assert.equal(third.get('req-000003')?.result?.error?.code, 'agent_restarted');
  await third.close();
  await first.close();
});

test('a torn last line (a crash mid-write) is cut off and said; the lines before it stand', BOUNDED, async (t) => {
  const dir = tempDir(t);
  const j = ActionJournal.open({ dir, note: () => {} });
  await j.begin(request(1), T0);
  await j.finish('req-000001', { ok: true, state: 'frozen', startedAt: T0, finishedAt: T1 });
  await j.close();
  appendFileSync(join(dir, JOURNAL_FILE), '{"t":"begin","requestId":"req-000002","vmId":"vm-w');
  const notes: string[] = [];
  const again = ActionJournal.open({ dir, note: (l) => notes.push(l) });
  assert.ok(notes.some((n) => n.includes('torn last line')), notes.join('\n'));
  assert.equal(again.get('req-000001')?.phase, 'done');
  assert.equal(again.get('req-000002'), undefined, 'the torn request never ran: it was not fsynced, so not started');
  await again.begin(request(2), T1);
  await again.close();
  const lines = readFileSync(join(dir, JOURNAL_FILE), 'utf8').trimEnd().split('\n');
  assert.ok(lines.every((l) => JSON.parse(l) !== null), 'every line is whole JSON again');
});

test('bounded: the newest `limit` requests are remembered, and the file is compacted rather than growing forever', BOUNDED, async (t) => {
  const dir = tempDir(t);
  const j = ActionJournal.open({ dir, limit: 10, note: () => {} });
  for (let n = 1; n <= 60; n++) {
    await j.begin(request(n), T0);
    await j.finish(request(n).requestId, { ok: true, state: 'frozen', startedAt: T0, finishedAt: T1 });
  }
  assert.equal(j.size, 10);
  assert.equal(j.get('req-000050'), undefined);
  assert.equal(j.get('req-000051')?.phase, 'done');
  const lines = readFileSync(join(dir, JOURNAL_FILE), 'utf8').trimEnd().split('\n').length;
  assert.ok(lines <= 2 * 10 + 16, `${lines} lines on disk for 10 remembered requests`);
  await j.close();
  const again = ActionJournal.open({ dir, limit: 10, note: () => {} });
  assert.equal(again.get('req-000060')?.result?.ok, true);
  assert.equal(again.size, 10);
  await again.close();
});

test('a burst of requests in one tick shares one write and one fsync, and each is known at once', BOUNDED, async (t) => {
  const dir = tempDir(t);
  const j = ActionJournal.open({ dir, note: () => {} });
  const pending = Array.from({ length: 200 }, (_, n) => j.begin(request(n + 1), T0));
  assert.equal(j.get('req-000200')?.phase, 'running', 'known before it is durable, so a retry meanwhile is not run');
  await Promise.all(pending);
  const lines = readFileSync(join(dir, JOURNAL_FILE), 'utf8').trimEnd().split('\n');
  assert.equal(lines.length, 200);
  await j.close();
  assert.equal(ActionJournal.open({ dir, note: () => {} }).interrupted.length, 200, 'all 200 were durable, and are now failed as interrupted');
});
