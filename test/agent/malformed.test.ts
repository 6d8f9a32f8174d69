// A malformed frame from a cockpit gets an `error` with the right code (and the frame's id as ref when it had one),
// and the event stream goes on as if nothing happened.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EventMessage } from '../../protocol/index.ts';
import { record } from '../security/campaign.ts';
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
  record({ campaign: 'bad-input', target: 'agent: cockpit frames over a real socket', kind: 'not JSON, unknown type, bad fields, markup, binary garbage', tried: cases.length, refused: cases.length, crashes: 0,
    outcome: 'Each answered with an error (code, sentence, ref); the event stream went on unbroken from seq 1.' });
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
  record({ campaign: 'bad-input', target: 'agent: cockpit frames over a real socket', kind: 'oversized frame (2 MiB, limit 1 MiB)', tried: 1, refused: 1, crashes: 0,
    outcome: 'That connection closed with 1009 (message too big); the agent served the next connection from seq 1.' });
});

test('a text frame that is not UTF-8 closes that connection (1007) and the agent serves the next one', BOUNDED, async (t) => {
  const dir = tempDir(t);
  const agent = await spawnAgent(t, agentArgs(dir, ['--rate', '200']));
  const frames = [Buffer.from([0xc0, 0xaf]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.concat([Buffer.from('{"type":"subscribe","since":0,"x":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')])];
  for (const frame of frames) {
    const cockpit = await TestCockpit.open(t, agent.ready.url);
    const closed = new Promise<number>((resolve) => cockpit.ws.once('close', (code) => resolve(code)));
    cockpit.ws.send(frame, { binary: false });
    assert.equal(await closed, 1007, 'invalid frame payload data');
  }
  const next = await TestCockpit.open(t, agent.ready.url);
  next.send({ type: 'subscribe', since: 0 });
  assert.equal((await next.events(5))[0]!.seq, 1);
  assert.equal(agent.child.exitCode, null, 'the agent is still running');
  record({ campaign: 'bad-input', target: 'agent: cockpit frames over a real socket', kind: 'invalid UTF-8 in text frames', tried: frames.length, refused: frames.length, crashes: 0,
    outcome: 'Each connection closed with 1007 (invalid payload); the agent kept serving the next one from seq 1.' });
});
