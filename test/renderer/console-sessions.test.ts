// The page's consoles (ui/console/sessions.ts) in plain Node, over fake screens and a fake cockpit: output that
// beats console.open's answer is kept, acks follow what the screen drew, a read-only or closed session sends no
// keystroke, a closed tab closes its session, and a dropped link ends live consoles (and closes them on main after).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CockpitApi, CockpitCalls, CockpitMethod } from '../../protocol/cockpit-api.ts';
import type { ConsoleSession } from '../../protocol/index.ts';
import type { ConsoleFeed } from '../../renderer/src/store/console-feed.ts';
import { ConsoleSessions, type Screen, type ScreenEvents, type ScreenFactory } from '../../renderer/src/ui/console/sessions.ts';
import { FakeTimers, settle } from './fixtures.ts';

class FakeScreen implements Screen<string> {
  written = '';
  readOnly: boolean;
  renderer = 'dom' as const;
  cols = 100;
  rows = 30;
  disposed = false;
  readonly drawnLater: (() => void)[] = [];
  constructor(readonly events: ScreenEvents, options: { readOnly: boolean }) {
    this.readOnly = options.readOnly;
  }
  attach(): void { this.events.renderer('dom', null); }
  fit(): boolean { return true; }
  resize(cols: number, rows: number): void { this.cols = cols; this.rows = rows; }
  write(data: Uint8Array | string, drawn?: () => void): void {
    this.written += typeof data === 'string' ? data : Buffer.from(data).toString();
    if (drawn) this.drawnLater.push(drawn);
  }
  draw(): void { for (const d of this.drawnLater.splice(0)) d(); }
  setReadOnly(on: boolean): void { this.readOnly = on; }
  focus(): void {}
  find(): boolean { return false; }
  serialize(): Promise<string> { return Promise.resolve(this.written); }
  dispose(): void { this.disposed = true; }
  /** The responder types (xterm's onData, which a read-only terminal does not fire). */
  type(data: string): void { if (!this.readOnly) this.events.input(data); }
}

function rig(answer: (p: CockpitCalls['console.open']['params']) => Partial<ConsoleSession> = () => ({})) {
  const clock = new FakeTimers();
  const calls: { method: CockpitMethod; params: Record<string, unknown> }[] = [];
  const feeds = new Set<(f: ConsoleFeed) => void>();
  const screens: FakeScreen[] = [];
  let opens = 0;
  let beforeReply: ConsoleFeed[] = [];
  const call = (async (method: CockpitMethod, params: Record<string, unknown>): Promise<unknown> => {
    calls.push({ method, params });
    if (method === 'console.open') {
      opens += 1;
      const p = params as unknown as CockpitCalls['console.open']['params'];
      const session: ConsoleSession = { sessionId: `sess-000${opens}`, agentId: p.agentId, vmId: p.vmId, readOnly: false, kind: 'sim-shell', recordingId: `rec-000${opens}`, openedAt: '2026-11-23T10:00:00.000Z', ...answer(p) };
      for (const f of beforeReply) for (const l of feeds) l({ ...f, sessionId: session.sessionId });
      beforeReply = [];
      return session;
    }
    return {};
  }) as CockpitApi['call'];
  const factory: ScreenFactory<string> = (o) => {
    const s = new FakeScreen(o.events, o);
    screens.push(s);
    return s;
  };
  const sessions = new ConsoleSessions<string>({
    call,
    onConsole: (l) => { feeds.add(l); return () => feeds.delete(l); },
    loadScreens: async () => factory,
    timers: clock.timers,
    flow: { ackEvery: 10, ackDelayMs: 40 },
  });
  const push = (feed: ConsoleFeed) => { for (const l of feeds) l(feed); };
  const output = (sessionId: string, text: string): ConsoleFeed => ({ type: 'output', sessionId, bytes: new Uint8Array(Buffer.from(text)) });
  return { clock, calls, sessions, screens, push, output, pushBeforeReply: (f: ConsoleFeed) => beforeReply.push(f) };
}

async function opened(r: ReturnType<typeof rig>, agentId = 'hv-01', vmId = 'vm-web-1'): Promise<string> {
  const key = r.sessions.openLive(agentId, vmId, `${vmId} @ ${agentId}`);
  await settle();
  r.sessions.attach(key, 'pane');
  await settle();
  await settle();
  return key;
}

test('a console opens at its pane\'s size; output that came before console.open answered is written first', async () => {
  const r = rig();
  r.pushBeforeReply(r.output('?', 'early '));
  const key = await opened(r);
  const t = r.sessions.tab(key)!;
  assert.equal(t.phase, 'open');
  assert.deepEqual(r.calls.find((c) => c.method === 'console.open')!.params, { agentId: 'hv-01', vmId: 'vm-web-1', cols: 100, rows: 30 });
  r.push(r.output('sess-0001', 'bird'));
  assert.equal(r.screens[0]!.written, 'early bird');
  assert.equal(r.screens[0]!.readOnly, false, 'writable once main said so');
});

