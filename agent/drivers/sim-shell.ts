// The root shell on a simulated VM's console: a small line discipline (echo, backspace, Ctrl-C, Ctrl-U, Ctrl-D, Enter
// with CR → CRLF) and the commands a responder types first — ps, netstat -tlnp, ls, cat, uname, id, hostname, stty,
// echo, yes, exit and a few more — answered from the VM's guest model (sim-guest.ts), so the console agrees with the
// threat events. Everything it prints goes through a tty's output rule (LF → CRLF) and is otherwise bytes exactly as
// the guest holds them: an attacker's process name with markup or escape sequences in it is printed as is, for the
// cockpit to neutralise; nothing typed here is ever a path or a command on the host.
//
// Flow control is the guest's: output waits in the shell (its tty buffer) while the console is paused, a `yes` flood
// stops producing, and typed input queues behind a full buffer and is refused past a bound — as a guest blocks.
import type { ConsoleHandlers, ConsoleSource } from './driver.ts';
import { resolvePath, type GuestFile, type SimGuest } from './sim-guest.ts';

/** Output the shell holds before a stalled console makes it stop taking input (a tty's buffer, generously). */
export const SHELL_STALL_BYTES = 64 * 1024;
/** Input queued behind a stalled console; beyond it, write() refuses (the agent answers `busy`). */
export const SHELL_INPUT_BYTES = 64 * 1024;
/** One `yes` step: whole lines, about this many bytes, at most one step per millisecond while the console reads. */
const YES_CHUNK = 32 * 1024;
/** Output handed over per timer turn, so a flood never holds the event loop. */
const TURN_BYTES = 256 * 1024;
/** What the shell remembers of its own output, for the backlog of the next attachment. */
const TRANSCRIPT_BYTES = 8192;
/** N_TTY's limit on a line being typed. */
const MAX_LINE = 4095;
const KERNEL = {
  debian: { release: '6.1.0-28-cloud-amd64', version: '#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22)', os: 'GNU/Linux' },
  alpine: { release: '6.6.58-0-virt', version: '#1-Alpine SMP PREEMPT_DYNAMIC 2024-10-24 08:37:23', os: 'Linux' },
} as const;
const COMMANDS = ['cat', 'cd', 'clear', 'echo', 'exit', 'false', 'grep', 'head', 'help', 'hostname', 'id', 'ls', 'netstat', 'ps', 'pwd', 'ss', 'stty', 'tail', 'true', 'uname', 'wc', 'whoami', 'yes'];

export interface SimShellOptions {
  /** Whether the VM's vCPUs run (running or isolated): a frozen guest's shell produces nothing. */
  running(): boolean;
}

