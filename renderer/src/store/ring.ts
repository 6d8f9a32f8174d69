// Fixed-capacity rings that number what they hold: the feed keeps its newest N events in one, with no copying
// per event (an array that shifts on every push would copy the whole window 50,000 times a second).
//
// Every item gets an absolute number when pushed (0, 1, 2, ... for the ring's whole life); the ring holds the
// numbers [start, end). Absolute numbers let a filtered index, a frozen (paused) list and the selection point at
// an event without caring where it sits in the buffer, and tell at once whether it has left the window.

/** A ring of references (the events themselves). */
export class Ring<T> {
  readonly capacity: number;
  private readonly slots: (T | undefined)[];
  private first: number;
  private next: number;

  /** `startAt`: the absolute number the first push gets (kept across a resize). */
  constructor(capacity: number, startAt = 0) {
    assertCapacity(capacity);
    this.capacity = capacity;
    this.slots = new Array<T | undefined>(capacity).fill(undefined);
    this.first = startAt;
    this.next = startAt;
  }

  /** Absolute number of the oldest item held. */
  get start(): number { return this.first; }
  /** Absolute number the next push gets. */
  get end(): number { return this.next; }
  get length(): number { return this.next - this.first; }

  /** Adds an item, evicting the oldest when full; returns the item's absolute number. */
  push(item: T): number {
    const abs = this.next;
    this.slots[abs % this.capacity] = item;
    this.next = abs + 1;
    if (this.next - this.first > this.capacity) this.first = this.next - this.capacity;
    return abs;
  }

  /** The item with this absolute number, or undefined when it is not (or no longer) held. */
  at(abs: number): T | undefined {
    if (abs < this.first || abs >= this.next) return undefined;
    return this.slots[abs % this.capacity];
  }

  /** Forgets everything held (and lets it be collected); numbering goes on from `end`. */
  clear(): void {
    this.slots.fill(undefined);
    this.first = this.next;
  }
}

/** A ring of absolute numbers (a filtered index into a Ring), in a Float64Array: 8 bytes an entry, no objects. */
export class NumberRing {
  readonly capacity: number;
  private readonly slots: Float64Array;
  private first = 0;
  private next = 0;

  constructor(capacity: number) {
    assertCapacity(capacity);
    this.capacity = capacity;
    this.slots = new Float64Array(capacity);
  }

  get start(): number { return this.first; }
  get end(): number { return this.next; }
  get length(): number { return this.next - this.first; }

  push(value: number): void {
    this.slots[this.next % this.capacity] = value;
    this.next += 1;
    if (this.next - this.first > this.capacity) this.first = this.next - this.capacity;
  }

  /** The value at position `k` in [start, end); NaN outside. */
  at(k: number): number {
    if (k < this.first || k >= this.next) return Number.NaN;
    return this.slots[k % this.capacity]!;
  }

  /** Drops the oldest entry. */
  shift(): void {
    if (this.next > this.first) this.first += 1;
  }

  clear(): void {
    this.first = this.next;
  }

  /** Position k in [from, to) whose value is `value`, for values ascending with k; -1 when absent. */
  search(value: number, from = this.first, to = this.next): number {
    let lo = Math.max(from, this.first);
    let hi = Math.min(to, this.next) - 1;
    while (lo <= hi) {
      const mid = lo + ((hi - lo) >> 1);
      const v = this.slots[mid % this.capacity]!;
      if (v === value) return mid;
      if (v < value) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }
}

function assertCapacity(capacity: number): void {
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > 10_000_000) {
    throw new RangeError(`A ring needs a whole capacity between 1 and 10,000,000, not ${capacity}.`);
  }
}
