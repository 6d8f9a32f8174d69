// Acting on VMs, as the renderer holds it: the hub's action records through the engine into the store (only what
// changed, bounded per VM, at most once per frame), and the plans a responder's click starts (one action, or a few
// one after the other) followed until the records say how they ended. A fake cockpit API behind the real bridge
// link, the real engine, model and store, frames run by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ActionRecord } from '../../protocol/index.ts';
import { createBridgeLink } from '../../renderer/src/platform/bridge-link.ts';
import { ActionBook, ACTIONS_PER_VM, mergeActions, vmKey } from '../../renderer/src/store/action-history.ts';
import { createCockpit, focusedVm } from '../../renderer/src/store/cockpit.ts';
import { mergeFrames } from '../../renderer/src/store/frame.ts';
import { traceVm } from '../../renderer/src/store/volatile.ts';
import { actionRecord, agentStatus, events, FakeApi, FakeTimers, feedEvent, ManualScheduler, settle, snapshot, vm } from './fixtures.ts';

const WEB = vmKey('hv-01', 'vm-web-1');

function setup(snap = snapshot()) {
  const api = new FakeApi();
  let nextRequest = 100;
  /** What the next act call answers: its request id, or an error. */
  let actAnswer: () => Promise<unknown> = async () => ({ requestId: `req-${String(nextRequest++).padStart(6, '0')}` });
  api.answer = (method) => (method === 'act' ? actAnswer() : Promise.resolve(snap));
  const frames = new ManualScheduler();
  const clock = new FakeTimers();
  const cockpit = createCockpit({ link: createBridgeLink(api, clock.timers.now), scheduler: frames, timers: clock.timers });
  let commits = 0;
  cockpit.store.subscribe(() => { commits += 1; });
  const actCalls = () => api.calls.filter((c) => c.method === 'act').map((c) => c.params as { kind: string; params: object; reason: string; vmId: string });
  return {
    api, frames, clock, cockpit, actCalls,
    commits: () => commits,
    answerActWith(f: () => Promise<unknown>) { actAnswer = f; },
    async start() {
      cockpit.start();
      await settle();
      frames.run();
    },
    /** Lets the act call's answer arrive, then draws the frame. */
    async draw() {
      await settle();
      frames.run();
    },
  };
}

const history = (s: ReturnType<typeof setup>, key = WEB) => (s.cockpit.store.getState().actionsByVm.get(key) ?? []).map((r) => `${r.kind}:${r.phase}`);

test('action records pushed by the hub reach the store with the next frame, whole, by request id, oldest first', async () => {
  const s = setup();
  await s.start();
  s.api.push({ type: 'action', action: actionRecord(1, { kind: 'freeze' }) });
  s.api.push({ type: 'action', action: actionRecord(1, { kind: 'freeze', phase: 'accepted', progress: { step: 'stop', message: 'Pausing every vCPU', at: '2026-11-23T10:00:01.002Z' } }) });
  s.api.push({ type: 'action', action: actionRecord(2, { kind: 'isolate', vmId: 'vm-db-1' }) });
  assert.deepEqual(history(s), [], 'nothing is published before the frame');
  const before = s.commits();
  s.frames.run();
  assert.equal(s.commits(), before + 1, 'three records, one store update');
  assert.deepEqual(history(s), ['freeze:accepted']);
  assert.equal(s.cockpit.store.getState().actionsByVm.get(WEB)![0]!.progress?.message, 'Pausing every vCPU');
  assert.deepEqual(history(s, vmKey('hv-01', 'vm-db-1')), ['isolate:sending']);

  const db = s.cockpit.store.getState().actionsByVm.get(vmKey('hv-01', 'vm-db-1'));
  s.api.push({ type: 'action', action: actionRecord(1, { phase: 'done', ok: true, state: 'frozen' }) });
  s.api.push({ type: 'action', action: actionRecord(3, { kind: 'resume' }) });
  s.frames.run();
  assert.deepEqual(history(s), ['freeze:done', 'resume:sending']);
  assert.equal(s.cockpit.store.getState().actionsByVm.get(vmKey('hv-01', 'vm-db-1')), db, 'a VM whose history did not change keeps the same list');
});

