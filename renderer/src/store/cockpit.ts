// The cockpit store the UI draws from: one zustand store, fed by the ingest engine (engine.ts) through a channel,
// at most once per animation frame. The engine holds the events; this store holds only what is drawn: the rows
// around what is on screen, the selection, the fleet, the counts and the stats, and each VM's action history. The
// responder's doing goes to the engine as commands and comes back drawn with the next frame; acting on a VM is a
// cockpit call (`act`), followed here as a plan (action-plans.ts) until the agent's records say how it ended.
//
// In the page the engine runs in a Web Worker (platform/worker-cockpit.ts); createCockpit below runs it in the
// same thread, for the tests and as the fallback where a worker cannot start.
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { CockpitApi } from '../../../protocol/cockpit-api.ts';
import type { ActionRecord, AgentStatus, FeedEvent, Vm } from '../../../protocol/index.ts';
import type { CockpitLink, LinkState } from '../platform/link.ts';
import type { FrameScheduler } from './frame-scheduler.ts';
import { mergeActions, vmKey } from './action-history.ts';
import { isPlanUnderway, newPlan, planAfter, planAsked, planNotAsked, type ActionPlan, type PlanStep } from './action-plans.ts';
import { ThreatCounts, type VerdictTally } from './counts.ts';
import type { ConsoleFeed } from './console-feed.ts';
import { CockpitEngine, type EngineOptions } from './engine.ts';
import { EMPTY_VIEW, type FeedView } from './feed-window.ts';
import { mergeFrames, pageView, type EngineCommand, type EngineFrame, type FeedPage, type VisibleRange } from './frame.ts';
import { compileFilter, NO_FILTER, type FeedFilter } from './filter.ts';
import type { CockpitModel, FeedStats, SelectedEvent } from './model.ts';
import { applyProbeMirror, createProbe, type CordonProbe } from './probe.ts';
import type { VmTrace } from './volatile.ts';

/** The threat counts as published: read through it during a render; `version` changes when they do. */
export interface CountsView {
  readonly version: number;
  ofAgent(agentId: string): Readonly<VerdictTally> | undefined;
  ofVm(agentId: string, vmId: string): Readonly<VerdictTally> | undefined;
  vmIdsOf(agentId: string): string[];
  agentIds(): string[];
}

export interface CockpitActions {
  setFilter(patch: Partial<FeedFilter>): void;
  clearFilters(): void;
  /** Sidebar: show only this VM (and its agent); again to show all of the agent's VMs. */
  toggleVmFilter(agentId: string, vmId: string): void;
  toggleAgentFilter(agentId: string): void;
  setFollowing(on: boolean): void;
  toggleFollowing(): void;
  selectIndex(index: number): void;
  moveSelection(delta: number): void;
  selectEdge(edge: 'newest' | 'oldest'): void;
  clearSelection(): void;
  /** The list says which display positions it has on screen (overscan included): their rows come next frame. */
  setVisibleRange(range: VisibleRange): void;
  /** Shows this VM in the detail pane (until an event is selected, whose VM is then shown, or the selection is
   *  cleared). */
  pickVm(agentId: string, vmId: string): void;
  unpickVm(): void;
  /** Asks the engine what its window shows of the VM's processes and connections (arrives as `vmTrace`). */
  traceVm(agentId: string, vmId: string): void;
  /** Acts on a VM: asks each step once the one before is done. False (nothing asked) while a plan of this page is
   *  still under way on that VM. */
  act(agentId: string, vmId: string, label: string, steps: readonly PlanStep[]): boolean;
  /** Forgets a plan that stopped or ended (its message is read). */
  dismissPlan(agentId: string, vmId: string): void;
}

/** A VM across agents. */
export interface VmRef {
  agentId: string;
  vmId: string;
}

