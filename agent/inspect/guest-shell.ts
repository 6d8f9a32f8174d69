// Reading what runs in a Linux guest with nothing but busybox: one script, run by the guest's own shell, prints
// sections (processes from `ps`, sockets from /proc/net/{tcp,tcp6,udp,udp6}, which process owns each socket from the
// /proc/PID/fd links, memory, load, uptime, CPU counters), and `parseInspection` turns its output into a VmInspection.
// busybox `netstat` has no -p (MACHINE.md), so socket owners come from the socket inodes.
//
// The output is the guest's: an attacker inside can print anything. The parser trusts nothing — every number is
// checked, every string bounded, a section it cannot read becomes a warning — and nothing it reads is ever run,
// opened or used as a path on the host.
import type { VmInspection } from '../../protocol/index.ts';

/** A marker no guest output line starts with by chance; a section line is `<MARK> name`. */
export const MARK = '@@cordon-inspect';

/** The script the guest's shell runs (POSIX sh, busybox applets only). Ends with `<MARK> end`. */
export const INSPECT_SCRIPT = [
  `echo "${MARK} ps"; ps -o pid,ppid,user,stat,rss,args 2>/dev/null || ps 2>/dev/null`,
  `echo "${MARK} tcp"; cat /proc/net/tcp /proc/net/tcp6 2>/dev/null`,
  `echo "${MARK} udp"; cat /proc/net/udp /proc/net/udp6 2>/dev/null`,
  `echo "${MARK} fd"; for p in /proc/[0-9]*; do for f in $p/fd/*; do l=$(readlink $f 2>/dev/null) && case $l in socket:*) echo "\${p#/proc/} $l";; esac; done; done`,
  `echo "${MARK} comm"; for p in /proc/[0-9]*; do read -r c < $p/comm 2>/dev/null && echo "\${p#/proc/} $c"; done`,
  `echo "${MARK} mem"; cat /proc/meminfo 2>/dev/null`,
  `echo "${MARK} load"; cat /proc/loadavg /proc/uptime 2>/dev/null`,
  `echo "${MARK} stat"; head -n 1 /proc/stat 2>/dev/null; sleep 1; head -n 1 /proc/stat 2>/dev/null`,
  `echo "${MARK} end"`,
].join('; ');

const TCP_STATES: Record<string, string> = {
  '01': 'ESTABLISHED', '02': 'SYN_SENT', '03': 'SYN_RECV', '04': 'FIN_WAIT1', '05': 'FIN_WAIT2', '06': 'TIME_WAIT', '07': 'CLOSE',
  '08': 'CLOSE_WAIT', '09': 'LAST_ACK', '0A': 'LISTEN', '0B': 'CLOSING',
};
const MAX_ROWS = 10_000;

/** The script's output (CR LF or LF) as an inspection; `at` and `vmId` are the caller's. */
export function parseInspection(output: string, vmId: string, at: string): VmInspection {
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const raw of output.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line.startsWith(`${MARK} `)) {
      current = [];
      sections.set(line.slice(MARK.length + 1).trim(), current);
      continue;
    }
    if (current && current.length < MAX_ROWS * 2) current.push(line);
  }
  const warnings: string[] = [];
  if (!sections.has('end')) warnings.push('The guest\'s answer ended early: what follows may be incomplete.');

  const comm = new Map<number, string>();
  for (const line of sections.get('comm') ?? []) {
    const m = /^(\d+) (.*)$/.exec(line);
    if (m) comm.set(Number(m[1]), clip(m[2]!, 256));
  }
  const processes = parsePs(sections.get('ps') ?? [], comm, warnings);

  // socket inode → owning pid
  const owner = new Map<string, number>();
  for (const line of sections.get('fd') ?? []) {
    const m = /^(\d+) socket:\[(\d+)\]$/.exec(line);
    if (m && !owner.has(m[2]!)) owner.set(m[2]!, Number(m[1]));
  }
  const sockets: VmInspection['sockets'] = [];
  for (const [proto, name] of [['tcp', 'tcp'], ['udp', 'udp']] as const) {
    for (const line of sections.get(name) ?? []) {
      const s = parseProcNet(line, proto);
      if (!s) continue;
      const pid = owner.get(s.inode);
      const { inode: _inode, ...socket } = s;
      sockets.push({ ...socket, ...(pid !== undefined ? { pid, program: comm.get(pid) ?? processes.find((p) => p.pid === pid)?.name ?? String(pid) } : {}) });
      if (sockets.length >= MAX_ROWS) break;
    }
  }

  const mem = new Map<string, number>();
  for (const line of sections.get('mem') ?? []) {
    const m = /^(\w+):\s+(\d+) kB$/.exec(line);
    if (m) mem.set(m[1]!, Number(m[2]));
  }
  const [loadLine, uptimeLine] = sections.get('load') ?? [];
  const load1 = Number(loadLine?.split(' ')[0]);
  const uptimeS = Number(uptimeLine?.split(' ')[0]);
  const cpu = (sections.get('stat') ?? []).filter((l) => l.startsWith('cpu ')).map((l) => l.split(/\s+/).slice(1).map(Number));
  let cpuPercent: number | undefined;
  if (cpu.length === 2 && cpu.every((c) => c.length >= 4 && c.every(Number.isFinite))) {
    const idle = (c: number[]) => c[3]! + (c[4] ?? 0);
    const total = (c: number[]) => c.reduce((a, b) => a + b, 0);
    const dt = total(cpu[1]!) - total(cpu[0]!);
    if (dt > 0) cpuPercent = Math.min(100, Math.max(0, Math.round((1 - (idle(cpu[1]!) - idle(cpu[0]!)) / dt) * 1000) / 10));
  }
  const resources: VmInspection['resources'] = {
    processCount: processes.length,
    ...(cpuPercent !== undefined ? { cpuPercent } : {}),
    ...(mem.has('MemTotal') ? { memTotalKiB: mem.get('MemTotal')! } : {}),
    ...(mem.has('MemAvailable') ? { memAvailableKiB: mem.get('MemAvailable')! } : mem.has('MemFree') ? { memAvailableKiB: mem.get('MemFree')! } : {}),
    ...(Number.isFinite(load1) && load1 >= 0 ? { load1 } : {}),
    ...(Number.isFinite(uptimeS) && uptimeS >= 0 ? { uptimeS } : {}),
  };
  if (processes.length === 0) warnings.push('The guest listed no processes (no `ps` in it, or its answer was cut).');
  // A listener is the closest a busybox guest has to a service: what answers on a port, and which process does.
  const services = sockets.filter((s) => s.state === 'LISTEN' || (s.protocol === 'udp' && s.state === 'UNCONN'))
    .map((s) => ({ name: `${s.program ?? '?'} ${s.protocol}/${s.localPort}`, state: 'listening', ...(s.pid !== undefined ? { pid: s.pid } : {}) }));
  return { vmId, at, source: 'guest-shell', processes, sockets, services, resources, ...(warnings.length ? { warnings } : {}) };
}

