// The cockpit as the renderer holds it, without React or the DOM: the fleet, the bounded feed, the threat counts,
// the filter, follow/pause, the selection and each VM's action history. Pushes and snapshots mutate it in place (O(1) per event); the
// store (cockpit.ts) publishes immutable views of it at most once per animation frame.
import type { CockpitPush, CockpitSnapshot, FeedEvent } from '../../../protocol/index.ts';
import { ActionBook } from './action-history.ts';
import { ThreatCounts } from './counts.ts';
import { FeedWindow, EMPTY_VIEW, type FeedView } from './feed-window.ts';
import { compileFilter, NO_FILTER, sameFilter, type FeedFilter } from './filter.ts';
import { Fleet } from './fleet.ts';
import { createProbe, sampleLatency, type CordonProbe } from './probe.ts';
import { traceVm, type VmTrace } from './volatile.ts';

export interface SelectedEvent {
  /** The event's absolute number in the window (see ring.ts); it stays selected even after leaving the window. */
  abs: number;
  event: FeedEvent;
}

export interface FeedStats {
  /** Events applied since load. */
  total: number;
  /** Events per second over about the last second. */
  ratePerSec: number;
  windowLength: number;
  duplicates: number;
  /** Messages the validators rejected. */
  invalid: number;
  /** Seqs skipped between consecutive events of an agent, summed. */
  missing: number;
  /** Events the hub did not deliver to this view because it fell behind (EventsPush.skipped). */
  skipped: number;
}

export interface ModelOptions {
  probe?: CordonProbe;
  /** Events held while waiting for a snapshot; older held batches are dropped past it (the snapshot has them). */
  maxHeldEvents?: number;
}

export class CockpitModel {
  readonly fleet = new Fleet();
  readonly counts = new ThreatCounts();
  readonly actions = new ActionBook();
  readonly probe: CordonProbe;
  /** A snapshot has been applied: the window exists and the fleet is known. */
  ready = false;
  windowSize = 0;
  filter: FeedFilter = NO_FILTER;
  selected: SelectedEvent | null = null;
  total = 0;
  invalid = 0;
  // What changed since the store last published (it clears them): new events in the live list; the list itself
  // (filter, pause or resume, a snapshot: the responder's doing, published at once); the selection; the count of
  // arrivals while paused; the hub's skipped count.
  feedChanged = false;
  viewChanged = false;
  selectionChanged = false;
  filterChanged = false;
  pausedCountChanged = false;
  skippedChanged = false;
  /** Events per second at the last stats sample. */
  lastRate = 0;

  private feed: FeedWindow | null = null;
  private wantFollowing = true;
  private readonly lastSeq = new Map<string, number>();
  /** Per agent, the highest seq in the last snapshot: an event already seen at or below it is the expected
   *  overlap between a snapshot and the pushes around it, not a duplicate delivery. */
  private readonly snapshotHigh = new Map<string, number>();
  private awaitingSnapshot = true;
  private held: (readonly FeedEvent[])[] = [];
  private heldEvents = 0;
  private readonly maxHeldEvents: number;
  private readonly rateSamples: { at: number; total: number }[] = [];

  constructor(options: ModelOptions = {}) {
    this.probe = options.probe ?? createProbe();
    this.maxHeldEvents = options.maxHeldEvents ?? 200_000;
  }

  get following(): boolean {
    return this.feed === null ? this.wantFollowing : !this.feed.paused;
  }

  get newWhilePaused(): number {
    return this.feed?.newWhilePaused ?? 0;
  }

  get windowLength(): number {
    return this.feed?.length ?? 0;
  }

  /** The list to draw now (newest first). */
  view(): FeedView {
    return this.feed === null ? EMPTY_VIEW : this.feed.view();
  }

  /** The link to main (re)connected: until the next snapshot, events are held and other pushes dropped, since
   *  the snapshot supersedes them. */
  beginResync(): void {
    this.awaitingSnapshot = true;
    this.held = [];
    this.heldEvents = 0;
  }

  get awaiting(): boolean {
    return this.awaitingSnapshot;
  }

  applySnapshot(s: CockpitSnapshot, now: number): void {
    this.fleet.applySnapshot(s);
    this.actions.replaceAll(s.actions ?? []);
    if (this.feed === null) {
      this.feed = new FeedWindow(s.windowSize);
      this.feed.setPredicate(compileFilter(this.filter));
      if (!this.wantFollowing) this.feed.pause();
    } else {
      this.feed.resize(s.windowSize);
    }
    this.windowSize = s.windowSize;
    this.probe.windowSize = s.windowSize;
    this.snapshotHigh.clear();
    for (const fe of s.events) {
      if (fe.seq > (this.snapshotHigh.get(fe.agentId) ?? 0)) this.snapshotHigh.set(fe.agentId, fe.seq);
    }
    // Snapshot events merge by seq: after a reconnect only those not seen yet are added (exactly once).
    const added = this.applyEvents(s.events, now, false);
    this.probe.fromSnapshots += added;
    this.probe.snapshots += 1;
    this.awaitingSnapshot = false;
    this.ready = true;
    const held = this.held;
    this.held = [];
    this.heldEvents = 0;
    for (const batch of held) this.applyEvents(batch, now, true);
    this.viewChanged = true;
  }

