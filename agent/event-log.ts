// The agent's durable, numbered event store: assigns each threat event its seq, writes it to disk before anyone
// sees it, replays from any seq, and forgets whole old segments once more than `retain` events are kept.
//
// On disk: one folder, segment files `segment-<first seq, 16 digits>.jsonl`, one event per line. Each line is the
// exact `event` wire message (`{"type":"event","seq":N,"event":{...}}`), so the text is built once per event and
// the same bytes go to the disk, to every live subscriber, and to every later replay.
//
// Why a write before a send, and no fsync per event: a seq a cockpit has seen must never be given to another event
// after a crash. A write() that returned is in the page cache and survives `kill -9`; only power loss could drop it,
// and that is what the fsync on a clean close and on segment roll-over narrows. A crash can leave a torn last line
// (a write cut short); on reopen it is cut off and said on stderr. Those events were never sent: sends follow writes.
import {
  close, closeSync, fsync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, readSync,
  unlinkSync, writeFileSync, writeSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import type { ThreatEvent } from '../protocol/index.ts';
import { AgentError, systemCode } from './errors.ts';

/** One stored event: its seq and the UTF-8 bytes of its `event` wire message (no newline). */
export interface LogRecord {
  seq: number;
  data: Buffer;
}

export interface EventLogOptions {
  dir: string;
  /** How many events to keep for replay at least; whole segments beyond that are deleted. */
  retain: number;
  /** Events per segment file; by default an eighth of `retain`, between 1 and 100,000. */
  segmentEvents?: number;
  /** How many of the newest records stay in memory, so live subscribers never touch the disk. */
  tailRecords?: number;
  /** Where the log says what it repaired or could not do (the agent's stderr). */
  note: (line: string) => void;
}

interface Segment {
  start: number;
  path: string;
  /** Size in bytes of what is written. */
  bytes: number;
  readFd?: number;
}

const PREFIX = '{"type":"event","seq":';
const PREFIX_BYTES = Buffer.from(PREFIX);
const NEWLINE = 0x0a;
const SEGMENT_NAME = /^segment-(\d{16})\.jsonl$/;
const LOCK_FILE = 'agent.lock';
/** Bytes read at a time when replaying from disk. */
const READ_CHUNK = 256 * 1024;
/** A binary search over a segment stops when the window is this small, and scans lines from there. */
const SCAN_WINDOW = 64 * 1024;

// Data dirs held by this process: a second EventLog on the same folder would hand out the same seqs twice.
const openDirs = new Set<string>();

export class EventLog {
  private readonly segments: Segment[] = [];
  private writeFd = -1;
  private latest = 0;
  private readonly retain: number;
  private readonly segmentEvents: number;
  private readonly tailMax: number;
  /** The newest records, contiguous by seq. */
  private tail: LogRecord[] = [];
  /** Where the next line of a replay is on disk, by the seq expected there, so a catch-up reads sequentially. */
  private readonly hints = new Map<number, { segment: Segment; offset: number }>();
  private closed = false;
  private readonly dir: string;

  private constructor(private readonly options: EventLogOptions) {
    this.dir = resolve(options.dir);
    this.retain = Math.max(1, Math.floor(options.retain));
    this.segmentEvents = Math.max(1, Math.floor(options.segmentEvents ?? Math.min(100_000, Math.ceil(this.retain / 8))));
    this.tailMax = Math.max(1, Math.min(this.retain, options.tailRecords ?? 8192));
  }

  /** Opens (or creates) the log in `dir`, repairing a torn last line and locking the folder against a second agent. */
  static open(options: EventLogOptions): EventLog {
    const log = new EventLog(options);
    try {
      mkdirSync(options.dir, { recursive: true });
    } catch (err) {
      throw new AgentError('data_dir_unusable', `Cannot create the event log folder ${options.dir} (${systemCode(err)}): choose another --data-dir.`, { cause: err });
    }
    log.lock();
    try {
      log.recover();
    } catch (err) {
      log.unlock();
      throw err;
    }
    return log;
  }

  /** The newest seq, 0 if none was ever assigned. */
  get latestSeq(): number {
    return this.latest;
  }

  /** The oldest seq still stored for replay, 0 if none is. */
  get oldestSeq(): number {
    const first = this.segments[0];
    return first && first.start <= this.latest ? first.start : 0;
  }

  /** Every seq below this one is gone for good (retention or a repaired crash). */
  get firstKeptSeq(): number {
    return this.segments[0]?.start ?? this.latest + 1;
  }

  /**
   * Numbers the events and writes them with one write; returns them as records, ready to send.
   * Throws an AgentError when the disk refuses; the log is then as it was before the call.
   */
  append(events: readonly ThreatEvent[]): LogRecord[] {
    if (this.closed) throw new AgentError('log_closed', 'The event log is closed; the agent is shutting down.');
    const n = events.length;
    if (n === 0) return [];
    this.rollIfFull();
    const first = this.latest + 1;
    const texts: string[] = new Array<string>(n);
    let chars = 0;
    for (let i = 0; i < n; i++) {
      const text = `${PREFIX}${first + i},"event":${JSON.stringify(events[i])}}`;
      texts[i] = text;
      chars += text.length + 1;
    }
    const buf = Buffer.from(texts.join('\n') + '\n');
    const records: LogRecord[] = new Array<LogRecord>(n);
    // Pure ASCII (the usual case) has one byte per character, so offsets need no second pass over the text.
    const ascii = buf.length === chars;
    let offset = 0;
    for (let i = 0; i < n; i++) {
      const text = texts[i]!;
      const len = ascii ? text.length : Buffer.byteLength(text);
      records[i] = { seq: first + i, data: buf.subarray(offset, offset + len) };
      offset += len + 1;
    }
    const segment = this.segments[this.segments.length - 1]!;
    this.writeAll(segment, buf);
    segment.bytes += buf.length;
    this.latest += n;
    this.remember(records);
    this.applyRetention();
    return records;
  }

  /**
   * Up to `limit` stored records from `seq` on, in order. A record's seq may be above the one asked for: the ones
   * between are gone (retention, or a line the log could not read), and the caller tells its subscriber so.
   * Returns [] when nothing at or after `seq` is stored yet.
   */
  readFrom(seq: number, limit: number): LogRecord[] {
    if (seq > this.latest || limit <= 0 || this.segments.length === 0) return [];
    // Retention applies to the in-memory tail too: what was deleted from disk is not replayed from memory.
    if (seq < this.firstKeptSeq) seq = this.firstKeptSeq;
    const tailFirst = this.tail[0]?.seq;
    if (tailFirst !== undefined && seq >= tailFirst) {
      const from = seq - tailFirst;
      return this.tail.slice(from, from + limit);
    }
    const at = this.locate(seq);
    if (!at) return [];
    const { records, next } = this.readLines(at.segment, at.offset, limit);
    this.hints.delete(seq);
    const following = this.segments[this.segments.indexOf(at.segment) + 1];
    if (records.length > 0) {
      const after = records[records.length - 1]!.seq + 1;
      // The active segment keeps growing, so a replay that reached its end resumes there.
      if (next < at.segment.bytes || !following) this.setHint(after, at.segment, next);
      else this.setHint(after, following, 0);
      return records;
    }
    // Nothing readable in the rest of this segment: go on in the next one.
    return following && following.start >= seq ? this.readFrom(following.start, limit) : [];
  }

  /** Flushes to stable storage and releases the folder. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.writeFd >= 0) {
      try {
        fsyncSync(this.writeFd);
      } catch (err) {
        this.options.note(`event log: fsync on close failed (${systemCode(err)}); the newest events may not survive a power loss.`);
      }
      closeSync(this.writeFd);
      this.writeFd = -1;
    }
    for (const s of this.segments) this.closeReader(s);
    this.tail = [];
    this.hints.clear();
    this.unlock();
  }

  // ---- writing ------------------------------------------------------------------------------------------------

  private rollIfFull(): void {
    const active = this.segments[this.segments.length - 1];
    if (active && this.latest - active.start + 1 < this.segmentEvents) return;
    if (this.writeFd >= 0) {
      // A finished segment is flushed once, in the background (a synchronous fsync of a large segment would stall
      // every live stream): it bounds what a power loss can take to about the active segment.
      const done = this.writeFd;
      this.writeFd = -1;
      fsync(done, (err) => {
        if (err) this.options.note(`event log: fsync of a finished segment failed (${systemCode(err)}); it may not survive a power loss.`);
        close(done, () => {});
      });
    }
    const start = this.latest + 1;
    const path = join(this.options.dir, segmentName(start));
    try {
      this.writeFd = openSync(path, 'a');
    } catch (err) {
      throw new AgentError('log_write_failed', `Cannot create event log segment ${path} (${systemCode(err)}): check the disk and the permissions of --data-dir.`, { cause: err });
    }
    this.segments.push({ start, path, bytes: 0 });
  }

  private writeAll(segment: Segment, buf: Buffer): void {
    let done = 0;
    try {
      while (done < buf.length) done += writeSync(this.writeFd, buf, done, buf.length - done);
    } catch (err) {
      // Leave no partial line behind in the middle of the log: cut back to where the batch began.
      try {
        ftruncateSync(this.writeFd, segment.bytes);
      } catch {
        // The torn tail will be cut on the next open, and said so.
      }
      throw new AgentError('log_write_failed', `Cannot write to the event log ${segment.path} (${systemCode(err)}): events are not being kept; free disk space or fix --data-dir.`, { cause: err });
    }
  }

  private remember(records: LogRecord[]): void {
    for (const r of records) this.tail.push(r);
    // Trim in bulk, not per record: a splice every tailMax appends keeps this O(1) per event.
    if (this.tail.length > this.tailMax * 2) this.tail = this.tail.slice(this.tail.length - this.tailMax);
  }

  private applyRetention(): void {
    while (this.segments.length > 1 && this.latest - this.segments[1]!.start + 1 >= this.retain) {
      const old = this.segments.shift()!;
      this.closeReader(old);
      for (const [seq, hint] of this.hints) if (hint.segment === old) this.hints.delete(seq);
      try {
        unlinkSync(old.path);
      } catch (err) {
        this.options.note(`event log: could not delete the expired segment ${old.path} (${systemCode(err)}); delete it by hand.`);
      }
    }
  }

  // ---- reading ------------------------------------------------------------------------------------------------

  private setHint(seq: number, segment: Segment, offset: number): void {
    // A handful of subscribers catch up at once at most; the bound keeps forgotten cursors from piling up.
    if (this.hints.size >= 256) this.hints.delete(this.hints.keys().next().value!);
    this.hints.set(seq, { segment, offset });
  }

  /** The segment and byte offset of the line holding `seq` (or the first line after it). */
  private locate(seq: number): { segment: Segment; offset: number } | undefined {
    const hint = this.hints.get(seq);
    if (hint && this.segments.includes(hint.segment)) return hint;
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.segments[mid]!.start <= seq) lo = mid;
      else hi = mid - 1;
    }
    const segment = this.segments[lo]!;
    return { segment, offset: this.offsetOf(segment, seq) };
  }

  /** Binary search by byte position over a segment's lines (each starts with its seq), then a short scan. */
  private offsetOf(segment: Segment, seq: number): number {
    if (seq <= segment.start) return 0;
    let lo = 0;
    let hi = segment.bytes;
    while (hi - lo > SCAN_WINDOW) {
      const mid = lo + Math.floor((hi - lo) / 2);
      const line = this.lineAtOrAfter(segment, mid, hi);
      if (line && line.seq <= seq) lo = line.offset;
      else hi = mid;
    }
    // Scan forward from lo to the first line whose seq is at least `seq`.
    let pos = lo;
    let size = READ_CHUNK;
    while (pos < segment.bytes) {
      const chunk = this.readAt(segment, pos, Math.min(size, segment.bytes - pos));
      let lineStart = 0;
      for (;;) {
        const nl = chunk.indexOf(NEWLINE, lineStart);
        if (nl < 0) break;
        const s = seqAt(chunk, lineStart);
        if (s !== undefined && s >= seq) return pos + lineStart;
        lineStart = nl + 1;
      }
      if (lineStart === 0) {
        if (pos + chunk.length >= segment.bytes) break;
        size *= 2; // a line longer than the chunk
        continue;
      }
      pos += lineStart;
      size = READ_CHUNK;
    }
    return segment.bytes;
  }

  /** The first line that starts at or after `from` (and before `before`), with its seq. */
  private lineAtOrAfter(segment: Segment, from: number, before: number): { offset: number; seq: number } | undefined {
    // Read past `before` a little so that the prefix of a line starting just before it is whole.
    const chunk = this.readAt(segment, from - 1, Math.min(SCAN_WINDOW + 64, segment.bytes - from + 1));
    const nl = chunk.indexOf(NEWLINE);
    if (nl < 0) return undefined;
    const seq = seqAt(chunk, nl + 1);
    const offset = from + nl;
    return seq === undefined || offset >= before ? undefined : { offset, seq };
  }

  /** Reads whole lines from `offset`: at most `limit` records or about one chunk, whichever comes first. */
  private readLines(segment: Segment, offset: number, limit: number): { records: LogRecord[]; next: number } {
    const records: LogRecord[] = [];
    let size = READ_CHUNK;
    for (;;) {
      const available = segment.bytes - offset;
      if (available <= 0) return { records, next: offset };
      const chunk = this.readAt(segment, offset, Math.min(size, available));
      let lineStart = 0;
      for (;;) {
        if (records.length >= limit) return { records, next: offset + lineStart };
        const nl = chunk.indexOf(NEWLINE, lineStart);
        if (nl < 0) break;
        const seq = seqAt(chunk, lineStart);
        if (seq === undefined) {
          this.options.note(`event log: skipped an unreadable line at byte ${offset + lineStart} of ${segment.path}; subscribers will be told of the gap.`);
        } else {
          records.push({ seq, data: chunk.subarray(lineStart, nl) });
        }
        lineStart = nl + 1;
      }
      if (lineStart > 0 || records.length > 0) return { records, next: offset + lineStart };
      // A single line longer than the chunk: read a bigger one.
      size *= 2;
    }
  }

  private readAt(segment: Segment, position: number, length: number): Buffer {
    if (segment.readFd === undefined) segment.readFd = openSync(segment.path, 'r');
    const buf = Buffer.allocUnsafe(length);
    let got = 0;
    while (got < length) {
      const n = readSync(segment.readFd, buf, got, length - got, position + got);
      if (n === 0) break;
      got += n;
    }
    return got === length ? buf : buf.subarray(0, got);
  }

  private closeReader(segment: Segment): void {
    if (segment.readFd !== undefined) closeSync(segment.readFd);
    segment.readFd = undefined;
  }

  // ---- opening ------------------------------------------------------------------------------------------------

  private recover(): void {
    const { dir, note } = this.options;
    const names = readdirSync(dir).filter((n) => SEGMENT_NAME.test(n)).sort();
    for (const name of names) {
      const start = Number(SEGMENT_NAME.exec(name)![1]);
      this.segments.push({ start, path: join(dir, name), bytes: 0 });
    }
    const newest = this.segments[this.segments.length - 1];
    if (!newest) return;
    for (const s of this.segments) {
      const fd = openSync(s.path, 'r');
      s.bytes = fstatSync(fd).size;
      closeSync(fd);
    }
    this.latest = newest.start - 1;
    const fd = openSync(newest.path, 'r+');
    try {
      const last = this.lastLine(fd, newest);
      if (last.tornBytes > 0) {
        ftruncateSync(fd, last.keep);
        note(`event log: cut a torn last line (${last.tornBytes} bytes, left by a crash mid-write) off ${newest.path}; every event before it is intact, and the cut one was never sent.`);
        newest.bytes = last.keep;
      }
      if (last.seq !== undefined) {
        if (last.seq < newest.start) {
          note(`event log: the last line of ${newest.path} has seq ${last.seq}, below the segment's first ${newest.start}; numbering continues after the higher.`);
        }
        this.latest = Math.max(last.seq, newest.start - 1);
      }
    } finally {
      closeSync(fd);
    }
    // Keep numbering in the newest segment: reopen it for appending.
    this.writeFd = openSync(newest.path, 'a');
    this.applyRetention();
  }

  /** Finds the last complete line of a segment (and how much torn tail follows it). */
  private lastLine(fd: number, segment: Segment): { keep: number; tornBytes: number; seq?: number } {
    const lastNl = lastNewlineBefore(fd, segment.bytes);
    const keep = lastNl + 1;
    const tornBytes = segment.bytes - keep;
    if (lastNl < 0) return { keep, tornBytes };
    const lineStart = lastNewlineBefore(fd, lastNl) + 1;
    const head = Buffer.allocUnsafe(Math.min(64, lastNl - lineStart + 1));
    const got = readSync(fd, head, 0, head.length, lineStart);
    const seq = seqAt(head.subarray(0, got), 0);
    return seq === undefined ? { keep, tornBytes } : { keep, tornBytes, seq };
  }

  private lock(): void {
    const dir = this.dir;
    const path = join(dir, LOCK_FILE);
    if (openDirs.has(dir)) {
      throw new AgentError('data_dir_locked', `The event log in ${dir} is already open in this process: give each agent its own --data-dir.`);
    }
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx' });
    } catch (err) {
      if (systemCode(err) !== 'EEXIST') {
        throw new AgentError('data_dir_unusable', `Cannot write ${path} (${systemCode(err)}): check the permissions of --data-dir.`, { cause: err });
      }
      const holder = Number.parseInt(readFileSync(path, 'utf8'), 10);
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
        throw new AgentError('data_dir_locked', `Another agent (pid ${holder}) uses the event log in ${dir}: stop it, or give this agent its own --data-dir (if no agent runs there, delete ${path}).`);
      }
      // A lock left by a crash (kill -9): its process is gone, so the folder is ours.
      writeFileSync(path, `${process.pid}\n`);
    }
    openDirs.add(dir);
  }

  private unlock(): void {
    const dir = this.dir;
    if (!openDirs.delete(dir)) return;
    try {
      unlinkSync(join(dir, LOCK_FILE));
    } catch {
      // Already gone; a stale lock is recognised by its dead pid anyway.
    }
  }
}

