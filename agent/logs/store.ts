// The agent's log store: every log line its sources collect (QEMU's log, guests' serial consoles, the host's syslog
// and journal, the agent's own notes), numbered, kept on disk within a byte and an age budget, and searched by VM,
// source, time range and text, newest first, one page at a time.
//
// On disk: one folder, segment files `segment-<first seq, 16 digits>.jsonl` of about 4 MiB, one LogRecord per line as
// the wire carries it, keys in a fixed order (seq, time, source, vmId first) so that a query reads those four from
// the start of a line without parsing it. Each sealed segment has a summary beside it (`.summary.json`: its seqs, its
// oldest and newest `time`, the sources, VMs and severities in it, and a 64 KiB Bloom filter of the lower-cased
// three-character runs of its searchable text): the per-segment index a query uses to skip whole segments outside its
// time range, without its VM, source or severity, or that cannot hold its text. A page is answered by reading the remaining segments newest
// first, and inside one, lines from the end; text is looked for in the whole segment at once (one case-insensitive
// search) and only the lines it hits are parsed. `npm run bench:logs` measures it on a million records.
//
// Durability: appends are gathered for up to 50 ms (a flooding serial console costs one write per batch, not per
// line) and written to the page cache, which survives `kill -9`; the active segment is fsynced when it is sealed and
// on close. A crash can lose the last 50 ms of lines, and can leave a torn last line, cut off on the next open.
// Retention deletes whole oldest segments when the store is over its bytes or they are older than its age, and says
// so (agent log and stderr); `oldestTime` tells a cockpit where the store now begins.
import {
  close, closeSync, fsync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, fstatSync, ftruncateSync, renameSync,
  statSync, unlinkSync, writeFileSync, writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { checkLogRecord, type LogRecord, type LogSource } from '../../protocol/index.ts';
import { AgentError, systemCode } from '../errors.ts';

export const LOG_SOURCES: readonly LogSource[] = ['hypervisor', 'serial', 'syslog', 'journal', 'agent'];

/** What a source hands the store: a LogRecord without its seq and agent id, times as text or milliseconds. */
export interface LogEntry {
  source: LogSource;
  message: string;
  /** When the line was written, as its source says; now when absent or not believable. */
  time?: string | number;
  vmId?: string;
  severity?: number;
  facility?: number;
  host?: string;
  app?: string;
  procid?: string;
  msgid?: string;
  structuredData?: string;
  origin?: string;
}

export interface LogQuery {
  vmId?: string;
  sources?: readonly LogSource[];
  /** Milliseconds since the epoch, inclusive. */
  from?: number;
  to?: number;
  text?: string;
  severityAtMost?: number;
  limit: number;
  /** Only records with a seq below this (a page's `next`). */
  before?: number;
}

export interface LogPage {
  records: LogRecord[];
  /** Older records may match too; continue with `before: next`. */
  truncated: boolean;
  next?: number;
  scanned: number;
  /** The time of the oldest record still kept, if any. */
  oldestTime?: string;
}

export interface LogStoreOptions {
  dir: string;
  agentId: string;
  /** Total bytes kept (default 512 MiB); whole oldest segments go beyond it. */
  maxBytes?: number;
  /** Records older than this go, a segment at a time (default 30 days). */
  maxAgeMs?: number;
  /** Bytes per segment (default 4 MiB). */
  segmentBytes?: number;
  /** How long appends wait to share a write (default 50 ms; 0 writes at once). */
  flushMs?: number;
  /** A query stops after examining this many bytes and says it is truncated (default 256 MiB). */
  scanBytes?: number;
  /** ...or after this long (default 150 ms: a query runs on the agent's event loop, beside the event streams). */
  scanMs?: number;
  /** An answer carries at most this many bytes of records (default 4 MiB, well inside a 16 MiB frame). */
  answerBytes?: number;
  /** Where the store says what it repaired or dropped (the agent's stderr). */
  note: (line: string) => void;
  now?: () => number;
}

/** A line's parts the index knows without parsing it. */
interface Segment {
  start: number;
  path: string;
  bytes: number;
  count: number;
  last: number;
  minTime: number;
  maxTime: number;
  /** Bit i: LOG_SOURCES[i] occurs. */
  sources: number;
  /** Bit i: a record of RFC 5424 severity i occurs (a query for emergencies skips segments that hold none). */
  severities: number;
  /** The VMs named in it; undefined once there are too many to list (then any VM may be in it). */
  vms: Set<string> | undefined;
  /** Trigrams of its searchable text (message, app, host, msgid), lower-cased; undefined: not known, read it. */
  bloom: Uint8Array | undefined;
  sealed: boolean;
}

interface Summary {
  format: 'cordon-log-segment/1';
  start: number;
  last: number;
  count: number;
  bytes: number;
  minTime: number;
  maxTime: number;
  sources: string[];
  severities?: number;
  vms: string[] | null;
  /** Base64 of the segment's trigram Bloom filter. */
  bloom?: string;
}

export const MAX_MESSAGE = 8192;
const MAX_VMS_LISTED = 4096;
const SEGMENT_NAME = /^segment-(\d{16})\.jsonl$/;
const NEWLINE = 0x0a;
const VM_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const AGENT_ID = VM_ID;
const DAY = 86_400_000;
/** Source clocks further off than this are not believed: the record gets the time it arrived. */
const FUTURE_SLACK = DAY;
const PAST_LIMIT = 10 * 365 * DAY;

/** Bits of a segment's Bloom filter: 64 KiB, for about 20,000 lines of 4 MiB. */
const BLOOM_BITS = 1 << 19;
const BLOOM_MASK = BLOOM_BITS - 1;

const LIMITS = { host: 255, app: 48, procid: 128, msgid: 32, structuredData: 2048, origin: 512 } as const;

export class LogStore {
  private readonly segments: Segment[] = [];
  private fd = -1;
  private latest = 0;
  private pending: string[] = [];
  private pendingBytes = 0;
  private flushTimer: NodeJS.Timeout | undefined;
  private ageTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private droppedRecords = 0;
  private readonly o: Required<Omit<LogStoreOptions, 'now'>> & { now: () => number };

  private constructor(options: LogStoreOptions) {
    this.o = {
      maxBytes: 512 * 1024 * 1024,
      maxAgeMs: 30 * DAY,
      segmentBytes: 4 * 1024 * 1024,
      flushMs: 50,
      scanBytes: 256 * 1024 * 1024,
      scanMs: 150,
      answerBytes: 4 * 1024 * 1024,
      now: Date.now,
      ...options,
    };
    if (!AGENT_ID.test(options.agentId)) throw new AgentError('bad_agent_id', `The log store needs a valid agent id, not ${JSON.stringify(options.agentId.slice(0, 140))}.`);
  }

  /** Opens (or creates) the store in `dir`, cutting a torn last line and rebuilding a missing segment summary. */
  static open(options: LogStoreOptions): LogStore {
    const store = new LogStore(options);
    try {
      mkdirSync(options.dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new AgentError('data_dir_unusable', `Cannot create the log folder ${options.dir} (${systemCode(err)}): choose another --data-dir.`, { cause: err });
    }
    store.recover();
    store.applyRetention();
    // Age is checked hourly even when nothing is written, so an idle host still forgets on time.
    store.ageTimer = setInterval(() => store.applyRetention(), 3_600_000);
    store.ageTimer.unref();
    return store;
  }

  /** The newest seq given, 0 if none. */
  get latestSeq(): number {
    return this.latest;
  }

  /** Bytes on disk (and waiting to be written). */
  get bytes(): number {
    return this.segments.reduce((n, s) => n + s.bytes, 0) + this.pendingBytes;
  }

  /** Records deleted by retention since the store was opened. */
  get dropped(): number {
    return this.droppedRecords;
  }

  /** The time of the oldest record kept, or undefined when there is none. */
  get oldestTime(): string | undefined {
    let min = Infinity;
    for (const s of this.segments) if (s.count > 0) min = Math.min(min, s.minTime);
    return Number.isFinite(min) ? new Date(min).toISOString() : undefined;
  }

  /**
   * Numbers and keeps the entries (each made valid: strings cut to their limits, a bad VM id left out, an
   * unbelievable time replaced by now). Returns the seq of the last one. Never throws for a bad entry.
   */
  append(entries: readonly LogEntry[]): number {
    if (this.closed || entries.length === 0) return this.latest;
    const now = this.o.now();
    for (const e of entries) {
      const line = this.line(e, now, this.latest + 1);
      if (line === undefined) continue;
      this.latest++;
      this.pending.push(line.text);
      this.pendingBytes += line.bytes;
      this.index(line.time, e.source, line.vmId, line.searchable, line.severity);
      // A segment ends where its bytes reach the limit, even inside one big batch: the index stays per segment.
      if (this.active.bytes + this.pendingBytes >= this.o.segmentBytes) this.flush();
    }
    if (this.pendingBytes >= 256 * 1024 || this.o.flushMs === 0) this.flush();
    else if (!this.flushTimer && this.pending.length > 0) {
      this.flushTimer = setTimeout(() => this.flush(), this.o.flushMs);
      this.flushTimer.unref();
    }
    return this.latest;
  }

  private get active(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  /** Writes what waits; called by the timer, before a query, and on close. */
  flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pending.length === 0 || this.fd < 0) return;
    const buf = Buffer.from(this.pending.join(''));
    this.pending = [];
    this.pendingBytes = 0;
    const seg = this.segments[this.segments.length - 1]!;
    let done = 0;
    try {
      while (done < buf.length) done += writeSync(this.fd, buf, done, buf.length - done);
      seg.bytes += buf.length;
    } catch (err) {
      // Keep the file whole: a partial batch would leave a torn line in the middle.
      try { ftruncateSync(this.fd, seg.bytes); } catch { /* cut on the next open */ }
      this.o.note(`log store: cannot write to ${seg.path} (${systemCode(err)}); these log lines are lost. Free disk space or fix --data-dir.`);
      return;
    }
    if (seg.bytes >= this.o.segmentBytes) this.roll();
  }

  /** One page of the records that match, newest first. */
  query(q: LogQuery): LogPage {
    this.flush();
    const started = performance.now();
    const limit = Math.max(1, Math.min(1000, Math.floor(q.limit)));
    const before = q.before ?? Infinity;
    const fromIso = q.from !== undefined ? isoOf(q.from) : undefined;
    const toIso = q.to !== undefined ? isoOf(q.to) : undefined;
    let sourceMask = 0;
    for (const s of q.sources ?? LOG_SOURCES) sourceMask |= 1 << LOG_SOURCES.indexOf(s);
    const needle = q.text !== undefined ? q.text.toLowerCase() : undefined;
    const grams = needle !== undefined ? trigramHashes(needle) : [];
    const search = needle !== undefined ? lineSearch(needle) : undefined;
    const records: LogRecord[] = [];
    let answerBytes = 0;
    let scanned = 0;
    let scannedBytes = 0;
    let stoppedAt: number | undefined;
    const page = (truncated: boolean, next?: number): LogPage => {
      const p: LogPage = { records, truncated, scanned };
      if (truncated && next !== undefined && next > 1) p.next = next;
      else p.truncated = false;
      const oldest = this.oldestTime;
      if (oldest) p.oldestTime = oldest;
      return p;
    };

    for (let i = this.segments.length - 1; i >= 0; i--) {
      const seg = this.segments[i]!;
      if (seg.count === 0 || seg.start >= before) continue;
      if (q.from !== undefined && seg.maxTime < q.from) continue;
      if (q.to !== undefined && seg.minTime > q.to) continue;
      if ((seg.sources & sourceMask) === 0) continue;
      if (q.vmId !== undefined && seg.vms && !seg.vms.has(q.vmId)) continue;
      if (seg.bloom && !grams.every((h) => bloomHas(seg.bloom!, h))) continue;
      if (q.severityAtMost !== undefined && (seg.severities & ((2 << q.severityAtMost) - 1)) === 0) continue;
      if (scannedBytes >= this.o.scanBytes || performance.now() - started > this.o.scanMs) {
        // Bounded work per page: say where to go on rather than keep the cockpit waiting.
        return page(true, stoppedAt ?? Math.min(before, seg.last + 1));
      }
      const text = this.readSegment(seg);
      scannedBytes += text.length;
      const lines = search ? search(text) : undefined;
      let end = text.length;
      let cursor = lines ? lines.length - 1 : 0;
      for (;;) {
        let lineStart: number;
        let lineEnd: number;
        if (lines) {
          if (cursor < 0) break;
          lineStart = lines[cursor]!;
          cursor--;
          lineEnd = text.indexOf('\n', lineStart);
          if (lineEnd < 0) lineEnd = text.length;
        } else {
          if (end <= 0) break;
          lineEnd = text.charCodeAt(end - 1) === NEWLINE ? end - 1 : end;
          lineStart = text.lastIndexOf('\n', lineEnd - 1) + 1;
          end = lineStart;
        }
        if (lineEnd <= lineStart) continue;
        const head = readHead(text, lineStart, lineEnd);
        if (!head) continue;
        if (head.seq >= before) continue;
        scanned++;
        stoppedAt = head.seq;
        if (fromIso !== undefined && head.time < fromIso) continue;
        if (toIso !== undefined && head.time > toIso) continue;
        if ((sourceMask & (1 << head.source)) === 0) continue;
        if (q.vmId !== undefined && head.vmId !== q.vmId) continue;
        const record = this.parse(text, lineStart, lineEnd, seg);
        if (!record) continue;
        if (q.severityAtMost !== undefined && (record.severity === undefined || record.severity > q.severityAtMost)) continue;
        if (needle !== undefined && !textMatches(record, needle)) continue;
        const size = lineEnd - lineStart + 1;
        if (records.length > 0 && answerBytes + size > this.o.answerBytes) return page(true, records[records.length - 1]!.seq);
        records.push(record);
        answerBytes += size;
        if (records.length >= limit) return page(true, record.seq);
      }
    }
    return page(false);
  }

  /** Writes what waits, fsyncs the active segment and its summary. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    clearInterval(this.ageTimer);
    if (this.fd >= 0) {
      try { fsyncSync(this.fd); } catch (err) { this.o.note(`log store: fsync on close failed (${systemCode(err)}).`); }
      closeSync(this.fd);
      this.fd = -1;
    }
  }

  // ---- writing ------------------------------------------------------------------------------------------------

  /** The wire form of one entry as a line, or undefined if it has nothing to keep. */
  private line(e: LogEntry, now: number, seq: number): { text: string; bytes: number; time: number; vmId?: string; searchable: string[]; severity?: number } | undefined {
    const sourceIndex = LOG_SOURCES.indexOf(e.source);
    if (sourceIndex < 0 || typeof e.message !== 'string') return undefined;
    let time = now;
    let sourceClock = false;
    if (e.time !== undefined) {
      const t = typeof e.time === 'number' ? e.time : Date.parse(e.time);
      if (Number.isFinite(t) && t <= now + FUTURE_SLACK && t >= now - PAST_LIMIT) {
        time = Math.floor(t);
        sourceClock = true;
      }
    }
    // Keys in this order: seq, time, source and vmId are read from the head of the line by readHead().
    const r: Record<string, unknown> = { seq, time: new Date(time).toISOString(), source: e.source };
    const vmId = typeof e.vmId === 'string' && VM_ID.test(e.vmId) ? e.vmId : undefined;
    if (vmId) r.vmId = vmId;
    r.agentId = this.o.agentId;
    if (sourceClock) r.receivedAt = new Date(now).toISOString();
    if (Number.isInteger(e.severity) && e.severity! >= 0 && e.severity! <= 7) r.severity = e.severity;
    if (Number.isInteger(e.facility) && e.facility! >= 0 && e.facility! <= 23) r.facility = e.facility;
    for (const k of ['host', 'app', 'procid', 'msgid', 'structuredData', 'origin'] as const) {
      const v = e[k];
      if (typeof v === 'string' && v.length > 0) r[k] = clip(v, LIMITS[k]);
    }
    const message = clip(e.message, MAX_MESSAGE);
    r.message = message;
    if (message.length < e.message.length) r.truncated = true;
    const text = `${JSON.stringify(r)}\n`;
    const searchable = [message];
    for (const k of ['app', 'host', 'msgid'] as const) if (typeof r[k] === 'string') searchable.push(r[k] as string);
    return { text, bytes: Buffer.byteLength(text), time, ...(vmId ? { vmId } : {}), searchable, ...(r.severity !== undefined ? { severity: r.severity as number } : {}) };
  }

  private index(time: number, source: LogSource, vmId: string | undefined, searchable: string[], severity: number | undefined): void {
    let seg = this.segments[this.segments.length - 1];
    if (!seg) seg = this.openSegment(this.latest);
    if (seg.bloom) for (const t of searchable) addTrigrams(seg.bloom, t);
    if (severity !== undefined) seg.severities |= 1 << severity;
    seg.count++;
    seg.last = this.latest;
    seg.minTime = Math.min(seg.minTime, time);
    seg.maxTime = Math.max(seg.maxTime, time);
    seg.sources |= 1 << LOG_SOURCES.indexOf(source);
    if (vmId && seg.vms && !seg.vms.has(vmId)) {
      if (seg.vms.size >= MAX_VMS_LISTED) seg.vms = undefined;
      else seg.vms.add(vmId);
    }
  }

  /** Seals the active segment (summary, fsync in the background) and starts a new one at the next seq. */
  private roll(): void {
    const seg = this.segments[this.segments.length - 1]!;
    seg.sealed = true;
    this.writeSummary(seg);
    const done = this.fd;
    this.fd = -1;
    fsync(done, (err) => {
      if (err) this.o.note(`log store: fsync of ${seg.path} failed (${systemCode(err)}).`);
      close(done, () => {});
    });
    this.openSegment(this.latest + 1);
    this.applyRetention();
  }

  private openSegment(start: number): Segment {
    const path = join(this.o.dir, `segment-${String(start).padStart(16, '0')}.jsonl`);
    try {
      this.fd = openSync(path, 'a', 0o600);
    } catch (err) {
      throw new AgentError('log_write_failed', `Cannot create the log segment ${path} (${systemCode(err)}): check the disk and --data-dir.`, { cause: err });
    }
    const seg: Segment = { start, path, bytes: 0, count: 0, last: start - 1, minTime: Infinity, maxTime: -Infinity, sources: 0, severities: 0, vms: new Set(), bloom: new Uint8Array(BLOOM_BITS / 8), sealed: false };
    this.segments.push(seg);
    return seg;
  }

  private writeSummary(seg: Segment): void {
    const summary: Summary = {
      format: 'cordon-log-segment/1', start: seg.start, last: seg.last, count: seg.count, bytes: seg.bytes,
      minTime: seg.minTime, maxTime: seg.maxTime,
      sources: LOG_SOURCES.filter((_, i) => (seg.sources & (1 << i)) !== 0),
      severities: seg.severities,
      vms: seg.vms ? [...seg.vms] : null,
      ...(seg.bloom ? { bloom: Buffer.from(seg.bloom.buffer, seg.bloom.byteOffset, seg.bloom.byteLength).toString('base64') } : {}),
    };
    try {
      writeFileSync(`${summaryPath(seg)}.tmp`, JSON.stringify(summary), { mode: 0o600 });
      renameSync(`${summaryPath(seg)}.tmp`, summaryPath(seg));
    } catch (err) {
      this.o.note(`log store: cannot write the summary of ${seg.path} (${systemCode(err)}); it is rebuilt on the next start.`);
    }
  }

  private applyRetention(): void {
    if (this.closed) return;
    const cutoff = this.o.now() - this.o.maxAgeMs;
    let total = this.bytes;
    while (this.segments.length > 1) {
      const old = this.segments[0]!;
      const tooOld = old.count > 0 && old.maxTime < cutoff;
      const tooBig = total > this.o.maxBytes;
      if (!tooOld && !tooBig) break;
      this.segments.shift();
      total -= old.bytes;
      this.droppedRecords += old.count;
      for (const p of [old.path, summaryPath(old)]) {
        try { unlinkSync(p); } catch (err) { if (systemCode(err) !== 'ENOENT') this.o.note(`log store: could not delete ${p} (${systemCode(err)}); delete it by hand.`); }
      }
      if (old.count > 0) {
        const why = tooOld ? `older than ${Math.round(this.o.maxAgeMs / DAY)} day(s)` : `the store is over ${mib(this.o.maxBytes)} MiB`;
        this.o.note(`log store: retention dropped ${old.count} log record(s), seq ${old.start}–${old.last}, from ${new Date(old.minTime).toISOString()} to ${new Date(old.maxTime).toISOString()} (${why}).`);
      }
    }
  }

  // ---- reading ------------------------------------------------------------------------------------------------

  /** The segment's bytes as a latin1 string: one character per byte, so offsets are byte offsets and nothing is decoded. */
  private readSegment(seg: Segment): string {
    const fd = openSync(seg.path, 'r');
    try {
      const buf = Buffer.allocUnsafe(seg.bytes);
      let got = 0;
      while (got < seg.bytes) {
        const n = readSync(fd, buf, got, seg.bytes - got, got);
        if (n === 0) break;
        got += n;
      }
      return buf.toString('latin1', 0, got);
    } finally {
      closeSync(fd);
    }
  }

  private parse(text: string, start: number, end: number, seg: Segment): LogRecord | undefined {
    // Back from latin1 to the UTF-8 the line was written in.
    const line = Buffer.from(text.slice(start, end), 'latin1').toString('utf8');
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      this.o.note(`log store: skipped an unreadable line at byte ${start} of ${seg.path}.`);
      return undefined;
    }
    const checked = checkLogRecord(value);
    if (!checked.ok) {
      this.o.note(`log store: skipped a line at byte ${start} of ${seg.path} that is not a valid log record (${checked.error.message}).`);
      return undefined;
    }
    return checked.value;
  }

  // ---- opening ------------------------------------------------------------------------------------------------

  private recover(): void {
    const dir = this.o.dir;
    const names = readdirSync(dir).filter((n) => SEGMENT_NAME.test(n)).sort();
    for (const [i, name] of names.entries()) {
      const start = Number(SEGMENT_NAME.exec(name)![1]);
      const path = join(dir, name);
      const bytes = statSync(path).size;
      const newest = i === names.length - 1;
      const seg: Segment = { start, path, bytes, count: 0, last: start - 1, minTime: Infinity, maxTime: -Infinity, sources: 0, severities: 0, vms: new Set(), bloom: new Uint8Array(BLOOM_BITS / 8), sealed: !newest };
      if (!newest && this.readSummary(seg)) {
        this.segments.push(seg);
        continue;
      }
      if (newest) this.cutTornTail(seg);
      this.rebuild(seg);
      if (!newest) this.writeSummary(seg);
      this.segments.push(seg);
    }
    for (const s of this.segments) this.latest = Math.max(this.latest, s.last);
    const newest = this.segments[this.segments.length - 1];
    if (newest && newest.bytes < this.o.segmentBytes) {
      this.fd = openSync(newest.path, 'a', 0o600);
    } else {
      if (newest) {
        newest.sealed = true;
        this.writeSummary(newest);
      }
      this.openSegment(this.latest + 1);
    }
  }

  private readSummary(seg: Segment): boolean {
    try {
      const s = JSON.parse(readFileSync(summaryPath(seg), 'utf8')) as Summary;
      if (s.format !== 'cordon-log-segment/1' || s.start !== seg.start || s.bytes !== seg.bytes) return false;
      Object.assign(seg, { count: s.count, last: s.last, minTime: s.minTime, maxTime: s.maxTime });
      seg.sources = 0;
      for (const src of s.sources) {
        const i = LOG_SOURCES.indexOf(src as LogSource);
        if (i >= 0) seg.sources |= 1 << i;
      }
      seg.vms = s.vms ? new Set(s.vms) : undefined;
      seg.severities = typeof s.severities === 'number' ? s.severities : 0xff;
      const bloom = s.bloom ? Buffer.from(s.bloom, 'base64') : undefined;
      seg.bloom = bloom && bloom.length === BLOOM_BITS / 8 ? new Uint8Array(bloom) : undefined;
      return true;
    } catch {
      return false;
    }
  }

  /** Reads every line's head to rebuild a segment's index (a missing summary, or the active segment). */
  private rebuild(seg: Segment): void {
    const text = this.readSegment(seg);
    let pos = 0;
    while (pos < text.length) {
      let end = text.indexOf('\n', pos);
      if (end < 0) end = text.length;
      const head = readHead(text, pos, end);
      if (head) {
        const time = Date.parse(head.time);
        seg.count++;
        seg.last = Math.max(seg.last, head.seq);
        seg.minTime = Math.min(seg.minTime, time);
        seg.maxTime = Math.max(seg.maxTime, time);
        seg.sources |= 1 << head.source;
        if (head.vmId && seg.vms) {
          if (seg.vms.size >= MAX_VMS_LISTED) seg.vms = undefined;
          else seg.vms.add(head.vmId);
        }
        if (seg.bloom) {
          try {
            const r = JSON.parse(Buffer.from(text.slice(pos, end), 'latin1').toString('utf8')) as Partial<LogRecord>;
            for (const t of [r.message, r.app, r.host, r.msgid]) if (typeof t === 'string') addTrigrams(seg.bloom, t);
            if (Number.isInteger(r.severity)) seg.severities |= 1 << r.severity!;
          } catch {
            seg.bloom = undefined; // an unreadable line: this segment is searched the slow way
            seg.severities = 0xff;
          }
        }
      }
      pos = end + 1;
    }
  }

  private cutTornTail(seg: Segment): void {
    if (seg.bytes === 0) return;
    const fd = openSync(seg.path, 'r+');
    try {
      const window = Math.min(seg.bytes, 64 * 1024);
      let keep = -1;
      for (let end = seg.bytes; end > 0 && keep < 0;) {
        const from = Math.max(0, end - window);
        const buf = Buffer.allocUnsafe(end - from);
        readSync(fd, buf, 0, buf.length, from);
        const nl = buf.lastIndexOf(NEWLINE);
        if (nl >= 0) keep = from + nl + 1;
        end = from;
      }
      if (keep < 0) keep = 0;
      if (keep < seg.bytes) {
        ftruncateSync(fd, keep);
        this.o.note(`log store: cut a torn last line (${seg.bytes - keep} bytes, left by a crash mid-write) off ${seg.path}.`);
        seg.bytes = keep;
      }
      seg.bytes = fstatSync(fd).size;
    } finally {
      closeSync(fd);
    }
  }
}