test('the snapshot brings every VM\'s history, and events alone never publish action state', async () => {
  const s = setup(snapshot({ actions: [actionRecord(1, { phase: 'done', ok: true }), actionRecord(2, { kind: 'resume', phase: 'failed', error: { code: 'driver_failed', message: 'QEMU went away.' } })] }));
  await s.start();
  assert.deepEqual(history(s), ['freeze:done', 'resume:failed']);
  const held = s.cockpit.store.getState().actionsByVm;
  s.api.push({ type: 'events', events: events('hv-01', 1, 50) });
  s.clock.advance(300);
  s.frames.run();
  assert.equal(s.cockpit.store.getState().actionsByVm, held, 'a frame of events leaves the action state as it was');
});

test('records pushed while the snapshot is awaited are dropped: the snapshot has them', async () => {
  const s = setup();
  let answer!: (v: unknown) => void;
  s.api.answer = (method) => (method === 'snapshot' ? new Promise((r) => { answer = r; }) : Promise.resolve({ requestId: 'req-000009' }));
  s.cockpit.start();
  s.api.push({ type: 'action', action: actionRecord(1) });
  answer(snapshot({ actions: [actionRecord(1, { phase: 'done', ok: true })] }));
  await settle();
  s.frames.run();
  assert.deepEqual(history(s), ['freeze:done'], 'the older pushed record did not overwrite the snapshot\'s');
});

test('each VM keeps its latest records, at most ACTIONS_PER_VM, and never drops one still under way', () => {
  const book = new ActionBook(3);
  book.apply(actionRecord(1, { phase: 'accepted', kind: 'seize' }));
  for (let n = 2; n <= 6; n++) book.apply(actionRecord(n, { phase: 'done' }));
  assert.deepEqual(book.ofVm('hv-01', 'vm-web-1').map((r) => r.requestId), ['req-000001', 'req-000005', 'req-000006']);
  const changes = book.takeChanges()!;
  assert.equal(changes.reset, false);
  assert.equal(book.takeChanges(), null, 'taken once');

  let held = mergeActions(new Map(), changes, 3);
  assert.deepEqual(held.get(WEB)!.map((r) => r.requestId), ['req-000001', 'req-000005', 'req-000006'], 'the store trims the same way');
  held = mergeActions(held, { reset: false, records: [actionRecord(1, { phase: 'done', kind: 'seize' }), actionRecord(7, { phase: 'done' })] }, 3);
  assert.deepEqual(held.get(WEB)!.map((r) => r.requestId), ['req-000005', 'req-000006', 'req-000007'], 'ended, the old one goes');
  held = mergeActions(held, { reset: true, records: [actionRecord(9)] }, 3);
  assert.deepEqual([...held.keys()], [WEB]);
  assert.deepEqual(held.get(WEB)!.map((r) => r.requestId), ['req-000009'], 'a reset replaces everything');

  const big = new ActionBook();
  big.replaceAll(Array.from({ length: ACTIONS_PER_VM + 20 }, (_, i) => actionRecord(i + 1, { phase: 'done' })));
  const all = big.takeChanges()!;
  assert.equal(all.reset, true);
  assert.equal(all.records.length, ACTIONS_PER_VM, 'a snapshot of many sends only what is kept');
});

test('frames not drawn yet fold their action records together; a later reset wins', () => {
  const a = { actions: { reset: true, records: [actionRecord(1)] } };
  const b = { actions: { reset: false, records: [actionRecord(2)] } };
  assert.deepEqual(mergeFrames(a, b).actions!.records.map((r) => r.requestId), ['req-000001', 'req-000002']);
  assert.equal(mergeFrames(a, b).actions!.reset, true);
  const c = { actions: { reset: true, records: [actionRecord(3)] } };
  assert.deepEqual(mergeFrames(b, c).actions, c.actions);
});

