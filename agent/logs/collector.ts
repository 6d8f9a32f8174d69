// Gathers the agent's log sources into its log store: files it follows (the host's syslog files, each VM's QEMU log
// and serial console logfile, which the driver asks for), the syslog listener, the systemd journal, lines a driver
// makes itself (the sim), and the agent's own notes. Each source has a rate bound (a guest flooding its serial
// console, a chatty appliance) so one cannot push the others out of the store; what is dropped is counted and said.
// Where each followed file stands is kept in `followers.json`, so a restarted agent resumes without a line twice.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { LogSource } from '../../protocol/index.ts';
import { systemCode } from '../errors.ts';
import { FileFollower, type FollowPosition } from './file-follower.ts';
import type { LogEntry, LogStore } from './store.ts';
import { SyslogListener, type SyslogPeer } from './syslog-listener.ts';
import { parseSyslogFileLine, syslogEntry, type ParsedSyslog } from './syslog-parse.ts';
import type { VmMatcher } from './vm-match.ts';

/** A log file to follow; the qemu driver asks for its VMs' (DriverSink.followLog). */
export interface FollowLogSpec {
  path: string;
  source: Extract<LogSource, 'hypervisor' | 'serial' | 'syslog'>;
  vmId?: string;
  /** syslog: a host's log file; qemu: QEMU's log or stderr (timestamps, warning/error levels); plain: a console. */
  format: 'syslog' | 'qemu' | 'plain';
  /** Where to begin the first time (default: start for a VM's logs, end for syslog files); a saved position wins. */
  startAt?: 'start' | 'end';
}

export interface LogCollectorOptions {
  store: LogStore;
  /** Folder for followers.json (the log store's). */
  dir: string;
  /** Operator notes; the agent routes them to stderr and, as `agent` records, back into the store. */
  note(line: string): void;
  vms: VmMatcher;
  /** Lines per second one source key (a VM's console, a syslog sender, a file) may add (default 2,000). */
  ratePerSecond?: number;
}

interface Gate {
  windowStart: number;
  count: number;
  dropped: number;
}

export class LogCollector {
  private readonly followers = new Map<string, FileFollower>();
  private positions: Record<string, FollowPosition | string> = {};
  private positionsDirty = false;
  private readonly saveTimer: NodeJS.Timeout;
  private readonly gates = new Map<string, Gate>();
  private readonly refusals = new Map<string, { count: number; reason: string }>();
  private readonly refusalTimer: NodeJS.Timeout;
  private listener: SyslogListener | undefined;
  private journal: ChildProcess | undefined;
  private closed = false;

  constructor(private readonly o: LogCollectorOptions) {
    try {
      this.positions = JSON.parse(readFileSync(this.positionsPath, 'utf8')) as Record<string, FollowPosition | string>;
    } catch {
      this.positions = {};
    }
    this.saveTimer = setInterval(() => this.savePositions(), 2000);
    this.saveTimer.unref();
    this.refusalTimer = setInterval(() => this.sayRefusals(), 60_000);
    this.refusalTimer.unref();
  }

  /** Adds entries under a rate key (one per source instance); over the rate, they are dropped and counted. */
  add(entries: LogEntry[], key: string = entries[0]?.source ?? 'agent'): void {
    if (this.closed || entries.length === 0) return;
    const gate = this.gate(key);
    const room = Math.max(0, (this.o.ratePerSecond ?? 2000) - gate.count);
    if (room < entries.length) {
      gate.dropped += entries.length - room;
      entries = entries.slice(0, room);
    }
    gate.count += entries.length;
    if (entries.length > 0) this.o.store.append(entries);
  }

  /** The agent's own note as a record (never gated: the agent's own voice says what was dropped). */
  agentNote(line: string): void {
    if (this.closed) return;
    this.o.store.append([{ source: 'agent', app: 'cordon-agent', severity: /\b(cannot|could not|failed|lost|refus)/i.test(line) ? 4 : 6, message: line }]);
  }

