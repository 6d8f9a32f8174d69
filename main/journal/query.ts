// Queries over the journal: filters by time range, agent, VM, kind, actor, severity and free text, answered newest
// first in bounded pages, from the segment indexes; every candidate is checked against the record itself.
//
// Order is by record time, newest first, then by index: an imported record keeps its own device's time, so index
// order would show last week's field records above this minute's events. Segments are visited by their newest
// time and merged (a k-way merge over per-segment candidate lists), so a page that the newest segments fill never
// opens the older ones.
import type { Severity } from '../../protocol/index.ts';
import { JournalError } from './errors.ts';
import { decodeRecord, JOURNAL_KINDS, kindCode, SEVERITIES, severityCode, type JournalKind, type JournalRecord, type StoredRecord } from './record.ts';
import { KEY_ACTOR, KEY_AGENT, KEY_KIND, KEY_SEVERITY, KEY_VM, KEY_WORD, keyHash, matchesText, parseTextQuery, type TextQuery } from './searchable.ts';
import type { Postings, SegmentSummary } from './segment-index.ts';

export interface JournalQuery {
  /** Inclusive, milliseconds since the epoch or an ISO time. */
  from?: number | string;
  /** Exclusive. */
  to?: number | string;
  agentId?: string | readonly string[];
  vmId?: string | readonly string[];
  kind?: JournalKind | readonly JournalKind[];
  /** Actor name. */
  actor?: string | readonly string[];
  severity?: Severity | readonly Severity[];
  /** This severity or worse. */
  minSeverity?: Severity;
  /** Words (all must appear) and "quoted phrases". */
  text?: string;
  /** Records per page: 100 unless said, at most 1,000. */
  limit?: number;
  /** Continue after this record (the `next` of the previous page). */
  before?: QueryCursor;
}

export interface QueryCursor {
  time: number;
  index: number;
}

export interface QueryPage {
  /** Newest first. */
  records: StoredRecord[];
  /** Present when more records may match: pass it as `before` for the next page. */
  next?: QueryCursor;
  /** Records read and checked to answer. */
  examined: number;
  /** False when the page stopped at the reading budget, not at the end or the limit: ask again with `next`. */
  complete: boolean;
}

export const MAX_PAGE = 1000;
/** Records read and checked in one call at most: keeps one page of a pathological query within ~50 ms. */
export const EXAMINE_BUDGET = 5000;

/** What a query needs of a segment, sealed or being written. */
export interface QuerySegment {
  summary: SegmentSummary;
  lookup(key: number): Postings | undefined;
  times(): Float64Array;
  read(position: number): { bytes: Buffer; hash: Buffer };
}

interface Compiled {
  from: number;
  to: number;
  before?: QueryCursor;
  limit: number;
  kinds?: Set<string>;
  kindMask: number;
  severities?: Set<string>;
  severityMask: number;
  agents?: Set<string>;
  vms?: Set<string>;
  actors?: Set<string>;
  text?: TextQuery;
  /** Each group is a set of keys of which a record must hold one; a record must satisfy every group. */
  groups: number[][];
}

function list<T extends string>(v: T | readonly T[] | undefined, what: string): T[] | undefined {
  if (v === undefined) return undefined;
  const arr = (Array.isArray(v) ? v : [v]) as T[];
  if (arr.length === 0 || arr.some((x) => typeof x !== 'string' || x.length === 0)) throw new JournalError('bad_query', `The ${what} filter is a non-empty string or list of strings.`);
  return arr;
}

function timeOf(v: number | string | undefined, fallback: number, what: string): number {
  if (v === undefined) return fallback;
  const t = typeof v === 'number' ? v : Date.parse(v);
  if (!Number.isFinite(t)) throw new JournalError('bad_query', `The ${what} time "${String(v)}" is neither milliseconds nor an ISO time.`);
  return t;
}

