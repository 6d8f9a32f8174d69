// Flow control of one console's output in the renderer: how much is handed to xterm at a time, and how much is
// acknowledged to main. xterm's write() only queues; its parser catches up a few milliseconds per frame, so
// writing faster than it parses grows its buffer without bound. Here xterm holds at most `highWater` bytes not yet
// parsed; the rest waits in our queue, which main's own window (it pauses the agent's stream while ~1 MiB is
// unacknowledged) keeps short. Each write's callback says its bytes were drawn: they are acknowledged to main in
// batches (console.ack), which lets main send more. A main that ignores its window cannot grow the queue past
// `maxQueued`: what arrives beyond it is dropped, counted, shown, and acknowledged, so the accounts stay level.
//
// Pure: no DOM, no xterm (the sink stands for them), timers injected; tested in plain Node.
import type { Timers } from '../../store/timers.ts';

export interface FlowSink {
  /** Hands bytes to the terminal; `drawn` once it parsed them (xterm's write callback). */
  write(bytes: Uint8Array, drawn: () => void): void;
  /** Tells main that this many more bytes were drawn (console.ack). */
  ack(bytes: number): void;
}

export interface FlowOptions {
  /** Bytes handed to the terminal and not yet drawn, at most. */
  highWater?: number;
  /** Bytes waiting to be handed over, at most; beyond it output is dropped (and said so). */
  maxQueued?: number;
  /** Drawn bytes are acknowledged once this many have gathered… */
  ackEvery?: number;
  /** …or this long after the first of them was drawn. */
  ackDelayMs?: number;
}

export const FLOW_DEFAULTS: Required<FlowOptions> = {
  highWater: 256 * 1024,
  maxQueued: 8 * 1024 * 1024,
  ackEvery: 64 * 1024,
  ackDelayMs: 40,
};

export interface FlowStats {
  /** Bytes received from main (dropped ones included). */
  received: number;
  /** Waiting in the queue. */
  queued: number;
  /** With the terminal, not yet drawn. */
  inTerminal: number;
  /** Drawn by the terminal. */
  drawn: number;
  /** Acknowledged to main (drawn or dropped). */
  acked: number;
  /** Dropped because the queue was full. */
  dropped: number;
  /** The most the queue and the terminal held at once. */
  peakHeld: number;
}

export class ConsoleFlow {
  private readonly opts: Required<FlowOptions>;
  private queue: Uint8Array[] = [];
  private head = 0;
  private queued = 0;
  private inTerminal = 0;
  private toAck = 0;
  private ackTimer: unknown = null;
  private acking = true;
  private disposed = false;
  private readonly stats_: FlowStats = { received: 0, queued: 0, inTerminal: 0, drawn: 0, acked: 0, dropped: 0, peakHeld: 0 };

  constructor(private readonly sink: FlowSink, private readonly timers: Timers, options: FlowOptions = {}) {
    this.opts = { ...FLOW_DEFAULTS, ...options };
  }

  /** Output from main, in order. */
  receive(bytes: Uint8Array): void {
    if (this.disposed || bytes.length === 0) return;
    this.stats_.received += bytes.length;
    if (this.queued + bytes.length > this.opts.maxQueued) {
      this.stats_.dropped += bytes.length;
      this.owe(bytes.length);
      return;
    }
    this.queue.push(bytes);
    this.queued += bytes.length;
    this.pump();
  }

  /** No more acknowledgements: the session is closed (its output still drains into the terminal). */
  stopAcks(): void {
    this.acking = false;
    this.toAck = 0;
    this.clearAckTimer();
  }

  /** Forgets everything queued; the sink is never called again. */
  dispose(): void {
    this.disposed = true;
    this.queue = [];
    this.head = 0;
    this.queued = 0;
    this.clearAckTimer();
  }

  stats(): FlowStats {
    return { ...this.stats_, queued: this.queued, inTerminal: this.inTerminal };
  }

  /** Nothing waits and the terminal has drawn everything it was given. */
  idle(): boolean {
    return this.queued === 0 && this.inTerminal === 0;
  }

  private pump(): void {
    while (!this.disposed && this.head < this.queue.length && this.inTerminal < this.opts.highWater) {
      const chunk = this.queue[this.head]!;
      this.queue[this.head] = EMPTY;
      this.head += 1;
      this.queued -= chunk.length;
      this.inTerminal += chunk.length;
      this.notePeak();
      this.sink.write(chunk, () => this.drawn(chunk.length));
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.notePeak();
  }

  private drawn(n: number): void {
    if (this.disposed) return;
    this.inTerminal -= n;
    this.stats_.drawn += n;
    this.owe(n);
    this.pump();
  }

  private owe(n: number): void {
    if (!this.acking) return;
    this.toAck += n;
    if (this.toAck >= this.opts.ackEvery) this.flushAck();
    else if (this.ackTimer === null) this.ackTimer = this.timers.setTimeout(() => this.flushAck(), this.opts.ackDelayMs);
  }

  private flushAck(): void {
    this.clearAckTimer();
    if (!this.acking || this.disposed || this.toAck === 0) return;
    const n = this.toAck;
    this.toAck = 0;
    this.stats_.acked += n;
    this.sink.ack(n);
  }

  private clearAckTimer(): void {
    if (this.ackTimer !== null) this.timers.clearTimeout(this.ackTimer);
    this.ackTimer = null;
  }

  private notePeak(): void {
    const held = this.queued + this.inTerminal;
    if (held > this.stats_.peakHeld) this.stats_.peakHeld = held;
  }
}

const EMPTY = new Uint8Array(0);