test('one click acts: the act call carries the kind, empty params and the reason; the record then tells the outcome', async () => {
  const s = setup();
  await s.start();
  const { actions } = s.cockpit.store.getState();
  assert.equal(actions.act('hv-01', 'vm-web-1', 'Freeze', [{ kind: 'freeze', params: {}, reason: '' }]), true);
  assert.equal(s.cockpit.store.getState().plans.get(WEB)?.status, 'asking');
  assert.equal(actions.act('hv-01', 'vm-web-1', 'Resume', [{ kind: 'resume', params: {}, reason: '' }]), false, 'one plan at a time per VM');
  await s.draw();
  assert.deepEqual(s.actCalls(), [{ agentId: 'hv-01', vmId: 'vm-web-1', kind: 'freeze', params: {}, reason: '' }]);
  assert.equal(s.cockpit.store.getState().plans.get(WEB)?.status, 'waiting');
  s.api.push({ type: 'action', action: actionRecord(100, { phase: 'done', ok: true }) });
  s.frames.run();
  assert.equal(s.cockpit.store.getState().plans.get(WEB), undefined, 'done: the history tells it');
  assert.deepEqual(history(s), ['freeze:done']);
});

test('"seize first, then terminate": the terminate is asked only once the seize is done, with the same reason', async () => {
  const s = setup();
  await s.start();
  const reason = 'Ransomware note on web-1';
  s.cockpit.store.getState().actions.act('hv-01', 'vm-web-1', 'Seize first, then terminate', [
    { kind: 'seize', params: {}, reason },
    { kind: 'terminate', params: {}, reason },
  ]);
  // The hub pushes the record before the call returns.
  s.api.push({ type: 'action', action: actionRecord(100, { kind: 'seize', reason }) });
  await s.draw();
  s.api.push({ type: 'action', action: actionRecord(100, { kind: 'seize', reason, phase: 'accepted', progress: { step: 'memory', message: 'Dumping guest memory', fraction: 0.4, at: '2026-11-23T10:00:02.000Z' } }) });
  s.frames.run();
  assert.deepEqual(s.actCalls().map((c) => c.kind), ['seize'], 'not yet');
  s.api.push({ type: 'action', action: actionRecord(100, { kind: 'seize', reason, phase: 'done', ok: true, state: 'seized' }) });
  s.frames.run();
  await s.draw();
  assert.deepEqual(s.actCalls().map((c) => `${c.kind}:${c.reason}`), [`seize:${reason}`, `terminate:${reason}`]);
  assert.equal(s.cockpit.store.getState().plans.get(WEB)?.status, 'waiting');
  s.api.push({ type: 'action', action: actionRecord(101, { kind: 'terminate', reason, phase: 'done', ok: true, state: 'terminated' }) });
  s.frames.run();
  assert.equal(s.cockpit.store.getState().plans.get(WEB), undefined);
});

test('a step that fails stops the plan there, and it says which steps did not run', async () => {
  const s = setup();
  await s.start();
  s.cockpit.store.getState().actions.act('hv-01', 'vm-web-1', 'Freeze, isolate, seize, then terminate', [
    { kind: 'freeze', params: {}, reason: '' },
    { kind: 'isolate', params: { mode: 'cut' }, reason: '' },
    { kind: 'seize', params: {}, reason: '' },
    { kind: 'terminate', params: {}, reason: '' },
  ]);
  await s.draw();
  s.api.push({ type: 'action', action: actionRecord(100, { phase: 'done', ok: true }) });
  s.frames.run();
  await s.draw();
  s.api.push({ type: 'action', action: actionRecord(101, { kind: 'isolate', phase: 'rejected', rejection: { code: 'busy', message: 'web-1 is busy with a clone.' } }) });
  s.frames.run();
  const plan = s.cockpit.store.getState().plans.get(WEB)!;
  assert.equal(plan.status, 'stopped');
  assert.match(plan.message ?? '', /refused the isolate: web-1 is busy with a clone\. Not run: seize, terminate\./);
  await s.draw();
  assert.deepEqual(s.actCalls().map((c) => c.kind), ['freeze', 'isolate'], 'nothing after the refusal');
  s.cockpit.store.getState().actions.dismissPlan('hv-01', 'vm-web-1');
  assert.equal(s.cockpit.store.getState().plans.get(WEB), undefined, 'read and dismissed');
});

test('an act call the cockpit refuses leaves a plan that says so (there is no record to tell it)', async () => {
  const s = setup();
  await s.start();
  s.answerActWith(async () => { throw new Error('No agent "hv-01" is configured in this cockpit.'); });
  s.cockpit.store.getState().actions.act('hv-01', 'vm-web-1', 'Freeze', [{ kind: 'freeze', params: {}, reason: '' }]);
  await s.draw();
  const plan = s.cockpit.store.getState().plans.get(WEB)!;
  assert.equal(plan.status, 'stopped');
  assert.match(plan.message ?? '', /Could not ask for freeze: .*No agent "hv-01"/);
  assert.equal(s.cockpit.store.getState().actions.act('hv-01', 'vm-web-1', 'Freeze', [{ kind: 'freeze', params: {}, reason: '' }]), true, 'a stopped plan does not block the next');
});

