// bench:logs — the agent's log store (agent/logs/store.ts) on a million records: append rate, then query latency
// (p50/p99) for the views a responder opens: the newest lines, one VM, one VM in a ten-minute window, a source in an
// hour, a rare word, a word that is nowhere (the segments' trigram filters skip them all), a filter no index helps
// with (the worst case: segments are read until the page's time budget, then it is truncated with a cursor),
// warnings and worse, and paging back; then the time to reopen the store and its bytes per record.
//
//   npm run bench:logs [-- --records 1000000] [--runs 30] [--dir DIR] [--keep]
//
// Lines are realistic: serial consoles, QEMU, syslog, journal and the agent's notes of 16 VMs over 24 hours, 40 to
// 200 characters. Rates are per wall-clock second and per CPU second of this process.
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogStore, type LogEntry, type LogQuery } from '../agent/logs/store.ts';
import { percentile } from './lib.ts';

const args = process.argv.slice(2);
const num = (name: string, d: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : d;
};
const TOTAL = num('records', 1_000_000);
const RUNS = num('runs', 30);
const VMS = 16;
const SPAN_MS = 24 * 3_600_000;
const T0 = Date.parse('2026-11-23T00:00:00.000Z');
const dir = args.includes('--dir') ? args[args.indexOf('--dir') + 1]! : mkdtempSync(join(tmpdir(), 'cordon-bench-logs-'));
const keep = args.includes('--keep');

/** A deterministic generator (xorshift), so every run stores the same lines. */
let state = 0x2545f491;
const rand = () => {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>> 0) / 4294967296;
};
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

const SERIAL = [
  'systemd[1]: Started Daily apt download activities.',
  'CRON[%p]: (root) CMD (   cd / && run-parts --report /etc/cron.hourly)',
  'sshd[%p]: Accepted publickey for deploy from 10.20.3.%n port 51%n ssh2: ED25519 SHA256:Qm9vYmFyYmF6cXV4',
  'kernel: [%n.%n] TCP: request_sock_TCP: Possible SYN flooding on port 443. Sending cookies.',
  'nginx[%p]: 10.20.0.%n - - "GET /api/v1/items?page=%n HTTP/1.1" 200 %n "-" "Mozilla/5.0"',
  'web-%n login: ',
  'dhclient[%p]: DHCPACK of 10.20.0.%n from 10.20.0.1',
];
const QEMU = [
  'qemu-system-x86_64: warning: host doesn\'t support requested feature: CPUID.80000001H:ECX.svm [bit 2]',
  'virtio: bogus descriptor or out of resources',
  'qemu-system-x86_64: terminating on signal 15 from pid %p (/usr/sbin/libvirtd)',
];
const SYSLOG = [
  'kernel: br-prod: port %n(tap%n) entered forwarding state',
  'systemd-networkd[%p]: tap%n: Link UP',
  'sudo: admin : TTY=pts/%n ; PWD=/home/admin ; USER=root ; COMMAND=/usr/bin/virsh list',
  'smartd[%p]: Device: /dev/nvme0n1, SMART Usage Attribute: 194 Temperature_Celsius changed from %n to %n',
];
const AGENT = ['qemu: adopted web-%n (QEMU pid %p), running.', 'action req-%n (freeze of vm-%n) accepted from 127.0.0.1 by j.okafor'];

function fillTemplate(t: string): string {
  return t.replaceAll('%p', () => String(1000 + Math.floor(rand() * 30000))).replaceAll('%n', () => String(Math.floor(rand() * 250)));
}

function entry(i: number): LogEntry {
  const time = T0 + Math.floor((i / TOTAL) * SPAN_MS);
  const r = rand();
  const vmId = `vm-${String(Math.floor(rand() * VMS)).padStart(2, '0')}`;
  // A word that occurs in about 20 records in all: a rare search finds a handful.
  const rare = rand() < 20 / TOTAL ? ' implant kworkerd-x7 beaconing' : '';
  if (r < 0.5) return { source: 'serial', vmId, time, message: fillTemplate(pick(SERIAL)) + rare };
  if (r < 0.6) return { source: 'hypervisor', vmId, time, severity: 4, app: 'qemu-system-x86_64', message: fillTemplate(pick(QEMU)) + rare };
  if (r < 0.85) return { source: 'syslog', time, severity: Math.floor(rand() * 8), facility: 3, host: 'hv-bench', app: 'kernel', message: fillTemplate(pick(SYSLOG)) + rare };
  if (r < 0.95) return { source: 'journal', time, severity: 6, host: 'hv-bench', app: 'systemd', message: fillTemplate(pick(SYSLOG)) };
  return { source: 'agent', time, severity: 6, app: 'cordon-agent', message: fillTemplate(pick(AGENT)) };
}