function parsePs(lines: string[], comm: ReadonlyMap<number, string>, warnings: string[]): VmInspection['processes'] {
  const header = lines[0]?.trim().split(/\s+/) ?? [];
  const out: VmInspection['processes'] = [];
  const full = header[0] === 'PID' && header[1] === 'PPID' && header[2] === 'USER';
  if (lines.length > 0 && !full && header[0] !== 'PID') warnings.push('The guest\'s `ps` printed an unexpected header; processes may be missing.');
  for (const line of lines.slice(1)) {
    const f = line.trim().split(/\s+/);
    if (full) {
      // PID PPID USER STAT RSS COMMAND...
      const [pid, ppid, user, stat, rss] = f;
      if (!isId(pid) || !isId(ppid) || user === undefined) continue;
      const command = line.trim().split(/\s+/).slice(5).join(' ');
      const p = Number(pid);
      out.push({
        pid: p, ppid: Number(ppid), user: clip(user, 128), command: clip(command, 8192), name: comm.get(p) ?? clip(baseName(command), 256),
        ...(stat ? { state: clip(stat, 16) } : {}), ...(rss && /^\d+$/.test(rss) ? { rssKiB: Number(rss) } : rss && /^\d+m$/.test(rss) ? { rssKiB: Number(rss.slice(0, -1)) * 1024 } : {}),
      });
    } else {
      // busybox's default: PID USER TIME COMMAND
      const [pid, user] = f;
      if (!isId(pid) || user === undefined) continue;
      const command = line.trim().split(/\s+/).slice(3).join(' ');
      const p = Number(pid);
      out.push({ pid: p, ppid: 0, user: clip(user, 128), command: clip(command, 8192), name: comm.get(p) ?? clip(baseName(command), 256) });
    }
    if (out.length >= MAX_ROWS) break;
  }
  return out;
}

/** One line of /proc/net/{tcp,udp}[6]: `sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...`. */
function parseProcNet(line: string, protocol: 'tcp' | 'udp'): (VmInspection['sockets'][number] & { inode: string }) | undefined {
  const f = line.trim().split(/\s+/);
  if (f.length < 10 || !/^\d+:$/.test(f[0]!)) return undefined;
  const local = hexEndpoint(f[1]!);
  const remote = hexEndpoint(f[2]!);
  const st = f[3]!.toUpperCase();
  const inode = f[9]!;
  if (!local || !remote || !/^[0-9A-F]{2}$/.test(st) || !/^\d+$/.test(inode)) return undefined;
  const state = protocol === 'udp' ? (st === '07' ? 'UNCONN' : st === '01' ? 'ESTABLISHED' : TCP_STATES[st] ?? st) : TCP_STATES[st] ?? st;
  const connected = remote.port !== 0 || !/^(0\.0\.0\.0|::)$/.test(remote.address);
  return {
    protocol, localAddress: local.address, localPort: local.port, state, inode,
    ...(connected ? { remoteAddress: remote.address, remotePort: remote.port } : {}),
  };
}

/** `0100007F:1F90` → 127.0.0.1:8080; IPv6 in four little-endian 32-bit words. */
function hexEndpoint(s: string): { address: string; port: number } | undefined {
  const m = /^([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):([0-9A-Fa-f]{4})$/.exec(s);
  if (!m) return undefined;
  const hex = m[1]!;
  const port = parseInt(m[2]!, 16);
  if (hex.length === 8) {
    const n = parseInt(hex, 16);
    return { address: [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join('.'), port };
  }
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) {
    const word = hex.slice(w * 8, w * 8 + 8);
    for (let b = 3; b >= 0; b--) bytes.push(parseInt(word.slice(b * 2, b * 2 + 2), 16));
  }
  // An IPv4-mapped address reads as IPv4.
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 255 && bytes[11] === 255) return { address: `::ffff:${bytes.slice(12).join('.')}`, port };
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return { address: compress(groups), port };
}

function compress(groups: string[]): string {
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < groups.length;) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < groups.length && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

function isId(s: string | undefined): s is string {
  return s !== undefined && /^\d{1,10}$/.test(s) && Number(s) <= 4294967295;
}

function baseName(command: string): string {
  const first = command.replace(/^\[|\]$/g, '').split(' ')[0] ?? '';
  return first.slice(first.lastIndexOf('/') + 1);
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : s.slice(0, max);
}