function summaryPath(seg: Segment): string {
  return seg.path.replace(/\.jsonl$/, '.summary.json');
}

const HEAD_SEQ = '{"seq":';
const HEAD_TIME = ',"time":"';
const HEAD_SOURCE = '","source":"';
const HEAD_VM = ',"vmId":"';

/** seq, time, source and vmId from the start of a stored line, without parsing the JSON (fixed key order). */
function readHead(text: string, start: number, end: number): { seq: number; time: string; source: number; vmId?: string } | undefined {
  if (!text.startsWith(HEAD_SEQ, start)) return undefined;
  let i = start + HEAD_SEQ.length;
  let seq = 0;
  const digitsFrom = i;
  for (; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) break;
    seq = seq * 10 + (c - 0x30);
  }
  if (i === digitsFrom || !text.startsWith(HEAD_TIME, i)) return undefined;
  i += HEAD_TIME.length;
  const time = text.slice(i, i + 24);
  i += 24;
  if (!text.startsWith(HEAD_SOURCE, i)) return undefined;
  i += HEAD_SOURCE.length;
  const q = text.indexOf('"', i);
  if (q < 0 || q > end) return undefined;
  const source = LOG_SOURCES.indexOf(text.slice(i, q) as LogSource);
  if (source < 0) return undefined;
  i = q + 1;
  if (text.startsWith(HEAD_VM, i)) {
    const from = i + HEAD_VM.length;
    const v = text.indexOf('"', from);
    if (v < 0 || v > end) return undefined;
    return { seq, time, source, vmId: text.slice(from, v) };
  }
  return { seq, time, source };
}

