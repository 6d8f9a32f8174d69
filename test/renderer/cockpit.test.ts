// The cockpit store end to end in Node: a fake cockpit API behind the real bridge link (with its validation),
// the real engine, model and store (the engine in the same thread, as the page's fallback runs it), frames run
// by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBridgeLink } from '../../renderer/src/platform/bridge-link.ts';
import { createCockpit, createCockpitView, type Cockpit } from '../../renderer/src/store/cockpit.ts';
import { CockpitEngine } from '../../renderer/src/store/engine.ts';
import { NO_FILTER } from '../../renderer/src/store/filter.ts';
import { agentStatus, events, FakeApi, FakeTimers, feedEvent, ManualScheduler, settle, snapshot, T0, vm } from './fixtures.ts';

function setup(snap = snapshot()) {
  const api = new FakeApi();
  api.answer = async () => snap;
  const frames = new ManualScheduler();
  const clock = new FakeTimers();
  const cockpit = createCockpit({ link: createBridgeLink(api, clock.timers.now), scheduler: frames, timers: clock.timers });
  let commits = 0;
  cockpit.store.subscribe(() => { commits += 1; });
  return { api, frames, clock, cockpit, commits: () => commits };
}

/** The seqs of the rows the store holds, newest first: all of a short list (the store holds the rows around what
 *  is on screen, the top ~100 until the list says otherwise). */
const shownSeqs = (c: Cockpit) => {
  const feed = c.store.getState().feed;
  const out: number[] = [];
  for (let i = 0; i < feed.length && feed.at(i) !== undefined; i++) out.push(feed.at(i)!.seq);
  return out;
};

test('on start it fetches the snapshot and shows its events newest first, with the fleet', async () => {
  const { api, frames, cockpit } = setup(snapshot({ events: events('hv-01', 1, 3) }));
  cockpit.start();
  await settle();
  frames.run();
  const s = cockpit.store.getState();
  assert.deepEqual(api.calls, [{ method: 'snapshot', params: {} }]);
  assert.equal(s.ready, true);
  assert.deepEqual(shownSeqs(cockpit), [3, 2, 1]);
  assert.equal(s.windowSize, 100);
  assert.deepEqual(s.agents.map((a) => a.agentId), ['hv-01']);
  assert.deepEqual(s.inventories.get('hv-01')!.map((v) => v.name), ['db-1', 'web-1'], 'VMs sorted by name');
  assert.equal(cockpit.probe.fromSnapshots, 3);
});

test('sixty pushes between two frames make one store update, not sixty renders', async () => {
  const { api, frames, cockpit, commits } = setup();
  cockpit.start();
  await settle();
  frames.run();
  const before = commits();
  for (let b = 0; b < 60; b++) api.push({ type: 'events', events: events('hv-01', b * 10 + 1, 10) });
  assert.equal(commits(), before, 'nothing is published before the frame');
  frames.run();
  assert.equal(commits(), before + 1);
  assert.equal(cockpit.store.getState().feed.length, 100, 'window of 100 is full');
  assert.equal(shownSeqs(cockpit)[0], 600);
  assert.equal(cockpit.probe.batches, 60);
  assert.equal(cockpit.probe.received, 600);
});

/** Streams `perFrame` events every 16 ms for a second after a warm-up; counts how often the list was redrawn and
 *  checks the engine took every batch at once and the page's probe never fell more than a redraw behind. */
async function streamForASecond(perFrame: number) {
  const { api, frames, cockpit, clock } = setup(snapshot({ windowSize: 10_000 }));
  cockpit.start();
  await settle();
  frames.run();
  let seq = 0;
  const frame = (n: number) => {
    api.push({ type: 'events', events: events('hv-01', seq + 1, n) });
    seq += n;
    clock.advance(16);
    frames.run();
  };
  for (let i = 0; i < 20; i++) frame(perFrame);
  let draws = 0;
  let counts = 0;
  let last = cockpit.store.getState().feed;
  let lastCounts = cockpit.store.getState().counts;
  for (let i = 0; i < 60; i++) {
    frame(perFrame);
    const s = cockpit.store.getState();
    if (s.feed !== last) draws += 1;
    if (s.counts !== lastCounts) counts += 1;
    last = s.feed;
    lastCounts = s.counts;
    assert.equal(cockpit.model.probe.received, seq, 'every batch is in the engine\'s window the frame it arrives');
    assert.ok(cockpit.probe.received >= seq - perFrame * 17, 'the page\'s probe is at most one redraw behind');
  }
  clock.advance(250);
  frames.run();
  assert.equal(cockpit.probe.received, seq, 'the page\'s probe catches up with the next redraw');
  return { draws, counts, cockpit, frames, last: cockpit.store.getState().feed };
}

