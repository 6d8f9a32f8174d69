// A QMP client: one connection to one QEMU's monitor socket, commands matched to answers by id, events to listeners.
// QMP is line-delimited JSON (QEMU ends each message with CRLF). A chunk from the socket may hold half a message or
// several, so bytes are buffered up to a newline before parsing. Until `qmp_capabilities` has been sent QEMU refuses
// every other command, so connect() only resolves after that negotiation.
import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { QemuError } from './errors.ts';

export interface QmpVersion {
  qemu: { major: number; minor: number; micro: number };
  package: string;
}

export interface QmpGreeting {
  version: QmpVersion;
  capabilities: string[];
}

/** An asynchronous QMP event (`STOP`, `RESUME`, `SHUTDOWN`, `MIGRATION`, `DUMP_COMPLETED`, ...). */
export interface QmpEvent {
  event: string;
  data: Record<string, unknown>;
  /** When QEMU emitted it, in milliseconds since the epoch (QMP gives seconds and microseconds). */
  timestampMs: number;
}

export interface QmpOptions {
  /** Deadline for a command unless the call gives its own; QMP answers most commands within milliseconds. */
  commandTimeoutMs?: number;
  /** Deadline for the greeting and the capability negotiation. */
  handshakeTimeoutMs?: number;
  /** Called with a line for the operator when something odd but survivable happens. */
  note?: (line: string) => void;
}

interface Pending {
  command: string;
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/** A pending wait for an event; cancel() when the wait is no longer needed (e.g. the command that causes it failed). */
export interface EventWait {
  promise: Promise<QmpEvent>;
  cancel(): void;
}

type EventListener = (event: QmpEvent) => void;
type CloseListener = (reason: QemuError) => void;

/** Largest message accepted; `query-qmp-schema` is ~200 KiB, anything near this limit is not QMP. */
const MAX_LINE = 16 * 1024 * 1024;

export class QmpClient {
  private buffer = '';
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private readonly eventListeners = new Set<EventListener>();
  private readonly closeListeners = new Set<CloseListener>();
  private closeReason: QemuError | undefined;
  private greetingWaiter: { resolve(g: QmpGreeting): void; reject(e: Error): void } | undefined;
  private readonly commandTimeoutMs: number;
  private readonly note: (line: string) => void;
  /** The greeting QEMU sent: its version and the capabilities it offered. */
  greeting: QmpGreeting | undefined;

  private constructor(private readonly stream: Duplex, private readonly label: string, options: QmpOptions) {
    this.commandTimeoutMs = options.commandTimeoutMs ?? 10_000;
    this.note = options.note ?? (() => {});
    stream.setEncoding('utf8'); // a multi-byte character split across chunks stays whole
    stream.on('data', (chunk: string) => this.receive(chunk));
    stream.on('error', (err: Error) => this.shutDown(new QemuError('qemu_gone',
      `QEMU went away: the QMP connection to ${this.label} failed (${err.message}).`, { cause: err })));
    stream.on('close', () => this.shutDown(new QemuError('qemu_gone',
      `QEMU went away: the QMP connection to ${this.label} closed. The process has exited or closed its monitor.`)));
  }

