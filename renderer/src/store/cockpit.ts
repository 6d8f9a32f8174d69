// The cockpit store: wires a link to the model and publishes the model to React through one zustand store,
// at most once per animation frame. Pushes, snapshots and the responder's actions all land in the model as
// they come; the next frame commits what changed in one setState. The slow parts (threat counts, rate) are
// published at most four times a second: a number on a SOC wall that changes 60 times a second is unreadable.
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { AgentStatus, CockpitPush, CockpitSnapshot, Vm } from '../../../protocol/index.ts';
import type { CockpitLink, LinkState } from '../platform/link.ts';
import { FrameCoalescer, type FrameScheduler } from './coalescer.ts';
import type { VerdictTally } from './counts.ts';
import type { FeedView } from './feed-window.ts';
import { NO_FILTER, type FeedFilter } from './filter.ts';
import { CockpitModel, type FeedStats, type SelectedEvent } from './model.ts';
import type { CordonProbe } from './probe.ts';
import { realTimers, type Timers } from './timers.ts';

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
  /** The list to draw, newest first: frozen while paused. A new object whenever it changed. */
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
  actions: CockpitActions;
}

export interface Cockpit {
  readonly store: StoreApi<CockpitState>;
  readonly probe: CordonProbe;
  readonly model: CockpitModel;
  start(): void;
  stop(): void;
  /** Applies what is queued and commits now (tests; the page waits for the frame). */
  flush(): void;
}

export interface CockpitOptions {
  link: CockpitLink;
  scheduler: FrameScheduler;
  probe?: CordonProbe;
  timers?: Timers;
  /** How often the counts and the rate are republished. */
  statsIntervalMs?: number;
  /** Under a heavy inflow, new events are drawn at most this often (the store still takes them every frame). */
  busyFeedIntervalMs?: number;
  /** Events per second above which the inflow counts as heavy. */
  busyRate?: number;
  snapshotRetry?: { initialMs: number; maxMs: number };
}

type Inbound = { kind: 'push'; push: CockpitPush } | { kind: 'snapshot'; snapshot: CockpitSnapshot; epoch: number };