test('at 5,000 events a second new events are drawn 10 times a second, yet the engine takes every batch at once', async () => {
  const { draws, counts } = await streamForASecond(80);
  assert.ok(draws >= 8 && draws <= 12, `about 10 draws in 60 frames, got ${draws}`);
  assert.ok(counts >= 3 && counts <= 5, `the counts about 4 times, got ${counts}`);
});

test('at 50,000 events a second the list is drawn with the counts, 4 times a second; the responder\'s own change at once', async () => {
  const { draws, counts, cockpit, frames, last } = await streamForASecond(800);
  assert.ok(draws >= 3 && draws <= 5, `about 4 draws in 60 frames, got ${draws}`);
  assert.equal(counts, draws, 'on the same beat');
  cockpit.store.getState().actions.setFilter({ minSeverity: 'high' });
  frames.run();
  assert.notEqual(cockpit.store.getState().feed, last, 'the responder\'s own change is drawn at once');
});

test('paused, arrivals only move the counter: the list keeps its identity and nothing is redrawn', async () => {
  const { api, frames, cockpit } = setup(snapshot({ events: events('hv-01', 1, 3) }));
  cockpit.start();
  await settle();
  frames.run();
  cockpit.store.getState().actions.setFollowing(false);
  frames.run();
  const paused = cockpit.store.getState().feed;
  api.push({ type: 'events', events: events('hv-01', 4, 5) });
  frames.run();
  assert.equal(cockpit.store.getState().feed, paused);
  assert.equal(cockpit.store.getState().newWhilePaused, 5);
});

test('events pushed before the snapshot arrives are shown exactly once', async () => {
  const { api, frames, cockpit } = setup();
  let answer!: (v: unknown) => void;
  api.answer = () => new Promise((r) => { answer = r; });
  cockpit.start();
  // The hub pushes 4..6 while building the snapshot, which holds 1..6.
  api.push({ type: 'events', events: events('hv-01', 4, 3) });
  frames.run();
  assert.equal(cockpit.store.getState().feed.length, 0, 'held until the snapshot');
  answer(snapshot({ events: events('hv-01', 1, 6) }));
  await settle();
  api.push({ type: 'events', events: events('hv-01', 7, 1) });
  frames.run();
  assert.deepEqual(shownSeqs(cockpit), [7, 6, 5, 4, 3, 2, 1]);
  assert.equal(cockpit.probe.overlap, 3, 'the expected overlap with the snapshot');
  assert.equal(cockpit.probe.duplicates, 0, 'nothing was delivered twice');
  assert.equal(cockpit.model.counts.ofAgent('hv-01')!.benign, 7, 'counted once each');
});

test('a malformed push is dropped and counted, and the stream goes on', async () => {
  const { api, frames, cockpit, clock } = setup();
  cockpit.start();
  await settle();
  frames.run();
  api.push({ type: 'events', events: [{ agentId: 'hv-01', seq: 'one' }] });
  api.push({ type: 'teleport' });
  api.push(null);
  api.push({ type: 'events', events: events('hv-01', 1, 2) });
  clock.advance(300);
  frames.run();
  const s = cockpit.store.getState();
  assert.equal(s.stats.invalid, 3);
  assert.equal(cockpit.probe.invalid, 3);
  assert.deepEqual(shownSeqs(cockpit), [2, 1]);
});

test('a snapshot that does not follow the contract is refused and asked for again', async () => {
  const { api, frames, cockpit, clock } = setup();
  let n = 0;
  api.answer = async () => (++n === 1 ? { agents: 'all of them' } : snapshot({ events: events('hv-01', 1, 1) }));
  cockpit.start();
  await settle();
  frames.run();
  assert.equal(cockpit.store.getState().ready, false);
  assert.match(cockpit.store.getState().snapshotError ?? '', /snapshot/);
  clock.advance(600);
  await settle();
  frames.run();
  assert.equal(cockpit.store.getState().ready, true);
  assert.equal(cockpit.store.getState().snapshotError, null);
  assert.equal(n, 2);
});