  /** Follows a log file into the store; returns what stops it (it reads what is left first). */
  follow(spec: FollowLogSpec): () => void {
    const key = spec.path;
    if (this.followers.has(key) || this.closed) return () => {};
    const saved = this.positions[key];
    const follower = new FileFollower({
      path: spec.path,
      startAt: typeof saved === 'object' ? saved : spec.startAt ?? (spec.source === 'syslog' ? 'end' : 'start'),
      partialFlushMs: spec.format === 'plain' ? 1000 : undefined,
      note: (l) => this.o.note(`logs: ${l}`),
      onPosition: (p) => this.setPosition(key, p),
      onLines: (lines) => this.add(lines.flatMap((line) => {
        const e = this.entryOf(line, spec);
        return e ? [e] : [];
      }), key),
    }).start();
    this.followers.set(key, follower);
    return () => {
      follower.stop();
      this.followers.delete(key);
      const p = follower.position;
      if (p) this.setPosition(key, p);
    };
  }

  /** Follows a detector's output file (Suricata EVE, Falco JSON): whole lines to `onLines`, position kept like any log's. */
  followLines(path: string, onLines: (lines: string[]) => void, startAt: 'start' | 'end' = 'end'): () => void {
    const key = `detector:${path}`;
    const saved = this.positions[key];
    const follower = new FileFollower({
      path,
      startAt: typeof saved === 'object' ? saved : startAt,
      note: (l) => this.o.note(`detectors: ${l}`),
      onPosition: (p) => this.setPosition(key, p),
      onLines,
    }).start();
    this.followers.set(key, follower);
    return () => {
      follower.stop();
      this.followers.delete(key);
    };
  }

  /** Starts the syslog listener; `also` sees each accepted message too (Falco's JSON pushed over syslog). */
  async listen(host: string, port: number, also?: (m: ParsedSyslog, peer: SyslogPeer) => void): Promise<SyslogListener> {
    this.listener = await SyslogListener.listen({
      host,
      port,
      onMessage: (m, peer) => {
        const origin = `${peer.transport}://${peer.address.includes(':') ? `[${peer.address}]` : peer.address}:${peer.port}`;
        const vm = this.o.vms.byName(m.host) ?? this.o.vms.byIp(peer.address);
        this.add([syslogEntry(m, { origin, ...(vm ? { vmId: vm.id } : {}) })], `syslog:${peer.address}`);
        also?.(m, peer);
      },
      onRefused: (reason, peer) => {
        const key = `${peer.transport}://${peer.address}`;
        const r = this.refusals.get(key);
        if (!r) this.o.note(`logs: refused a syslog message from ${key}: ${reason} (further refusals from it are counted and said once a minute).`);
        this.refusals.set(key, { count: (r?.count ?? 0) + (r ? 1 : 0), reason });
      },
    });
    return this.listener;
  }