/**
 * A function giving the start offsets of the lines of a segment in which `needle` (lower case) may occur, in order:
 * one case-insensitive search of the whole segment for the needle as JSON writes it. Only an ASCII needle can be
 * searched this way (the text is bytes seen as latin1); for another, every line is a candidate and the parsed record
 * decides.
 */
function lineSearch(needle: string): (text: string) => number[] {
  // eslint-disable-next-line no-control-regex
  if (/[^\x00-\x7f]/.test(needle)) {
    return (text) => {
      const out: number[] = [];
      let pos = 0;
      while (pos < text.length) {
        out.push(pos);
        const nl = text.indexOf('\n', pos);
        if (nl < 0) break;
        pos = nl + 1;
      }
      return out;
    };
  }
  const escaped = JSON.stringify(needle).slice(1, -1);
  const pattern = new RegExp(escaped.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi');
  return (text) => {
    const out: number[] = [];
    let lastLine = -1;
    pattern.lastIndex = 0;
    for (;;) {
      const m = pattern.exec(text);
      if (!m) break;
      const lineStart = text.lastIndexOf('\n', m.index) + 1;
      if (lineStart !== lastLine) {
        out.push(lineStart);
        lastLine = lineStart;
      }
      const lineEnd = text.indexOf('\n', m.index);
      if (lineEnd < 0) break;
      pattern.lastIndex = lineEnd + 1;
    }
    return out;
  };
}

/** The hash of each three-character run of `text` lower-cased (UTF-16 units): what a segment's Bloom filter holds. */
function trigramHashes(lower: string): number[] {
  const out: number[] = [];
  for (let i = 0; i + 3 <= lower.length; i++) out.push(trigram(lower.charCodeAt(i), lower.charCodeAt(i + 1), lower.charCodeAt(i + 2)));
  return out;
}

function addTrigrams(bloom: Uint8Array, text: string): void {
  const lower = text.toLowerCase();
  for (let i = 0; i + 3 <= lower.length; i++) {
    const h = trigram(lower.charCodeAt(i), lower.charCodeAt(i + 1), lower.charCodeAt(i + 2));
    const a = h & BLOOM_MASK;
    const b = (h >>> 13) & BLOOM_MASK;
    bloom[a >>> 3] = bloom[a >>> 3]! | (1 << (a & 7));
    bloom[b >>> 3] = bloom[b >>> 3]! | (1 << (b & 7));
  }
}

function bloomHas(bloom: Uint8Array, h: number): boolean {
  const a = h & BLOOM_MASK;
  const b = (h >>> 13) & BLOOM_MASK;
  return (bloom[a >>> 3]! & (1 << (a & 7))) !== 0 && (bloom[b >>> 3]! & (1 << (b & 7))) !== 0;
}

function trigram(a: number, b: number, c: number): number {
  let h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca77) ^ Math.imul(c, 0xc2b2ae3d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}

function textMatches(r: LogRecord, needle: string): boolean {
  return r.message.toLowerCase().includes(needle)
    || (r.app?.toLowerCase().includes(needle) ?? false)
    || (r.host?.toLowerCase().includes(needle) ?? false)
    || (r.msgid?.toLowerCase().includes(needle) ?? false);
}

function isoOf(ms: number): string {
  const clamped = Math.min(Math.max(ms, 0), 253_402_300_799_999); // 9999-12-31T23:59:59.999Z: four-digit years compare as text
  return new Date(clamped).toISOString();
}

/** At most `max` UTF-16 units, never ending in half a surrogate pair (so JSON stays well-formed UTF-8). */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = text.slice(0, max);
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return cut;
}

function mib(n: number): string {
  return (n / 1024 / 1024).toFixed(0);
}