export interface CockpitState {
  link: LinkState;
  /** A snapshot has been applied at least once. */
  ready: boolean;
  /** Waiting for a snapshot after the link came (back) up. */
  resyncing: boolean;
  /** Why the last snapshot request failed, while it is being retried. */
  snapshotError: string | null;
  windowSize: number;
  /** The list to draw, newest first: its length, and the rows around what is on screen. A new object whenever it
   *  changed; frozen while paused. */
  feed: FeedView;
  following: boolean;
  /** Events (passing the filter) that arrived since the list was paused. */
  newWhilePaused: number;
  filter: FeedFilter;
  selected: SelectedEvent | null;
  /** Display position of the selected event in `feed`, or -1. */
  selectedIndex: number;
  agents: readonly AgentStatus[];
  inventories: ReadonlyMap<string, readonly Vm[]>;
  counts: CountsView;
  stats: FeedStats;
  /** Each VM's action records by vmKey(agentId, vmId), oldest first; a list is a new array only when it changed. */
  actionsByVm: ReadonlyMap<string, readonly ActionRecord[]>;
  /** What the responder asked from this page, by vmKey: under way, or stopped with a message to read. */
  plans: ReadonlyMap<string, ActionPlan>;
  /** The VM the responder picked (the sidebar, the contained list), shown before the selected event's own. */
  pickedVm: VmRef | null;
  /** The engine's answer to the last traceVm. */
  vmTrace: VmTrace | null;
  actions: CockpitActions;
}

/** The VM the detail pane shows and the action keys act on: the one picked, else the selected event's. */
export function focusedVm(s: Pick<CockpitState, 'pickedVm' | 'selected'>): VmRef | null {
  if (s.pickedVm !== null) return s.pickedVm;
  if (s.selected === null) return null;
  return { agentId: s.selected.event.agentId, vmId: s.selected.event.event.vmId };
}

/** How the store reaches the engine: in the same thread, or over postMessage to a worker. */
export interface EngineChannel {
  start(): void;
  stop(): void;
  command(command: EngineCommand): void;
  /** Asks for the next frame; `reply` is called once, when the engine has something to draw (maybe at once). */
  requestFrame(reply: (frame: EngineFrame) => void): void;
  /** A cockpit call (e.g. act), made by the engine's link; rejects with a CockpitCallError. */
  call: CockpitApi['call'];
  /** Console output and closings, in order, beside the frames (console-feed.ts). */
  onConsole?(listener: (feed: ConsoleFeed) => void): () => void;
}

export interface Cockpit {
  readonly store: StoreApi<CockpitState>;
  /** The page's probe: a mirror of the engine's, updated with each frame (see probe.ts). */
  readonly probe: CordonProbe;
  start(): void;
  stop(): void;
  /** Runs the frame now (tests; the page waits for the animation frame). */
  flush(): void;
  /** A cockpit call (e.g. act) on the engine's link, its result checked there. */
  call: CockpitApi['call'];
  /** Subscribes to console output and closings (the console panes' own path, not the store's); returns the
   *  function that unsubscribes. */
  onConsole(listener: (feed: ConsoleFeed) => void): () => void;
}

export interface CockpitViewOptions {
  channel: EngineChannel;
  scheduler: FrameScheduler;
  probe?: CordonProbe;
  /** The platform the link will report, for the status bar before the engine's first frame. */
  platform?: 'electron' | 'browser';
}

const EMPTY_STATS: FeedStats = { total: 0, ratePerSec: 0, windowLength: 0, duplicates: 0, invalid: 0, missing: 0, skipped: 0 };

