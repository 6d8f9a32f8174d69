// What passes between the ingest engine (engine.ts, in a Web Worker in the page) and the store the UI draws from
// (cockpit.ts, on the main thread): the responder's commands one way, and at most one frame per animation frame
// the other, carrying only what is drawn — the rows in view, counts, stats, the action records that changed —
// never the event stream itself.
// Plain data only, so it crosses postMessage by structured clone as it is.
import type { AgentStatus, FeedEvent, Vm } from '../../../protocol/index.ts';
import type { LinkState } from '../platform/link.ts';
import type { ActionChanges } from './action-history.ts';
import type { TallyChange } from './counts.ts';
import { EMPTY_VIEW, type FeedView } from './feed-window.ts';
import type { FeedFilter } from './filter.ts';
import type { FeedStats, SelectedEvent } from './model.ts';
import type { ProbeMirror } from './probe.ts';
import type { VmTrace } from './volatile.ts';

/** The rows of the list around what is on screen, and where they sit in it. */
export interface FeedPage {
  /** Rows in the whole list (filtered, or frozen while paused). */
  length: number;
  /** FeedView.end of the list the rows come from. */
  end: number;
  /** Display position of rows[0] (0 is the newest). */
  from: number;
  rows: FeedEvent[];
  /** The rows' absolute numbers (see ring.ts). */
  abs: number[];
}

/** Display positions [from, to) the list has on screen, overscan included. */
export interface VisibleRange {
  from: number;
  to: number;
}

/** The responder's doing, sent to the engine. Those that pause carry `asOf`, the FeedView.end of the list on
 *  screen, so that they act on exactly the rows the responder saw (the engine's list may be a frame ahead). */
export type EngineCommand =
  | { type: 'setFilter'; filter: FeedFilter }
  | { type: 'setFollowing'; on: boolean; asOf: number }
  | { type: 'toggleFollowing'; asOf: number }
  /** `abs`: the absolute number of the row clicked, which wins over `index` if that event is in the list. */
  | { type: 'selectIndex'; index: number; abs: number; asOf: number }
  | { type: 'moveSelection'; delta: number; asOf: number }
  | { type: 'selectEdge'; edge: 'newest' | 'oldest'; asOf: number }
  | { type: 'clearSelection' }
  | { type: 'setRange'; range: VisibleRange }
  /** What the window shows of a VM's processes and connections (the terminate dialog): answered as `vmTrace`. */
  | { type: 'traceVm'; id: number; agentId: string; vmId: string };

/** What changed since the last frame: absent fields did not. */
export interface EngineFrame {
  /** Commands the engine had applied when it made this frame (the page drops what a newer guess of its own
   *  already shows: see cockpit.ts). */
  commands?: number;
  feed?: FeedPage;
  following?: boolean;
  newWhilePaused?: number;
  ready?: boolean;
  resyncing?: boolean;
  windowSize?: number;
  selected?: SelectedEvent | null;
  selectedIndex?: number;
  filter?: FeedFilter;
  agents?: AgentStatus[];
  inventories?: [agentId: string, vms: Vm[]][];
  tallies?: TallyChange[];
  stats?: FeedStats;
  link?: LinkState;
  snapshotError?: string | null;
  probe?: ProbeMirror;
  /** Action records that changed (whole records, replacing those with their request ids). */
  actions?: ActionChanges;
  vmTrace?: VmTrace;
}

/** Folds a later frame into an earlier one that was not drawn yet: later fields win, tallies and latency samples
 *  add up. */
export function mergeFrames(a: EngineFrame, b: EngineFrame): EngineFrame {
  const out: EngineFrame = { ...a, ...b };
  if (a.tallies !== undefined && b.tallies !== undefined) out.tallies = [...a.tallies, ...b.tallies];
  if (a.actions !== undefined && b.actions !== undefined && !b.actions.reset) {
    out.actions = { reset: a.actions.reset, records: [...a.actions.records, ...b.actions.records] };
  }
  if (a.probe !== undefined && b.probe !== undefined) {
    const samples = new Float64Array(a.probe.latency.samples.length + b.probe.latency.samples.length);
    samples.set(a.probe.latency.samples, 0);
    samples.set(b.probe.latency.samples, a.probe.latency.samples.length);
    out.probe = { ...b.probe, latency: { count: b.probe.latency.count, samples } };
  }
  return out;
}

/** The list as the UI holds it: its full length, but only the rows of the page it was sent. A row outside the
 *  page reads as undefined (drawn as a blank row until the next frame brings it). */
export function pageView(page: FeedPage): FeedView {
  const { length, end, from, rows, abs } = page;
  const n = rows.length;
  if (length === 0) return { ...EMPTY_VIEW, end };
  return {
    length,
    end,
    at: (i) => (i >= from && i < from + n ? rows[i - from] : undefined),
    absAt: (i) => (i >= from && i < from + n ? abs[i - from]! : -1),
    indexOfAbs: (a) => {
      const k = abs.indexOf(a);
      return k < 0 ? -1 : from + k;
    },
  };
}

/** The page of a list for a range, with `margin` more rows on either side. */
export function pageOf(view: FeedView, range: VisibleRange, margin: number): FeedPage {
  const from = Math.max(0, Math.min(range.from - margin, view.length));
  const to = Math.max(from, Math.min(range.to + margin, view.length));
  const rows: FeedEvent[] = [];
  const abs: number[] = [];
  for (let i = from; i < to; i++) {
    const e = view.at(i);
    if (e === undefined) break;
    rows.push(e);
    abs.push(view.absAt(i));
  }
  return { length: view.length, end: view.end, from, rows, abs };
}
