// The evaluation view's logic, without React: sorting and filtering a VM's processes and sockets, marking the rows
// that the selected threat event names (its process, its connection's addresses and ports), and comparing two
// inspections (what appeared, what vanished). Every string is the guest's: compared and shown as text only.
import type { InspectedProcess, InspectedSocket, ThreatEvent, VmInspection } from '../../../../protocol/index.ts';

export type SortDir = 'asc' | 'desc';
export interface Sort<K extends string> { key: K; dir: SortDir }

export type ProcessKey = 'pid' | 'ppid' | 'user' | 'name' | 'command' | 'rssKiB';
export type SocketKey = 'protocol' | 'localAddress' | 'localPort' | 'remoteAddress' | 'remotePort' | 'state' | 'pid' | 'program';

/** Rows sorted by one column (numbers as numbers, missing values last), then by what they were in. */
export function sortRows<T extends object, K extends keyof T & string>(rows: readonly T[], sort: Sort<K>): T[] {
  const sign = sort.dir === 'asc' ? 1 : -1;
  return rows.map((row, i) => ({ row, i })).sort((a, b) => {
    const x = a.row[sort.key] as unknown;
    const y = b.row[sort.key] as unknown;
    if (x === undefined || y === undefined) return x === y ? a.i - b.i : x === undefined ? 1 : -1;
    const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
    return c !== 0 ? sign * c : a.i - b.i;
  }).map((r) => r.row);
}

/** Rows any of whose values contains every word of the filter (case-insensitive). */
export function filterRows<T extends object>(rows: readonly T[], filter: string): T[] {
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return [...rows];
  return rows.filter((row) => {
    const text = Object.values(row).map((v) => String(v)).join('\u0000').toLowerCase();
    return words.every((w) => text.includes(w));
  });
}

/** The selected event's process: by pid, or by name when the guest reused the pid. */
export function processMatches(p: InspectedProcess, e: ThreatEvent | null): boolean {
  const ref = e?.process;
  if (!ref) return false;
  return p.pid === ref.pid || (ref.name !== '' && (p.name === ref.name || p.command.split(' ')[0]?.endsWith(`/${ref.name}`) === true));
}

/** A socket of the selected event's process, or on its connection's ports and addresses. */
export function socketMatches(s: InspectedSocket, e: ThreatEvent | null): boolean {
  if (!e) return false;
  if (e.process && s.pid === e.process.pid) return true;
  const c = e.connection;
  if (!c) return false;
  if (c.remoteAddress !== undefined && s.remoteAddress === c.remoteAddress && (c.remotePort === undefined || s.remotePort === c.remotePort)) return true;
  return c.localPort !== undefined && s.localPort === c.localPort && s.protocol === c.protocol;
}

export interface InspectionDiff {
  processes: { appeared: InspectedProcess[]; vanished: InspectedProcess[] };
  sockets: { appeared: InspectedSocket[]; vanished: InspectedSocket[] };
}

const processKey = (p: InspectedProcess) => `${p.pid}\u0000${p.command}`;
const socketKey = (s: InspectedSocket) => `${s.protocol}\u0000${s.localAddress}\u0000${s.localPort}\u0000${s.remoteAddress ?? ''}\u0000${s.remotePort ?? ''}\u0000${s.state}`;

/** What is in `after` and not in `before` (appeared), and the reverse (vanished). */
export function diffInspections(before: VmInspection, after: VmInspection): InspectionDiff {
  const d = <T>(a: readonly T[], b: readonly T[], key: (x: T) => string) => {
    const inA = new Set(a.map(key));
    const inB = new Set(b.map(key));
    return { appeared: b.filter((x) => !inA.has(key(x))), vanished: a.filter((x) => !inB.has(key(x))) };
  };
  return { processes: d(before.processes, after.processes, processKey), sockets: d(before.sockets, after.sockets, socketKey) };
}

/** Listening sockets, then established connections, then the rest (as `netstat -tlnp` then `-tnp` would show them). */
export function splitSockets(sockets: readonly InspectedSocket[]): { listening: InspectedSocket[]; connections: InspectedSocket[] } {
  const listening = sockets.filter((s) => s.state === 'LISTEN' || (s.protocol === 'udp' && s.state === 'UNCONN'));
  const connections = sockets.filter((s) => !listening.includes(s));
  return { listening, connections };
}

export function endpointText(address: string | undefined, port: number | undefined): string {
  if (address === undefined) return port === undefined ? '' : `*:${port}`;
  return address.includes(':') ? `[${address}]:${port ?? '*'}` : `${address}:${port ?? '*'}`;
}
