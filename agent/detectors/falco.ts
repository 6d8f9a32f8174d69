// Falco's JSON alerts (`--falco FILE` with `json_output: true`, or pushed to the syslog listener as JSON) made into
// Cordon threat events.
//
// Severity by Falco priority: Emergency, Alert, Critical → critical; Error → high; Warning → medium; Notice → low;
// Informational, Debug → info. Verdict: Error and above → malicious, Warning and Notice → suspicious, below → benign.
// ATT&CK: a rule tag of the form `T1059` (or `T1059.004`) is the technique, a `mitre_*` tag the tactic
// (`mitre_credential_access` → credential-access). The process, the connection and the file come from
// `output_fields`. The VM is the one named by the container, pod or host name, or whose address the connection
// shows; otherwise the event is about the host.
import { createHash } from 'node:crypto';
import type { Category, ConnectionRef, FileRef, ProcessRef, Severity, ThreatEvent, Verdict } from '../../protocol/index.ts';
import { HOST_VM_ID, type VmMatcher } from '../logs/vm-match.ts';
import { clip, timeOf } from './suricata.ts';

export const FALCO_SENSOR = { id: 'falco', kind: 'ids' } as const;

const SEVERITY: Record<string, Severity> = {
  emergency: 'critical', alert: 'critical', critical: 'critical', error: 'high', warning: 'medium', notice: 'low',
  informational: 'info', info: 'info', debug: 'info',
};
const RANK: Record<string, number> = { emergency: 0, alert: 1, critical: 2, error: 3, warning: 4, notice: 5, informational: 6, info: 6, debug: 7 };
const TECHNIQUE = /^T\d{4}(\.\d{3})?$/;
const NETWORK_SYSCALLS = new Set(['connect', 'accept', 'accept4', 'listen', 'bind', 'sendto', 'recvfrom', 'sendmsg', 'recvmsg']);
const FILE_SYSCALLS = new Set(['open', 'openat', 'openat2', 'creat', 'unlink', 'unlinkat', 'rename', 'renameat', 'renameat2', 'chmod', 'fchmod', 'fchmodat', 'write', 'mkdir', 'mkdirat']);

interface FalcoAlert {
  time?: string;
  rule?: string;
  priority?: string;
  output?: string;
  source?: string;
  hostname?: string;
  tags?: unknown[];
  output_fields?: Record<string, unknown>;
}