const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
const now = () => T0 + SPAN_MS + 60_000;

function main(): void {
  process.stderr.write(`bench:logs: ${fmt(TOTAL)} records in ${dir}\n`);
  let store = LogStore.open({ dir, agentId: 'hv-bench', note: () => {}, now, flushMs: 50 });
  const existing = store.latestSeq;
  let appendWall = NaN;
  let appendCpu = NaN;
  if (existing < TOTAL) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const BATCH = 200;
    for (let i = existing; i < TOTAL; i += BATCH) {
      const batch: LogEntry[] = [];
      for (let j = i; j < Math.min(TOTAL, i + BATCH); j++) batch.push(entry(j));
      store.append(batch);
    }
    store.flush();
    appendWall = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    appendCpu = (c.user + c.system) / 1e6;
  }
  store.close();

  const r0 = performance.now();
  store = LogStore.open({ dir, agentId: 'hv-bench', note: () => {}, now });
  const reopenMs = performance.now() - r0;
  const files = readdirSync(dir).filter((f) => f.endsWith('.jsonl'));
  const bytes = files.reduce((n, f) => n + statSync(join(dir, f)).size, 0);

  const vm = () => `vm-${String(Math.floor(rand() * VMS)).padStart(2, '0')}`;
  const at = () => T0 + Math.floor(rand() * (SPAN_MS - 3_600_000));
  const kinds: Record<string, () => LogQuery> = {
    'newest 200': () => ({ limit: 200 }),
    'one VM, newest 200': () => ({ limit: 200, vmId: vm() }),
    'one VM, 10-minute window': () => { const f = at(); return { limit: 200, vmId: vm(), from: f, to: f + 600_000 }; },
    'hypervisor log, 1-hour window': () => { const f = at(); return { limit: 200, sources: ['hypervisor'], from: f, to: f + 3_600_000 }; },
    'rare word, all time': () => ({ limit: 200, text: 'KWORKERD-X7' }),
    'absent word, all time': () => ({ limit: 200, text: 'no-such-word-anywhere' }),
    'emergencies, all time (no index helps)': () => ({ limit: 200, severityAtMost: 0, sources: ['hypervisor', 'journal', 'agent'] }),
    'warnings and worse, 1 hour': () => { const f = at(); return { limit: 200, severityAtMost: 4, from: f, to: f + 3_600_000 }; },
    'one VM, page 5 back': () => ({ limit: 200, vmId: vm() }),
  };
  const rows: Array<{ kind: string; p50: number; p99: number; records: number; truncated: number }> = [];
  const everything: number[] = [];
  for (const [kind, make] of Object.entries(kinds)) {
    const times: number[] = [];
    let records = 0;
    let truncated = 0;
    for (let run = 0; run < RUNS; run++) {
      const q = make();
      const t0 = performance.now();
      let page = store.query(q);
      if (kind.includes('page 5')) {
        for (let p = 1; p < 5 && page.next !== undefined; p++) page = store.query({ ...q, before: page.next });
      }
      const ms = performance.now() - t0;
      times.push(ms);
      everything.push(ms);
      records += page.records.length;
      if (page.truncated) truncated++;
    }
    times.sort((a, b) => a - b);
    rows.push({ kind, p50: percentile(times, 50), p99: percentile(times, 99), records: records / RUNS, truncated });
  }
  store.close();
  everything.sort((a, b) => a - b);

  console.log(`\nagent log store, ${fmt(TOTAL)} records of ${VMS} VMs over 24 h, ${files.length} segments, ${(bytes / 1024 / 1024).toFixed(0)} MiB (${fmt(bytes / TOTAL)} bytes/record)`);
  if (!Number.isNaN(appendWall)) {
    console.log(`append: ${fmt(TOTAL / appendWall)} records/s wall, ${fmt(TOTAL / appendCpu)} records/s per CPU second (${appendWall.toFixed(1)} s)`);
  } else {
    console.log(`append: skipped (the store in ${dir} already held ${fmt(existing)} records)`);
  }
  console.log(`reopen: ${reopenMs.toFixed(1)} ms`);
  console.log(`\n${'query'.padEnd(40)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'records'.padStart(8)} truncated`);
  for (const r of rows) {
    console.log(`${r.kind.padEnd(40)} ${r.p50.toFixed(1).padStart(8)} ${r.p99.toFixed(1).padStart(8)} ${r.records.toFixed(0).padStart(8)} ${r.truncated}/${RUNS}`);
  }
  console.log(`${'all queries'.padEnd(40)} ${percentile(everything, 50).toFixed(1).padStart(8)} ${percentile(everything, 99).toFixed(1).padStart(8)}`);
  if (!keep && !args.includes('--dir')) rmSync(dir, { recursive: true, force: true });
}

main();
