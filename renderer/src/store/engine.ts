// The ingest engine: takes the cockpit link's pushes and snapshots into the model (dedupe by seq, the bounded
// window, the filter index, the counts) as they arrive, and answers the UI's frame requests with only what it
// draws. In the page it runs in a Web Worker (worker/ingest.worker.ts), so that parsing, validating and indexing
// 50,000 events a second never blocks the main thread; in the unit tests it runs in the same thread.
//
// Frames are pulled: the UI keeps one request open, and the engine answers it as soon as there is something to
// draw and it is due. The responder's own actions are answered at once, and so are action records (a few per action,
// each one a change the responder waits to see). New events are drawn every frame while
// they trickle in; above busyRate at most every busyFeedIntervalMs, and above floodRate every floodFeedIntervalMs,
// with the counts: a list whose every row changes 60 times a second cannot be read, each redraw then shows a
// sample of what streams past anyway, and style, layout and paint of it would take most of the main thread.
// Counts and the rate change at most every statsIntervalMs (a number on a SOC wall that changes 60 times a
// second is unreadable).
import type { CockpitCalls, CockpitMethod } from '../../../protocol/cockpit-api.ts';
import type { CockpitSnapshot } from '../../../protocol/index.ts';
import type { CockpitLink, LinkState } from '../platform/link.ts';
import { consoleFeedOf, isConsolePush, type ConsoleFeed } from './console-feed.ts';
import { pageOf, type EngineCommand, type EngineFrame, type VisibleRange } from './frame.ts';
import { CockpitModel, type FeedStats } from './model.ts';
import { createProbe, probeMirror, type CordonProbe } from './probe.ts';
import { realTimers, type Timers } from './timers.ts';
import type { VmTrace } from './volatile.ts';

export interface EngineOptions {
  link: CockpitLink;
  timers?: Timers;
  probe?: CordonProbe;
  /** How often the counts and the rate are republished. */
  statsIntervalMs?: number;
  /** Under a heavy inflow, new events are drawn at most this often (the model still takes every push at once). */
  busyFeedIntervalMs?: number;
  /** Events per second above which the inflow counts as heavy. */
  busyRate?: number;
  /** Events per second above which the list is drawn only every floodFeedIntervalMs, with the counts. */
  floodRate?: number;
  floodFeedIntervalMs?: number;
  snapshotRetry?: { initialMs: number; maxMs: number };
  /** Rows sent beyond the visible range on either side, so that a short scroll finds them already there. */
  pageMargin?: number;
}

/** What is on screen before the UI says: the top of the list. */
export const INITIAL_RANGE: VisibleRange = { from: 0, to: 64 };

export class CockpitEngine {
  readonly model: CockpitModel;
  private readonly link: CockpitLink;
  private readonly timers: Timers;
  private readonly statsIntervalMs: number;
  private readonly busyFeedIntervalMs: number;
  private readonly busyRate: number;
  private readonly floodRate: number;
  private readonly floodFeedIntervalMs: number;
  private readonly snapshotRetry: { initialMs: number; maxMs: number };
  private readonly pageMargin: number;

  private linkState: LinkState;
  private linkChanged = true;
  private snapshotError: string | null = null;
  private snapshotErrorChanged = false;
  private epoch = 0;
  private retryTimer: unknown = null;
  private range: VisibleRange = INITIAL_RANGE;
  private rangeChanged = false;
  /** Events, invalid messages or a snapshot were applied since the last frame: the probe moved. */
  private probeDirty = true;
  private latencySeen = 0;
  private lastFeedAt = Number.NEGATIVE_INFINITY;
  private lastStatsAt = Number.NEGATIVE_INFINITY;
  private lastStats: FeedStats | null = null;
  private published = { agents: -1, vms: -1 };
  // Object-valued fields are sent only when they are another object: a copy made by postMessage is a new object
  // every time, and would redraw the detail pane and the filter bar with every frame.
  private sentSelected: unknown = undefined;
  private sentFilter: unknown = undefined;
  private waiting: ((frame: EngineFrame) => void) | null = null;
  private dueTimer: unknown = null;
  private readonly unsubscribe: (() => void)[] = [];
  private readonly consoles = new Set<(feed: ConsoleFeed) => void>();
  /** A VM trace asked for and not sent yet. */
  private trace: VmTrace | null = null;
  private started = false;
  private commandsApplied = 0;
  /** The page drew a guess of a command's outcome (cockpit.ts): the next frame confirms it in full — the list,
   *  the selection and the filter — since the page drops those from frames made before that command. */
  private confirm = false;

