// With a small retention, a subscriber that asks for events the agent no longer holds hears a `gap` naming exactly
// the lost range, once, and then gets the rest in order.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EventMessage } from '../../protocol/index.ts';
import { agentArgs, BOUNDED, firstBreak, sleep, spawnAgent, tempDir, TestCockpit } from './helpers.ts';

test('subscribing since 0 to an agent with --retain 200 yields a gap for the lost range, then the rest', BOUNDED, async (t) => {
  const dir = tempDir(t);
  const agent = await spawnAgent(t, agentArgs(dir, ['--rate', '2000', '--retain', '200']));
  // Let it make well over 200 events.
  let hello;
  for (let i = 0; i < 50; i++) {
    const probe = await TestCockpit.open(t, agent.ready.url);
    hello = await probe.nextOfType('hello');
    probe.close();
    if (hello.latestSeq > 1000) break;
    await sleep(100);
  }
  assert.ok(hello && hello.latestSeq > 1000);
  assert.ok(hello.oldestSeq > 1, `oldestSeq ${hello.oldestSeq} moved on`);
  assert.ok(hello.latestSeq - hello.oldestSeq + 1 >= 200, 'at least --retain events are kept');

  const cockpit = await TestCockpit.open(t, agent.ready.url);
  await cockpit.nextOfType('inventory');
  cockpit.send({ type: 'subscribe', since: 0 });
  await cockpit.nextOfType('subscribed');
  const gap = await cockpit.next();
  assert.equal(gap.type, 'gap', 'the gap comes first, before any event');
  if (gap.type !== 'gap') return;
  assert.equal(gap.from, 1);
  assert.ok(gap.to >= hello.oldestSeq - 1);
  assert.match(gap.reason, /retention/);
  const rest = await cockpit.events(500);
  assert.equal(rest[0]!.seq, gap.to + 1, 'the first event follows the gap');
  assert.equal(firstBreak(rest.map((e) => e.seq)), -1);
  assert.equal(cockpit.received.filter((m) => m.type === 'gap').length, 1, 'said once');
  assert.deepEqual(cockpit.invalid, []);
});

test('subscribing from inside the kept range gets no gap', BOUNDED, async (t) => {
  const dir = tempDir(t);
  // 2,000 kept at 2,000/s: a second of slack for the second cockpit to subscribe, even on a loaded CI machine.
  const agent = await spawnAgent(t, agentArgs(dir, ['--rate', '2000', '--retain', '2000']));
  const cockpit = await TestCockpit.open(t, agent.ready.url);
  await sleep(600);
  cockpit.send({ type: 'subscribe', since: 0 });
  await cockpit.nextOfType('subscribed');
  const live = await cockpit.events(300);
  const since = live[live.length - 1]!.seq;
  const other = await TestCockpit.open(t, agent.ready.url);
  other.send({ type: 'subscribe', since });
  await other.nextOfType('subscribed');
  const next = await other.next((m) => m.type === 'event' || m.type === 'gap');
  assert.equal(next.type, 'event');
  assert.equal((next as EventMessage).seq, since + 1);
});
