// The Electron side: window.cordon is wrapped so that every push and every call result is checked where it
// enters the renderer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBridgeLink } from '../../renderer/src/platform/bridge-link.ts';
import { CockpitCallError } from '../../renderer/src/platform/link.ts';
import { events, FakeApi, snapshot } from './fixtures.ts';

test('valid pushes pass, invalid ones are reported and dropped', () => {
  const api = new FakeApi();
  const link = createBridgeLink(api);
  const got: unknown[] = [];
  const invalid: string[] = [];
  link.onInvalid((e) => invalid.push(e.message));
  const off = link.api.onPush((p) => got.push(p));
  api.push({ type: 'events', events: events('hv-01', 1, 1) });
  api.push({ type: 'events', events: [{ agentId: '../../etc', seq: 1, event: {}, receivedAt: 0 }] });
  assert.equal(got.length, 1);
  assert.equal(invalid.length, 1);
  assert.match(invalid[0]!, /cockpit push does not follow cordon\.v1/);
  off();
  assert.equal(api.subscribers, 0);
  assert.equal(link.state().phase, 'connected');
  assert.equal(link.state().platform, 'electron');
});

test('a snapshot result is checked; a failing call becomes a CockpitCallError', async () => {
  const api = new FakeApi();
  const link = createBridgeLink(api);
  api.answer = async () => snapshot();
  assert.equal((await link.api.call('snapshot', {})).windowSize, 100);
  api.answer = async () => ({ ...snapshot(), extra: 1 });
  await assert.rejects(link.api.call('snapshot', {}), (e: CockpitCallError) => e instanceof CockpitCallError && e.code === 'bad_message');
  api.answer = async () => { throw new Error('IPC sender not allowed'); };
  await assert.rejects(link.api.call('snapshot', {}), (e: CockpitCallError) => e.code === 'failed' && /IPC sender not allowed/.test(e.message));
});