  constructor(options: EngineOptions) {
    this.link = options.link;
    this.timers = options.timers ?? realTimers;
    this.statsIntervalMs = options.statsIntervalMs ?? 250;
    this.busyFeedIntervalMs = options.busyFeedIntervalMs ?? 100;
    this.busyRate = options.busyRate ?? 1000;
    this.floodRate = options.floodRate ?? 10_000;
    this.floodFeedIntervalMs = options.floodFeedIntervalMs ?? this.statsIntervalMs;
    this.snapshotRetry = options.snapshotRetry ?? { initialMs: 500, maxMs: 10_000 };
    this.pageMargin = options.pageMargin ?? 32;
    this.model = new CockpitModel({ probe: options.probe ?? createProbe() });
    this.linkState = this.link.state();
  }

  get probe(): CordonProbe {
    return this.model.probe;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    const { link, model } = this;
    this.unsubscribe.push(link.api.onPush((push) => {
      if (isConsolePush(push)) {
        // The consoles' own path (onConsole), never the feed's; decoded only when a console listens.
        if (this.consoles.size > 0) {
          const feed = consoleFeedOf(push);
          for (const l of [...this.consoles]) l(feed);
        }
        return;
      }
      model.applyPush(push, this.timers.now());
      this.probeDirty = true;
      this.poke();
    }));
    this.unsubscribe.push(link.onInvalid((error) => {
      model.noteInvalid();
      this.probeDirty = true;
      // The sentence never quotes the rejected value, so it is safe to log.
      console.warn(`Cordon dropped a message: ${error.message}`);
      this.poke();
    }));
    this.unsubscribe.push(link.onState((s) => {
      const wasConnected = this.linkState.phase === 'connected';
      this.linkState = s;
      this.linkChanged = true;
      if (s.phase === 'connected' && !wasConnected) this.resync();
      this.poke();
    }));
    this.linkState = link.state();
    this.linkChanged = true;
    if (this.linkState.phase === 'connected') this.resync();
    this.poke();
  }

  stop(): void {
    for (const off of this.unsubscribe.splice(0)) off();
    if (this.retryTimer !== null) this.timers.clearTimeout(this.retryTimer);
    if (this.dueTimer !== null) this.timers.clearTimeout(this.dueTimer);
    this.retryTimer = this.dueTimer = null;
    this.waiting = null;
    this.epoch += 1;
    this.started = false;
  }

  /** Applies one of the responder's actions now; it is drawn with the next frame, which is sent at once. */
  command(c: EngineCommand): void {
    const m = this.model;
    this.commandsApplied += 1;
    if (c.type === 'setFilter' || c.type === 'selectIndex' || c.type === 'moveSelection' || c.type === 'selectEdge') this.confirm = true;
    switch (c.type) {
      case 'setFilter': m.setFilter(c.filter); break;
      case 'setFollowing': m.setFollowing(c.on, c.asOf); break;
      case 'toggleFollowing': m.setFollowing(!m.following, c.asOf); break;
      case 'selectIndex': {
        m.setFollowing(false, c.asOf);
        const at = m.view().indexOfAbs(c.abs);
        m.selectIndex(at >= 0 ? at : c.index, c.asOf);
        break;
      }
      case 'moveSelection': m.moveSelection(c.delta, c.asOf); break;
      case 'selectEdge': m.selectEdge(c.edge, c.asOf); break;
      case 'clearSelection': m.clearSelection(); break;
      case 'traceVm':
        this.trace = m.traceVm(c.id, c.agentId, c.vmId, this.timers.now());
        break;
      case 'setRange': {
        const from = Math.max(0, Math.floor(c.range.from));
        const to = Math.max(from, Math.floor(c.range.to));
        if (from === this.range.from && to === this.range.to) return;
        this.range = { from, to };
        this.rangeChanged = true;
        break;
      }
    }
    this.poke();
  }