test('agents and VMs pushes update the fleet: agents upsert, a full inventory replaces, removals remove', async () => {
  const { api, frames, cockpit } = setup();
  cockpit.start();
  await settle();
  api.push({ type: 'agents', agents: [agentStatus('hv-01', { link: 'disconnected' }), agentStatus('hv-02', { label: 'Annex host' })] });
  api.push({ type: 'vms', agentId: 'hv-01', full: false, vms: [vm('vm-web-1', { state: 'isolated' }), vm('vm-new')], removed: ['vm-db-1'] });
  api.push({ type: 'vms', agentId: 'hv-02', full: true, vms: [vm('vm-x')], removed: [] });
  frames.run();
  const s = cockpit.store.getState();
  assert.deepEqual(s.agents.map((a) => `${a.agentId}:${a.link}`), ['hv-02:connected', 'hv-01:disconnected'], 'by label');
  assert.deepEqual(s.inventories.get('hv-01')!.map((v) => `${v.id}:${v.state}`), ['vm-new:running', 'vm-web-1:isolated']);
  assert.deepEqual(s.inventories.get('hv-02')!.map((v) => v.id), ['vm-x']);
});

test('threat counts cover every event received, not only those still in the window', async () => {
  const { api, frames, cockpit, clock } = setup(snapshot({ windowSize: 10 }));
  cockpit.start();
  await settle();
  api.push({ type: 'events', events: events('hv-01', 1, 500, { verdict: 'malicious', vmId: 'vm-db-1' }) });
  clock.advance(300);
  frames.run();
  const s = cockpit.store.getState();
  assert.equal(s.feed.length, 10);
  assert.equal(s.counts.ofVm('hv-01', 'vm-db-1')!.malicious, 500);
  assert.equal(s.counts.ofAgent('hv-01')!.malicious, 500);
  assert.equal(s.stats.total, 500);
});

test('selecting an event pauses the list; arrivals are counted; following again shows them', async () => {
  const { api, frames, cockpit } = setup(snapshot({ events: events('hv-01', 1, 5) }));
  cockpit.start();
  await settle();
  frames.run();
  const { actions } = cockpit.store.getState();
  actions.selectIndex(1);
  frames.run();
  let s = cockpit.store.getState();
  assert.equal(s.following, false);
  assert.equal(s.selected!.event.seq, 4);
  assert.equal(s.selectedIndex, 1);
  api.push({ type: 'events', events: events('hv-01', 6, 3) });
  frames.run();
  s = cockpit.store.getState();
  assert.deepEqual(shownSeqs(cockpit), [5, 4, 3, 2, 1], 'the list did not move');
  assert.equal(s.newWhilePaused, 3);
  assert.equal(s.selectedIndex, 1);
  actions.toggleFollowing();
  frames.run();
  s = cockpit.store.getState();
  assert.equal(s.following, true);
  assert.deepEqual(shownSeqs(cockpit), [8, 7, 6, 5, 4, 3, 2, 1]);
  assert.equal(s.selectedIndex, 4, 'the selection stays on its event');
});

test('a row clicked while newer events are on their way selects that row, and the list freezes as it was seen', async () => {
  const { api, frames, cockpit } = setup(snapshot({ events: events('hv-01', 1, 5) }));
  cockpit.start();
  await settle();
  frames.run();
  // The engine has 6..8 already; the screen still shows 5..1 until the next frame.
  api.push({ type: 'events', events: events('hv-01', 6, 3) });
  assert.equal(cockpit.model.view().length, 8);
  cockpit.store.getState().actions.selectIndex(0);
  assert.equal(cockpit.store.getState().selected!.event.seq, 5, 'drawn selected at once');
  frames.run();
  const s = cockpit.store.getState();
  assert.equal(s.selected!.event.seq, 5, 'the row the responder clicked, not the newest in the engine');
  assert.equal(s.selectedIndex, 0);
  assert.deepEqual(shownSeqs(cockpit), [5, 4, 3, 2, 1], 'the list stays as it was seen');
  assert.equal(s.newWhilePaused, 3, 'what the screen had not shown yet counts as new');
  cockpit.store.getState().actions.toggleFollowing();
  frames.run();
  assert.deepEqual(shownSeqs(cockpit), [8, 7, 6, 5, 4, 3, 2, 1]);
});