  applyPush(p: CockpitPush, now: number): void {
    switch (p.type) {
      case 'events':
        if (p.skipped !== undefined) {
          this.probe.skipped += p.skipped;
          this.skippedChanged = true;
        }
        if (this.awaitingSnapshot) this.hold(p.events);
        else this.applyEvents(p.events, now, true);
        return;
      case 'agents':
        if (!this.awaitingSnapshot) this.fleet.applyAgents(p.agents);
        return;
      case 'vms':
        if (!this.awaitingSnapshot) this.fleet.applyVms(p);
        return;
      case 'action':
        if (!this.awaitingSnapshot) this.actions.apply(p.action);
        return;
    }
  }

  noteInvalid(): void {
    this.invalid += 1;
    this.probe.invalid += 1;
  }

  // ── the responder's actions ──────────────────────────────────────────────────────────────────────────────

  setFilter(filter: FeedFilter): void {
    if (sameFilter(filter, this.filter)) return;
    this.filter = filter;
    this.feed?.setPredicate(compileFilter(filter));
    this.filterChanged = true;
    this.viewChanged = true;
  }

  /** Follows or pauses. `asOf`: the end (FeedView.end) of the list the responder was looking at when pausing,
   *  so the list freezes as they saw it even if newer events reached the window since it was drawn. */
  setFollowing(on: boolean, asOf?: number): void {
    this.wantFollowing = on;
    if (this.feed === null) {
      this.viewChanged = true;
      return;
    }
    if (on === !this.feed.paused) return;
    if (on) this.feed.resume();
    else this.feed.pause(asOf);
    this.viewChanged = true;
  }

  /** Selects the event at a display position. Selecting pauses the list, so the event does not scroll away. */
  selectIndex(index: number, asOf?: number): void {
    this.setFollowing(false, asOf);
    const view = this.view();
    const abs = view.absAt(index);
    const event = view.at(index);
    if (abs < 0 || event === undefined) return;
    this.selected = { abs, event };
    this.selectionChanged = true;
  }

  /** Moves the selection by `delta` rows (positive: towards older); from nothing, selects the newest. */
  moveSelection(delta: number, asOf?: number): void {
    this.setFollowing(false, asOf);
    const view = this.view();
    if (view.length === 0) return;
    const current = this.selected === null ? -1 : view.indexOfAbs(this.selected.abs);
    const target = current < 0 ? 0 : Math.min(view.length - 1, Math.max(0, current + delta));
    this.selectIndex(target);
  }

  selectEdge(edge: 'newest' | 'oldest', asOf?: number): void {
    this.setFollowing(false, asOf);
    const view = this.view();
    if (view.length > 0) this.selectIndex(edge === 'newest' ? 0 : view.length - 1);
  }

  clearSelection(): void {
    if (this.selected === null) return;
    this.selected = null;
    this.selectionChanged = true;
  }

  /** Display position of the selected event in the current view, or -1. */
  selectedIndex(): number {
    return this.selected === null ? -1 : this.view().indexOfAbs(this.selected.abs);
  }

  /** What the window holds of a VM's processes and connections, every event searched (not only the filtered). */
  traceVm(id: number, agentId: string, vmId: string, now: number): VmTrace {
    return traceVm(id, agentId, vmId, this.feed?.newestFirst() ?? [], now);
  }

  stats(now: number): FeedStats {
    const samples = this.rateSamples;
    samples.push({ at: now, total: this.total });
    while (samples.length > 2 && now - samples[1]!.at >= 1000) samples.shift();
    const first = samples[0]!;
    const dt = now - first.at;
    const ratePerSec = dt > 0 ? ((this.total - first.total) * 1000) / dt : 0;
    this.lastRate = ratePerSec;
    return {
      total: this.total,
      ratePerSec,
      windowLength: this.windowLength,
      duplicates: this.probe.duplicates,
      invalid: this.invalid,
      missing: this.probe.missing,
      skipped: this.probe.skipped,
    };
  }

  // ── internals ────────────────────────────────────────────────────────────────────────────────────────────

  private hold(events: readonly FeedEvent[]): void {
    this.held.push(events);
    this.heldEvents += events.length;
    while (this.heldEvents > this.maxHeldEvents && this.held.length > 1) {
      this.heldEvents -= this.held.shift()!.length;
    }
  }

  /** Applies events in order, dropping any whose seq is not above its agent's last; returns how many it added. */
  private applyEvents(events: readonly FeedEvent[], now: number, live: boolean): number {
    const feed = this.feed;
    if (feed === null) return 0;
    const probe = this.probe;
    const lastSeq = this.lastSeq;
    const counts = this.counts;
    let added = 0;
    for (let i = 0; i < events.length; i++) {
      const fe = events[i]!;
      const last = lastSeq.get(fe.agentId);
      if (last !== undefined) {
        if (fe.seq <= last) {
          if (fe.seq <= (this.snapshotHigh.get(fe.agentId) ?? 0)) probe.overlap += 1;
          else probe.duplicates += 1;
          continue;
        }
        if (fe.seq > last + 1) {
          probe.seqJumps += 1;
          probe.missing += fe.seq - last - 1;
        }
      }
      lastSeq.set(fe.agentId, fe.seq);
      probe.lastSeq[fe.agentId] = fe.seq;
      feed.append(fe);
      counts.add(fe.agentId, fe.event.vmId, fe.event.verdict, fe.event.severity);
      if (live) sampleLatency(probe, fe, now);
      added += 1;
    }
    feed.trim();
    this.total += added;
    probe.received += added;
    if (live) probe.batches += 1;
    probe.windowLength = feed.length;
    if (added > 0) {
      // Paused, the list does not change: only the count of what arrived since does.
      if (feed.paused) this.pausedCountChanged = true;
      else this.feedChanged = true;
    }
    return added;
  }
}