  /** Subscribes to console output and closings, as they come and in order (console-feed.ts), while the engine
   *  runs; returns the function that unsubscribes. They come through the engine's one push subscription, so each
   *  push is checked once. */
  onConsole(listener: (feed: ConsoleFeed) => void): () => void {
    this.consoles.add(listener);
    return () => void this.consoles.delete(listener);
  }

  /** Makes a cockpit call on the link (its result checked by the link, as every result is). */
  call<M extends CockpitMethod>(method: M, params: CockpitCalls[M]['params']): Promise<CockpitCalls[M]['result']> {
    return this.link.api.call(method, params);
  }

  /** The UI's open request for its next frame: answered now if something is due, else as soon as it is. A new
   *  request replaces one still open. */
  requestFrame(reply: (frame: EngineFrame) => void): void {
    this.waiting = reply;
    this.poke();
  }

  /** Answers the open request if there is something to send, or sets a timer for when there will be. */
  private poke(): void {
    if (this.waiting === null) return;
    if (this.dueTimer !== null) {
      this.timers.clearTimeout(this.dueTimer);
      this.dueTimer = null;
    }
    const now = this.timers.now();
    const { frame, nextDueAt } = this.compose(now);
    if (frame !== null) {
      const reply = this.waiting;
      this.waiting = null;
      reply(frame);
      return;
    }
    if (nextDueAt !== null) {
      this.dueTimer = this.timers.setTimeout(() => {
        this.dueTimer = null;
        this.poke();
      }, Math.max(0, nextDueAt - now));
    }
  }

