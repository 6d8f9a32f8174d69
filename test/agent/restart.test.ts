// A cockpit that resumes from its last seq after the agent was killed (-9) mid-stream and restarted on the same
// event log sees every event exactly once: no seq twice, none missing, and no seq reused for a different event.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { EventMessage } from '../../protocol/index.ts';
import { agentArgs, BOUNDED, firstBreak, spawnAgent, tempDir, TestCockpit } from './helpers.ts';

test('kill -9 mid-stream, restart on the same data dir, resume since the last seq: the sequence continues, exactly once', BOUNDED, async (t) => {
  const dir = tempDir(t);
  const dataDir = join(dir, 'data');
  const first = await spawnAgent(t, agentArgs(dir, ['--rate', '3000'], dataDir));
  const before = await TestCockpit.open(t, first.ready.url);
  before.send({ type: 'subscribe', since: 0 });
  await before.events(1000);
  // Still streaming at 3,000/s when the agent dies without a chance to flush or say goodbye.
  first.child.kill('SIGKILL');
  assert.equal((await first.exited).signal, 'SIGKILL');
  await before.next(() => false, 5000, 'the close').catch(() => undefined);
  assert.ok(before.closed, 'the cockpit saw the connection drop');
  const seen = before.received.filter((m): m is EventMessage => m.type === 'event');
  const lastSeq = seen[seen.length - 1]!.seq;
  assert.equal(seen[0]!.seq, 1);
  assert.equal(firstBreak(seen.map((e) => e.seq)), -1);

  const second = await spawnAgent(t, agentArgs(dir, ['--rate', '3000'], dataDir));
  const after = await TestCockpit.open(t, second.ready.url);
  const hello = await after.nextOfType('hello');
  assert.ok(hello.latestSeq >= lastSeq, `every seq sent before the kill was on disk (latest ${hello.latestSeq}, sent ${lastSeq})`);
  after.send({ type: 'subscribe', since: lastSeq });
  const resumed = await after.events(1000);
  assert.equal(resumed[0]!.seq, lastSeq + 1, 'resumes right after the last seq received');
  const all = [...seen, ...resumed].map((e) => e.seq);
  assert.equal(new Set(all).size, all.length, 'no seq twice');
  assert.equal(firstBreak(all), -1, 'none missing: the union is contiguous');

  // The restarted agent tells the same story for the seqs sent before the kill: no seq was given to another event.
  const check = await TestCockpit.open(t, second.ready.url);
  check.send({ type: 'subscribe', since: 0 });
  const replay = await check.events(lastSeq);
  for (let i = 0; i < lastSeq; i++) assert.equal(replay[i]!.event.id, seen[i]!.event.id, `seq ${i + 1} is the same event`);
  assert.deepEqual([...before.invalid, ...after.invalid, ...check.invalid], []);
});