test('the VM the pane shows and the keys act on: the one picked, else the selected event\'s; selecting an event un-picks', async () => {
  const s = setup(snapshot({ events: [feedEvent(1, { vmId: 'vm-db-1' })] }));
  await s.start();
  const st = () => s.cockpit.store.getState();
  assert.equal(focusedVm(st()), null);
  st().actions.pickVm('hv-01', 'vm-web-1');
  assert.deepEqual(focusedVm(st()), { agentId: 'hv-01', vmId: 'vm-web-1' });
  st().actions.selectIndex(0);
  s.frames.run();
  assert.deepEqual(focusedVm(st()), { agentId: 'hv-01', vmId: 'vm-db-1' });
});

test('what terminating would lose: the processes and connections the window shows for the VM, and how far back it reaches', async () => {
  const s = setup(snapshot({
    agents: [agentStatus('hv-01')],
    inventories: [{ agentId: 'hv-01', vms: [vm('vm-web-1', { memoryMiB: 2048 })] }],
    events: [
      feedEvent(1, { process: { pid: 7, name: 'nc', user: 'www-data' }, connection: { protocol: 'tcp', direction: 'listen', localAddress: '0.0.0.0', localPort: 4444, state: 'LISTEN' } }),
      feedEvent(2, { vmId: 'vm-db-1', process: { pid: 9, name: 'postgres' } }),
      feedEvent(3, { process: { pid: 7, name: 'nc' }, connection: { protocol: 'tcp', direction: 'inbound', remoteAddress: '203.0.113.9', remotePort: 50000, state: 'ESTABLISHED' } }),
    ],
  }));
  await s.start();
  const before = s.commits();
  s.cockpit.store.getState().actions.traceVm('hv-01', 'vm-web-1');
  s.frames.run();
  assert.ok(s.commits() > before);
  const t = s.cockpit.store.getState().vmTrace!;
  assert.equal(t.events, 2, 'only this VM\'s events');
  assert.equal(t.windowEvents, 3);
  assert.equal(t.since, feedEvent(1).receivedAt, 'when the oldest event held was received: how far back it reaches');
  assert.deepEqual(t.processes.map((p) => `${p.name}[${p.pid}]x${p.seen}`), ['nc[7]x2']);
  assert.deepEqual(t.connections.map((c) => `${c.summary} ${c.state}`), ['← 203.0.113.9:50000/tcp ESTABLISHED', 'listen 0.0.0.0:4444/tcp LISTEN']);

  const many = Array.from({ length: 30 }, (_, i) => feedEvent(i + 1, { process: { pid: i, name: `p${i}` } }));
  const capped = traceVm(1, 'hv-01', 'vm-web-1', many.reverse(), 0);
  assert.equal(capped.processes.length, 20);
  assert.equal(capped.processesMore, 10);
  assert.equal(capped.processes[0]!.name, 'p29', 'newest first');
});

test('a busy stream of events and a running action: action records are drawn once per frame, with the events', async () => {
  const s = setup(snapshot({ windowSize: 10_000 }));
  await s.start();
  let seq = 0;
  let drawsOfActions = 0;
  let last: ReadonlyMap<string, readonly ActionRecord[]> = s.cockpit.store.getState().actionsByVm;
  for (let i = 0; i < 30; i++) {
    s.api.push({ type: 'events', events: events('hv-01', seq + 1, 100) });
    seq += 100;
    if (i % 10 === 0) s.api.push({ type: 'action', action: actionRecord(1, { kind: 'seize', phase: 'accepted', progress: { step: 'disk', message: `chunk ${i}`, fraction: i / 30, at: '2026-11-23T10:00:02.000Z' } }) });
    s.clock.advance(16);
    s.frames.run();
    const now = s.cockpit.store.getState().actionsByVm;
    if (now !== last) drawsOfActions += 1;
    last = now;
  }
  assert.equal(drawsOfActions, 3, 'the action state changed three times, and was published three times');
});
