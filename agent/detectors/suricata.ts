// Suricata's EVE JSON alerts (`--suricata-eve FILE`, one JSON object per line) made into Cordon threat events.
// Only `event_type: alert` lines are events; flows, DNS, stats and the rest are not threats and are left alone.
//
// Severity: Suricata's priority 1 (highest) → high, 2 → medium, 3 → low, 4 and beyond → info; raised to critical
// when the rule's metadata says `signature_severity Critical` (the Emerging Threats convention). Verdict: priority 1
// → malicious, a category of plainly harmless traffic → benign, otherwise suspicious. ATT&CK: the rule metadata's
// `mitre_technique_id` (and its name and tactic, as Emerging Threats rules carry them). The VM is the one whose
// address is the alert's source or destination; otherwise the event is about the host.
import { createHash } from 'node:crypto';
import type { ConnectionRef, Severity, ThreatEvent, Verdict } from '../../protocol/index.ts';
import { HOST_VM_ID, type VmMatcher } from '../logs/vm-match.ts';

export const SURICATA_SENSOR = { id: 'suricata', kind: 'ids' } as const;

const BENIGN_CATEGORIES = new Set(['not suspicious traffic', 'generic protocol command decode', 'unknown traffic']);
const TECHNIQUE = /^T\d{4}(\.\d{3})?$/;

interface EveAlert {
  timestamp?: string;
  event_type?: string;
  src_ip?: string;
  src_port?: number;
  dest_ip?: string;
  dest_port?: number;
  proto?: string;
  app_proto?: string;
  flow_id?: number;
  alert?: {
    action?: string;
    gid?: number;
    signature_id?: number;
    rev?: number;
    signature?: string;
    category?: string;
    severity?: number;
    metadata?: Record<string, unknown>;
  };
}

/** The threat event of one EVE line, or undefined when it is not an alert (or not JSON). Never throws. */
export function suricataEvent(line: string, ctx: { agentId: string; vms: VmMatcher; hostName: string; now?: () => number }): ThreatEvent | undefined {
  let eve: EveAlert;
  try {
    eve = JSON.parse(line) as EveAlert;
  } catch {
    return undefined;
  }
  if (!eve || typeof eve !== 'object' || eve.event_type !== 'alert' || !eve.alert || typeof eve.alert !== 'object') return undefined;
  const a = eve.alert;
  const priority = Number.isInteger(a.severity) ? a.severity! : 3;
  const meta = a.metadata && typeof a.metadata === 'object' ? a.metadata : {};
  const metaFirst = (k: string): string | undefined => {
    const v = meta[k];
    const s = Array.isArray(v) ? v[0] : v;
    return typeof s === 'string' ? s : undefined;
  };
  let severity: Severity = priority <= 1 ? 'high' : priority === 2 ? 'medium' : priority === 3 ? 'low' : 'info';
  if (/^critical$/i.test(metaFirst('signature_severity') ?? '')) severity = 'critical';
  const category = typeof a.category === 'string' ? a.category : '';
  const verdict: Verdict = BENIGN_CATEGORIES.has(category.toLowerCase()) ? 'benign' : priority <= 1 ? 'malicious' : 'suspicious';

  const src = str(eve.src_ip);
  const dst = str(eve.dest_ip);
  const srcVm = ctx.vms.byIp(src);
  const dstVm = ctx.vms.byIp(dst);
  const vm = dstVm ?? srcVm;
  const connection = connectionOf(eve, srcVm !== undefined, dstVm !== undefined);

  // Every field is whatever the line holds (an object, an array, a number…): only strings and numbers are shown.
  const gid = scalar(a.gid) ?? '1';
  const rule = `${gid}:${scalar(a.signature_id) ?? '?'}`;
  const signature = typeof a.signature === 'string' && a.signature.trim() ? a.signature.trim() : `Suricata alert ${rule}`;
  const port = (p: unknown) => (isPort(p) ? `:${p}` : '');
  const where = `${(scalar(eve.proto) ?? '?').toUpperCase()} ${src ?? '?'}${port(eve.src_port)} → ${dst ?? '?'}${port(eve.dest_port)}`;
  const action = scalar(a.action);
  const appProto = scalar(eve.app_proto);
  const description = [
    category ? `${category}.` : '',
    `Suricata rule ${rule}:${scalar(a.rev) ?? '?'}${action ? `, ${action}` : ''}: ${where}${appProto ? ` (${appProto})` : ''}.`,
    vm ? '' : 'No VM of this host has either address: the event is about the host.',
  ].filter(Boolean).join(' ');

  const event: ThreatEvent = {
    id: `suricata-${createHash('sha256').update(line).digest('hex').slice(0, 24)}`,
    time: timeOf(eve.timestamp, ctx.now),
    agentId: ctx.agentId,
    vmId: vm?.id ?? HOST_VM_ID,
    vmName: (vm?.name ?? `${ctx.hostName} (host)`).slice(0, 256),
    severity,
    verdict,
    category: 'network',
    title: clip(signature, 512),
    description: clip(description, 4096),
    sensor: { ...SURICATA_SENSOR },
  };
  if (connection) event.connection = connection;
  const technique = (Array.isArray(meta.mitre_technique_id) ? meta.mitre_technique_id : [meta.mitre_technique_id]).find((t): t is string => typeof t === 'string' && TECHNIQUE.test(t));
  if (technique) {
    event.mitre = { techniqueId: technique };
    const name = metaFirst('mitre_technique_name');
    if (name) event.mitre.technique = clip(name.replaceAll('_', ' '), 128);
    const tactic = metaFirst('mitre_tactic_name');
    if (tactic) event.mitre.tactic = clip(tactic.toLowerCase().replaceAll('_', '-'), 64);
  }
  return event;
}