test('acks follow what the screen drew, in batches', async () => {
  const r = rig();
  await opened(r);
  r.push(r.output('sess-0001', 'hello world, '));
  assert.equal(r.calls.filter((c) => c.method === 'console.ack').length, 0, 'nothing before it is drawn');
  r.screens[0]!.draw();
  assert.deepEqual(r.calls.filter((c) => c.method === 'console.ack').map((c) => c.params), [{ sessionId: 'sess-0001', bytes: 13 }]);
  r.push(r.output('sess-0001', 'abc'));
  r.screens[0]!.draw();
  r.clock.advance(40);
  assert.deepEqual(r.calls.filter((c) => c.method === 'console.ack').map((c) => c.params.bytes), [13, 3]);
});

test('keystrokes go to console.input; a read-only session sends none and says why', async () => {
  const r = rig((p) => (p.vmId === 'vm-db-1' ? { readOnly: true, reason: 'The VM is frozen.' } : {}));
  const web = await opened(r);
  const db = await opened(r, 'hv-02', 'vm-db-1');
  r.screens[0]!.type('ls\r');
  r.screens[1]!.type('rm -rf /\r');
  await settle();
  assert.deepEqual(r.calls.filter((c) => c.method === 'console.input').map((c) => c.params), [{ sessionId: 'sess-0001', data: 'ls\r' }]);
  assert.equal(r.sessions.tab(db)!.reason, 'The VM is frozen.');
  assert.equal(r.sessions.tab(db)!.readOnly, true);
  assert.equal(r.sessions.tab(web)!.readOnly, false);
  assert.equal(r.sessions.store.getState().tabs.length, 2, 'two consoles on two agents');
});

test('a closed session keeps its output, takes no keystroke and acks nothing more; closing the tab closes a live one', async () => {
  const r = rig();
  const a = await opened(r);
  const b = await opened(r, 'hv-01', 'vm-other');
  r.push(r.output('sess-0001', 'last words'));
  r.push({ type: 'closed', sessionId: 'sess-0001', reason: 'The VM stopped.' });
  r.screens[0]!.draw();
  r.clock.advance(1000);
  assert.equal(r.sessions.tab(a)!.phase, 'closed');
  assert.equal(r.sessions.tab(a)!.closedReason, 'The VM stopped.');
  assert.equal(r.screens[0]!.written, 'last words');
  assert.equal(r.calls.filter((c) => c.method === 'console.ack').length, 0);
  r.screens[0]!.type('x');
  await settle();
  assert.equal(r.calls.filter((c) => c.method === 'console.input').length, 0);
  r.sessions.close(a);
  assert.equal(r.calls.filter((c) => c.method === 'console.close').length, 0, 'a closed session is not closed again');
  r.sessions.close(b);
  assert.deepEqual(r.calls.filter((c) => c.method === 'console.close').map((c) => c.params), [{ sessionId: 'sess-0002' }]);
  assert.ok(r.screens.every((s) => s.disposed));
  assert.equal(r.sessions.store.getState().tabs.length, 0);
});

test('a dropped link ends the live consoles; once it is back, main is asked to close them', async () => {
  const r = rig();
  const key = await opened(r);
  r.sessions.linkLost();
  assert.equal(r.sessions.tab(key)!.phase, 'closed');
  assert.match(r.sessions.tab(key)!.closedReason!, /link to the cockpit dropped/);
  r.sessions.linkBack();
  assert.deepEqual(r.calls.filter((c) => c.method === 'console.close').map((c) => c.params), [{ sessionId: 'sess-0001' }]);
});

test('hostile sequences reported by the screen become notices and a link question, never markup', async () => {
  const r = rig();
  const key = await opened(r);
  const ev = r.screens[0]!.events;
  ev.title('<img src=x onerror=alert(1)>');
  ev.clipboard({ kind: 'write', targets: 'c', bytes: 12 });
  ev.clipboard({ kind: 'write', targets: 'c', bytes: 12 });
  ev.link('javascript:alert(1)', { ok: false, why: 'Only https links open from a console.' });
  ev.link('https://example.org/', { ok: true, href: 'https://example.org/', host: 'example.org' });
  const t = r.sessions.tab(key)!;
  assert.equal(t.title, '<img src=x onerror=alert(1)>', 'kept raw: the view draws it as text');
  assert.deepEqual(t.notices.map((n) => [n.text, n.count]), [
    ['The guest tried to write 12 bytes to your clipboard (OSC 52): refused.', 2],
    ['A link was refused: Only https links open from a console. (javascript:alert(1))', 1],
  ]);
  assert.deepEqual(t.linkAsk, { href: 'https://example.org/', host: 'example.org' });
  r.sessions.settleLink(key);
  assert.equal(r.sessions.tab(key)!.linkAsk, null);
});