  private compose(now: number): { frame: EngineFrame | null; nextDueAt: number | null } {
    const m = this.model;
    const frame: EngineFrame = {};
    let changed = false;
    let nextDueAt: number | null = null;
    const later = (at: number) => { nextDueAt = nextDueAt === null ? at : Math.min(nextDueAt, at); };

    // The slow part (counts, rate, agents' health) every statsIntervalMs while it moves, at once when the hub says
    // it skipped events for this view. Flooded, the list is drawn on the same beat, so the page lays out and
    // paints four times a second rather than eight.
    const slowDueAt = m.skippedChanged ? now : this.lastStatsAt + this.statsIntervalMs;
    const flooded = m.lastRate >= this.floodRate;
    const feedDueAt = flooded
      ? Math.max(slowDueAt, this.lastFeedAt + this.floodFeedIntervalMs)
      : this.lastFeedAt + (m.lastRate >= this.busyRate ? this.busyFeedIntervalMs : 0);
    const own = m.viewChanged || m.selectionChanged || m.filterChanged || this.rangeChanged || this.confirm;
    const moved = m.feedChanged || m.pausedCountChanged || this.probeDirty;
    if (own || (moved && now >= feedDueAt)) {
      this.lastFeedAt = now;
      if (own || m.feedChanged) {
        const view = m.view();
        frame.feed = pageOf(view, this.range, this.pageMargin);
        frame.following = m.following;
        frame.ready = m.ready;
        frame.windowSize = m.windowSize;
        frame.selectedIndex = m.selectedIndex();
        if (this.confirm || m.selected !== this.sentSelected) frame.selected = this.sentSelected = m.selected;
        if (this.confirm || m.filter !== this.sentFilter) frame.filter = this.sentFilter = m.filter;
        m.feedChanged = m.viewChanged = m.selectionChanged = m.filterChanged = false;
        this.rangeChanged = this.confirm = false;
      }
      frame.newWhilePaused = m.newWhilePaused;
      m.pausedCountChanged = false;
      if (this.probeDirty) {
        frame.probe = probeMirror(m.probe, this.latencySeen);
        this.latencySeen = m.probe.latency.count;
        this.probeDirty = false;
      }
      changed = true;
    } else if (moved) {
      later(feedDueAt);
    }

    if (m.fleet.vmsVersion !== this.published.vms) {
      frame.inventories = [...m.fleet.sortedInventories()];
      this.published.vms = m.fleet.vmsVersion;
      changed = true;
    }
    // The agents' health: at once, but on the slow beat under a heavy inflow (their seqs and round trips then
    // change with every push from the hub).
    if (m.fleet.agentsVersion !== this.published.agents && (own || m.lastRate < this.busyRate)) {
      frame.agents = m.fleet.sortedAgents();
      this.published.agents = m.fleet.agentsVersion;
      changed = true;
    }
    // The rate falls to zero a second after the inflow stops, so the stats move a little longer than the events.
    const agentsMoved = m.fleet.agentsVersion !== this.published.agents;
    if (this.statsMoving() || agentsMoved) {
      if (now >= slowDueAt) {
        if (this.statsMoving()) {
          m.skippedChanged = false;
          const stats = m.stats(now);
          this.lastStats = stats;
          frame.stats = stats;
          frame.tallies = m.counts.takeChanges();
        }
        if (agentsMoved) {
          frame.agents = m.fleet.sortedAgents();
          this.published.agents = m.fleet.agentsVersion;
        }
        this.lastStatsAt = now;
        changed = true;
      } else {
        later(slowDueAt);
      }
    }

    const actions = m.actions.takeChanges();
    if (actions !== null) {
      frame.actions = actions;
      changed = true;
    }
    if (this.trace !== null) {
      frame.vmTrace = this.trace;
      this.trace = null;
      changed = true;
    }

    if (this.linkChanged) {
      frame.link = this.linkState;
      this.linkChanged = false;
      changed = true;
    }
    if (this.snapshotErrorChanged) {
      frame.snapshotError = this.snapshotError;
      this.snapshotErrorChanged = false;
      changed = true;
    }
    if (!changed) return { frame: null, nextDueAt };
    frame.resyncing = m.awaiting;
    frame.commands = this.commandsApplied;
    return { frame, nextDueAt };
  }

  /** Whether the stats last published are out of date (or the rate has yet to settle at zero). */
  private statsMoving(): boolean {
    const m = this.model;
    const s = this.lastStats;
    if (s === null || m.skippedChanged) return true;
    return s.ratePerSec !== 0 || s.total !== m.total || s.invalid !== m.invalid || s.skipped !== m.probe.skipped
      || s.missing !== m.probe.missing || s.duplicates !== m.probe.duplicates || s.windowLength !== m.windowLength;
  }

  private resync(): void {
    this.epoch += 1;
    this.model.beginResync();
    if (this.retryTimer !== null) this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.requestSnapshot(this.epoch, 0);
  }

  private requestSnapshot(forEpoch: number, attempt: number): void {
    this.link.api.call('snapshot', {}).then(
      (snapshot) => {
        if (forEpoch === this.epoch) this.applySnapshot(snapshot);
      },
      (err: unknown) => {
        if (forEpoch !== this.epoch) return;
        this.snapshotError = (err as Error)?.message ?? String(err);
        this.snapshotErrorChanged = true;
        this.poke();
        if (this.link.state().phase !== 'connected') return; // the next connect asks again
        const { initialMs, maxMs } = this.snapshotRetry;
        const delay = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 20));
        this.retryTimer = this.timers.setTimeout(() => {
          this.retryTimer = null;
          if (forEpoch === this.epoch) this.requestSnapshot(forEpoch, attempt + 1);
        }, delay);
      },
    );
  }

  private applySnapshot(snapshot: CockpitSnapshot): void {
    this.model.applySnapshot(snapshot, this.timers.now());
    this.probeDirty = true;
    if (this.snapshotError !== null) {
      this.snapshotError = null;
      this.snapshotErrorChanged = true;
    }
    this.poke();
  }
}
