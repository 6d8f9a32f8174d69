// The per-segment index that makes queries fast: for the segment being written, in memory; for each full segment,
// a sealed .idx file read in small pieces, so a query over millions of records touches kilobytes, not the records.
//
// A segment holds 2^16 records, so it is exactly one perfect subtree of the RFC 6962 tree and a record's place in it
// fits in 16 bits. A sealed index file holds, after a JSON header:
//   offsets  u32 × (count+1)  where each frame starts in the .rec file, and its end
//   times    f64 × count      each record's time
//   keys     (u32 key, u32 postings offset, u32 postings count) × n, sorted by key
//   fences   u32 × ⌈n/64⌉     every 64th key, kept in memory to find a key with one small read
//   postings per key: the record positions holding it, u16 each, or a 65,536-bit bitmap past 4,096 of them (the
//            roaring-bitmap rule: whichever is smaller)
//   merkle   the tree's nodes of height 4 to 16 over this segment, 32 bytes each, lowest height first (heights 0-3
//            are rehashed from the 16 records of a block when a proof needs them: 4 bytes a record instead of 64)
// The index is derived data: verification never reads it, and it can be rebuilt from the .rec file.
import { closeSync, fsyncSync, openSync, readSync, renameSync, writeSync } from 'node:fs';
import { HASH_BYTES, nodeHash } from './merkle.ts';
import type { KeyList } from './searchable.ts';

export const SEGMENT_BITS = 16;
export const SEGMENT_RECORDS = 1 << SEGMENT_BITS;
export const STORED_MIN_HEIGHT = 4;
const FENCE_EVERY = 64;
const BITMAP_OVER = 4096;
const BITMAP_BYTES = SEGMENT_RECORDS / 8;
const MAGIC = 0x31584a43; // "CJX1"
/** Slots of the per-record repeat filter: well above the words of any record, so probes stay short. */
const DEDUPE_MASK = 4095;

/** Record positions that hold a key: sorted u16 positions, or a bitmap of 2048 u32 words. */
export type Postings = { ids: ArrayLike<number> } | { bitmap: Uint32Array };

export interface SegmentSummary {
  first: number;
  count: number;
  recBytes: number;
  minTime: number;
  maxTime: number;
  /** Times never decrease with position, so newest-first is position order. */
  monotonic: boolean;
  kinds: number;
  severities: number;
  lastHash: Buffer;
  /** Root of the segment's subtree; set once the segment is full. */
  root?: Buffer;
}

/** The index of the segment being written, updated on every append. */
export class ActiveIndex {
  count = 0;
  readonly times = new Float64Array(SEGMENT_RECORDS);
  readonly offsets = new Uint32Array(SEGMENT_RECORDS + 1);
  // Every (key, position) pair in append order, in two flat columns: appending is two stores, not a Map lookup
  // per key (which dominated append time); sealing sorts them once; a query scans them (a few ms at most).
  private keyCol = new Uint32Array(SEGMENT_RECORDS * 8);
  private posCol = new Uint16Array(SEGMENT_RECORDS * 8);
  private pairs = 0;
  private readonly seen = new Uint32Array(DEDUPE_MASK + 1);
  private readonly stamps = new Uint32Array(DEDUPE_MASK + 1);
  private generation = 0;
  /** levels[h] holds the nodes of height h, 32 bytes each, as they complete. */
  readonly levels: Buffer[] = [];
  minTime = Number.POSITIVE_INFINITY;
  maxTime = Number.NEGATIVE_INFINITY;
  monotonic = true;
  kinds = 0;
  severities = 0;

  constructor(readonly first: number, public lastHash: Buffer) {
    for (let h = 0; h <= SEGMENT_BITS; h++) this.levels.push(Buffer.alloc((SEGMENT_RECORDS >> h) * HASH_BYTES));
  }

  get full(): boolean {
    return this.count === SEGMENT_RECORDS;
  }

