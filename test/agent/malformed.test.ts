// A malformed frame from a cockpit gets an `error` with the right code (and the frame's id as ref when it had one),
// and the event stream goes on as if nothing happened.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EventMessage } from '../../protocol/index.ts';
import { agentArgs, BOUNDED, firstBreak, spawnAgent, tempDir, TestCockpit } from './helpers.ts';

test('not JSON, an unknown type, a negative since, a binary frame: each an error, the stream unbroken', BOUNDED, async (t) => {
  const dir = tempDir(t);
  const agent = await spawnAgent(t, agentArgs(dir, ['--rate', '1000']));
  const cockpit = await TestCockpit.open(t, agent.ready.url);
  cockpit.send({ type: 'subscribe', since: 0 });
  await cockpit.events(50);

  const cases: { frame: string | Buffer; code: string; ref?: string }[] = [
    { frame: 'this is {not json', code: 'bad_json' },
    { frame: JSON.stringify({ type: 'frobnicate', id: 'x-1' }), code: 'unknown_type', ref: 'x-1' },
    { frame: JSON.stringify({ type: 'subscribe', id: 'neg', since: -1 }), code: 'bad_message', ref: 'neg' },
    { frame: JSON.stringify({ type: 'subscribe', id: 'extra', since: 0, evil: '<script>' }), code: 'bad_message', ref: 'extra' },
    { frame: JSON.stringify([1, 2, 3]), code: 'bad_message' },
    { frame: Buffer.from([0xde, 0xad, 0xbe, 0xef]), code: 'bad_frame' },
    { frame: Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x01]), code: 'unsupported' },
  ];
  for (const c of cases) {
    cockpit.send(c.frame);
    const error = await cockpit.nextOfType('error');
    assert.equal(error.code, c.code, `${String(c.frame).slice(0, 40)} → ${error.code}: ${error.message}`);
    assert.equal(error.ref, c.ref);
    assert.ok(error.message.length > 10, 'the error says what is wrong in a sentence');
    await cockpit.events(20);
  }
  // Nothing above restarted or broke the subscription: one contiguous run from seq 1.
  const seqs = cockpit.received.filter((m): m is EventMessage => m.type === 'event').map((e) => e.seq);
  assert.equal(seqs[0], 1);
  assert.equal(firstBreak(seqs), -1);
  assert.equal(cockpit.received.filter((m) => m.type === 'subscribed').length, 1);
  assert.deepEqual(cockpit.invalid, []);
});

test('a frame over the 1 MiB limit closes that connection (1009) and the agent serves the next one', BOUNDED, async (t) => {
  const dir = tempDir(t);
  const agent = await spawnAgent(t, agentArgs(dir, ['--rate', '200']));
  const cockpit = await TestCockpit.open(t, agent.ready.url);
  const closed = new Promise<number>((resolve) => cockpit.ws.once('close', (code) => resolve(code)));
  cockpit.send(JSON.stringify({ type: 'subscribe', since: 0, pad: 'x'.repeat(2 * 1024 * 1024) }));
  assert.equal(await closed, 1009);
  const next = await TestCockpit.open(t, agent.ready.url);
  next.send({ type: 'subscribe', since: 0 });
  assert.equal((await next.events(5))[0]!.seq, 1);
});