function segmentName(start: number): string {
  return `segment-${String(start).padStart(16, '0')}.jsonl`;
}

/** The seq of the line starting at `at` in `buf`, read from its fixed prefix without parsing the JSON. */
function seqAt(buf: Buffer, at: number): number | undefined {
  if (buf.length < at + PREFIX_BYTES.length + 2) return undefined;
  for (let i = 0; i < PREFIX_BYTES.length; i++) if (buf[at + i] !== PREFIX_BYTES[i]) return undefined;
  let seq = 0;
  let i = at + PREFIX_BYTES.length;
  for (; i < buf.length; i++) {
    const c = buf[i]!;
    if (c < 0x30 || c > 0x39) break;
    seq = seq * 10 + (c - 0x30);
  }
  return i > at + PREFIX_BYTES.length && buf[i] === 0x2c /* , */ && seq > 0 ? seq : undefined;
}

/** The position of the last newline before `before` in a file, or -1: read backwards a window at a time. */
function lastNewlineBefore(fd: number, before: number): number {
  let end = before;
  while (end > 0) {
    const start = Math.max(0, end - SCAN_WINDOW);
    const buf = Buffer.allocUnsafe(end - start);
    const got = readSync(fd, buf, 0, buf.length, start);
    const at = buf.subarray(0, got).lastIndexOf(NEWLINE);
    if (at >= 0) return start + at;
    end = start;
  }
  return -1;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return systemCode(err) === 'EPERM';
  }
}