  get recBytes(): number {
    return this.offsets[this.count]!;
  }

  add(time: number, start: number, end: number, kind: number, severity: number, keys: KeyList, leaf: Buffer, chain: Buffer): void {
    const pos = this.count;
    this.times[pos] = time;
    this.offsets[pos] = start;
    this.offsets[pos + 1] = end;
    if (time < this.maxTime) this.monotonic = false;
    if (time < this.minTime) this.minTime = time;
    if (time > this.maxTime) this.maxTime = time;
    this.kinds |= 1 << kind;
    this.severities |= 1 << severity;
    // A record repeats words (its agent in its event id, a process name in its command line): drop repeats here,
    // with a tiny generation-stamped hash set, so sealing sorts a third fewer pairs.
    if (++this.generation === 0xffffffff) {
      this.stamps.fill(0);
      this.generation = 1;
    }
    const nKeys = keys.length;
    const list = keys.keys;
    if (this.pairs + nKeys > this.keyCol.length) {
      const size = Math.max(this.keyCol.length * 2, this.pairs + nKeys);
      const k2 = new Uint32Array(size);
      k2.set(this.keyCol);
      this.keyCol = k2;
      const p2 = new Uint16Array(size);
      p2.set(this.posCol);
      this.posCol = p2;
    }
    const gen = this.generation;
    for (let i = 0; i < nKeys; i++) {
      const k = list[i]!;
      let slot = (k ^ (k >>> 9)) & DEDUPE_MASK;
      while (this.stamps[slot] === gen && this.seen[slot] !== k) slot = (slot + 1) & DEDUPE_MASK;
      if (this.stamps[slot] === gen) continue;
      this.stamps[slot] = gen;
      this.seen[slot] = k;
      this.keyCol[this.pairs] = k;
      this.posCol[this.pairs++] = pos;
    }
    this.levels[0]!.set(leaf, pos * HASH_BYTES);
    let p = pos;
    let h = 0;
    while (p & 1) {
      const level = this.levels[h]!;
      const parent = nodeHash(level.subarray((p - 1) * HASH_BYTES, p * HASH_BYTES), level.subarray(p * HASH_BYTES, (p + 1) * HASH_BYTES));
      p >>= 1;
      h++;
      this.levels[h]!.set(parent, p * HASH_BYTES);
    }
    this.lastHash = chain;
    this.count++;
  }

  /** A complete node of this segment's subtree, by height and index within the segment. */
  node(height: number, index: number): Buffer {
    if ((index + 1) << height > this.count) throw new RangeError(`Node ${height}/${index} is not complete yet.`);
    return Buffer.from(this.levels[height]!.subarray(index * HASH_BYTES, (index + 1) * HASH_BYTES));
  }

  lookup(key: number): Postings | undefined {
    const keys = this.keyCol;
    const ids: number[] = [];
    for (let i = 0; i < this.pairs; i++) {
      if (keys[i] === key) {
        const p = this.posCol[i]!;
        if (ids[ids.length - 1] !== p) ids.push(p);
      }
    }
    return ids.length === 0 ? undefined : { ids };
  }

