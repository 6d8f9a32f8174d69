// The console's window size, told to the guest out of band. A serial line has no TIOCSWINSZ: the host cannot resize
// the guest's tty, and typing `stty rows R cols C` at the guest would go to whatever program reads the console (an
// editor, a pager, the attacker's tool) rather than to a shell. So a VM started with `consoleControl` has a second UART
// (its ttyS1) on a socket of its own: the agent writes `ROWS COLS\n` there, and a helper in the guest (the lab guest's
// /usr/sbin/cordon-winsize, scripts/microvm/build.sh) sets that size on ttyS0 with `stty -F`, which makes the kernel
// send SIGWINCH to ttyS0's foreground job — a shell or a full-screen program redraws at the new size — and answers
// `ok ROWS COLS`. Nothing is ever typed into the console.
//
// What comes back is the guest's, hence attacker-controlled: only whole lines of the exact form `ok R C` count, a line
// is at most 64 bytes, and everything else is read and dropped.
import { connect, type Socket } from 'node:net';
import { QemuError } from './errors.ts';

const MAX_LINE = 64;
const ACK = /^ok ([0-9]{1,4}) ([0-9]{1,4})\r?$/;

export class WindowSizeLine {
  private partial = '';
  private skipping = false;
  private onAck: ((rows: number, cols: number) => void) | undefined;
  private closed = false;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (text: string) => this.read(text));
    socket.on('close', () => { this.closed = true; });
    socket.on('error', () => { this.closed = true; });
  }

  static connect(path: string, timeoutMs = 3_000): Promise<WindowSizeLine> {
    return new Promise((resolve, reject) => {
      const socket = connect({ path });
      const timer = setTimeout(() => { socket.destroy(); reject(new QemuError('console_unavailable', `The console control line ${path} did not accept a connection within ${timeoutMs} ms.`)); }, timeoutMs);
      socket.once('connect', () => { clearTimeout(timer); resolve(new WindowSizeLine(socket)); });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new QemuError('console_unavailable', `Cannot open the console control line ${path} (${err.code ?? err.message}).`, { cause: err }));
      });
    });
  }

  /** Called with each size the guest confirms it applied. */
  acknowledged(fn: (rows: number, cols: number) => void): void {
    this.onAck = fn;
  }

  /** Asks the guest to use rows × cols; false when the line is gone. */
  set(rows: number, cols: number): boolean {
    if (this.closed || !Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1 || rows > 9999 || cols > 9999) return false;
    this.socket.write(`${rows} ${cols}\n`);
    return true;
  }

  close(): void {
    this.closed = true;
    this.onAck = undefined;
    this.socket.destroy();
  }

  private read(text: string): void {
    let data = this.partial + text;
    for (let nl = data.indexOf('\n'); nl >= 0; nl = data.indexOf('\n')) {
      const m = this.skipping ? null : ACK.exec(data.slice(0, nl));
      this.skipping = false;
      data = data.slice(nl + 1);
      if (m) this.onAck?.(Number(m[1]), Number(m[2]));
    }
    // A line longer than any acknowledgement is noise: dropped up to its newline.
    if (data.length > MAX_LINE) {
      this.skipping = true;
      data = '';
    }
    this.partial = data;
  }
}
