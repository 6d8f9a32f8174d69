// The browser shell's client over a fake socket: calls and replies, pushes, validation of every frame,
// reconnection with backoff, and the cockpit re-fetching its snapshot after a reconnect.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CockpitCallError } from '../../renderer/src/platform/link.ts';
import { createShellLink, type SocketHandlers } from '../../renderer/src/platform/shell-link.ts';
import { createCockpit } from '../../renderer/src/store/cockpit.ts';
import { events, FakeTimers, ManualScheduler, settle, snapshot } from './fixtures.ts';

class FakeShell {
  readonly sockets: { url: string; handlers: SocketHandlers; sent: string[]; closed: boolean }[] = [];
  readonly connect = (url: string, handlers: SocketHandlers) => {
    const s = { url, handlers, sent: [] as string[], closed: false };
    this.sockets.push(s);
    return { send: (text: string) => { s.sent.push(text); }, close: () => { s.closed = true; } };
  };

  get last() {
    return this.sockets[this.sockets.length - 1]!;
  }

  /** The calls the renderer sent on the last socket. */
  calls(): { id: number; method: string }[] {
    return this.last.sent.map((t) => JSON.parse(t) as { id: number; method: string });
  }

  reply(id: number, result: unknown): void {
    this.last.handlers.message(JSON.stringify({ type: 'reply', id, ok: true, result }));
  }

  push(push: unknown): void {
    this.last.handlers.message(JSON.stringify({ type: 'push', push }));
  }
}

function setup() {
  const shell = new FakeShell();
  const clock = new FakeTimers();
  const link = createShellLink({ url: 'ws://127.0.0.1:9999/api', connect: shell.connect, timers: clock.timers, random: () => 0.5 });
  const invalid: string[] = [];
  link.onInvalid((e) => invalid.push(e.code));
  return { shell, clock, link, invalid };
}

test('it opens one socket to /api and says so when it is up', () => {
  const { shell, link } = setup();
  assert.equal(shell.sockets.length, 1);
  assert.equal(shell.last.url, 'ws://127.0.0.1:9999/api');
  assert.equal(link.state().phase, 'connecting');
  shell.last.handlers.open();
  assert.equal(link.state().phase, 'connected');
  assert.equal(link.api.platform, 'browser');
});

test('a call goes out as a ShellCall and its checked result comes back', async () => {
  const { shell, link } = setup();
  shell.last.handlers.open();
  const pending = link.api.call('snapshot', {});
  assert.deepEqual(shell.calls(), [{ type: 'call', id: 1, method: 'snapshot', params: {} }]);
  const snap = snapshot({ events: events('hv-01', 1, 2) });
  shell.reply(1, snap);
  assert.deepEqual(await pending, snap);
});

test('a refused call, a result that breaks the contract, and a call while down all fail with a code', async () => {
  const { shell, link, invalid } = setup();
  await assert.rejects(link.api.call('snapshot', {}), (e: CockpitCallError) => e.code === 'not_connected');
  shell.last.handlers.open();
  const refused = link.api.call('snapshot', {});
  shell.last.handlers.message(JSON.stringify({ type: 'reply', id: 1, ok: false, error: { type: 'error', code: 'internal', message: 'The hub is starting.' } }));
  await assert.rejects(refused, (e: CockpitCallError) => e.code === 'internal' && e.message === 'The hub is starting.');
  const bad = link.api.call('snapshot', {});
  shell.reply(2, { windowSize: -1 });
  await assert.rejects(bad, (e: CockpitCallError) => e.code === 'bad_message');
  assert.deepEqual(invalid, ['bad_message']);
});

test('a call with no answer times out', async () => {
  const { shell, link, clock } = setup();
  shell.last.handlers.open();
  const p = link.api.call('snapshot', {});
  clock.advance(20_000);
  await assert.rejects(p, (e: CockpitCallError) => e.code === 'timeout');
});

test('pushes reach the listeners; malformed frames are reported and dropped, and the stream goes on', () => {
  const { shell, link, invalid } = setup();
  shell.last.handlers.open();
  const got: string[] = [];
  link.api.onPush((p) => got.push(p.type));
  shell.push({ type: 'events', events: events('hv-01', 1, 1) });
  shell.last.handlers.message('{not json');
  shell.last.handlers.message(JSON.stringify({ type: 'push', push: { type: 'events', events: [{ seq: -1 }] } }));
  shell.last.handlers.message(new Uint8Array([1, 2, 3]));
  shell.last.handlers.message(JSON.stringify({ type: 'call', id: 1, method: 'x', params: {} }));
  shell.push({ type: 'agents', agents: [] });
  assert.deepEqual(got, ['events', 'agents']);
  assert.deepEqual(invalid, ['bad_json', 'bad_message', 'bad_message', 'unexpected']);
});

