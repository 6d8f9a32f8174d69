// A Cordon threat event as an OCSF 1.4 "Detection Finding" (class_uid 2004, category Findings), the shape SIEMs and
// data lakes ingest natively (Splunk, Elastic, Sentinel, Security Lake). What each field holds:
//
//   activity_id 1 Create (an event is a new finding; Cordon does not update findings), type_uid 200401
//   severity_id   info 1 Informational · low 2 · medium 3 · high 4 · critical 5
//   confidence_id the sensor's verdict: benign 1 Low · suspicious 2 Medium · malicious 3 High
//   is_alert      true unless the verdict is benign
//   time          when the sensor saw it, in milliseconds; metadata.original_time keeps the text
//   finding_info  uid `<agentId>:<event id>` (unique across the fleet), title, desc, types [category], analytic
//                 (the sensor, type Rule), attacks [{technique, tactic}] from the ATT&CK reference
//   evidences     one artifact with what the event names: process (and its parent), connection_info with
//                 src_endpoint/dst_endpoint, file (with its SHA-256 as a fingerprint)
//   resources     the VM (uid vmId, name vmName, type "Virtual Machine"), labelled with the agent
//   metadata      product Cordon, OCSF version 1.4.0, uid the event id, sequence the agent's seq
//   unmapped      cordon: agentId, seq, vmId, verdict, sensor kind, scenario (a simulated event says so)
//
// Every string in an event may come from an attacker inside a VM; OCSF carries it as data, and so must its readers.
import type { FeedEvent, ThreatEvent } from '../../protocol/index.ts';

export const OCSF_VERSION = '1.4.0';

const SEVERITY_ID = { info: 1, low: 2, medium: 3, high: 4, critical: 5 } as const;
const SEVERITY_NAME = { 1: 'Informational', 2: 'Low', 3: 'Medium', 4: 'High', 5: 'Critical' } as const;
const CONFIDENCE = { benign: [1, 'Low'], suspicious: [2, 'Medium'], malicious: [3, 'High'] } as const;
/** OCSF network_connection_info.direction_id: 0 Unknown, 1 Inbound, 2 Outbound, 3 Lateral. */
const DIRECTION = { inbound: [1, 'Inbound'], outbound: [2, 'Outbound'], internal: [3, 'Lateral'], listen: [1, 'Inbound'] } as const;
const PROTOCOL_NUM = { tcp: 6, udp: 17, icmp: 1 } as const;
/** ATT&CK tactic names as Cordon writes them (`command-and-control`) and their ids. */
const TACTICS: Record<string, [string, string]> = {
  reconnaissance: ['TA0043', 'Reconnaissance'], 'resource-development': ['TA0042', 'Resource Development'],
  'initial-access': ['TA0001', 'Initial Access'], execution: ['TA0002', 'Execution'], persistence: ['TA0003', 'Persistence'],
  'privilege-escalation': ['TA0004', 'Privilege Escalation'], 'defense-evasion': ['TA0005', 'Defense Evasion'],
  'credential-access': ['TA0006', 'Credential Access'], discovery: ['TA0007', 'Discovery'], 'lateral-movement': ['TA0008', 'Lateral Movement'],
  collection: ['TA0009', 'Collection'], exfiltration: ['TA0010', 'Exfiltration'], 'command-and-control': ['TA0011', 'Command and Control'],
  impact: ['TA0040', 'Impact'],
};

export interface OcsfOptions {
  /** The Cordon version that exports (metadata.product.version). */
  productVersion?: string;
  /** The host name of the agent, when the cockpit knows it (resources[].labels). */
  agentHost?: string;
}

/** The plain JSON object of an OCSF Detection Finding; field names are OCSF's. */
export type OcsfDetectionFinding = Record<string, unknown> & {
  class_uid: 2004;
  category_uid: 2;
  activity_id: 1;
  type_uid: 200401;
  severity_id: number;
  time: number;
  finding_info: Record<string, unknown> & { uid: string; title: string };
  metadata: Record<string, unknown> & { version: string; product: Record<string, unknown> };
};