test('over a channel that takes its time (a worker), a frame made before the responder\'s click does not undo it', async () => {
  // Messages each way wait in a queue until the test delivers them, as postMessage to and from a worker would.
  const api = new FakeApi();
  api.answer = async () => snapshot({ events: events('hv-01', 1, 5) });
  const clock = new FakeTimers();
  const frames = new ManualScheduler();
  const engine = new CockpitEngine({ link: createBridgeLink(api, clock.timers.now), timers: clock.timers });
  const toEngine: (() => void)[] = [];
  const toPage: (() => void)[] = [];
  const cockpit = createCockpitView({
    scheduler: frames,
    channel: {
      start: () => engine.start(),
      stop: () => engine.stop(),
      command: (c) => void toEngine.push(() => engine.command(structuredClone(c))),
      requestFrame: (reply) => void toEngine.push(() => engine.requestFrame((f) => void toPage.push(() => reply(structuredClone(f))))),
      call: (method, params) => engine.call(method, params),
    },
  });
  const deliver = (queue: (() => void)[]) => { for (const m of queue.splice(0)) m(); };
  const roundTrip = () => { deliver(toEngine); deliver(toPage); frames.run(); };
  cockpit.start();
  await settle();
  frames.run();
  roundTrip();
  roundTrip();
  assert.deepEqual(shownSeqs(cockpit), [5, 4, 3, 2, 1]);
  deliver(toEngine); // the page's open request is with the engine
  api.push({ type: 'events', events: events('hv-01', 6, 3) }); // answered with the list 8..1, on its way
  cockpit.store.getState().actions.selectIndex(0);
  assert.equal(cockpit.store.getState().selected!.event.seq, 5, 'the clicked row, drawn selected at once');
  deliver(toPage); // the frame made before the click arrives first
  frames.run();
  assert.deepEqual(shownSeqs(cockpit), [5, 4, 3, 2, 1], 'it does not move the list under the click');
  assert.equal(cockpit.store.getState().selected!.event.seq, 5, 'nor undo the selection');
  roundTrip(); // the click reaches the engine; its answer confirms it
  roundTrip();
  const s = cockpit.store.getState();
  assert.equal(s.selected!.event.seq, 5);
  assert.equal(s.selectedIndex, 0);
  assert.equal(s.following, false);
  assert.deepEqual(shownSeqs(cockpit), [5, 4, 3, 2, 1]);
  assert.equal(s.newWhilePaused, 3);
  assert.equal(cockpit.probe.received, 8);
});

test('a call from the UI is made on the engine\'s link, and its result is checked there', async () => {
  const { api, cockpit } = setup();
  cockpit.start();
  await settle();
  assert.equal((await cockpit.call('snapshot', {})).windowSize, 100);
  api.answer = async () => ({ windowSize: 'big' });
  await assert.rejects(cockpit.call('snapshot', {}), (e: Error & { code?: string }) => e.code === 'bad_message');
  assert.equal(api.calls.length, 3, 'the start-up snapshot and these two');
});

test('the store holds the rows around what is on screen; scrolling brings others with the next frame', async () => {
  const { frames, cockpit } = setup(snapshot({ events: events('hv-01', 1, 1000), windowSize: 1000 }));
  cockpit.start();
  await settle();
  frames.run();
  let feed = cockpit.store.getState().feed;
  assert.equal(feed.length, 1000);
  assert.equal(feed.at(0)!.seq, 1000);
  assert.equal(feed.at(500), undefined, 'far below the screen: not in the store');
  cockpit.store.getState().actions.setVisibleRange({ from: 500, to: 540 });
  frames.run();
  feed = cockpit.store.getState().feed;
  assert.equal(feed.at(500)!.seq, 500);
  assert.equal(feed.at(539)!.seq, 461);
  assert.equal(feed.absAt(500), 499);
  assert.equal(feed.indexOfAbs(499), 500);
  assert.equal(feed.at(0), undefined, 'the top is off screen now');
  assert.ok(cockpit.probe.received === 1000 && cockpit.probe.fromSnapshots === 1000);
});

test('keyboard movement: from nothing ↓ selects the newest; it stops at both ends; Home and End jump', async () => {
  const { frames, cockpit } = setup(snapshot({ events: events('hv-01', 1, 4) }));
  cockpit.start();
  await settle();
  frames.run();
  const { actions } = cockpit.store.getState();
  const sel = () => cockpit.store.getState().selected?.event.seq;
  actions.moveSelection(1);
  frames.run();
  assert.equal(sel(), 4);
  actions.moveSelection(-1);
  assert.equal(cockpit.model.selected!.event.seq, 4, 'stays at the top');
  actions.moveSelection(2);
  frames.run();
  assert.equal(sel(), 2);
  actions.selectEdge('oldest');
  frames.run();
  assert.equal(sel(), 1);
  actions.moveSelection(5);
  assert.equal(cockpit.model.selected!.event.seq, 1, 'stays at the bottom');
  actions.selectEdge('newest');
  actions.clearSelection();
  frames.run();
  assert.equal(cockpit.store.getState().selected, null);
});

