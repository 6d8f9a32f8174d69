// A flood from one connection (issue 8): a cockpit, or whoever holds a token, sending far more messages than any
// cockpit would. The agent serves up to its rate limit, answers the rest with one rate_limited sentence a second,
// keeps the connection, keeps streaming events to everyone else, and serves the flooder again once it slows down.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { RATE_BURST, RATE_PER_SECOND } from '../../agent/session.ts';
import { record } from '../security/campaign.ts';
import { agentArgs, BOUNDED, sleep, spawnAgent, tempDir, TestCockpit } from './helpers.ts';

test('a flood of 20,000 requests is served up to the rate limit, the rest refused in a sentence, and nothing else suffers', BOUNDED, async (t) => {
  const dir = tempDir(t);
  const agent = await spawnAgent(t, agentArgs(dir, ['--rate', '50', '--no-logs'], join(dir, 'data')));
  const witness = await TestCockpit.open(t, agent.ready.url);
  witness.send({ type: 'subscribe', since: 0 });
  await witness.nextOfType('subscribed');

  const flooder = await TestCockpit.open(t, agent.ready.url, { validate: false });
  await flooder.nextOfType('hello');
  const SENT = 20_000;
  const started = performance.now();
  for (let i = 0; i < SENT; i++) flooder.send(`{"type":"evidence.list","id":"f${i}"}`);
  // Every request is either answered or refused: wait until the answers stop growing.
  let answered = -1;
  while (answered !== flooder.received.filter((m) => m.type === 'evidence.captures').length) {
    answered = flooder.received.filter((m) => m.type === 'evidence.captures').length;
    await sleep(500);
  }
  const elapsed = (performance.now() - started) / 1000;
  const limited = flooder.received.filter((m) => m.type === 'error' && m.code === 'rate_limited');
  assert.ok(answered >= RATE_BURST, `at least the burst is served (${answered})`);
  assert.ok(answered <= RATE_BURST + RATE_PER_SECOND * (elapsed + 1), `no more than the limit allows: ${answered} in ${elapsed.toFixed(1)} s`);
  assert.ok(limited.length >= 1, 'the flooder is told');
  assert.ok(limited.length <= Math.ceil(elapsed) + 1, `told at most once a second (${limited.length} in ${elapsed.toFixed(1)} s)`);
  const sentence = limited[0]!.type === 'error' ? limited[0]!.message : '';
  assert.match(sentence, /more than 500 messages a second .*were refused, not run\. Slow down; the connection stays open\./);
  assert.equal(flooder.closed, false, 'the connection stays open');

  // Once it slows down, it is served again.
  await sleep(1100);
  flooder.send({ type: 'evidence.list', id: 'after' });
  await flooder.next((m) => m.type === 'evidence.captures' && m.ref === 'after', 5000, 'an answer after the flood');
  // Everyone else kept receiving events, in order.
  const before = witness.received.filter((m) => m.type === 'event').length;
  await witness.events(before + 5, 15_000);
  assert.equal(witness.invalid.length, 0);
  record({
    campaign: 'bad-input', target: 'agent connection (rate limit)', kind: 'flood of requests on one connection',
    tried: SENT, refused: SENT - answered, crashes: agent.child.exitCode === null ? 0 : 1,
    outcome: `${answered} served (the burst and ${RATE_PER_SECOND}/s), ${SENT - answered} refused with ${limited.length} rate_limited sentence(s); the connection stayed open and served again after a pause; other cockpits kept their events.`,
  });
});