/** The threat event of one Falco JSON alert, or undefined when the line is not one. Never throws. */
export function falcoEvent(line: string, ctx: { agentId: string; vms: VmMatcher; hostName: string; now?: () => number }): ThreatEvent | undefined {
  let f: FalcoAlert;
  try {
    f = JSON.parse(line) as FalcoAlert;
  } catch {
    return undefined;
  }
  if (!f || typeof f !== 'object' || typeof f.rule !== 'string' || typeof f.priority !== 'string') return undefined;
  const fields = f.output_fields && typeof f.output_fields === 'object' ? f.output_fields : {};
  const field = (k: string): string | undefined => {
    const v = fields[k];
    return typeof v === 'string' && v !== '<NA>' && v.length > 0 ? v : typeof v === 'number' ? String(v) : undefined;
  };
  const num = (k: string): number | undefined => {
    const raw = fields[k];
    const v = typeof raw === 'number' || typeof raw === 'string' ? Number(raw) : NaN;
    return Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff ? v : undefined;
  };
  const prio = f.priority.toLowerCase();
  // Own members only: a priority named "__proto__" or "constructor" is an unknown priority, not Object.prototype's.
  const severity = Object.hasOwn(SEVERITY, prio) ? SEVERITY[prio]! : 'medium';
  const rank = Object.hasOwn(RANK, prio) ? RANK[prio]! : 4;
  const hostname = typeof f.hostname === 'string' && f.hostname.length > 0 ? f.hostname : undefined;
  const verdict: Verdict = rank <= 3 ? 'malicious' : rank <= 5 ? 'suspicious' : 'benign';
  const tags = (Array.isArray(f.tags) ? f.tags : []).filter((t): t is string => typeof t === 'string');

  const connection = connectionOf(field);
  const vm = ctx.vms.byName(field('container.name')) ?? ctx.vms.byName(field('k8s.pod.name')) ?? ctx.vms.byName(field('container.id'))
    ?? ctx.vms.byName(hostname) ?? ctx.vms.byIp(connection?.localAddress) ?? ctx.vms.byIp(connection?.remoteAddress);

  const evtType = field('evt.type') ?? '';
  const path = field('fd.name') ?? field('evt.arg.filename') ?? field('fs.path.name');
  // T1611 is ATT&CK's Escape to Host: for Cordon, an attempt to break out into the hypervisor host (FSTEC UBI.010).
  const category: Category = tags.includes('T1611') ? 'escape'
    : tags.includes('network') || NETWORK_SYSCALLS.has(evtType) ? 'network'
    : tags.includes('filesystem') || FILE_SYSCALLS.has(evtType) ? 'file'
      : tags.includes('users') || tags.includes('mitre_credential_access') ? 'auth'
        : 'process';

  const event: ThreatEvent = {
    id: `falco-${createHash('sha256').update(line).digest('hex').slice(0, 24)}`,
    time: timeOf(f.time, ctx.now),
    agentId: ctx.agentId,
    vmId: vm?.id ?? HOST_VM_ID,
    vmName: (vm?.name ?? `${hostname ?? ctx.hostName} (host)`).slice(0, 256),
    severity,
    verdict,
    category,
    title: clip(f.rule.trim() || 'Falco alert', 512),
    sensor: { ...FALCO_SENSOR },
  };
  if (typeof f.output === 'string' && f.output.trim()) event.description = clip(f.output.trim(), 4096);
  const pid = num('proc.pid');
  const name = field('proc.name');
  if (name !== undefined) {
    const p: ProcessRef = { pid: pid ?? 0, name: clip(name, 256) };
    const ppid = num('proc.ppid');
    if (ppid !== undefined) p.ppid = ppid;
    const cmd = field('proc.cmdline');
    if (cmd) p.commandLine = clip(cmd, 8192);
    const exe = field('proc.exepath') ?? field('proc.exe');
    if (exe) p.executable = clip(exe, 4096);
    const user = field('user.name');
    if (user) p.user = clip(user, 128);
    const parent = field('proc.pname');
    if (parent) p.parentName = clip(parent, 256);
    event.process = p;
  }
  if (connection) event.connection = connection;
  else if (path && path.startsWith('/') && (category === 'file' || category === 'escape')) {
    const file: FileRef = { path: clip(path, 4096) };
    if (evtType.startsWith('unlink')) file.operation = 'delete';
    else if (evtType.startsWith('rename')) file.operation = 'rename';
    else if (evtType.includes('chmod')) file.operation = 'chmod';
    else if (evtType === 'creat' || evtType.startsWith('mkdir')) file.operation = 'create';
    else if (evtType.startsWith('open')) file.operation = /O_(WRONLY|RDWR|CREAT)/.test(field('evt.arg.flags') ?? '') ? 'write' : 'read';
    event.file = file;
  }
  const technique = tags.find((t) => TECHNIQUE.test(t));
  if (technique) {
    event.mitre = { techniqueId: technique };
    const tactic = tags.find((t) => t.startsWith('mitre_'));
    if (tactic) event.mitre.tactic = clip(tactic.slice('mitre_'.length).replaceAll('_', '-'), 64);
  }
  return event;
}

/** The connection of `fd.name` (`10.0.0.5:40522->203.0.113.66:443`) or the fd.* address fields. */
function connectionOf(field: (k: string) => string | undefined): ConnectionRef | undefined {
  const l4 = (field('fd.l4proto') ?? '').toLowerCase();
  const protocol: ConnectionRef['protocol'] = l4 === 'tcp' || l4 === 'udp' ? l4 : l4 === 'icmp' ? 'icmp' : 'tcp';
  const tuple = /^\[?([0-9a-fA-F.:]+?)\]?:(\d+)->\[?([0-9a-fA-F.:]+?)\]?:(\d+)$/.exec(field('fd.name') ?? '');
  let lip = field('fd.lip');
  let lport = field('fd.lport');
  let rip = field('fd.rip');
  let rport = field('fd.rport');
  if (tuple) [, lip, lport, rip, rport] = tuple;
  if (!lip && !rip) return undefined;
  const c: ConnectionRef = { protocol, direction: 'outbound' };
  const type = field('fd.type');
  if (l4 === '' && !tuple && type !== 'ipv4' && type !== 'ipv6') c.protocol = 'other';
  if (field('evt.type') === 'accept' || field('evt.type') === 'accept4') c.direction = 'inbound';
  if (field('evt.type') === 'listen' || field('evt.type') === 'bind') c.direction = 'listen';
  if (lip) c.localAddress = lip.slice(0, 64);
  if (rip) c.remoteAddress = rip.slice(0, 256);
  const lp = Number(lport);
  const rp = Number(rport);
  if (Number.isInteger(lp) && lp >= 0 && lp <= 65535) c.localPort = lp;
  if (Number.isInteger(rp) && rp >= 0 && rp <= 65535) c.remotePort = rp;
  return c;
}