export function compileQuery(q: JournalQuery): Compiled {
  const limit = q.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw new JournalError('bad_query', `A page holds 1 to ${MAX_PAGE} records, not ${String(q.limit)}.`);
  const c: Compiled = {
    from: timeOf(q.from, Number.NEGATIVE_INFINITY, 'from'), to: timeOf(q.to, Number.POSITIVE_INFINITY, 'to'),
    limit, kindMask: ~0, severityMask: ~0, groups: [],
  };
  if (q.before) {
    if (!Number.isFinite(q.before.time) || !Number.isSafeInteger(q.before.index)) throw new JournalError('bad_query', 'The page cursor is {time, index} from a previous page.');
    c.before = q.before;
  }
  const kinds = list(q.kind, 'kind');
  if (kinds) {
    for (const k of kinds) if (!JOURNAL_KINDS.includes(k)) throw new JournalError('bad_query', `"${k}" is not a journal kind (${JOURNAL_KINDS.join(', ')}).`);
    c.kinds = new Set(kinds);
    c.kindMask = kinds.reduce((m, k) => m | (1 << kindCode(k)), 0);
    c.groups.push(kinds.map((k) => keyHash(KEY_KIND, k)));
  }
  let severities = list(q.severity, 'severity');
  for (const s of severities ?? []) if (!SEVERITIES.includes(s)) throw new JournalError('bad_query', `"${s}" is not a severity (${SEVERITIES.join(', ')}).`);
  if (q.minSeverity !== undefined) {
    const at = SEVERITIES.indexOf(q.minSeverity);
    if (at < 0) throw new JournalError('bad_query', `"${q.minSeverity}" is not a severity (${SEVERITIES.join(', ')}).`);
    const worse: Severity[] = SEVERITIES.slice(at);
    severities = severities ? severities.filter((s) => worse.includes(s)) : worse;
  }
  if (severities) {
    // An empty list (severity "low" with minSeverity "high") matches nothing: mask 0 prunes every segment.
    c.severities = new Set(severities);
    c.severityMask = severities.reduce((m, s) => m | (1 << severityCode(s)), 0);
    c.groups.push(severities.map((s) => keyHash(KEY_SEVERITY, s)));
  }
  const agents = list(q.agentId, 'agent');
  if (agents) {
    c.agents = new Set(agents);
    c.groups.push(agents.map((a) => keyHash(KEY_AGENT, a)));
  }
  const vms = list(q.vmId, 'VM');
  if (vms) {
    c.vms = new Set(vms);
    c.groups.push(vms.map((v) => keyHash(KEY_VM, v)));
  }
  const actors = list(q.actor, 'actor');
  if (actors) {
    c.actors = new Set(actors);
    c.groups.push(actors.map((a) => keyHash(KEY_ACTOR, a)));
  }
  if (q.text !== undefined) {
    if (typeof q.text !== 'string') throw new JournalError('bad_query', 'The text filter is a string.');
    const text = parseTextQuery(q.text);
    if (text.words.length > 0 || text.phrases.length > 0) c.text = text;
    for (const w of text.words) c.groups.push([keyHash(KEY_WORD, w)]);
  }
  return c;
}

/** Whether a record satisfies the query (the last word on every candidate the indexes propose). */
export function matches(rec: JournalRecord, c: Compiled): boolean {
  if (rec.time < c.from || rec.time >= c.to) return false;
  if (c.kinds && !c.kinds.has(rec.kind)) return false;
  if (c.severities && (rec.severity === undefined || !c.severities.has(rec.severity))) return false;
  if (c.agents && (rec.agentId === undefined || !c.agents.has(rec.agentId))) return false;
  if (c.vms && (rec.vmId === undefined || !c.vms.has(rec.vmId))) return false;
  if (c.actors && (rec.actor === undefined || !c.actors.has(rec.actor.name))) return false;
  if (c.text && !matchesText(rec, c.text)) return false;
  return true;
}

const BITMAP_WORDS = 2048;

function orInto(bits: Uint32Array, p: Postings): void {
  if ('bitmap' in p) {
    for (let i = 0; i < BITMAP_WORDS; i++) bits[i]! |= p.bitmap[i]!;
  } else {
    const ids = p.ids;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      bits[id >>> 5]! |= 1 << (id & 31);
    }
  }
}

