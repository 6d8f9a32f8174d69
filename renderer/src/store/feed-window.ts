// The live threat feed as a bounded window: the newest N events in a ring, an index of those that pass the
// filter, and, while the responder has paused, a frozen copy of what was on screen so the list does not move.
// Appending is O(1) per event; a filter change rescans the window once; pausing copies it once.
import type { FeedEvent } from '../../../protocol/index.ts';
import { NumberRing, Ring } from './ring.ts';
import type { FeedPredicate } from './filter.ts';

/** What the list draws: display position 0 is the newest event. Absolute numbers identify an event for as long
 *  as it stays in the window (selection, keyboard movement). */
export interface FeedView {
  readonly length: number;
  /** One past the newest absolute number this list was drawn from: a pause asked for while looking at it freezes
   *  the list as of here, so the rows stay where the responder saw them (see FeedWindow.pause). */
  readonly end: number;
  at(index: number): FeedEvent | undefined;
  /** The absolute number of the event at a display position, or -1. */
  absAt(index: number): number;
  /** The display position of the event with this absolute number, or -1 when it is not in this view. */
  indexOfAbs(abs: number): number;
}

export const EMPTY_VIEW: FeedView = Object.freeze({
  length: 0,
  end: 0,
  at: () => undefined,
  absAt: () => -1,
  indexOfAbs: () => -1,
});

interface Frozen {
  /** Newest first. */
  events: FeedEvent[];
  /** Their absolute numbers, descending. */
  abs: Float64Array;
  /** The one view of it, so a paused list keeps its identity and React has nothing to redraw. */
  view: FeedView;
}

export class FeedWindow {
  private ring: Ring<FeedEvent>;
  private matches: NumberRing | null = null;
  private predicate: FeedPredicate | null = null;
  private frozen: Frozen | null = null;
  /** Events that arrived (and pass the filter) since the list was frozen. */
  private newSinceFreeze = 0;

  constructor(capacity: number) {
    this.ring = new Ring<FeedEvent>(capacity);
  }

  get capacity(): number { return this.ring.capacity; }
  /** Events held, filter or not. */
  get length(): number { return this.ring.length; }
  get paused(): boolean { return this.frozen !== null; }
  get newWhilePaused(): number { return this.newSinceFreeze; }
  get filtered(): boolean { return this.predicate !== null; }

  /** Adds the newest event; returns its absolute number. Call `trim()` once after a batch. */
  append(e: FeedEvent): number {
    const abs = this.ring.push(e);
    if (this.predicate === null) {
      if (this.frozen !== null) this.newSinceFreeze += 1;
    } else if (this.predicate(e)) {
      this.matches!.push(abs);
      if (this.frozen !== null) this.newSinceFreeze += 1;
    }
    return abs;
  }

  /** Drops index entries for events that have left the window (amortised O(1) per event). */
  trim(): void {
    const m = this.matches;
    if (m === null) return;
    const oldest = this.ring.start;
    while (m.length > 0 && m.at(m.start) < oldest) m.shift();
  }

  /** The event with this absolute number, if still held. */
  get(abs: number): FeedEvent | undefined {
    return this.ring.at(abs);
  }

  /** Every event held, filter or not, newest first. */
  *newestFirst(): Generator<FeedEvent> {
    const ring = this.ring;
    for (let abs = ring.end - 1; abs >= ring.start; abs--) yield ring.at(abs)!;
  }

  /** Sets the filter: one scan of the window. A paused list is re-frozen under the new filter (the responder
   *  asked for a different list, so it may change once). */
  setPredicate(predicate: FeedPredicate | null): void {
    this.predicate = predicate;
    if (predicate === null) {
      this.matches = null;
    } else {
      const m = new NumberRing(this.ring.capacity);
      const ring = this.ring;
      for (let abs = ring.start; abs < ring.end; abs++) {
        if (predicate(ring.at(abs)!)) m.push(abs);
      }
      this.matches = m;
    }
    if (this.frozen !== null) this.freeze(Number.POSITIVE_INFINITY);
  }

