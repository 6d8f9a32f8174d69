// Recordings of console sessions, as main hands them over: asciicast v2 text (a JSON header line, then one
// [time, code, data] event per line; https://docs.asciinema.org/manual/asciicast/v2/). parseCast reads one,
// tolerating a bad line (counted, skipped) but not a bad header; CastPlayer plays its output events into a terminal
// in time, at a chosen speed, or all at once to the end, never faster than the terminal draws. Pure; tested in Node.
import type { Timers } from '../../store/timers.ts';

export interface CastEvent {
  /** Seconds from the start, as played (idle gaps capped to the header's idle_time_limit). */
  at: number;
  /** 'o' output, 'i' input, 'r' resize ("COLSxROWS"), 'm' marker; others are kept and ignored. */
  code: string;
  data: string;
}

export interface Cast {
  width: number;
  height: number;
  /** Seconds since the epoch the recording started, when the header says. */
  timestamp?: number;
  title?: string;
  idleTimeLimit?: number;
  events: CastEvent[];
  /** Seconds, as played. */
  duration: number;
  /** Lines that were not events and were skipped. */
  skipped: number;
}

export type CastResult = { ok: true; cast: Cast } | { ok: false; error: string };

const MAX_SIZE = 1000;

export function parseCast(text: string, maxEvents = 5_000_000): CastResult {
  const lines = text.split('\n');
  let first = 0;
  while (first < lines.length && lines[first]!.trim() === '') first++;
  if (first === lines.length) return { ok: false, error: 'The recording is empty.' };
  let header: unknown;
  try {
    header = JSON.parse(lines[first]!);
  } catch {
    return { ok: false, error: 'The recording\'s first line is not a JSON header.' };
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return { ok: false, error: 'The recording\'s header is not an object.' };
  const h = header as Record<string, unknown>;
  if (h.version !== 2) return { ok: false, error: `The recording is not asciicast version 2 (it says ${JSON.stringify(h.version)?.slice(0, 20) ?? 'nothing'}).` };
  if (!isSize(h.width) || !isSize(h.height)) return { ok: false, error: 'The recording\'s header has no valid width and height.' };
  const cast: Cast = { width: h.width, height: h.height, events: [], duration: 0, skipped: 0 };
  if (typeof h.timestamp === 'number' && Number.isFinite(h.timestamp)) cast.timestamp = h.timestamp;
  if (typeof h.title === 'string') cast.title = h.title;
  const limit = typeof h.idle_time_limit === 'number' && Number.isFinite(h.idle_time_limit) && h.idle_time_limit > 0 ? h.idle_time_limit : undefined;
  if (limit !== undefined) cast.idleTimeLimit = limit;

  let lastRaw = 0;
  let at = 0;
  for (let i = first + 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    let ev: unknown;
    try {
      ev = JSON.parse(line);
    } catch {
      cast.skipped += 1;
      continue;
    }
    if (!Array.isArray(ev) || ev.length < 3 || typeof ev[0] !== 'number' || !Number.isFinite(ev[0]) || ev[0] < 0 || typeof ev[1] !== 'string' || typeof ev[2] !== 'string') {
      cast.skipped += 1;
      continue;
    }
    if (cast.events.length >= maxEvents) return { ok: false, error: `The recording has more than ${maxEvents} events.` };
    // Time never runs backwards; a gap longer than the idle limit plays as the limit.
    const raw = Math.max(lastRaw, ev[0]);
    const gap = raw - lastRaw;
    at += limit !== undefined ? Math.min(gap, limit) : gap;
    lastRaw = raw;
    cast.events.push({ at, code: ev[1], data: ev[2] });
  }
  cast.duration = at;
  return { ok: true, cast };
}

function isSize(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= MAX_SIZE;
}

/** "80x24" → [80, 24]; null when it is not a size. */
export function parseResize(data: string): [number, number] | null {
  const m = /^(\d{1,4})x(\d{1,4})$/.exec(data);
  if (m === null) return null;
  const cols = Number(m[1]);
  const rows = Number(m[2]);
  return cols > 0 && rows > 0 && cols <= MAX_SIZE && rows <= MAX_SIZE ? [cols, rows] : null;
}

/** All the output of a cast, as one string (what its screen is made of). */
export function castOutput(cast: Cast): string {
  let out = '';
  for (const e of cast.events) if (e.code === 'o') out += e.data;
  return out;
}

// ── playing ───────────────────────────────────────────────────────────────────────────────────────────────

export interface ReplaySink {
  output(data: string): void;
  resize(cols: number, rows: number): void;
  /** Whether the terminal takes more now (its unparsed output is under the watermark). */
  ready(): boolean;
}

export type PlayerPhase = 'paused' | 'playing' | 'ended';

export interface PlayerState {
  phase: PlayerPhase;
  /** Seconds into the cast, as played. */
  position: number;
  speed: number;
}

export const SPEEDS: readonly number[] = [0.5, 1, 2, 4, 8, 32];

/** At most this much output is handed over per step, so a jump to the end goes in terminal-sized pieces. */
const STEP_CHARS = 64 * 1024;
/** How soon to look again when the terminal is busy. */
const BUSY_RETRY_MS = 16;

export class CastPlayer {
  private index = 0;
  private position = 0;
  private phase: PlayerPhase = 'paused';
  private speed = 1;
  private toEnd = false;
  /** Wall time and position when play (or the last speed change) began. */
  private anchorWall = 0;
  private anchorPos = 0;
  private timer: unknown = null;

  constructor(
    private readonly cast: Cast,
    private readonly sink: ReplaySink,
    private readonly timers: Timers,
    private readonly changed: (state: PlayerState) => void = () => {},
  ) {
    if (cast.events.length === 0) this.phase = 'ended';
  }

  state(): PlayerState {
    return { phase: this.phase, position: this.position, speed: this.speed };
  }

  play(): void {
    if (this.phase !== 'paused') return;
    this.phase = 'playing';
    this.anchor();
    this.step();
  }

  pause(): void {
    if (this.phase !== 'playing' || this.toEnd) return;
    this.position = this.now();
    this.phase = 'paused';
    this.clearTimer();
    this.emit();
  }

  setSpeed(speed: number): void {
    if (!(speed > 0) || speed === this.speed) return;
    if (this.phase === 'playing') this.position = this.now();
    this.speed = speed;
    this.anchor();
    if (this.phase === 'playing' && !this.toEnd) {
      this.clearTimer();
      this.step();
    } else {
      this.emit();
    }
  }

  /** Plays everything left at once (as fast as the terminal draws): the screen as the session left it. */
  jumpToEnd(): void {
    if (this.phase === 'ended') return;
    this.toEnd = true;
    this.phase = 'playing';
    this.clearTimer();
    this.step();
  }

  dispose(): void {
    this.clearTimer();
    this.phase = 'ended';
  }

  private anchor(): void {
    this.anchorWall = this.timers.now();
    this.anchorPos = this.position;
  }

  private now(): number {
    if (this.toEnd) return Number.POSITIVE_INFINITY;
    return Math.min(this.cast.duration, this.anchorPos + ((this.timers.now() - this.anchorWall) / 1000) * this.speed);
  }

  private step(): void {
    this.timer = null;
    if (this.phase !== 'playing') return;
    const due = this.now();
    const events = this.cast.events;
    let handed = 0;
    while (this.index < events.length && events[this.index]!.at <= due && handed < STEP_CHARS) {
      if (!this.sink.ready()) break;
      const e = events[this.index]!;
      if (e.code === 'o') {
        this.sink.output(e.data);
        handed += e.data.length;
      } else if (e.code === 'r') {
        const size = parseResize(e.data);
        if (size !== null) this.sink.resize(size[0], size[1]);
      }
      this.index += 1;
    }
    this.position = this.index >= events.length ? this.cast.duration : Math.min(Number.isFinite(due) ? due : this.cast.duration, this.cast.duration);
    if (this.index >= events.length) {
      this.phase = 'ended';
      this.toEnd = false;
      this.position = this.cast.duration;
      this.emit();
      return;
    }
    const next = events[this.index]!.at;
    const wait = next <= due ? BUSY_RETRY_MS * (this.sink.ready() ? 0 : 1) : ((next - due) * 1000) / this.speed;
    this.timer = this.timers.setTimeout(() => this.step(), Math.max(0, Math.min(wait, 1000)));
    this.emit();
  }

  private emit(): void {
    this.changed(this.state());
  }

  private clearTimer(): void {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
  }
}