function connectionOf(eve: EveAlert, srcIsVm: boolean, dstIsVm: boolean): ConnectionRef | undefined {
  const proto = (scalar(eve.proto) ?? '').toLowerCase();
  const protocol: ConnectionRef['protocol'] = proto === 'tcp' ? 'tcp' : proto === 'udp' ? 'udp' : proto.startsWith('icmp') || proto === 'ipv6-icmp' ? 'icmp' : 'other';
  // The VM's side is local; with none (or both) the destination is: an alert is about traffic reaching something.
  const outbound = srcIsVm && !dstIsVm;
  const c: ConnectionRef = { protocol, direction: srcIsVm && dstIsVm ? 'internal' : outbound ? 'outbound' : 'inbound' };
  const local = outbound ? { ip: eve.src_ip, port: eve.src_port } : { ip: eve.dest_ip, port: eve.dest_port };
  const remote = outbound ? { ip: eve.dest_ip, port: eve.dest_port } : { ip: eve.src_ip, port: eve.src_port };
  if (typeof local.ip === 'string') c.localAddress = local.ip.slice(0, 64);
  if (isPort(local.port)) c.localPort = local.port;
  if (typeof remote.ip === 'string') c.remoteAddress = remote.ip.slice(0, 256);
  if (isPort(remote.port)) c.remotePort = remote.port;
  return c;
}

/** The first and last instants RFC 3339 can write (years 0000 to 9999); Date.parse reads years far beyond. */
const YEAR_0 = -62_167_219_200_000;
const YEAR_10000 = 253_402_300_800_000;

/** EVE's timestamp (`2017-04-07T22:24:37.251547+0100`) as the protocol's RFC 3339 UTC form; now if it is not one. */
export function timeOf(text: unknown, now: () => number = Date.now): string {
  if (typeof text === 'string' && text.length <= 64) {
    const fixed = text.replace(/([+-]\d\d)(\d\d)$/, '$1:$2');
    const t = Date.parse(fixed);
    // A time outside years 0000–9999 (`+275760-09-13…`, `50000`) has no RFC 3339 form: it is not a time.
    if (Number.isFinite(t) && t >= YEAR_0 && t < YEAR_10000) return new Date(t).toISOString();
  }
  return new Date(now()).toISOString();
}

function isPort(p: unknown): p is number {
  return Number.isInteger(p) && (p as number) >= 0 && (p as number) <= 65535;
}

/** A string or a finite number as text; anything else (an object, an array, null) is not shown. */
export function scalar(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