/** The OCSF Detection Finding of a FeedEvent (or of an agent's seq and event). */
export function toOcsf(fe: Pick<FeedEvent, 'agentId' | 'seq' | 'event'>, options: OcsfOptions = {}): OcsfDetectionFinding {
  const e = fe.event;
  const severityId = SEVERITY_ID[e.severity];
  const [confidenceId, confidence] = CONFIDENCE[e.verdict];
  const time = Date.parse(e.time);
  const findingInfo: OcsfDetectionFinding['finding_info'] = {
    uid: `${fe.agentId}:${e.id}`,
    title: e.title,
    types: [e.category],
    analytic: { type_id: 1, type: 'Rule', name: e.sensor.id, uid: `${e.sensor.kind}:${e.sensor.id}` },
    created_time: time,
    data_sources: [`cordon:${e.sensor.kind}`],
  };
  if (e.description) findingInfo.desc = e.description;
  const attacks = attacksOf(e);
  if (attacks) findingInfo.attacks = attacks;
  const finding: OcsfDetectionFinding = {
    class_uid: 2004,
    class_name: 'Detection Finding',
    category_uid: 2,
    category_name: 'Findings',
    activity_id: 1,
    activity_name: 'Create',
    type_uid: 200401,
    type_name: 'Detection Finding: Create',
    severity_id: severityId,
    severity: SEVERITY_NAME[severityId],
    confidence_id: confidenceId,
    confidence,
    is_alert: e.verdict !== 'benign',
    status_id: 1,
    status: 'New',
    time,
    message: e.title,
    finding_info: findingInfo,
    resources: [{
      uid: e.vmId,
      ...(e.vmName ? { name: e.vmName } : {}),
      type: 'Virtual Machine',
      labels: [`cordon.agent:${fe.agentId}`, ...(options.agentHost ? [`cordon.host:${options.agentHost}`] : [])],
    }],
    metadata: {
      version: OCSF_VERSION,
      product: { name: 'Cordon', vendor_name: 'Cordon', ...(options.productVersion ? { version: options.productVersion } : {}), feature: { name: e.sensor.id } },
      uid: e.id,
      original_time: e.time,
      sequence: fe.seq,
      log_provider: fe.agentId,
      ...(e.scenario ? { labels: ['simulated'] } : {}),
    },
    unmapped: {
      cordon: {
        agentId: fe.agentId, seq: fe.seq, vmId: e.vmId, verdict: e.verdict, category: e.category, sensorKind: e.sensor.kind,
        ...(e.scenario ? { scenario: e.scenario } : {}),
      },
    },
  };
  const evidence = evidenceOf(e);
  if (evidence) finding.evidences = [evidence];
  return finding;
}

function attacksOf(e: ThreatEvent): object[] | undefined {
  if (!e.mitre) return undefined;
  const attack: Record<string, unknown> = {};
  const [parent, sub] = e.mitre.techniqueId.split('.');
  if (sub) {
    attack.technique = { uid: parent };
    attack.sub_technique = { uid: e.mitre.techniqueId, ...(e.mitre.technique ? { name: e.mitre.technique } : {}) };
  } else {
    attack.technique = { uid: e.mitre.techniqueId, ...(e.mitre.technique ? { name: e.mitre.technique } : {}) };
  }
  const tactic = e.mitre.tactic ? TACTICS[e.mitre.tactic.toLowerCase()] : undefined;
  if (tactic) attack.tactic = { uid: tactic[0], name: tactic[1] };
  else if (e.mitre.tactic) attack.tactic = { name: e.mitre.tactic };
  return [attack];
}

function evidenceOf(e: ThreatEvent): Record<string, unknown> | undefined {
  const ev: Record<string, unknown> = {};
  if (e.process) {
    const p = e.process;
    const process: Record<string, unknown> = { pid: p.pid, name: p.name };
    if (p.commandLine) process.cmd_line = p.commandLine;
    if (p.executable) process.file = fileObject(p.executable);
    if (p.user) process.user = { name: p.user };
    if (p.ppid !== undefined || p.parentName) {
      process.parent_process = { ...(p.ppid !== undefined ? { pid: p.ppid } : {}), ...(p.parentName ? { name: p.parentName } : {}) };
    }
    ev.process = process;
  }
  if (e.connection) {
    const c = e.connection;
    const [directionId, direction] = DIRECTION[c.direction];
    const info: Record<string, unknown> = { direction_id: directionId, direction, protocol_name: c.protocol };
    if (c.protocol in PROTOCOL_NUM) info.protocol_num = PROTOCOL_NUM[c.protocol as keyof typeof PROTOCOL_NUM];
    ev.connection_info = info;
    const local = endpoint(c.localAddress, c.localPort);
    const remote = endpoint(c.remoteAddress, c.remotePort);
    // OCSF speaks of source and destination: who opened the connection is the source.
    const [src, dst] = c.direction === 'outbound' ? [local, remote] : [remote, local];
    if (src) ev.src_endpoint = src;
    if (dst) ev.dst_endpoint = dst;
  }
  if (e.file) {
    const f = fileObject(e.file.path);
    if (e.file.size !== undefined) f.size = e.file.size;
    if (e.file.sha256) f.fingerprints = [{ algorithm_id: 3, algorithm: 'SHA-256', value: e.file.sha256 }];
    ev.file = f;
  }
  if (Object.keys(ev).length === 0) return undefined;
  ev.name = `cordon:${e.category}`;
  return ev;
}

function fileObject(path: string): Record<string, unknown> {
  const name = path.split('/').filter(Boolean).pop() ?? path;
  return { name, path, type_id: 1, type: 'Regular File' };
}

function endpoint(address: string | undefined, port: number | undefined): Record<string, unknown> | undefined {
  if (!address && port === undefined) return undefined;
  const out: Record<string, unknown> = {};
  if (address) {
    if (/^[0-9.]+$|:/.test(address)) out.ip = address;
    else out.hostname = address;
  }
  if (port !== undefined) out.port = port;
  return out;
}