  /** Connects to a QMP unix socket, reads the greeting and negotiates capabilities. */
  static async connect(socketPath: string, options: QmpOptions = {}): Promise<QmpClient> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = netConnect({ path: socketPath });
      s.once('connect', () => { s.off('error', reject); resolve(s); });
      s.once('error', (err: NodeJS.ErrnoException) => reject(new QemuError('qmp_connect_failed',
        `Cannot reach QEMU's monitor at ${socketPath} (${err.code ?? err.message}). Is the VM running?`, { cause: err })));
    });
    return QmpClient.over(socket, socketPath, options);
  }

  /** Speaks QMP over an already open stream (a socket, or a scripted fake in tests). */
  static async over(stream: Duplex, label: string, options: QmpOptions = {}): Promise<QmpClient> {
    const client = new QmpClient(stream, label, options);
    try {
      await client.handshake(options.handshakeTimeoutMs ?? 5_000);
    } catch (err) {
      client.close();
      throw err;
    }
    return client;
  }

  get closed(): boolean {
    return this.closeReason !== undefined;
  }

  /**
   * Runs a QMP command and resolves with its `return` value. Rejects with a QemuError: `qmp_command_failed` (QEMU
   * refused; `qmpClass` says why), `qmp_timeout`, or `qemu_gone`.
   */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, options: { timeoutMs?: number } = {}): Promise<T> {
    if (this.closeReason) return Promise.reject(this.closeReason);
    const id = `cordon-${this.nextId++}`;
    const timeoutMs = options.timeoutMs ?? this.commandTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        // The id is forgotten: should QEMU answer after all, the late answer is dropped, never given to another call.
        this.pending.delete(id);
        reject(new QemuError('qmp_timeout',
          `QEMU did not answer \`${command}\` within ${timeoutMs} ms (${this.label}). It may be hung or overloaded; check its log, and terminate it if it stays silent.`,
          { command }));
      }, timeoutMs);
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject, timer });
      const message = args === undefined ? { execute: command, id } : { execute: command, arguments: args, id };
      this.stream.write(JSON.stringify(message) + '\n');
    });
  }

  /** Calls `listener` with every event until the returned function is called. */
  onEvent(listener: EventListener): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** Calls `listener` once when the connection ends, with the reason pending commands were failed with. */
  onClose(listener: CloseListener): () => void {
    if (this.closeReason) {
      const reason = this.closeReason;
      queueMicrotask(() => listener(reason));
      return () => {};
    }
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  /**
   * Resolves with the first event named `name` that satisfies `match`. Create the wait *before* sending the command
   * that causes the event: QEMU may emit it before the command's answer arrives.
   */
  waitForEvent(names: string | readonly string[], options: { timeoutMs: number; match?: (e: QmpEvent) => boolean }): EventWait {
    const wanted = typeof names === 'string' ? [names] : names;
    let cancel = () => {};
    const promise = new Promise<QmpEvent>((resolve, reject) => {
      const done = () => { clearTimeout(timer); offEvent(); offClose(); };
      const timer = setTimeout(() => {
        done();
        reject(new QemuError('qmp_timeout', `QEMU sent no ${wanted.join(' or ')} event within ${options.timeoutMs} ms (${this.label}).`));
      }, options.timeoutMs);
      const offEvent = this.onEvent((e) => {
        if (wanted.includes(e.event) && (options.match === undefined || options.match(e))) { done(); resolve(e); }
      });
      const offClose = this.onClose((reason) => { done(); reject(reason); });
      cancel = () => { done(); reject(new QemuError('qmp_timeout', `Stopped waiting for ${wanted.join(' or ')}.`)); };
    });
    // A cancelled or unobserved wait must not surface as an unhandled rejection.
    promise.catch(() => {});
    return { promise, cancel: () => cancel() };
  }

  /** Closes the connection; pending commands fail with `qemu_gone`. */
  close(): void {
    this.shutDown(new QemuError('qemu_gone', `The QMP connection to ${this.label} was closed by Cordon.`));
    this.stream.destroy();
  }

  private async handshake(timeoutMs: number): Promise<void> {
    const greeting = await new Promise<QmpGreeting>((resolve, reject) => {
      const timer = setTimeout(() => reject(new QemuError('qmp_protocol',
        `No QMP greeting from ${this.label} within ${timeoutMs} ms: the socket is not a QEMU monitor, or another client holds it.`)), timeoutMs);
      this.greetingWaiter = {
        resolve: (g) => { clearTimeout(timer); resolve(g); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      };
      if (this.greeting) this.greetingWaiter.resolve(this.greeting);
      else if (this.closeReason) this.greetingWaiter.reject(this.closeReason);
    });
    this.greetingWaiter = undefined;
    this.greeting = greeting;
    await this.execute('qmp_capabilities', undefined, { timeoutMs });
  }

  private receive(chunk: string): void {
    this.buffer += chunk;
    let newline: number;
    while ((newline = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, newline).trim();
      this.buffer = this.buffer.slice(newline + 1);
      if (line) this.handleLine(line);
      if (this.closeReason) return;
    }
    if (this.buffer.length > MAX_LINE) {
      this.fail(`a QMP message from ${this.label} exceeds ${MAX_LINE} bytes without a line end`);
    }
  }

  private handleLine(line: string): void {
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch {
      this.fail(`${this.label} sent a line that is not JSON: ${JSON.stringify(line.slice(0, 120))}`);
      return;
    }
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      this.fail(`${this.label} sent a QMP message that is not an object`);
      return;
    }
    const m = message as Record<string, unknown>;
    if ('QMP' in m) {
      const qmp = m.QMP as Partial<QmpGreeting> | undefined;
      if (!qmp || typeof qmp !== 'object' || !qmp.version) {
        this.fail(`${this.label} sent a malformed QMP greeting`);
        return;
      }
      this.greeting = { version: qmp.version, capabilities: Array.isArray(qmp.capabilities) ? qmp.capabilities : [] };
      this.greetingWaiter?.resolve(this.greeting);
      return;
    }
    if (typeof m.event === 'string') {
      const ts = m.timestamp as { seconds?: number; microseconds?: number } | undefined;
      const event: QmpEvent = {
        event: m.event,
        data: m.data && typeof m.data === 'object' ? m.data as Record<string, unknown> : {},
        timestampMs: ts && typeof ts.seconds === 'number' ? ts.seconds * 1000 + Math.floor((ts.microseconds ?? 0) / 1000) : Date.now(),
      };
      for (const listener of [...this.eventListeners]) {
        try { listener(event); } catch (err) { this.note(`QMP event listener for ${event.event} threw: ${String(err)}`); }
      }
      return;
    }
    if ('return' in m || 'error' in m) {
      let id = typeof m.id === 'string' ? m.id : undefined;
      // QEMU answers without an id only when it could not parse the request; commands run in order, so it is
      // the oldest one still waiting.
      if (id === undefined) id = this.pending.keys().next().value;
      const pending = id === undefined ? undefined : this.pending.get(id);
      if (!pending || id === undefined) {
        this.note(`QMP answer for an unknown or timed-out request (${String(m.id)}) from ${this.label} dropped`);
        return;
      }
      this.pending.delete(id);
      clearTimeout(pending.timer);
      if ('error' in m) {
        const e = (m.error ?? {}) as { class?: string; desc?: string };
        const qmpClass = typeof e.class === 'string' ? e.class : 'GenericError';
        pending.reject(new QemuError('qmp_command_failed',
          `QEMU refused \`${pending.command}\`: ${typeof e.desc === 'string' ? e.desc : 'no description'} (${qmpClass}).`,
          { qmpClass, command: pending.command }));
      } else {
        pending.resolve(m.return);
      }
      return;
    }
    this.note(`QMP message of unknown shape from ${this.label} ignored`);
  }

  private fail(why: string): void {
    this.shutDown(new QemuError('qmp_protocol', `Closed the QMP connection: ${why}.`));
    this.stream.destroy();
  }

  private shutDown(reason: QemuError): void {
    if (this.closeReason) return;
    this.closeReason = reason;
    this.greetingWaiter?.reject(reason);
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(reason.code === 'qemu_gone'
        ? new QemuError('qemu_gone', `${reason.message} \`${p.command}\` got no answer.`, { command: p.command })
        : reason);
    }
    for (const listener of [...this.closeListeners]) listener(reason);
    this.closeListeners.clear();
    this.eventListeners.clear();
  }
}
