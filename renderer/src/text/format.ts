// How times, counts, endpoints and the process-or-connection summary are written in the cockpit.
import type { ConnectionRef, ThreatEvent } from '../../../protocol/index.ts';

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export function formatCount(n: number): string {
  return Number.isFinite(n) ? integer.format(n) : '–';
}

/** An event time as HH:MM:SS.mmm in UTC (a SOC compares times across hosts, so one zone for all). */
export function utcClock(time: string): string {
  // Fast path for the usual '2026-11-23T10:15:00.123Z' (and longer fractions): no Date object per row.
  if (time.length >= 24 && time.endsWith('Z') && time.charCodeAt(19) === 46 /* . */) return time.slice(11, 23);
  const ms = Date.parse(time);
  if (Number.isNaN(ms)) return time.slice(0, 40);
  return new Date(ms).toISOString().slice(11, 23);
}

/** A full UTC timestamp with milliseconds, for the detail pane. */
export function utcTimestamp(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString().replace('T', ' ').replace('Z', ' UTC') : '–';
}

export function endpoint(address: string | undefined, port: number | undefined): string {
  const a = address ?? '*';
  const host = a.includes(':') && !a.startsWith('[') ? `[${a}]` : a;
  return port === undefined ? host : `${host}:${port}`;
}

/** "→ 203.0.113.7:4444/tcp", "listen *:4444/tcp", "← 10.0.0.9:52000/tcp". */
export function connectionSummary(c: ConnectionRef): string {
  const proto = `/${c.protocol}`;
  switch (c.direction) {
    case 'outbound':
      return `→ ${endpoint(c.remoteAddress, c.remotePort)}${proto}`;
    case 'inbound':
      return `← ${endpoint(c.remoteAddress, c.remotePort)}${proto}`;
    case 'listen':
      return `listen ${endpoint(c.localAddress, c.localPort)}${proto}`;
    case 'internal':
      return `↔ ${endpoint(c.remoteAddress ?? c.localAddress, c.remotePort ?? c.localPort)}${proto}`;
  }
}

/** The feed's last column: the process (name [pid]) and/or the connection, else the file. */
export function actorSummary(e: ThreatEvent): string {
  const parts: string[] = [];
  if (e.process !== undefined) parts.push(`${e.process.name} [${e.process.pid}]`);
  if (e.connection !== undefined) parts.push(connectionSummary(e.connection));
  if (parts.length === 0 && e.file !== undefined) parts.push(e.file.path);
  return parts.join(' ');
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]} (${formatCount(n)} B)`;
}

/** A delay between two clocks: "37 ms", "1.4 s". Negative when the second clock is behind (clock skew). */
export function formatLag(ms: number): string {
  if (!Number.isFinite(ms)) return '–';
  if (Math.abs(ms) < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

/** "3 s", "4 min", "2 h" ago or ahead. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}

export function formatRate(perSec: number): string {
  if (perSec >= 10_000) return `${formatCount(Math.round(perSec / 100) * 100)}/s`;
  return `${formatCount(Math.round(perSec))}/s`;
}

/** A countdown: "1 h 05 min", "4 min 12 s", "12 s" (never negative). */
export function formatCountdown(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}