test('filters from the bar and the sidebar narrow the feed, and clear again', async () => {
  const snap = snapshot({
    events: [
      feedEvent(1, { severity: 'critical', verdict: 'malicious', vmId: 'vm-db-1', title: 'VM escape attempt via virtio-gpu' }),
      feedEvent(2, { severity: 'info', verdict: 'benign', vmId: 'vm-web-1' }),
      feedEvent(3, { severity: 'high', verdict: 'suspicious', vmId: 'vm-web-1', title: 'nc -l listener' }),
    ],
  });
  const { frames, cockpit } = setup(snap);
  cockpit.start();
  await settle();
  frames.run();
  const { actions } = cockpit.store.getState();
  actions.setFilter({ minSeverity: 'high' });
  frames.run();
  assert.deepEqual(shownSeqs(cockpit), [3, 1]);
  actions.setFilter({ text: 'escape' });
  frames.run();
  assert.deepEqual(shownSeqs(cockpit), [1]);
  actions.clearFilters();
  actions.toggleVmFilter('hv-01', 'vm-web-1');
  frames.run();
  assert.deepEqual(shownSeqs(cockpit), [3, 2]);
  assert.deepEqual(cockpit.store.getState().filter.vm, { agentId: 'hv-01', vmId: 'vm-web-1' });
  assert.equal(cockpit.store.getState().filter.agentId, 'hv-01');
  actions.toggleVmFilter('hv-01', 'vm-web-1');
  frames.run();
  assert.equal(cockpit.store.getState().filter.vm, null);
  assert.deepEqual(shownSeqs(cockpit), [3, 2, 1]);
  actions.clearFilters();
  frames.run();
  assert.deepEqual(cockpit.store.getState().filter, NO_FILTER);
});

test('the probe records what was applied: totals, last seq per agent, emit-to-store latency', async () => {
  const { api, frames, cockpit, clock } = setup();
  cockpit.start();
  await settle();
  frames.run();
  clock.nowMs = T0 + 1000;
  api.push({ type: 'events', events: [...events('hv-01', 1, 3), ...events('hv-02', 10, 2)] });
  frames.run();
  const p = cockpit.probe;
  assert.equal(p.received, 5);
  assert.equal(p.batches, 1);
  assert.deepEqual({ ...p.lastSeq }, { 'hv-01': 3, 'hv-02': 11 });
  assert.equal(p.latency.count, 5);
  // feedEvent(seq) is emitted at T0 + seq ms; applied at T0 + 1000.
  assert.deepEqual(Array.from(p.latency.samples.subarray(0, 5)), [999, 998, 997, 990, 989]);
  assert.equal(p.windowLength, 5);
  api.push({ type: 'events', events: events('hv-01', 6, 1) });
  frames.run();
  assert.equal(p.seqJumps, 1);
  assert.equal(p.missing, 2);
  api.push({ type: 'events', events: events('hv-01', 6, 1) });
  frames.run();
  assert.equal(p.duplicates, 1, 'a live event delivered twice is a duplicate');
  assert.equal(p.overlap, 0);
  assert.equal(p.received, 6);
});

test('a million events through the store keep memory bounded by the window', async () => {
  const v8 = await import('node:v8');
  const vmModule = await import('node:vm');
  v8.setFlagsFromString('--expose-gc');
  const gc = vmModule.runInNewContext('gc') as () => void;
  const { api, frames, cockpit } = setup(snapshot({ windowSize: 50_000 }));
  cockpit.start();
  await settle();
  frames.run();
  gc();
  const base = process.memoryUsage().heapUsed;
  const agents = ['hv-01', 'hv-02', 'hv-03', 'hv-04'];
  const t = performance.now();
  let seq = 0;
  for (let frame = 0; frame < 1000; frame++) {
    const batch = [];
    for (let i = 0; i < 1000; i++) {
      const agent = agents[i % 4]!;
      batch.push(feedEvent(++seq, { vmId: `vm-${i % 50}`, verdict: i % 7 === 0 ? 'malicious' : 'benign', severity: i % 7 === 0 ? 'high' : 'info' }, agent));
    }
    api.push({ type: 'events', events: batch });
    frames.run();
  }
  const ms = performance.now() - t;
  gc();
  const grown = (process.memoryUsage().heapUsed - base) / 2 ** 20;
  const s = cockpit.store.getState();
  assert.equal(cockpit.probe.received, 1_000_000);
  assert.equal(s.feed.length, 50_000);
  assert.ok(grown < 150, `heap grew ${grown.toFixed(0)} MiB for a window of 50,000`);
  // Generous: building and validating a million events in the test is most of it.
  assert.ok(ms < 30_000, `1M events took ${ms.toFixed(0)} ms`);
  console.log(`  1M events: ${ms.toFixed(0)} ms, heap +${grown.toFixed(0)} MiB with a window of 50,000`);
});