export class SimShell {
  cols = 80;
  rows = 24;
  private cwd = '/root';
  private line: number[] = [];
  /** Input parser state: inside an escape sequence the terminal sent (arrow keys, a cursor report). */
  private esc: 'none' | 'esc' | 'csi' | 'ss3' = 'none';
  private lastWasCr = false;
  /** The line `yes` repeats while it runs. */
  private yes: Buffer | undefined;
  private handlers: ConsoleHandlers | undefined;
  private paused = false;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private input: Buffer[] = [];
  private inputBytes = 0;
  private transcript: Buffer[] = [];
  private transcriptBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly guest: SimGuest, private readonly options: SimShellOptions) {
    this.login();
  }

  /** Attaches a console (one at a time: the agent holds one attachment per VM). */
  attach(handlers: ConsoleHandlers): ConsoleSource {
    this.detach();
    this.handlers = handlers;
    this.paused = false;
    const backlog = Buffer.concat(this.transcript, this.transcriptBytes);
    // Each call checks that this attachment is still the shell's: a closed one can no longer touch it.
    const mine = () => this.handlers === handlers;
    const held = () => (mine() ? this.pendingBytes : 0);
    const source: ConsoleSource = {
      kind: 'sim-shell',
      backlog: startOfLine(backlog),
      write: (bytes) => mine() && this.write(Buffer.from(bytes)),
      resize: (cols, rows) => { if (mine()) this.resize(cols, rows); },
      pause: () => { if (mine()) this.pause(); },
      resume: () => { if (mine()) this.resume(); },
      get held() { return held(); },
      close: () => { if (mine()) this.detach(); },
    };
    this.schedule();
    return source;
  }

  /** The VM's state changed: a resumed guest carries on (a `yes` that was frozen floods again). */
  wake(): void {
    this.schedule();
  }

  /** The VM is gone: no more output, ever. */
  stop(): void {
    this.stopped = true;
    this.detach();
  }

  // ---- the console side ------------------------------------------------------------------------------------------

  private detach(): void {
    this.handlers = undefined;
    // Nobody reads the console now: like QEMU's chardev without a client, what waits is dropped (it is in the
    // transcript already, as QEMU's logfile has it).
    this.pending = [];
    this.pendingBytes = 0;
    this.input = [];
    this.inputBytes = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private pause(): void {
    this.paused = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private resume(): void {
    this.paused = false;
    this.schedule();
  }

  private resize(cols: number, rows: number): void {
    this.cols = cols;
    this.rows = rows;
  }

  /** Typed bytes. While the console is stalled they queue (bounded); Ctrl-C still stops a flood at once. */
  private write(bytes: Buffer): boolean {
    if (this.stopped || !this.options.running()) return false;
    if (this.pendingBytes >= SHELL_STALL_BYTES || this.inputBytes > 0) {
      if (this.inputBytes + bytes.byteLength > SHELL_INPUT_BYTES) return false;
      // The line discipline sees ^C on arrival, even when the program it interrupts is blocked writing.
      if (this.yes && bytes.includes(0x03)) this.yes = undefined;
      this.input.push(bytes);
      this.inputBytes += bytes.byteLength;
      return true;
    }
    this.type(bytes);
    this.schedule();
    return true;
  }

  private schedule(): void {
    if (this.timer || !this.handlers || this.paused || this.stopped) return;
    const flooding = this.yes !== undefined && this.options.running();
    if (this.pendingBytes === 0 && this.inputBytes === 0 && !flooding) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.turn();
    }, this.pendingBytes > 0 ? 0 : 1);
  }

  private turn(): void {
    if (!this.handlers || this.paused) return;
    if (this.yes && this.options.running() && this.pendingBytes < YES_CHUNK) this.emit(this.yes);
    let budget = TURN_BYTES;
    while (this.pending.length > 0 && budget > 0 && this.handlers && !this.paused) {
      const chunk = this.pending.shift()!;
      this.pendingBytes -= chunk.byteLength;
      budget -= chunk.byteLength;
      this.handlers.data(chunk);
    }
    // Input that waited behind a full buffer goes on once it has room.
    while (this.inputBytes > 0 && this.pendingBytes < SHELL_STALL_BYTES) {
      const bytes = this.input.shift()!;
      this.inputBytes -= bytes.byteLength;
      this.type(bytes);
    }
    this.schedule();
  }

  /** Output: LF → CRLF as a tty's onlcr does; bytes otherwise untouched. Kept for the next attachment's backlog. */
  private print(text: string | Buffer): void {
    const raw = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
    this.emit(onlcr(raw));
  }

  private emit(bytes: Buffer): void {
    if (bytes.byteLength === 0) return;
    this.transcript.push(bytes.byteLength > TRANSCRIPT_BYTES ? bytes.subarray(bytes.byteLength - TRANSCRIPT_BYTES) : bytes);
    this.transcriptBytes += Math.min(bytes.byteLength, TRANSCRIPT_BYTES);
    while (this.transcript.length > 1 && this.transcriptBytes - this.transcript[0]!.byteLength >= TRANSCRIPT_BYTES) this.transcriptBytes -= this.transcript.shift()!.byteLength;
    if (!this.handlers) return;
    this.pending.push(bytes);
    this.pendingBytes += bytes.byteLength;
  }

  // ---- the line discipline ---------------------------------------------------------------------------------------

  private type(bytes: Buffer): void {
    for (const b of bytes) {
      if (this.esc !== 'none') {
        this.escape(b);
        continue;
      }
      const cr = this.lastWasCr;
      this.lastWasCr = b === 0x0d;
      if (this.yes) {
        // A program runs: the tty echoes what is typed ahead; ^C interrupts it and flushes the typed-ahead input.
        if (b === 0x03) this.interrupt();
        else if (b >= 0x20 && b !== 0x7f) this.emit(Buffer.of(b));
        continue;
      }
      switch (b) {
        case 0x0d: this.enter(); break;
        case 0x0a: if (!cr) this.enter(); break;
        case 0x03: this.interrupt(); break;
        case 0x04: if (this.line.length === 0) this.run('exit'); break;
        case 0x7f: case 0x08: this.backspace(); break;
        case 0x15: this.killLine(); break;
        case 0x0c: this.print('\u001b[H\u001b[2J'); this.prompt(Buffer.from(this.line)); break;
        case 0x1b: this.esc = 'esc'; break;
        default:
          if (b < 0x20) break; // tab and the other controls: nothing to complete here
          if (this.line.length >= MAX_LINE) { this.emit(Buffer.of(0x07)); break; }
          this.line.push(b);
          this.emit(Buffer.of(b));
      }
    }
  }

  /** Skips what the terminal sends as sequences (arrow keys, function keys, cursor position reports). */
  private escape(b: number): void {
    if (this.esc === 'esc') this.esc = b === 0x5b ? 'csi' : b === 0x4f ? 'ss3' : 'none';
    else if (this.esc === 'ss3') this.esc = 'none';
    else if (b >= 0x40 && b <= 0x7e) this.esc = 'none';
  }

  private backspace(): void {
    if (this.line.length === 0) return;
    // A whole UTF-8 character: its continuation bytes, then its lead byte.
    while (this.line.length > 0 && (this.line[this.line.length - 1]! & 0xc0) === 0x80) this.line.pop();
    this.line.pop();
    this.emit(Buffer.from('\b \b'));
  }

  private killLine(): void {
    const chars = Buffer.from(this.line).toString('utf8').length;
    this.line = [];
    if (chars > 0) this.emit(Buffer.from('\b \b'.repeat(chars)));
  }

  private interrupt(): void {
    this.yes = undefined;
    this.line = [];
    this.print('^C\n');
    this.prompt();
  }

  private enter(): void {
    const text = Buffer.from(this.line).toString('utf8');
    this.line = [];
    this.print('\n');
    this.run(text);
  }

  private prompt(typed?: Buffer): void {
    const home = this.cwd === '/root' ? '~' : this.cwd.startsWith('/root/') ? `~${this.cwd.slice(5)}` : this.cwd;
    this.print(this.guest.os === 'alpine' ? `${this.guest.hostname}:${home}# ` : `root@${this.guest.hostname}:${home}# `);
    if (typed && typed.byteLength > 0) this.emit(typed);
  }

  private login(): void {
    const k = KERNEL[this.guest.os];
    const name = this.guest.hostname;
    if (this.guest.os === 'alpine') this.print(`\nWelcome to Alpine Linux 3.20\nKernel ${k.release} on an x86_64 (/dev/ttyS0)\n\n${name} login: root (automatic login)\n\n`);
    else this.print(`\nDebian GNU/Linux 12 ${name} ttyS0\n\n${name} login: root (automatic login)\nLinux ${name} ${k.release} ${k.version} x86_64\n\n`);
    this.print(`Cordon simulated console: ${COMMANDS.join(', ')}.\n`);
    this.prompt();
  }

  // ---- commands --------------------------------------------------------------------------------------------------

  private run(text: string): void {
    const stages = splitPipeline(text);
    if (!stages) {
      this.print('-bash: syntax error: unterminated quoted string\n');
      this.prompt();
      return;
    }
    if (stages.length === 0 || stages[0]!.length === 0) {
      this.prompt();
      return;
    }
    const [first, ...filters] = stages;
    const [cmd, ...args] = first!;
    if (cmd === 'exit' || cmd === 'logout') {
      this.print('logout\n');
      this.cwd = '/root';
      this.login();
      return;
    }
    if (cmd === 'yes') {
      const line = Buffer.from(`${args.length > 0 ? args.join(' ') : 'y'}\r\n`, 'utf8');
      // Whole lines, about YES_CHUNK bytes: what a guest's tty hands a serial line at a time.
      this.yes = Buffer.concat(Array.from({ length: Math.max(1, Math.floor(YES_CHUNK / line.byteLength)) }, () => line));
      return;
    }
    let out = this.command(cmd!, args);
    for (const f of filters) out = filter(f, out);
    this.print(out);
    this.prompt();
  }

  /** One command's output (LF line ends; print() makes them CRLF). */
  private command(cmd: string, args: string[]): Buffer {
    const g = this.guest;
    const text = (s: string) => Buffer.from(s, 'utf8');
    switch (cmd) {
      case 'ps': return this.ps();
      case 'netstat': case 'ss': return this.netstat(args);
      case 'ls': return this.ls(args);
      case 'cat': return this.cat(args);
      case 'cd': {
        const to = resolvePath(this.cwd, args[0] ?? '/root');
        if (g.isDir(to)) { this.cwd = to; return Buffer.alloc(0); }
        return Buffer.concat([text('-bash: cd: '), Buffer.from(args[0] ?? ''), text(g.file(to) ? ': Not a directory\n' : ': No such file or directory\n')]);
      }
      case 'pwd': return text(`${this.cwd}\n`);
      case 'uname': return text(`${this.uname(args)}\n`);
      case 'id': return text('uid=0(root) gid=0(root) groups=0(root)\n');
      case 'whoami': return text('root\n');
      case 'hostname': return text(`${g.hostname}\n`);
      case 'stty': return this.stty(args);
      case 'echo': {
        const noNewline = args[0] === '-n';
        return text(`${(noNewline ? args.slice(1) : args).join(' ')}${noNewline ? '' : '\n'}`);
      }
      case 'clear': return text('\u001b[H\u001b[2J\u001b[3J');
      case 'true': case 'false': case 'grep': case 'head': case 'tail': case 'wc': return Buffer.alloc(0);
      case 'help': return text(`Cordon simulated console. Commands: ${COMMANDS.join(', ')}; a pipeline may end in | grep [-iv] WORD, | head [-n N], | tail [-n N] or | wc -l.\n`);
      default: return Buffer.concat([text('-bash: '), Buffer.from(cmd, 'utf8'), text(': command not found\n')]);
    }
  }

  /** `ps` in any form prints what `ps -efww` would: every process, whole command lines. */
  private ps(): Buffer {
    const lines = ['UID          PID    PPID  C STIME TTY          TIME CMD\n'];
    for (const p of this.guest.processes()) {
      const user = Buffer.byteLength(p.user) > 8 ? `${Buffer.from(p.user).subarray(0, 7).toString('utf8')}+` : p.user;
      lines.push(`${user.padEnd(8)} ${String(p.pid).padStart(7)} ${String(p.ppid).padStart(7)}  0 ${p.started} ${p.tty.padEnd(8)} 00:00:00 ${p.command}\n`);
    }
    lines.push(`root     ${String(this.guest.shellPid + 1000).padStart(7)} ${String(this.guest.shellPid).padStart(7)}  0 ${hhmm()} ttyS0    00:00:00 ps -ef\n`);
    return Buffer.from(lines.join(''), 'utf8');
  }

  /** `netstat -tlnp` (and `ss`): listening sockets with pid/program, as net-tools prints them (program cut at 19 bytes). */
  private netstat(args: string[]): Buffer {
    const flags = args.filter((a) => a.startsWith('-')).join('');
    const udp = flags.includes('u');
    const tcp = flags.includes('t') || !udp;
    const out: Buffer[] = [Buffer.from('Active Internet connections (only servers)\nProto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name    \n')];
    for (const l of this.guest.listeners()) {
      if ((l.proto === 'tcp' && !tcp) || (l.proto === 'udp' && !udp)) continue;
      const prog = Buffer.from(`${l.pid}/${l.program}`, 'utf8').subarray(0, 19);
      const local = `${l.address}:${l.port}`;
      out.push(Buffer.from(`${l.proto.padEnd(5)}      0      0 ${local.padEnd(23)} ${(l.address.includes(':') ? ':::*' : '0.0.0.0:*').padEnd(23)} ${(l.proto === 'tcp' ? 'LISTEN' : '').padEnd(11)} `), prog, Buffer.from('\n'));
    }
    return Buffer.concat(out);
  }

  /** `ls [-l] [-a] [PATH...]`: one name per line, hidden names with -a, long form with -l. */
  private ls(args: string[]): Buffer {
    const flags = args.filter((a) => a.startsWith('-') && a.length > 1).join('');
    const paths = args.filter((a) => !a.startsWith('-') || a.length === 1);
    const long = flags.includes('l');
    const all = flags.includes('a');
    const out: Buffer[] = [];
    const entry = (name: string, file: GuestFile | undefined) => {
      if (!long) return Buffer.from(`${name}\n`, 'utf8');
      const mode = file ? file.mode : 'drwxr-xr-x';
      const owner = file?.owner ?? 'root';
      return Buffer.from(`${mode} 1 ${owner.padEnd(8)} ${owner.padEnd(8)} ${String(file?.size ?? 4096).padStart(9)} ${file?.time ?? 'Jan  1 00:00'} ${name}\n`, 'utf8');
    };
    const targets = paths.length > 0 ? paths : ['.'];
    for (const [i, p] of targets.entries()) {
      const path = resolvePath(this.cwd, p);
      const file = this.guest.file(path);
      if (file) { out.push(entry(p, file)); continue; }
      if (!this.guest.isDir(path)) {
        out.push(Buffer.from("ls: cannot access '"), Buffer.from(p, 'utf8'), Buffer.from("': No such file or directory\n"));
        continue;
      }
      if (targets.length > 1) out.push(Buffer.from(`${i > 0 ? '\n' : ''}${p}:\n`, 'utf8'));
      if (all) out.push(entry('.', undefined), entry('..', undefined));
      for (const e of this.guest.list(path)) if (all || !e.name.startsWith('.')) out.push(entry(e.name, e.file));
    }
    return Buffer.concat(out);
  }

  private cat(args: string[]): Buffer {
    const out: Buffer[] = [];
    for (const p of args.filter((a) => a !== '-')) {
      const path = resolvePath(this.cwd, p);
      const file = this.guest.file(path);
      if (file) out.push(file.content);
      else out.push(Buffer.from('cat: '), Buffer.from(p, 'utf8'), Buffer.from(this.guest.isDir(path) ? ': Is a directory\n' : ': No such file or directory\n'));
    }
    return Buffer.concat(out);
  }

  private uname(args: string[]): string {
    const k = KERNEL[this.guest.os];
    const flags = args.join('').replace(/-/g, '');
    const parts: Record<string, string> = { s: 'Linux', n: this.guest.hostname, r: k.release, v: k.version, m: 'x86_64', o: k.os };
    if (flags.includes('a')) return ['s', 'n', 'r', 'v', 'm', 'o'].map((f) => parts[f]).join(' ');
    const asked = [...flags].filter((f) => f in parts);
    return (asked.length > 0 ? asked : ['s']).map((f) => parts[f]).join(' ');
  }

  private stty(args: string[]): Buffer {
    if (args[0] === 'size') return Buffer.from(`${this.rows} ${this.cols}\n`);
    if (args.length === 0 || args[0] === '-a') return Buffer.from(`speed 38400 baud; rows ${this.rows}; columns ${this.cols}; line = 0;\nintr = ^C; quit = ^\\; erase = ^?; kill = ^U; eof = ^D; start = ^Q; stop = ^S; susp = ^Z;\n`);
    for (let i = 0; i < args.length; i += 2) {
      const n = Number(args[i + 1]);
      const valid = Number.isInteger(n) && n >= 0 && n <= 65535;
      if (args[i] === 'rows' && valid) this.rows = n;
      else if ((args[i] === 'cols' || args[i] === 'columns') && valid) this.cols = n;
      else return Buffer.concat([Buffer.from("stty: invalid argument '"), Buffer.from(args[i] ?? '', 'utf8'), Buffer.from("'\n")]);
    }
    return Buffer.alloc(0);
  }
}