export function createCockpit(options: CockpitOptions): Cockpit {
  const { link, scheduler } = options;
  const timers = options.timers ?? realTimers;
  const statsIntervalMs = options.statsIntervalMs ?? 250;
  const busyFeedIntervalMs = options.busyFeedIntervalMs ?? 50;
  const busyRate = options.busyRate ?? 1000;
  const snapshotRetry = options.snapshotRetry ?? { initialMs: 500, maxMs: 10_000 };
  const model = new CockpitModel(options.probe ? { probe: options.probe } : {});
  const probe = model.probe;

  let linkState = link.state();
  let linkChanged = false;
  let snapshotError: string | null = null;
  let snapshotErrorChanged = false;
  let epoch = 0;
  let retryTimer: unknown = null;
  let statsTimer: unknown = null;
  let lastStatsAt = Number.NEGATIVE_INFINITY;
  let lastFeedAt = Number.NEGATIVE_INFINITY;
  let countsVersion = 0;
  let published = { agents: -1, vms: -1 };
  const unsubscribe: (() => void)[] = [];

  // Each action changes the model at once (so it acts on exactly what is on screen) and asks for a frame.
  const act = <A extends unknown[]>(change: (...args: A) => void) => (...args: A): void => {
    change(...args);
    coalescer.wake();
  };
  const actions: CockpitActions = {
    setFilter: act((patch: Partial<FeedFilter>) => model.setFilter({ ...model.filter, ...patch })),
    clearFilters: act(() => model.setFilter(NO_FILTER)),
    toggleVmFilter: act((agentId: string, vmId: string) => {
      const f = model.filter;
      const same = f.vm !== null && f.vm.agentId === agentId && f.vm.vmId === vmId;
      model.setFilter({ ...f, agentId, vm: same ? null : { agentId, vmId } });
    }),
    toggleAgentFilter: act((agentId: string) => {
      const f = model.filter;
      const same = f.agentId === agentId && f.vm === null;
      model.setFilter({ ...f, agentId: same ? null : agentId, vm: null });
    }),
    setFollowing: act((on: boolean) => model.setFollowing(on)),
    toggleFollowing: act(() => model.setFollowing(!model.following)),
    selectIndex: act((index: number) => model.selectIndex(index)),
    moveSelection: act((delta: number) => model.moveSelection(delta)),
    selectEdge: act((edge: 'newest' | 'oldest') => model.selectEdge(edge)),
    clearSelection: act(() => model.clearSelection()),
  };

  const store = createStore<CockpitState>()(() => ({
    link: linkState,
    ready: false,
    resyncing: true,
    snapshotError: null,
    windowSize: 0,
    feed: model.view(),
    following: model.following,
    newWhilePaused: 0,
    filter: model.filter,
    selected: null,
    selectedIndex: -1,
    agents: [],
    inventories: new Map(),
    counts: countsView(model, 0),
    stats: model.stats(timers.now()),
    actions,
  }));

  const coalescer = new FrameCoalescer<Inbound>(scheduler, (items) => {
    const now = timers.now();
    for (const item of items) {
      if (item.kind === 'push') model.applyPush(item.push, now);
      else if (item.epoch === epoch) {
        model.applySnapshot(item.snapshot, now);
        if (snapshotError !== null) {
          snapshotError = null;
          snapshotErrorChanged = true;
        }
      }
    }
    commit(now);
  });

  function commit(now: number): void {
    const patch: Partial<CockpitState> = {};
    let changed = false;
    // At tens of thousands of events a second every visible row changes every frame, and style, layout and
    // paint of the list would take most of the main thread for a picture nobody can read at 60 Hz: new events
    // are then drawn 20 times a second. The responder's own actions are always drawn at once.
    const own = model.viewChanged || model.selectionChanged || model.filterChanged;
    const due = model.feedChanged && (model.lastRate < busyRate || now - lastFeedAt >= busyFeedIntervalMs);
    if (model.feedChanged && !own && !due) coalescer.wake(); // come back for it
    if (own || due) {
      lastFeedAt = now;
      patch.feed = model.view();
      patch.following = model.following;
      patch.newWhilePaused = model.newWhilePaused;
      patch.ready = model.ready;
      patch.resyncing = model.awaiting;
      patch.windowSize = model.windowSize;
      patch.selected = model.selected;
      patch.selectedIndex = model.selectedIndex();
      patch.filter = model.filter;
      model.feedChanged = model.viewChanged = model.selectionChanged = model.filterChanged = model.pausedCountChanged = false;
      changed = true;
    } else if (model.pausedCountChanged) {
      patch.newWhilePaused = model.newWhilePaused;
      model.pausedCountChanged = false;
      changed = true;
    }
    if (model.fleet.agentsVersion !== published.agents) {
      patch.agents = model.fleet.sortedAgents();
      changed = true;
    }
    if (model.fleet.vmsVersion !== published.vms) {
      patch.inventories = model.fleet.sortedInventories();
      changed = true;
    }
    published = { agents: model.fleet.agentsVersion, vms: model.fleet.vmsVersion };
    if (now - lastStatsAt >= statsIntervalMs || model.skippedChanged) {
      model.skippedChanged = false;
      lastStatsAt = now;
      countsVersion += 1;
      patch.counts = countsView(model, countsVersion);
      patch.stats = model.stats(now);
      patch.resyncing = model.awaiting;
      changed = true;
    }
    if (linkChanged) {
      patch.link = linkState;
      linkChanged = false;
      changed = true;
    }
    if (snapshotErrorChanged) {
      patch.snapshotError = snapshotError;
      snapshotErrorChanged = false;
      changed = true;
    }
    if (changed) {
      probe.frames += 1;
      store.setState(patch);
    }
  }

  function resync(): void {
    epoch += 1;
    model.beginResync();
    if (retryTimer !== null) timers.clearTimeout(retryTimer);
    retryTimer = null;
    requestSnapshot(epoch, 0);
  }

  function requestSnapshot(forEpoch: number, attempt: number): void {
    link.api.call('snapshot', {}).then(
      (snapshot) => {
        if (forEpoch === epoch) coalescer.push({ kind: 'snapshot', snapshot, epoch: forEpoch });
      },
      (err: unknown) => {
        if (forEpoch !== epoch) return;
        snapshotError = (err as Error)?.message ?? String(err);
        snapshotErrorChanged = true;
        coalescer.wake();
        if (link.state().phase !== 'connected') return; // the next connect asks again
        const delay = Math.min(snapshotRetry.maxMs, snapshotRetry.initialMs * 2 ** Math.min(attempt, 20));
        retryTimer = timers.setTimeout(() => {
          retryTimer = null;
          if (forEpoch === epoch) requestSnapshot(forEpoch, attempt + 1);
        }, delay);
      },
    );
  }

  return {
    store,
    probe,
    model,
    start() {
      unsubscribe.push(link.api.onPush((push) => coalescer.push({ kind: 'push', push })));
      unsubscribe.push(link.onInvalid((error) => {
        model.noteInvalid();
        // The sentence never quotes the rejected value, so it is safe to log.
        console.warn(`Cordon dropped a message: ${error.message}`);
        coalescer.wake();
      }));
      unsubscribe.push(link.onState((s) => {
        const wasConnected = linkState.phase === 'connected';
        linkState = s;
        linkChanged = true;
        if (s.phase === 'connected' && !wasConnected) resync();
        coalescer.wake();
      }));
      linkState = link.state();
      linkChanged = true;
      if (linkState.phase === 'connected') resync();
      statsTimer = timers.setInterval(() => coalescer.wake(), statsIntervalMs);
      coalescer.wake();
    },
    stop() {
      for (const off of unsubscribe.splice(0)) off();
      if (statsTimer !== null) timers.clearInterval(statsTimer);
      if (retryTimer !== null) timers.clearTimeout(retryTimer);
      statsTimer = retryTimer = null;
      epoch += 1;
      coalescer.dispose();
    },
    flush: () => coalescer.flush(),
  };
}

function countsView(model: CockpitModel, version: number): CountsView {
  const counts = model.counts;
  return {
    version,
    ofAgent: (agentId) => counts.ofAgent(agentId),
    ofVm: (agentId, vmId) => counts.ofVm(agentId, vmId),
    vmIdsOf: (agentId) => counts.vmIdsOf(agentId),
    agentIds: () => counts.agentIds(),
  };
}