  /** Follows the systemd journal with `journalctl -o json --follow`, if journalctl is there; resumes at its cursor. */
  followJournal(binary = 'journalctl'): void {
    const cursor = this.positions.journal;
    const args = ['-o', 'json', '--follow', '--no-pager', ...(typeof cursor === 'string' ? [`--after-cursor=${cursor}`] : ['--lines=0'])];
    let child: ChildProcess;
    try {
      child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      this.o.note(`logs: cannot run ${binary} (${systemCode(err)}); the journal is not collected.`);
      return;
    }
    this.journal = child;
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-500); });
    child.on('error', (err) => this.o.note(`logs: cannot run ${binary} (${systemCode(err)}); the journal is not collected.`));
    child.on('exit', (code, signal) => {
      if (this.closed || this.journal !== child) return;
      this.journal = undefined;
      this.o.note(`logs: ${binary} ended (${signal ?? `exit ${code}`}${stderr.trim() ? `: ${stderr.trim().split('\n').pop()}` : ''}); the journal is no longer collected.`);
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const e = journalEntry(line);
      if (!e) return;
      this.add([e.entry], 'journal');
      if (e.cursor) this.setPosition('journal', e.cursor);
    });
  }

  get syslogListener(): SyslogListener | undefined {
    return this.listener;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    for (const f of this.followers.values()) f.stop();
    this.followers.clear();
    this.sayRefusals();
    this.sayDrops();
    this.closed = true;
    clearInterval(this.saveTimer);
    clearInterval(this.refusalTimer);
    this.journal?.kill();
    this.journal = undefined;
    await this.listener?.close();
    this.savePositions();
  }

  private entryOf(line: string, spec: FollowLogSpec): LogEntry | undefined {
    if (line.trim().length === 0) return undefined;
    const base = { origin: spec.path, ...(spec.vmId ? { vmId: spec.vmId } : {}) };
    if (spec.format === 'syslog') {
      const p = parseSyslogFileLine(line);
      const vm = spec.vmId ? undefined : this.o.vms.byName(p.host);
      return syslogEntry(p, { ...base, ...(vm ? { vmId: vm.id } : {}) });
    }
    if (spec.format === 'qemu') return { source: spec.source, ...base, ...qemuLine(line) };
    return { source: spec.source, ...base, message: line };
  }

  private gate(key: string): Gate {
    const now = performance.now();
    let g = this.gates.get(key);
    if (!g) {
      g = { windowStart: now, count: 0, dropped: 0 };
      this.gates.set(key, g);
    }
    if (now - g.windowStart >= 1000) {
      if (g.dropped > 0) this.o.note(`logs: dropped ${g.dropped} line(s) from ${key}: over ${this.o.ratePerSecond ?? 2000} lines/s.`);
      g.windowStart = now;
      g.count = 0;
      g.dropped = 0;
    }
    if (this.gates.size > 10_000) this.gates.clear();
    return g;
  }

  private sayDrops(): void {
    for (const [key, g] of this.gates) if (g.dropped > 0) this.o.note(`logs: dropped ${g.dropped} line(s) from ${key}: over ${this.o.ratePerSecond ?? 2000} lines/s.`);
  }

  private sayRefusals(): void {
    for (const [key, r] of this.refusals) {
      if (r.count > 0) this.o.note(`logs: refused ${r.count} more syslog message(s) from ${key} in the last minute (the last: ${r.reason}).`);
    }
    this.refusals.clear();
  }

  private setPosition(key: string, p: FollowPosition | string): void {
    this.positions[key] = p;
    this.positionsDirty = true;
  }

  private get positionsPath(): string {
    return join(this.o.dir, 'followers.json');
  }

  private savePositions(): void {
    if (!this.positionsDirty) return;
    this.positionsDirty = false;
    try {
      writeFileSync(`${this.positionsPath}.tmp`, JSON.stringify(this.positions), { mode: 0o600 });
      renameSync(`${this.positionsPath}.tmp`, this.positionsPath);
    } catch (err) {
      this.o.note(`logs: cannot save where followed files stand (${systemCode(err)}); a restart may read some lines again.`);
    }
  }
}

const QEMU_TIME = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)) /;

/** A line of QEMU's log or stderr: its `-msg timestamp=on` time, its program prefix, and a level from its words. */
export function qemuLine(line: string): Omit<LogEntry, 'source'> {
  let rest = line;
  const out: Omit<LogEntry, 'source'> = { message: line };
  const t = QEMU_TIME.exec(rest);
  if (t) {
    out.time = t[1]!;
    rest = rest.slice(t[0].length);
  }
  const prog = /^(qemu-system-[a-z0-9_]+|qemu-img|qemu):\s*/.exec(rest);
  if (prog) {
    out.app = prog[1]!;
    rest = rest.slice(prog[0].length);
  }
  out.message = rest;
  out.severity = /\b(error|failed|fatal|cannot|could not)\b/i.test(rest) ? 3 : /\bwarning\b/i.test(rest) ? 4 : 6;
  return out;
}

/** One line of `journalctl -o json`, and its cursor. */
export function journalEntry(line: string): { entry: LogEntry; cursor?: string } | undefined {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  let message = j.MESSAGE;
  // journald gives a message that is not valid UTF-8 as an array of bytes.
  if (Array.isArray(message)) message = Buffer.from(message.filter((b): b is number => typeof b === 'number')).toString('utf8');
  if (typeof message !== 'string') return undefined;
  const entry: LogEntry = { source: 'journal', message };
  const us = typeof j.__REALTIME_TIMESTAMP === 'string' ? Number(j.__REALTIME_TIMESTAMP) : NaN;
  if (Number.isFinite(us)) entry.time = Math.floor(us / 1000);
  const prio = Number(j.PRIORITY);
  if (Number.isInteger(prio)) entry.severity = prio;
  const facility = Number(j.SYSLOG_FACILITY);
  if (Number.isInteger(facility)) entry.facility = facility;
  if (typeof j._HOSTNAME === 'string') entry.host = j._HOSTNAME;
  const app = typeof j.SYSLOG_IDENTIFIER === 'string' ? j.SYSLOG_IDENTIFIER : typeof j._COMM === 'string' ? j._COMM : undefined;
  if (app) entry.app = app;
  if (typeof j._PID === 'string') entry.procid = j._PID;
  entry.origin = 'journal';
  return typeof j.__CURSOR === 'string' ? { entry, cursor: j.__CURSOR } : { entry };
}
