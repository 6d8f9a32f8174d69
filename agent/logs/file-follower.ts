// Follows a growing text file like `tail -F`: new lines as they are written, on across rotation (the file renamed
// and a new one created: the old one is read to its end first) and truncation (copytruncate: read again from the
// start), waiting while the file does not exist. It polls (fstat every `pollMs`) rather than watching, since inotify
// misses renames across some file systems and a poll of one stat is cheap. Where it stands (inode and offset) is
// handed out after each read, so the agent can resume there after a restart with no line twice or lost.
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { systemCode } from '../errors.ts';

export interface FollowPosition {
  ino: number;
  offset: number;
}

export interface FileFollowerOptions {
  path: string;
  /** Complete lines (without their line break), in order. */
  onLines(lines: string[]): void;
  /** Where to begin the first time the file is seen: its end (host logs), its start (a VM's own logs), or a saved position. */
  startAt: 'end' | 'start' | FollowPosition;
  /** Called with the new position after lines were handed out. */
  onPosition?(position: FollowPosition): void;
  pollMs?: number;
  /** A line longer than this is handed out in pieces of this size (default 64 KiB). */
  maxLineBytes?: number;
  /** Hand out an unterminated last line once the file has not grown for this long (a shell prompt); default never. */
  partialFlushMs?: number;
  note?(line: string): void;
}

/** Bytes read per poll at most, so one huge append cannot stall the event loop. */
const READ_BUDGET = 1024 * 1024;

export class FileFollower {
  private fd = -1;
  private ino = -1;
  private offset = 0;
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private partialSince = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private firstOpen = true;
  private missingSaid = false;

  constructor(private readonly o: FileFollowerOptions) {}

  start(): this {
    this.tick();
    return this;
  }

  /** Reads what is left (so the last lines a process wrote before it exited are not lost) and stops. */
  stop(): void {
    if (this.stopped) return;
    try { this.poll(); } catch { /* reading what is left is best effort */ }
    this.flushPartial();
    this.stopped = true;
    clearTimeout(this.timer);
    this.closeFd();
  }

  get position(): FollowPosition | undefined {
    return this.fd >= 0 ? { ino: this.ino, offset: this.offset } : undefined;
  }

  private tick(): void {
    if (this.stopped) return;
    try {
      this.poll();
    } catch (err) {
      this.o.note?.(`following ${this.o.path}: ${systemCode(err)}; trying again.`);
      this.closeFd();
    }
    this.timer = setTimeout(() => this.tick(), this.o.pollMs ?? 250);
    this.timer.unref();
  }

  private poll(): void {
    if (this.fd < 0 && !this.open()) return;
    const size = fstatSync(this.fd).size;
    if (size < this.offset) {
      this.o.note?.(`${this.o.path} was truncated (${this.offset} → ${size} bytes); reading it again from the start.`);
      this.offset = 0;
      this.dropPartial();
    }
    let budget = READ_BUDGET;
    while (this.offset < size && budget > 0) {
      const want = Math.min(size - this.offset, budget, 256 * 1024);
      const buf = Buffer.allocUnsafe(want);
      const got = readSync(this.fd, buf, 0, want, this.offset);
      if (got === 0) break;
      this.offset += got;
      budget -= got;
      this.consume(buf.subarray(0, got));
    }
    if (this.offset < size) return; // more next time
    if (this.partialBytes > 0 && this.o.partialFlushMs !== undefined && performance.now() - this.partialSince >= this.o.partialFlushMs) this.flushPartial();
    // Rotated (the name now leads to another file) or removed: this one is read to its end; follow the name.
    let current: number | undefined;
    try { current = statSync(this.o.path).ino; } catch { current = undefined; }
    if (current !== this.ino) {
      this.flushPartial();
      this.closeFd();
      if (current !== undefined) this.open();
    }
  }

  private open(): boolean {
    let fd: number;
    try {
      fd = openSync(this.o.path, 'r');
    } catch (err) {
      if (!this.missingSaid) this.o.note?.(`cannot open ${this.o.path} (${systemCode(err)}) yet; following it once it exists.`);
      this.missingSaid = true;
      return false;
    }
    this.missingSaid = false;
    const st = fstatSync(fd);
    this.fd = fd;
    this.ino = st.ino;
    const start = this.o.startAt;
    if (this.firstOpen && typeof start === 'object' && start.ino === st.ino && start.offset <= st.size) this.offset = start.offset;
    else if (this.firstOpen && start === 'end') this.offset = st.size;
    else this.offset = 0;
    this.firstOpen = false;
    return true;
  }

  private consume(chunk: Buffer): void {
    const lines: string[] = [];
    const max = this.o.maxLineBytes ?? 64 * 1024;
    let from = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, from);
      if (nl < 0) break;
      const piece = chunk.subarray(from, nl);
      const line = this.partialBytes > 0 ? Buffer.concat([...this.partial, piece]) : piece;
      this.dropPartial();
      lines.push(...split(line, max));
      from = nl + 1;
    }
    if (from < chunk.length) {
      if (this.partialBytes === 0) this.partialSince = performance.now();
      this.partial.push(Buffer.from(chunk.subarray(from)));
      this.partialBytes += chunk.length - from;
      if (this.partialBytes >= max) {
        const whole = Buffer.concat(this.partial);
        this.dropPartial();
        lines.push(...split(whole, max));
      }
    }
    if (lines.length > 0) {
      this.o.onLines(lines);
      this.o.onPosition?.({ ino: this.ino, offset: this.offset - this.partialBytes });
    }
  }

  private flushPartial(): void {
    if (this.partialBytes === 0) return;
    const whole = Buffer.concat(this.partial);
    this.dropPartial();
    this.o.onLines(split(whole, this.o.maxLineBytes ?? 64 * 1024));
    if (this.fd >= 0) this.o.onPosition?.({ ino: this.ino, offset: this.offset });
  }

  private dropPartial(): void {
    this.partial = [];
    this.partialBytes = 0;
  }

  private closeFd(): void {
    if (this.fd >= 0) {
      try { closeSync(this.fd); } catch { /* already gone */ }
    }
    this.fd = -1;
  }
}

/** A line's bytes as text pieces of at most `max` bytes, without a trailing CR. */
function split(line: Buffer, max: number): string[] {
  let end = line.length;
  if (end > 0 && line[end - 1] === 0x0d) end--;
  const out: string[] = [];
  for (let at = 0; at < end || out.length === 0; at += max) out.push(line.subarray(at, Math.min(end, at + max)).toString('utf8'));
  return out;
}