/** The positions of a segment that may match, in output order (time, then position, descending); undefined if none. */
function candidates(seg: QuerySegment, c: Compiled): { positions: Int32Array; times: Float64Array } | undefined {
  const s = seg.summary;
  if (s.count === 0 || s.maxTime < c.from || s.minTime >= c.to) return undefined;
  if ((s.kinds & c.kindMask) === 0 || (s.severities & c.severityMask) === 0) return undefined;
  if (c.before && s.minTime > c.before.time) return undefined;
  let bits: Uint32Array | undefined;
  for (const group of c.groups) {
    const g = new Uint32Array(BITMAP_WORDS);
    let any = false;
    for (const key of group) {
      const p = seg.lookup(key);
      if (p) {
        orInto(g, p);
        any = true;
      }
    }
    if (!any) return undefined;
    if (bits) {
      let nonzero = 0;
      for (let i = 0; i < BITMAP_WORDS; i++) nonzero |= bits[i]! &= g[i]!;
      if (nonzero === 0) return undefined;
    } else bits = g;
  }
  const times = seg.times();
  const before = c.before;
  const keep = (pos: number): boolean => {
    const t = times[pos]!;
    if (t < c.from || t >= c.to) return false;
    return !(before && (t > before.time || (t === before.time && s.first + pos >= before.index)));
  };
  let positions: Int32Array;
  if (bits) {
    // Only the set bits, highest first: a selective filter touches a few words, not 65,536 positions.
    const found: number[] = [];
    for (let w = BITMAP_WORDS - 1; w >= 0; w--) {
      let word = bits[w]!;
      while (word !== 0) {
        const b = 31 - Math.clz32(word);
        word &= ~(1 << b);
        const pos = (w << 5) | b;
        if (pos < s.count && keep(pos)) found.push(pos);
      }
    }
    positions = Int32Array.from(found);
  } else {
    const out = new Int32Array(s.count);
    let n = 0;
    for (let pos = s.count - 1; pos >= 0; pos--) if (keep(pos)) out[n++] = pos;
    positions = out.subarray(0, n);
  }
  if (positions.length === 0) return undefined;
  if (!s.monotonic) positions.sort((a, b) => times[b]! - times[a]! || b - a);
  return { positions, times };
}

interface Cursor {
  seg: QuerySegment;
  positions: Int32Array;
  times: Float64Array;
  at: number;
}

function headTime(c: Cursor): number {
  return c.times[c.positions[c.at]!]!;
}

function newer(a: Cursor, b: Cursor): boolean {
  const ta = headTime(a);
  const tb = headTime(b);
  return ta > tb || (ta === tb && a.seg.summary.first + a.positions[a.at]! > b.seg.summary.first + b.positions[b.at]!);
}

/** A binary max-heap of segment cursors by their head record. */
class CursorHeap {
  private readonly items: Cursor[] = [];
  get size(): number {
    return this.items.length;
  }
  peek(): Cursor | undefined {
    return this.items[0];
  }
  push(c: Cursor): void {
    const a = this.items;
    a.push(c);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!newer(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): Cursor | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && newer(a[l]!, a[m]!)) m = l;
        if (r < a.length && newer(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

/** One page of a query over the given segments (any order). */
export function runQuery(segments: readonly QuerySegment[], query: JournalQuery): QueryPage {
  const c = compileQuery(query);
  const order = segments.filter((s) => s.summary.count > 0).sort((a, b) => b.summary.maxTime - a.summary.maxTime);
  const heap = new CursorHeap();
  const records: StoredRecord[] = [];
  let nextSeg = 0;
  let examined = 0;
  let last: QueryCursor | undefined;
  const cap = (s: SegmentSummary) => Math.min(s.maxTime, c.before?.time ?? Number.POSITIVE_INFINITY);
  for (;;) {
    // Open every segment that could hold something newer than the best candidate so far.
    while (nextSeg < order.length && (heap.size === 0 || cap(order[nextSeg]!.summary) >= headTime(heap.peek()!))) {
      const seg = order[nextSeg++]!;
      const found = candidates(seg, c);
      if (found) heap.push({ seg, ...found, at: 0 });
    }
    const top = heap.pop();
    if (!top) return { records, examined, complete: true };
    const pos = top.positions[top.at]!;
    const time = top.times[pos]!;
    top.at++;
    if (top.at < top.positions.length) heap.push(top);
    const { bytes, hash } = top.seg.read(pos);
    const rec = decodeRecord(bytes);
    examined++;
    last = { time, index: top.seg.summary.first + pos };
    if (matches(rec, c)) {
      records.push({ record: rec, hash: hash.toString('hex') });
      if (records.length === c.limit) {
        const more = heap.size > 0 || nextSeg < order.length;
        return { records, examined, complete: true, ...(more ? { next: last } : {}) };
      }
    }
    if (examined >= EXAMINE_BUDGET) return { records, examined, complete: false, next: last };
  }
}

/** Every matching record in index order, for exports: no time ordering, no page limit. */
export function* scanMatches(segments: readonly QuerySegment[], query: Omit<JournalQuery, 'limit' | 'before'>): Generator<{ record: JournalRecord; bytes: Buffer; hash: Buffer }> {
  const c = compileQuery({ ...query, limit: 1 });
  for (const seg of [...segments].sort((a, b) => a.summary.first - b.summary.first)) {
    const found = candidates(seg, c);
    if (!found) continue;
    const positions = Int32Array.from(found.positions).sort();
    for (const pos of positions) {
      const { bytes, hash } = seg.read(pos);
      const record = decodeRecord(bytes);
      if (matches(record, c)) yield { record, bytes, hash };
    }
  }
}
