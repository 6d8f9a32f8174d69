// A subscriber gets every event after the seq it names, in order, each once: replayed from the log, then live.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkThreatEvent } from '../../protocol/index.ts';
import { agentArgs, BOUNDED, firstBreak, spawnAgent, tempDir, TestCockpit } from './helpers.ts';

test('subscribing since 0 yields seq 1, 2, 3... strictly increasing, every event valid', BOUNDED, async (t) => {
  const dir = tempDir(t);
  const agent = await spawnAgent(t, agentArgs(dir, ['--rate', '1000']));
  const cockpit = await TestCockpit.open(t, agent.ready.url);
  await cockpit.nextOfType('inventory');
  cockpit.send({ type: 'subscribe', id: 'sub-1', since: 0 });
  const subscribed = await cockpit.nextOfType('subscribed');
  assert.equal(subscribed.ref, 'sub-1');
  assert.equal(subscribed.since, 0);
  const events = await cockpit.events(1500);
  const seqs = events.map((e) => e.seq);
  assert.equal(seqs[0], 1);
  assert.equal(firstBreak(seqs), -1, `seqs break at ${firstBreak(seqs)}: ${seqs.slice(Math.max(0, firstBreak(seqs) - 2), firstBreak(seqs) + 2).join(',')}`);
  for (const e of events) assert.equal(checkThreatEvent(e.event).ok, true, `event ${e.seq} is not a valid ThreatEvent`);
  assert.ok(events.every((e) => e.event.agentId === 'test-agent'));
  assert.equal(new Set(events.map((e) => e.event.id)).size, events.length, 'event ids are unique');
  assert.deepEqual(cockpit.invalid, []);
});

test('subscribing since K yields K+1 first; a second subscribe on the same connection restarts from its own since', BOUNDED, async (t) => {
  const dir = tempDir(t);
  const agent = await spawnAgent(t, agentArgs(dir, ['--rate', '2000']));
  const first = await TestCockpit.open(t, agent.ready.url);
  first.send({ type: 'subscribe', since: 0 });
  await first.events(400);
  first.close();

  const cockpit = await TestCockpit.open(t, agent.ready.url);
  const hello = await cockpit.nextOfType('hello');
  assert.ok(hello.latestSeq >= 400, `hello.latestSeq ${hello.latestSeq} counts the events already made`);
  assert.equal(hello.oldestSeq, 1);
  cockpit.send({ type: 'subscribe', since: 250 });
  const subscribed = await cockpit.nextOfType('subscribed');
  assert.equal(subscribed.since, 250);
  assert.ok(subscribed.latestSeq >= 400);
  const replay = await cockpit.events(300);
  assert.equal(replay[0]!.seq, 251);
  assert.equal(firstBreak(replay.map((e) => e.seq)), -1);

  cockpit.send({ type: 'subscribe', id: 'again', since: 10 });
  const again = await cockpit.next((m) => m.type === 'subscribed' && m.ref === 'again', 5000, 'the second subscribed');
  assert.equal(again.type, 'subscribed');
  const restarted = await cockpit.events(50);
  assert.equal(restarted[0]!.seq, 11);
  assert.equal(firstBreak(restarted.map((e) => e.seq)), -1);
});

test('subscribing beyond the agent\'s latest seq is refused with since_ahead, not silently accepted', BOUNDED, async (t) => {
  const dir = tempDir(t);
  const agent = await spawnAgent(t, agentArgs(dir, ['--rate', '0']));
  const cockpit = await TestCockpit.open(t, agent.ready.url);
  cockpit.send({ type: 'subscribe', id: 'far', since: 1_000_000 });
  const error = await cockpit.nextOfType('error');
  assert.equal(error.code, 'since_ahead');
  assert.equal(error.ref, 'far');
});