  /** The postings of every key, keys ascending, positions ascending and unique: a radix sort of the pairs. */
  private sortedPostings(): { keys: number[]; lists: Uint16Array[] } {
    const n = this.pairs;
    // Two stable passes over 16-bit digits, moving the pairs themselves (sequential reads, no indirection); pairs
    // were appended in position order, so positions stay ascending within a key.
    let k1 = this.keyCol.subarray(0, n);
    let p1 = this.posCol.subarray(0, n);
    let k2 = new Uint32Array(n);
    let p2 = new Uint16Array(n);
    const counts = new Uint32Array(65537);
    for (const shift of [0, 16]) {
      counts.fill(0);
      for (let i = 0; i < n; i++) counts[((k1[i]! >>> shift) & 0xffff) + 1]!++;
      for (let b = 0; b < 65536; b++) counts[b + 1]! += counts[b]!;
      for (let i = 0; i < n; i++) {
        const k = k1[i]!;
        const at = counts[(k >>> shift) & 0xffff]!++;
        k2[at] = k;
        p2[at] = p1[i]!;
      }
      [k1, k2] = [k2, k1];
      [p1, p2] = [p2, p1];
    }
    const keys: number[] = [];
    const lists: Uint16Array[] = [];
    let i = 0;
    while (i < n) {
      const k = k1[i]!;
      let j = i;
      while (j < n && k1[j] === k) j++;
      // Duplicates (a word twice in one record) sit next to each other: drop them.
      let c = 0;
      const list = new Uint16Array(j - i);
      for (let x = i; x < j; x++) if (c === 0 || list[c - 1] !== p1[x]) list[c++] = p1[x]!;
      keys.push(k);
      lists.push(c === list.length ? list : list.slice(0, c));
      i = j;
    }
    return { keys, lists };
  }

  summary(): SegmentSummary {
    return {
      first: this.first, count: this.count, recBytes: this.recBytes, minTime: this.minTime, maxTime: this.maxTime,
      monotonic: this.monotonic, kinds: this.kinds, severities: this.severities, lastHash: this.lastHash,
      ...(this.full ? { root: this.node(SEGMENT_BITS, 0) } : {}),
    };
  }