/** A tty's onlcr: each LF becomes CRLF. */
function onlcr(bytes: Buffer): Buffer {
  let count = 0;
  for (const b of bytes) if (b === 0x0a) count++;
  if (count === 0) return bytes;
  const out = Buffer.allocUnsafe(bytes.byteLength + count);
  let j = 0;
  for (const b of bytes) {
    if (b === 0x0a) out[j++] = 0x0d;
    out[j++] = b;
  }
  return out;
}

function startOfLine(bytes: Buffer): Buffer {
  if (bytes.byteLength < TRANSCRIPT_BYTES) return bytes;
  const nl = bytes.indexOf(0x0a);
  return nl >= 0 ? bytes.subarray(nl + 1) : bytes;
}

function hhmm(): string {
  return new Date().toISOString().slice(11, 16);
}

/**
 * Splits a command line into pipeline stages of words: 'single' and "double" quotes, backslash escapes, `|` between
 * stages. No expansion of any kind: `$`, `*` and backquotes are plain characters here. Undefined if a quote is open.
 */
export function splitPipeline(line: string): string[][] | undefined {
  const stages: string[][] = [[]];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < line.length && '"\\$`'.includes(line[i + 1]!)) word += line[++i];
      else word += c;
      continue;
    }
    if (c === "'" || c === '"') { quote = c; inWord = true; continue; }
    if (c === '\\' && i + 1 < line.length) { word += line[++i]; inWord = true; continue; }
    if (c === ' ' || c === '\t' || c === '|') {
      if (inWord) stages[stages.length - 1]!.push(word);
      word = '';
      inWord = false;
      if (c === '|') stages.push([]);
      continue;
    }
    word += c;
    inWord = true;
  }
  if (quote) return undefined;
  if (inWord) stages[stages.length - 1]!.push(word);
  return stages.filter((s, i) => s.length > 0 || i === 0);
}