  /** Freezes the list as it is now, or as it was when it ended at absolute number `asOf` (the list the responder
   *  was looking at, which may be a frame older than the window); new events still enter the window and are
   *  counted, those after `asOf` included. */
  pause(asOf = Number.POSITIVE_INFINITY): void {
    if (this.frozen === null) this.freeze(asOf);
  }

  resume(): void {
    this.frozen = null;
    this.newSinceFreeze = 0;
  }

  /** Changes the capacity, keeping the newest events (and their absolute numbers). */
  resize(capacity: number): void {
    if (capacity === this.ring.capacity) return;
    const old = this.ring;
    const keep = Math.min(old.length, capacity);
    const next = new Ring<FeedEvent>(capacity, old.end - keep);
    for (let abs = old.end - keep; abs < old.end; abs++) next.push(old.at(abs)!);
    this.ring = next;
    this.setPredicate(this.predicate);
  }

  /** The list to draw now: frozen while paused, otherwise live (filtered or not). */
  view(): FeedView {
    if (this.frozen !== null) return this.frozen.view;
    if (this.matches !== null) return filteredView(this.ring, this.matches);
    return liveView(this.ring);
  }

  private freeze(asOf: number): void {
    const live = this.matches !== null ? filteredView(this.ring, this.matches) : liveView(this.ring);
    const end = Math.min(asOf, live.end);
    // Display position 0 is the newest: skip what arrived after `asOf`; it counts as new since the pause.
    let skip = 0;
    while (skip < live.length && live.absAt(skip) >= end) skip += 1;
    const n = live.length - skip;
    const events = new Array<FeedEvent>(n);
    const abs = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      events[i] = live.at(i + skip)!;
      abs[i] = live.absAt(i + skip);
    }
    this.frozen = { events, abs, view: frozenView(events, abs, end) };
    this.newSinceFreeze = skip;
  }
}

// The views capture the ring's bounds when made, so a view handed to React stays consistent until the next
// frame publishes a new one.
function liveView(ring: Ring<FeedEvent>): FeedView {
  const start = ring.start;
  const end = ring.end;
  const length = end - start;
  return {
    length,
    end,
    at: (i) => (i >= 0 && i < length ? ring.at(end - 1 - i) : undefined),
    absAt: (i) => (i >= 0 && i < length ? end - 1 - i : -1),
    indexOfAbs: (abs) => (abs >= start && abs < end ? end - 1 - abs : -1),
  };
}

function filteredView(ring: Ring<FeedEvent>, matches: NumberRing): FeedView {
  const oldest = ring.start;
  let mStart = matches.start;
  const mEnd = matches.end;
  while (mStart < mEnd && matches.at(mStart) < oldest) mStart += 1;
  const length = mEnd - mStart;
  const end = ring.end;
  const absAt = (i: number): number => {
    if (!(i >= 0 && i < length)) return -1;
    const abs = matches.at(mEnd - 1 - i);
    return Number.isNaN(abs) ? -1 : abs; // NaN: the index moved on since this view was made
  };
  return {
    length,
    end,
    at: (i) => {
      const abs = absAt(i);
      return abs < 0 ? undefined : ring.at(abs);
    },
    absAt,
    indexOfAbs: (abs) => {
      const k = matches.search(abs, mStart, mEnd);
      return k < 0 ? -1 : mEnd - 1 - k;
    },
  };
}

function frozenView(events: FeedEvent[], absolute: Float64Array, end: number): FeedView {
  const length = events.length;
  return {
    length,
    end,
    at: (i) => (i >= 0 && i < length ? events[i] : undefined),
    absAt: (i) => (i >= 0 && i < length ? absolute[i]! : -1),
    indexOfAbs: (abs) => {
      let lo = 0;
      let hi = length - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        const v = absolute[mid]!;
        if (v === abs) return mid;
        if (v > abs) lo = mid + 1;
        else hi = mid - 1;
      }
      return -1;
    },
  };
}