  /** Writes the sealed index of this (full) segment to `path`, durably (temp file, fsync, rename). */
  seal(path: string): void {
    if (!this.full) throw new RangeError('Only a full segment is sealed.');
    const { keys, lists } = this.sortedPostings();
    const n = keys.length;
    let postingBytes = 0;
    for (const l of lists) postingBytes += l.length > BITMAP_OVER ? BITMAP_BYTES : 2 * l.length;
    const merkleNodes = (SEGMENT_RECORDS >> STORED_MIN_HEIGHT) * 2 - 1;
    const sections: Record<string, [number, number]> = {};
    const sizes: [string, number][] = [
      ['offsets', 4 * (SEGMENT_RECORDS + 1)], ['times', 8 * SEGMENT_RECORDS], ['keys', 12 * n],
      ['fences', 4 * Math.ceil(n / FENCE_EVERY)], ['postings', postingBytes], ['merkle', merkleNodes * HASH_BYTES],
    ];
    const s = this.summary();
    const headerOf = () => Buffer.from(JSON.stringify({
      v: 1, first: s.first, count: s.count, recBytes: s.recBytes, minTime: s.minTime, maxTime: s.maxTime, monotonic: s.monotonic,
      kinds: s.kinds, severities: s.severities, lastHash: s.lastHash.toString('hex'), root: s.root!.toString('hex'), keyCount: n, sections,
    }));
    // Two passes: section offsets depend on the header's length, which depends on the offsets' digits.
    let header = headerOf();
    for (let pass = 0; pass < 2; pass++) {
      let at = align8(8 + header.length + 16);
      for (const [name, size] of sizes) {
        sections[name] = [at, size];
        at = align8(at + size);
      }
      header = headerOf();
    }
    const total = sections.merkle![0] + sections.merkle![1];
    const out = Buffer.alloc(total);
    out.writeUInt32LE(MAGIC, 0);
    out.writeUInt32LE(header.length, 4);
    header.copy(out, 8);
    const view = (name: string) => sections[name]![0];
    Buffer.from(this.offsets.buffer, this.offsets.byteOffset, this.offsets.byteLength).copy(out, view('offsets'));
    Buffer.from(this.times.buffer, this.times.byteOffset, this.times.byteLength).copy(out, view('times'));
    // Little-endian typed views (x86 and ARM are little-endian; the format says little-endian).
    const keyView = new Uint32Array(out.buffer, out.byteOffset + view('keys'), 3 * n);
    const fenceView = new Uint32Array(out.buffer, out.byteOffset + view('fences'), Math.ceil(n / FENCE_EVERY));
    const postingsBase = view('postings');
    let pAt = 0;
    for (let i = 0; i < n; i++) {
      const k = keys[i]!;
      const ids = lists[i]!;
      keyView[3 * i] = k;
      keyView[3 * i + 1] = pAt;
      keyView[3 * i + 2] = ids.length;
      if (i % FENCE_EVERY === 0) fenceView[i / FENCE_EVERY] = k;
      const base = postingsBase + pAt;
      if (ids.length > BITMAP_OVER) {
        for (const id of ids) out[base + (id >> 3)]! |= 1 << (id & 7);
        pAt += BITMAP_BYTES;
      } else {
        new Uint16Array(out.buffer, out.byteOffset + base, ids.length).set(ids);
        pAt += 2 * ids.length;
      }
    }
    let mAt = view('merkle');
    for (let h = STORED_MIN_HEIGHT; h <= SEGMENT_BITS; h++) {
      const level = this.levels[h]!;
      level.copy(out, mAt, 0, (SEGMENT_RECORDS >> h) * HASH_BYTES);
      mAt += (SEGMENT_RECORDS >> h) * HASH_BYTES;
    }
    const tmp = `${path}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      for (let off = 0; off < out.length;) off += writeSync(fd, out, off, out.length - off, off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  }
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

/** A few open files at a time: a journal of a thousand segments must not hold two thousand descriptors. */
export class FileHandles {
  private readonly open = new Map<string, number>();
  constructor(private readonly max = 64) {}

  fd(path: string): number {
    let fd = this.open.get(path);
    if (fd !== undefined) {
      this.open.delete(path);
      this.open.set(path, fd);
      return fd;
    }
    fd = openSync(path, 'r');
    this.open.set(path, fd);
    if (this.open.size > this.max) {
      const [oldest, ofd] = this.open.entries().next().value as [string, number];
      this.open.delete(oldest);
      closeSync(ofd);
    }
    return fd;
  }

  read(path: string, position: number, length: number): Buffer {
    // Unpooled, so typed-array views over it start at offset 0 and are aligned.
    const buf = Buffer.allocUnsafeSlow(length);
    const fd = this.fd(path);
    let got = 0;
    while (got < length) {
      const n = readSync(fd, buf, got, length - got, position + got);
      if (n === 0) throw new RangeError(`${path} ends before byte ${position + length}.`);
      got += n;
    }
    return buf;
  }

  forget(path: string): void {
    const fd = this.open.get(path);
    if (fd !== undefined) {
      this.open.delete(path);
      closeSync(fd);
    }
  }

  closeAll(): void {
    for (const fd of this.open.values()) closeSync(fd);
    this.open.clear();
  }
}

/** A small least-recently-used cache of decoded columns, shared by every sealed segment. */
export class ColumnCache {
  private readonly entries = new Map<string, Float64Array | Uint32Array>();
  constructor(private readonly max = 48) {}

  get<T extends Float64Array | Uint32Array>(key: string, load: () => T): T {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit as T;
    }
    const v = load();
    this.entries.set(key, v);
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
    return v;
  }
}

interface SealedHeader {
  v: number;
  first: number;
  count: number;
  recBytes: number;
  minTime: number;
  maxTime: number;
  monotonic: boolean;
  kinds: number;
  severities: number;
  lastHash: string;
  root: string;
  keyCount: number;
  sections: Record<'offsets' | 'times' | 'keys' | 'fences' | 'postings' | 'merkle', [number, number]>;
}

/** A full segment: its summary and fences in memory, everything else read when a query or a proof needs it. */
export class SealedSegment {
  private constructor(
    readonly idxPath: string,
    readonly recPath: string,
    private readonly header: SealedHeader,
    private readonly fences: Uint32Array,
    readonly summary: SegmentSummary,
    private readonly files: FileHandles,
    private readonly columns: ColumnCache,
  ) {}

  /** Reads the header and fences; throws a RangeError describing what is wrong with the file. */
  static load(idxPath: string, recPath: string, files: FileHandles, columns: ColumnCache): SealedSegment {
    const head = files.read(idxPath, 0, 8);
    if (head.readUInt32LE(0) !== MAGIC) throw new RangeError(`${idxPath} is not a segment index.`);
    const header = JSON.parse(files.read(idxPath, 8, head.readUInt32LE(4)).toString('utf8')) as SealedHeader;
    if (header.v !== 1 || header.count !== SEGMENT_RECORDS) throw new RangeError(`${idxPath} is not a version-1 index of a full segment.`);
    const [fAt, fLen] = header.sections.fences;
    const raw = files.read(idxPath, fAt, fLen);
    const fences = new Uint32Array(raw.buffer, raw.byteOffset, fLen / 4);
    const summary: SegmentSummary = {
      first: header.first, count: header.count, recBytes: header.recBytes, minTime: header.minTime, maxTime: header.maxTime,
      monotonic: header.monotonic, kinds: header.kinds, severities: header.severities,
      lastHash: Buffer.from(header.lastHash, 'hex'), root: Buffer.from(header.root, 'hex'),
    };
    return new SealedSegment(idxPath, recPath, header, fences, summary, files, columns);
  }

  lookup(key: number): Postings | undefined {
    const f = this.fences;
    let lo = 0;
    let hi = f.length - 1;
    if (hi < 0 || key < f[0]!) return undefined;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (f[mid]! <= key) lo = mid;
      else hi = mid - 1;
    }
    const from = lo * FENCE_EVERY;
    const n = Math.min(FENCE_EVERY, this.header.keyCount - from);
    const block = this.files.read(this.idxPath, this.header.sections.keys[0] + from * 12, n * 12);
    let a = 0;
    let b = n - 1;
    while (a <= b) {
      const m = (a + b) >> 1;
      const k = block.readUInt32LE(m * 12);
      if (k === key) {
        const off = block.readUInt32LE(m * 12 + 4);
        const count = block.readUInt32LE(m * 12 + 8);
        const at = this.header.sections.postings[0] + off;
        if (count > BITMAP_OVER) {
          const raw = this.files.read(this.idxPath, at, BITMAP_BYTES);
          return { bitmap: new Uint32Array(raw.buffer, raw.byteOffset, BITMAP_BYTES / 4) };
        }
        const raw = this.files.read(this.idxPath, at, 2 * count);
        return { ids: new Uint16Array(raw.buffer, raw.byteOffset, count) };
      }
      if (k < key) a = m + 1;
      else b = m - 1;
    }
    return undefined;
  }

  times(): Float64Array {
    return this.columns.get(`${this.idxPath}#t`, () => {
      const [at, len] = this.header.sections.times;
      const raw = this.files.read(this.idxPath, at, len);
      return new Float64Array(raw.buffer, raw.byteOffset, len / 8);
    });
  }

  offsets(): Uint32Array {
    return this.columns.get(`${this.idxPath}#o`, () => {
      const [at, len] = this.header.sections.offsets;
      const raw = this.files.read(this.idxPath, at, len);
      return new Uint32Array(raw.buffer, raw.byteOffset, len / 4);
    });
  }

  /** A stored node, height 4 to 16, by its index within the segment. */
  node(height: number, index: number): Buffer {
    if (height < STORED_MIN_HEIGHT || height > SEGMENT_BITS) throw new RangeError(`Height ${height} is not stored.`);
    let at = this.header.sections.merkle[0];
    for (let h = STORED_MIN_HEIGHT; h < height; h++) at += (SEGMENT_RECORDS >> h) * HASH_BYTES;
    return this.files.read(this.idxPath, at + index * HASH_BYTES, HASH_BYTES);
  }
}
