// A guest's serial console seen from the host: its log file, its socket for running a shell command and reading what
// it printed (SerialConsole), and a raw attachment for a responder's console (SerialStream). QEMU's socket chardev
// takes one client at a time and drops output while nobody is connected (it still reaches the log file), so a session
// connects, does its work and leaves.
import { connect, Socket } from 'node:net';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { QemuError } from './errors.ts';

/** Resolves with the log's text once it matches `pattern`, polling the file (the guest may write before we look). */
export async function waitForLog(path: string, pattern: RegExp, timeoutMs: number, options: { from?: number } = {}): Promise<string> {
  const deadline = performance.now() + timeoutMs;
  let text = '';
  let offset = options.from ?? 0;
  for (;;) {
    let size = 0;
    try { size = statSync(path).size; } catch { /* not created yet */ }
    if (size > offset) {
      const buf = Buffer.alloc(size - offset);
      const fd = openSync(path, 'r');
      try { readSync(fd, buf, 0, buf.length, offset); } finally { closeSync(fd); }
      offset = size;
      text += buf.toString('utf8');
      if (pattern.test(text)) return text;
    }
    if (performance.now() > deadline) {
      throw new QemuError('guest_timeout', `The serial log ${path} did not show ${pattern} within ${timeoutMs} ms. It ends: ${JSON.stringify(text.slice(-300))}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

export class SerialConsole {
  private output = '';
  private queue: Promise<unknown> = Promise.resolve();
  private seq = 0;
  private closed = false;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => { this.output = (this.output + d).slice(-1_000_000); });
    socket.on('close', () => { this.closed = true; });
    socket.on('error', () => { this.closed = true; });
  }

  static connect(path: string, timeoutMs = 5_000): Promise<SerialConsole> {
    return new Promise((resolve, reject) => {
      const socket = connect({ path });
      const timer = setTimeout(() => { socket.destroy(); reject(new QemuError('console_unavailable', `The serial console ${path} did not accept a connection within ${timeoutMs} ms.`)); }, timeoutMs);
      socket.once('connect', () => { clearTimeout(timer); resolve(new SerialConsole(socket)); });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new QemuError('console_unavailable', `Cannot open the serial console ${path} (${err.code ?? err.message}): is the VM running, or another client connected?`, { cause: err }));
      });
    });
  }

  /** Sends raw bytes (a responder's keystrokes). */
  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Everything received since connecting (capped at 1 MB). */
  get text(): string {
    return this.output;
  }

  /**
   * Runs one shell command line at the guest's prompt and resolves with what it printed (CRLF turned into LF).
   * The output is framed by two markers the shell prints; each is typed with quotes inside it, so the echo of the
   * typed line can never be mistaken for the marker itself.
   */
  run(command: string, timeoutMs = 10_000): Promise<string> {
    const next = this.queue.then(() => this.runNow(command, timeoutMs));
    this.queue = next.catch(() => {});
    return next;
  }

  close(): void {
    this.socket.destroy();
  }

  private async runNow(command: string, timeoutMs: number): Promise<string> {
    if (this.closed) throw new QemuError('qemu_gone', 'The serial console is closed.');
    const n = ++this.seq;
    const begin = `:CDN${n}B:`;
    const end = `:CDN${n}E:`;
    const from = this.output.length;
    this.socket.write(`echo ':CDN${n}''B:'; ${command}; echo ':CDN${n}''E:'\n`);
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const seen = this.output.slice(Math.max(0, from - 1));
      const b = seen.indexOf(`${begin}\r\n`);
      const e = b >= 0 ? seen.indexOf(end, b + begin.length) : -1;
      if (b >= 0 && e >= 0) return seen.slice(b + begin.length + 2, e).replaceAll('\r\n', '\n');
      if (this.closed) throw new QemuError('qemu_gone', `The serial console closed while running ${JSON.stringify(command)}.`);
      if (performance.now() > deadline) {
        throw new QemuError('guest_timeout', `The guest did not finish ${JSON.stringify(command)} within ${timeoutMs} ms on its serial console (frozen, or no shell at the prompt?).`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

/** Input the agent lets wait for a guest that does not read its console; beyond it, write() refuses. */
export const SERIAL_INPUT_LIMIT = 64 * 1024;
/** What Node may read ahead from the socket while paused (its readable buffer): small, the guest holds the rest. */
const READ_AHEAD = 16 * 1024;
/** The most a paused SerialStream holds: its read-ahead, plus one read of the socket (libuv reads 64 KiB at a time). */
export const SERIAL_HELD_MAX = READ_AHEAD + 64 * 1024;

/**
 * The last `maxBytes` of a serial log (QEMU's chardev logfile holds everything the guest printed, with or without a
 * client), starting at a line when it had to cut; empty when there is no log.
 */
export function readLogTail(path: string, maxBytes: number): Buffer {
  let fd: number;
  try { fd = openSync(path, 'r'); } catch { return Buffer.alloc(0); }
  try {
    const size = statSync(path).size;
    const start = Math.max(0, size - maxBytes);
    const buf = Buffer.alloc(size - start);
    const n = readSync(fd, buf, 0, buf.length, start);
    const tail = buf.subarray(0, n);
    if (start === 0) return tail;
    const nl = tail.indexOf(0x0a);
    return nl >= 0 ? tail.subarray(nl + 1) : tail;
  } finally {
    closeSync(fd);
  }
}

/**
 * A raw attachment to a serial console's socket, for a responder's terminal: bytes both ways, unchanged, in order, and
 * flow control by not reading — pause() stops reading the socket, the kernel's buffer fills, QEMU stops draining the
 * guest's UART and the guest's writes block in the guest. What the agent holds meanwhile is `held`: Node's read-ahead
 * (READ_AHEAD) plus at most one read of the socket.
 */
export class SerialStream {
  private onData: ((chunk: Buffer) => void) | undefined;
  private onEnd: ((why: string) => void) | undefined;
  private ended = false;

  private constructor(private readonly socket: Socket) {
    socket.on('close', () => this.finish('the socket closed'));
    socket.on('error', (err: NodeJS.ErrnoException) => this.finish(err.code ?? err.message));
  }

  /** Connects; no byte is read until start(). */
  static connect(path: string, timeoutMs = 5_000): Promise<SerialStream> {
    return new Promise((resolve, reject) => {
      const socket = new Socket({ readableHighWaterMark: READ_AHEAD } as ConstructorParameters<typeof Socket>[0]);
      socket.pause();
      socket.connect({ path });
      const timer = setTimeout(() => { socket.destroy(); reject(new QemuError('console_unavailable', `The serial console ${path} did not accept a connection within ${timeoutMs} ms.`)); }, timeoutMs);
      socket.once('connect', () => { clearTimeout(timer); resolve(new SerialStream(socket)); });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new QemuError('console_unavailable', `Cannot open the serial console ${path} (${err.code ?? err.message}): is the VM running?`, { cause: err }));
      });
    });
  }

  /** Begins delivering output (in order, never while paused) and, once, the end of the connection. */
  start(onData: (chunk: Buffer) => void, onEnd: (why: string) => void): void {
    this.onData = onData;
    this.onEnd = onEnd;
    this.socket.on('data', (chunk: Buffer) => this.onData?.(chunk));
    this.socket.resume();
  }

  /** Sends keystrokes; false (nothing sent) while SERIAL_INPUT_LIMIT bytes already wait for the guest to read. */
  write(bytes: Uint8Array): boolean {
    if (this.ended || this.socket.writableLength > SERIAL_INPUT_LIMIT) return false;
    this.socket.write(bytes);
    return true;
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    if (!this.ended) this.socket.resume();
  }

  /** Bytes read from the socket and not yet delivered. */
  get held(): number {
    return this.socket.readableLength;
  }

  close(): void {
    this.onData = undefined;
    this.onEnd = undefined;
    this.ended = true;
    this.socket.destroy();
  }

  private finish(why: string): void {
    if (this.ended) return;
    this.ended = true;
    const end = this.onEnd;
    this.onData = undefined;
    this.onEnd = undefined;
    end?.(why);
  }
}
