// A guest's serial console seen from the host: its log file, and its socket for running a shell command and
// reading what it printed. QEMU's socket chardev takes one client at a time and drops output while nobody is
// connected (it still reaches the log file), so a session connects, does its work and leaves.
import { connect, type Socket } from 'node:net';
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