/** The store over an engine channel. */
export function createCockpitView(options: CockpitViewOptions): Cockpit {
  const { channel, scheduler } = options;
  const probe = options.probe ?? createProbe();
  const counts = new ThreatCounts();
  let countsVersion = 0;
  let running = false;
  let outstanding = false;
  let inFrame = false;
  let stash: EngineFrame | null = null;
  let cancelFrame: (() => void) | null = null;
  let sentRange: VisibleRange | null = null;
  /** The rows the engine sent last. */
  let shownPage: FeedPage | null = null;
  let sent = 0;
  /** `sent` when the page last drew a guess of its own (a selection, a filter): frames the engine made before it
   *  had that command would draw the old state for a frame, so their list and selection are left out. */
  let guessedAt = 0;
  /** `sent` when the filter last changed, and the newest command the engine's frames have answered: until the
   *  engine answered the filter, the rows held are only part of the list, and no movement (next row, newest) is
   *  guessed from them. A click is: it names its event, which the engine then selects (see selectIndex). */
  let filteredAt = 0;
  let answered = 0;
  let planIds = 0;
  let traceIds = 0;

  const send = (command: EngineCommand) => {
    sent += 1;
    channel.command(command);
  };
  const asOf = () => store.getState().feed.end;
  const filterTo = (next: FeedFilter) => {
    // Drawn at once: the bar shows the choice, and the list keeps only the rows it holds that match, so that no
    // row on screen ever contradicts the filter shown. The engine's next frame brings the whole filtered list.
    send({ type: 'setFilter', filter: next });
    guessedAt = filteredAt = sent;
    const patch: Partial<CockpitState> = { filter: next };
    const predicate = compileFilter(next);
    if (predicate !== null && shownPage !== null) {
      const rows: FeedEvent[] = [];
      const abs: number[] = [];
      shownPage.rows.forEach((e, i) => {
        if (predicate(e)) {
          rows.push(e);
          abs.push(shownPage!.abs[i]!);
        }
      });
      patch.feed = pageView({ length: rows.length, end: shownPage.end, from: 0, rows, abs });
      const selected = store.getState().selected;
      patch.selectedIndex = selected === null ? -1 : patch.feed.indexOfAbs(selected.abs);
    }
    store.setState(patch);
  };
  const actions: CockpitActions = {
    setFilter: (patch) => filterTo({ ...store.getState().filter, ...patch }),
    clearFilters: () => filterTo(NO_FILTER),
    toggleVmFilter: (agentId, vmId) => {
      const f = store.getState().filter;
      const same = f.vm !== null && f.vm.agentId === agentId && f.vm.vmId === vmId;
      filterTo({ ...f, agentId, vm: same ? null : { agentId, vmId } });
    },
    toggleAgentFilter: (agentId) => {
      const f = store.getState().filter;
      const same = f.agentId === agentId && f.vm === null;
      filterTo({ ...f, agentId: same ? null : agentId, vm: null });
    },
    setFollowing: (on) => send({ type: 'setFollowing', on, asOf: asOf() }),
    toggleFollowing: () => send({ type: 'toggleFollowing', asOf: asOf() }),
    selectIndex: (index) => {
      unpick();
      send({ type: 'selectIndex', index, abs: store.getState().feed.absAt(index), asOf: asOf() });
      selectShown(index);
    },
    moveSelection: (delta) => {
      unpick();
      const { feed, selectedIndex } = store.getState();
      send({ type: 'moveSelection', delta, asOf: asOf() });
      if (feed.length > 0 && answered >= filteredAt) selectShown(selectedIndex < 0 ? 0 : Math.min(feed.length - 1, Math.max(0, selectedIndex + delta)));
    },
    selectEdge: (edge) => {
      unpick();
      const { feed } = store.getState();
      send({ type: 'selectEdge', edge, asOf: asOf() });
      if (feed.length > 0 && answered >= filteredAt) selectShown(edge === 'newest' ? 0 : feed.length - 1);
    },
    clearSelection: () => {
      unpick();
      send({ type: 'clearSelection' });
    },
    setVisibleRange: (range) => {
      if (sentRange !== null && sentRange.from === range.from && sentRange.to === range.to) return;
      sentRange = { from: range.from, to: range.to };
      send({ type: 'setRange', range: sentRange });
    },
    pickVm: (agentId, vmId) => {
      const p = store.getState().pickedVm;
      if (p === null || p.agentId !== agentId || p.vmId !== vmId) store.setState({ pickedVm: { agentId, vmId } });
    },
    unpickVm: unpick,
    traceVm: (agentId, vmId) => {
      traceIds += 1;
      store.setState({ vmTrace: null });
      send({ type: 'traceVm', id: traceIds, agentId, vmId });
    },
    act: (agentId, vmId, label, steps) => {
      const key = vmKey(agentId, vmId);
      if (isPlanUnderway(store.getState().plans.get(key))) return false;
      planIds += 1;
      setPlan(newPlan(planIds, agentId, vmId, label, steps));
      askStep(key);
      return true;
    },
    dismissPlan: (agentId, vmId) => {
      const key = vmKey(agentId, vmId);
      const plan = store.getState().plans.get(key);
      if (plan !== undefined && !isPlanUnderway(plan)) setPlan(plan, true);
    },
  };

  function unpick(): void {
    if (store.getState().pickedVm !== null) store.setState({ pickedVm: null });
  }

  function setPlan(plan: ActionPlan, remove = false): void {
    const plans = new Map(store.getState().plans);
    const key = vmKey(plan.agentId, plan.vmId);
    // A plan that ended well, or a single action the agent refused or failed, is told by the records in the VM's
    // history; a plan stopped half way, or an action that could not even be asked, says so until dismissed.
    const told = plan.status === 'done' || (plan.status === 'stopped' && plan.steps.length === 1 && plan.requestId !== null);
    if (remove || told) plans.delete(key);
    else plans.set(key, plan);
    store.setState({ plans });
  }

  /** Asks the cockpit for the current step of the VM's plan. */
  function askStep(key: string): void {
    const plan = store.getState().plans.get(key);
    if (plan === undefined || plan.status !== 'asking') return;
    const step = plan.steps[plan.at]!;
    channel.call('act', { agentId: plan.agentId, vmId: plan.vmId, kind: step.kind, params: step.params, reason: step.reason }).then(
      (result) => {
        const now = store.getState().plans.get(key);
        if (now === undefined || now.id !== plan.id || now.at !== plan.at || now.status !== 'asking') return;
        // The record may have come before the answer (the hub pushes it first): follow it from where it stands.
        const rec = store.getState().actionsByVm.get(key)?.find((r) => r.requestId === result.requestId);
        follow(key, rec === undefined ? planAsked(now, result.requestId) : planAfter(planAsked(now, result.requestId), rec));
      },
      (err: unknown) => {
        const now = store.getState().plans.get(key);
        if (now === undefined || now.id !== plan.id || now.at !== plan.at || now.status !== 'asking') return;
        follow(key, planNotAsked(now, (err as Error)?.message ?? String(err)));
      },
    );
  }

  /** Stores the plan's next state, and asks for its next step when there is one. */
  function follow(key: string, next: ActionPlan): void {
    const before = store.getState().plans.get(key);
    if (next === before) return;
    setPlan(next);
    if (next.status === 'asking') askStep(key);
  }

  /** Moves the plans waiting on records that just changed. */
  function advancePlans(records: readonly ActionRecord[]): void {
    const plans = store.getState().plans;
    if (plans.size === 0) return;
    for (const rec of records) {
      const key = vmKey(rec.agentId, rec.vmId);
      const plan = store.getState().plans.get(key);
      if (plan !== undefined && plan.requestId === rec.requestId) follow(key, planAfter(plan, rec));
    }
  }

  // A row the responder picks is drawn selected at once when its event is in the store (it is, for a row on
  // screen): the engine, which pauses the list as of these very rows, confirms it with its next frame.
  function selectShown(index: number): void {
    const { feed } = store.getState();
    const event = feed.at(index);
    const abs = feed.absAt(index);
    if (event === undefined || abs < 0) return;
    guessedAt = sent;
    store.setState({ selected: { abs, event }, selectedIndex: index, following: false });
  }

  const store = createStore<CockpitState>()(() => ({
    link: { phase: 'connecting', platform: options.platform ?? 'browser', attempt: 0, retryAt: null, lastError: null, since: null },
    ready: false,
    resyncing: true,
    snapshotError: null,
    windowSize: 0,
    feed: EMPTY_VIEW,
    following: true,
    newWhilePaused: 0,
    filter: NO_FILTER,
    selected: null,
    selectedIndex: -1,
    agents: [],
    inventories: new Map(),
    counts: countsView(counts, 0),
    stats: EMPTY_STATS,
    actionsByVm: new Map(),
    plans: new Map(),
    pickedVm: null,
    vmTrace: null,
    actions,
  }));

  function wake(): void {
    if (cancelFrame !== null || !running) return;
    cancelFrame = scheduler.request(frame);
  }

  function ask(): void {
    if (outstanding || !running) return;
    outstanding = true;
    channel.requestFrame(onReply);
  }

  function onReply(f: EngineFrame): void {
    outstanding = false;
    stash = stash === null ? f : mergeFrames(stash, f);
    if (!inFrame) wake();
  }

  // One animation frame: ask for the next frame first (the engine prepares it while this one is drawn), then
  // commit what the last answer brought. A same-thread engine may answer at once: then it is committed now.
  function frame(): void {
    cancelFrame = null;
    if (!running) return;
    inFrame = true;
    try {
      ask();
      if (stash !== null) {
        const f = stash;
        stash = null;
        commit(f);
      }
      ask();
    } finally {
      inFrame = false;
    }
    if (stash !== null) wake();
  }

  function commit(f: EngineFrame): void {
    if (f.probe !== undefined) applyProbeMirror(probe, f.probe);
    if (f.commands !== undefined) answered = Math.max(answered, f.commands);
    if (f.commands !== undefined && f.commands < guessedAt) {
      // Made before the engine had the responder's last action: the page's own guess of it stays drawn, until the
      // frame that answers that action, which carries all of these again (CockpitEngine.confirm).
      f = { ...f };
      delete f.feed;
      delete f.selected;
      delete f.selectedIndex;
      delete f.following;
      delete f.filter;
    }
    const patch: Partial<CockpitState> = {};
    if (f.feed !== undefined) {
      shownPage = f.feed;
      patch.feed = pageView(f.feed);
    }
    if (f.following !== undefined) patch.following = f.following;
    if (f.newWhilePaused !== undefined) patch.newWhilePaused = f.newWhilePaused;
    if (f.ready !== undefined) patch.ready = f.ready;
    if (f.resyncing !== undefined) patch.resyncing = f.resyncing;
    if (f.windowSize !== undefined) patch.windowSize = f.windowSize;
    if (f.selected !== undefined) patch.selected = f.selected;
    if (f.selectedIndex !== undefined) patch.selectedIndex = f.selectedIndex;
    if (f.filter !== undefined) patch.filter = f.filter;
    if (f.agents !== undefined) patch.agents = f.agents;
    if (f.inventories !== undefined) patch.inventories = new Map(f.inventories);
    if (f.tallies !== undefined) {
      counts.apply(f.tallies);
      countsVersion += 1;
      patch.counts = countsView(counts, countsVersion);
    }
    if (f.stats !== undefined) patch.stats = f.stats;
    if (f.link !== undefined) patch.link = f.link;
    if (f.snapshotError !== undefined) patch.snapshotError = f.snapshotError;
    if (f.actions !== undefined) patch.actionsByVm = mergeActions(store.getState().actionsByVm, f.actions);
    if (f.vmTrace !== undefined && f.vmTrace.id === traceIds) patch.vmTrace = f.vmTrace;
    // Primitives that did not change are left out, so that only what moved is drawn again.
    const state = store.getState() as unknown as Record<string, unknown>;
    for (const key of Object.keys(patch) as (keyof CockpitState)[]) {
      if (typeof patch[key] !== 'object' && state[key] === patch[key]) delete patch[key];
    }
    if (Object.keys(patch).length === 0) return;
    probe.frames += 1;
    store.setState(patch);
    if (f.actions !== undefined) advancePlans(f.actions.records);
  }

  return {
    store,
    probe,
    start() {
      if (running) return;
      running = true;
      channel.start();
      wake();
    },
    stop() {
      running = false;
      cancelFrame?.();
      cancelFrame = null;
      channel.stop();
    },
    flush: () => {
      cancelFrame?.();
      frame();
    },
    call: (method, params) => channel.call(method, params),
    onConsole: (listener) => channel.onConsole?.(listener) ?? (() => {}),
  };
}