/** A pipeline's filter stage over the previous stage's output: grep, head, tail, wc -l. */
function filter(stage: string[], input: Buffer): Buffer {
  const [cmd, ...args] = stage;
  const lines = splitLines(input);
  const count = () => {
    const n = args[0] === '-n' ? Number(args[1]) : /^-\d+$/.test(args[0] ?? '') ? Number(args[0]!.slice(1)) : 10;
    return Number.isInteger(n) && n >= 0 ? n : 10;
  };
  switch (cmd) {
    case 'grep': {
      const flags = args.filter((a) => a.startsWith('-')).join('');
      const word = args.find((a) => !a.startsWith('-'));
      if (word === undefined) return Buffer.from('Usage: grep [OPTION]... PATTERNS [FILE]...\n');
      const ci = flags.includes('i');
      const needle = Buffer.from(ci ? word.toLowerCase() : word, 'utf8');
      const keep = lines.filter((l) => (Buffer.from(ci ? l.toString('utf8').toLowerCase() : l).includes(needle)) !== flags.includes('v'));
      return Buffer.concat(keep);
    }
    case 'head': return Buffer.concat(lines.slice(0, count()));
    case 'tail': return Buffer.concat(lines.slice(Math.max(0, lines.length - count())));
    case 'wc': return Buffer.from(`${lines.length}\n`);
    default: return Buffer.concat([Buffer.from('-bash: '), Buffer.from(cmd ?? '', 'utf8'), Buffer.from(': command not found\n')]);
  }
}

/** Lines with their LF kept. */
function splitLines(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at < bytes.byteLength) {
    const nl = bytes.indexOf(0x0a, at);
    const end = nl < 0 ? bytes.byteLength : nl + 1;
    out.push(bytes.subarray(at, end));
    at = end;
  }
  return out;
}