test('when the socket drops it retries with growing, jittered delays, and resets once back', () => {
  const { shell, link, clock } = setup();
  shell.last.handlers.open();
  const pending = link.api.call('snapshot', {});
  shell.last.handlers.close(1006, '');
  assert.equal(link.state().phase, 'reconnecting');
  assert.match(link.state().lastError ?? '', /dropped/);
  const delays: number[] = [];
  for (let i = 0; i < 7; i++) {
    delays.push(clock.nextTimeoutIn()!);
    clock.advance(clock.nextTimeoutIn()!);
    assert.equal(shell.sockets.length, i + 2);
    shell.last.handlers.close(1006, ''); // still down
  }
  // random() = 0.5: three quarters of 250 · 2^n, up to the 10 s ceiling.
  assert.deepEqual(delays, [188, 375, 750, 1500, 3000, 6000, 7500]);
  assert.equal(link.state().attempt, 8);
  clock.advance(clock.nextTimeoutIn()!);
  shell.last.handlers.open();
  assert.equal(link.state().phase, 'connected');
  assert.equal(link.state().attempt, 0);
  return assert.rejects(pending, (e: CockpitCallError) => e.code === 'link_lost');
});

test('a shell that refuses the page (no session cookie) is not retried', () => {
  const { shell, link, clock } = setup();
  shell.last.handlers.close(4401, 'no session');
  assert.equal(link.state().phase, 'unauthorized');
  clock.advance(60_000);
  assert.equal(shell.sockets.length, 1);
});

test('a failed attempt asks whether the shell still knows the page, and stops retrying if it does not', async () => {
  const shell = new FakeShell();
  const clock = new FakeTimers();
  let answer: 'ok' | 'refused' = 'ok';
  const link = createShellLink({ url: 'ws://x/api', connect: shell.connect, timers: clock.timers, checkSession: async () => answer });
  shell.last.handlers.close(1006, '');
  await settle();
  assert.equal(link.state().phase, 'reconnecting', 'the shell knows us: it is only down');
  clock.advance(clock.nextTimeoutIn()!);
  answer = 'refused';
  shell.last.handlers.close(1006, '');
  await settle();
  assert.equal(link.state().phase, 'unauthorized');
  assert.match(link.state().lastError ?? '', /npm run serve/);
  clock.advance(60_000);
  assert.equal(shell.sockets.length, 2);
});

test('closing the link closes the socket and stops retrying', () => {
  const { shell, link, clock } = setup();
  shell.last.handlers.open();
  link.close();
  assert.equal(shell.last.closed, true);
  assert.equal(link.state().phase, 'closed');
  shell.last.handlers.close(1000, '');
  clock.advance(60_000);
  assert.equal(shell.sockets.length, 1);
});

test('after a reconnect the cockpit fetches the snapshot again and shows every event exactly once', async () => {
  const { shell, link, clock } = setup();
  const frames = new ManualScheduler();
  const cockpit = createCockpit({ link, scheduler: frames, timers: clock.timers });
  cockpit.start();
  shell.last.handlers.open();
  shell.reply(shell.calls()[0]!.id, snapshot({ events: events('hv-01', 1, 3) }));
  await settle();
  shell.push({ type: 'events', events: events('hv-01', 4, 2) });
  frames.run();
  assert.equal(cockpit.store.getState().feed.length, 5);

  shell.last.handlers.close(1006, '');
  frames.run();
  assert.equal(cockpit.store.getState().link.phase, 'reconnecting');
  clock.advance(clock.nextTimeoutIn()!);
  shell.last.handlers.open();
  // While the cockpit was away the hub got 6..8; its snapshot holds the newest (here 2..8).
  shell.push({ type: 'events', events: events('hv-01', 8, 1) });
  shell.reply(shell.calls()[0]!.id, snapshot({ events: events('hv-01', 2, 7) }));
  await settle();
  shell.push({ type: 'events', events: events('hv-01', 9, 1) });
  frames.run();
  const feed = cockpit.store.getState().feed;
  assert.deepEqual(Array.from({ length: feed.length }, (_, i) => feed.at(i)!.seq), [9, 8, 7, 6, 5, 4, 3, 2, 1]);
  assert.equal(cockpit.model.counts.ofAgent('hv-01')!.benign, 9);
  assert.equal(cockpit.store.getState().link.phase, 'connected');
  assert.equal(cockpit.probe.snapshots, 2);
  cockpit.stop();
});