export interface CockpitOptions extends Omit<EngineOptions, 'probe'> {
  link: CockpitLink;
  scheduler: FrameScheduler;
  /** The page's probe (the engine keeps its own and mirrors it here). */
  probe?: CordonProbe;
}

/** The store and its engine in the same thread (the tests, and the page where no worker can start). */
export function createCockpit(options: CockpitOptions): Cockpit & { readonly model: CockpitModel; readonly engine: CockpitEngine } {
  const { scheduler, probe, ...engineOptions } = options;
  const engine = new CockpitEngine(engineOptions);
  const view = createCockpitView({ channel: sameThreadChannel(engine), scheduler, probe, platform: options.link.state().platform });
  return { ...view, model: engine.model, engine };
}

/** An engine in this thread behind the channel interface. */
export function sameThreadChannel(engine: CockpitEngine): EngineChannel {
  return {
    start: () => engine.start(),
    stop: () => engine.stop(),
    command: (c) => engine.command(c),
    requestFrame: (reply) => engine.requestFrame(reply),
    call: (method, params) => engine.call(method, params),
    onConsole: (listener) => engine.onConsole(listener),
  };
}

function countsView(counts: ThreatCounts, version: number): CountsView {
  return {
    version,
    ofAgent: (agentId) => counts.ofAgent(agentId),
    ofVm: (agentId, vmId) => counts.ofVm(agentId, vmId),
    vmIdsOf: (agentId) => counts.vmIdsOf(agentId),
    agentIds: () => counts.agentIds(),
  };
}
