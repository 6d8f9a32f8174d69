// An SV-95141r1 verdict (compliance.ts) as a DISA STIG Viewer 3 checklist (.cklb, JSON): one checklist per agent,
// because a .cklb describes one target asset (`target_data`), and an agent's hypervisor host is Cordon's asset. The
// checklist holds the one rule, with its status, the verdict's sentences as finding details and the exceptions in
// force as comments, for the assessor to import into STIG Viewer or eMASS. Pure: the caller gives the ids and the
// time for a reproducible file; otherwise the UUIDs are random (Web Crypto) and the time is the verdict's.
//
// Format: cklb_version 1.0 as STIG Viewer 3 writes it. There is no published specification; the field set follows
// the JSON Schema STIG Viewer 3 carries (as typed by MITRE Heimdall's hdf-converters, ckl-mapper/checklist-b-types.ts)
// and the .cklb files that STIG Manager (NUWCDIVNPT/stig-manager, cklbFromAssetStigs) and Heimdall export and STIG
// Viewer 3 opens. Rule text and ids: the Bromium Secure Platform 4.x STIG V1R1 as published (the project's seed
// document has its text); the STIG id is its XCCDF benchmark's, read from DISA's file name.
import { SV_95141R1, describeScope, type StigVerdict } from './compliance.ts';

export type CklbStatus = 'not_a_finding' | 'open' | 'not_applicable' | 'not_reviewed';

export interface CklbTargetData {
  target_type: 'Computing' | 'Non-Computing';
  host_name: string;
  ip_address: string;
  mac_address: string;
  fqdn: string;
  comments: string;
  role: 'None' | 'Workstation' | 'Member Server' | 'Domain Controller';
  is_web_database: boolean;
  technology_area: string;
  web_db_site: string;
  web_db_instance: string;
}

export interface CklbRule {
  uuid: string;
  stig_uuid: string;
  target_key: string | null;
  stig_ref: string | null;
  group_id: string;
  group_id_src: string;
  rule_id: string;
  rule_id_src: string;
  weight: string;
  classification: string;
  severity: 'high' | 'medium' | 'low' | 'unknown';
  rule_version: string;
  group_title: string;
  rule_title: string;
  fix_text: string;
  false_positives: string;
  false_negatives: string;
  discussion: string;
  check_content: string;
  documentable: 'true' | 'false';
  mitigations: string;
  potential_impacts: string;
  third_party_tools: string;
  mitigation_control: string;
  responsibility: string;
  security_override_guidance: string;
  ia_controls: string;
  check_content_ref: { href: string; name: string };
  legacy_ids: string[];
  ccis: string[];
  group_tree: { id: string; title: string; description: string }[];
  reference_identifier: string | null;
  createdAt: string;
  updatedAt: string;
  STIGUuid: string;
  status: CklbStatus;
  overrides: Record<string, never>;
  comments: string;
  finding_details: string;
}

export interface CklbStig {
  stig_name: string;
  display_name: string;
  stig_id: string;
  release_info: string;
  version: string;
  uuid: string;
  reference_identifier: string | null;
  size: number;
  rules: CklbRule[];
}

export interface Cklb {
  title: string;
  id: string;
  active: boolean;
  mode: number;
  has_path: boolean;
  target_data: CklbTargetData;
  stigs: CklbStig[];
  cklb_version: '1.0';
}

export interface CklbMeta {
  /** The target's host name (default: the agent id) and what else is known of it. */
  hostName?: string;
  ipAddress?: string;
  macAddress?: string;
  fqdn?: string;
  /** The checklist's title (default: "Cordon SV-95141r1 – <host>"). */
  title?: string;
  /** RFC 3339: when the rule was reviewed (default: the verdict's checkedAt). */
  time?: string;
  /** Fixed UUIDs for a reproducible file (tests, a re-export that must replace the last one). */
  ids?: { checklist: string; stig: string; rule: string };
}

/** Longest text a STIG Viewer finding details or comments field takes (the .ckl limit, kept by its exporters). */
export const CKLB_TEXT_LIMIT = 32_767;

const STIG = {
  name: 'Bromium Secure Platform 4.x Security Technical Implementation Guide',
  display: 'Bromium Secure Platform 4.x',
  id: 'Bromium_Secure_Platform_4-x_STIG',
  version: '1',
  release: 'Release: 1 Benchmark Date: 10 May 2018',
  xccdf: 'U_Bromium_Secure_Platform_4-x_STIG_V1R1_Manual-xccdf.xml',
} as const;

const DISCUSSION = [
  'Execution of malicious code represents an immediate threat to the security posture of the endpoint. Automatic session termination addresses the termination of user-initiated logical sessions in contrast to the termination of network connections that are associated with communications sessions (i.e., network disconnect). A logical session (for local, network, and remote access) is initiated whenever a user (or process acting on behalf of a user) accesses an organizational information system. Such user sessions can be terminated (and thus terminate user access) without terminating network sessions.',
  'The DoD has selected automatic termination as the default response. However, this does not fully leverage Bromium\'s ability to capture near-real-time forensic data as an attack occurs. Note that the malicious code is in a micro-VM, thus it cannot impact the endpoint processes outside of the VM.',
  'Note: Letting a known harmful program run is restricted to testing platforms, for forensics collection, or when justified by mission needs. STIG provides guidance to prevent the vClients from running known malicious applications or closing the micro-VM with malicious code is detected.',
].join('\n\n');

const CHECK = [
  'Review documentation for test system or mission need that justifies an exception to this setting in order to collect forensics about the malicious code. If this documentation exists, this is not a finding.',
  'Review base policy to ensure that the micro-VM will terminate the user session upon the detection of malicious activity.',
  '1. Using the management console, navigate to "Policies" and select the base policy.\n2. Navigate to "Security".\n3. Navigate to and inspect the "Alert user on a threat event?" policy setting.',
  'Check every applicable Delta Policy using the same procedure to verify that the Base Policy has not been superseded.',
  'If the Bromium vSentry client is not configured to automatically terminate a micro-VM when any malicious activities are detected within the micro-VM, this is a finding.',
].join('\n\n');

const FIX = [
  'Review base policy to ensure that the micro-VM will terminate the user session upon the detection of malicious activity. Document test system or mission needs that justifies an exception to this setting in order to collect forensics about the malicious code. Also document circumstances under this function that can temporarily be used to collect forensics information.',
  '1. Using the management console, navigate to "Policies" and select the Base Policy.\n2. Navigate to "Security".\n3. Navigate to the "Alert user on a threat event?" policy setting.\n4. Choose the "Stop operation and alert user" setting.\n5. Click "Save and Deploy".',
  'Note: Do not supersede this policy in any Delta Policy.',
].join('\n\n');

/** How Cordon reads the Bromium rule: said in every checklist, so an assessor knows what was checked. */
const MAPPING = 'Cordon applies this Bromium vSentry rule to the micro-VMs its agent runs: "terminate" is the agent\'s automatic terminate action on a malicious threat event; "base policy" and "delta policy" are the signed policy\'s base rules and deltas; a documented exception allows a forensic hold (freeze, isolate to a honeypot network, seize) instead, until it expires.';

/** The checklist of one agent's verdict. */
export function toCklb(verdict: StigVerdict, meta: CklbMeta = {}): Cklb {
  const ids = meta.ids ?? { checklist: uuid(), stig: uuid(), rule: uuid() };
  const time = meta.time ?? verdict.checkedAt;
  const host = meta.hostName ?? verdict.agentId;
  const rule: CklbRule = {
    uuid: ids.rule,
    stig_uuid: ids.stig,
    target_key: null,
    stig_ref: null,
    group_id: SV_95141R1.groupId,
    group_id_src: SV_95141R1.groupId,
    rule_id: SV_95141R1.ruleId.replace(/_rule$/, ''),
    rule_id_src: SV_95141R1.ruleId,
    weight: '10.0',
    classification: 'Unclassified',
    severity: SV_95141R1.severity,
    rule_version: SV_95141R1.ruleVersion,
    group_title: SV_95141R1.srg,
    rule_title: SV_95141R1.title,
    fix_text: FIX,
    false_positives: '',
    false_negatives: '',
    discussion: DISCUSSION,
    check_content: CHECK,
    documentable: 'true',
    mitigations: '',
    potential_impacts: '',
    third_party_tools: '',
    mitigation_control: '',
    responsibility: '',
    security_override_guidance: '',
    ia_controls: '',
    check_content_ref: { href: STIG.xccdf, name: 'M' },
    legacy_ids: [],
    ccis: [...SV_95141R1.ccis],
    group_tree: [{ id: SV_95141R1.groupId, title: SV_95141R1.srg, description: '<GroupDescription></GroupDescription>' }],
    reference_identifier: null,
    createdAt: time,
    updatedAt: time,
    STIGUuid: ids.stig,
    status: verdict.status,
    overrides: {},
    comments: clip(comments(verdict)),
    finding_details: clip(findingDetails(verdict)),
  };
  return {
    title: meta.title ?? `Cordon SV-95141r1 – ${host}`,
    id: ids.checklist,
    active: false,
    mode: 1,
    has_path: true,
    target_data: {
      target_type: 'Computing',
      host_name: host,
      ip_address: meta.ipAddress ?? '',
      mac_address: meta.macAddress ?? '',
      fqdn: meta.fqdn ?? '',
      comments: visible(`Cordon agent ${verdict.agentId}${verdict.hostGroups.length > 0 ? ` (host groups: ${verdict.hostGroups.join(', ')})` : ''}: a hypervisor host running QEMU micro-VMs.`),
      role: 'None',
      is_web_database: false,
      technology_area: '',
      web_db_site: '',
      web_db_instance: '',
    },
    stigs: [{
      stig_name: STIG.name, display_name: STIG.display, stig_id: STIG.id, release_info: STIG.release, version: STIG.version,
      uuid: ids.stig, reference_identifier: null, size: 1, rules: [rule],
    }],
    cklb_version: '1.0',
  };
}

/** A file name for an agent's checklist: `<agent>_SV-95141r1_<YYYYMMDD>.cklb`, safe on every file system. */
export function cklbFileName(verdict: StigVerdict): string {
  return `${verdict.agentId.replace(/[^A-Za-z0-9._-]/g, '_')}_SV-95141r1_${verdict.checkedAt.slice(0, 10).replace(/-/g, '')}.cklb`;
}

/** What was found, for `finding_details`: the verdict, the policy judged, and every finding and note. */
function findingDetails(v: StigVerdict): string {
  const status = { not_a_finding: 'Not a Finding', open: 'Open', not_reviewed: 'Not Reviewed' }[v.status];
  const lines = [`Checked by Cordon at ${v.checkedAt} for agent ${v.agentId}: ${status}.`];
  if (v.policy) {
    lines.push(`Policy in force: ${v.policy.id} version ${v.policy.version}${v.policy.signer ? `, signed by Ed25519 key ${v.policy.signer}` : ', unsigned (a draft)'}.`);
  }
  const open = v.findings.filter((f) => f.kind === 'open');
  const notes = v.findings.filter((f) => f.kind === 'note');
  if (open.length > 0) lines.push('', 'Findings:', ...open.map((f) => `- ${f.text}`));
  if (notes.length > 0) lines.push('', open.length > 0 ? 'Notes:' : 'Evidence and notes:', ...notes.map((f) => `- ${f.text}`));
  return visible(lines.join('\n'));
}

/** The documented exceptions on this agent, and how Cordon maps the rule, for `comments`. */
function comments(v: StigVerdict): string {
  const lines: string[] = [];
  if (v.exceptions.length > 0) {
    lines.push('Forensic exceptions on this agent (documentation of a test system or mission need):');
    for (const e of v.exceptions) {
      lines.push(`- ${e.id}: ${e.justification.kind}, "${e.justification.text}"; approved by ${e.approver}; scope ${describeScope(e.scope)}; ${e.expired ? 'expired at' : 'expires at'} ${e.expiresAt}; covers ${e.covers === 'all-vms' ? 'every VM of this agent' : 'some VMs of this agent (by tag)'}; used by ${e.rules.map((r) => `${r.layer === 'base' ? 'base' : `delta ${r.layer}`} rule ${r.ruleId}`).join(', ')}.`);
    }
    lines.push('');
  } else if (v.policy) {
    lines.push('No forensic exception applies to this agent.', '');
  }
  lines.push(MAPPING);
  return visible(lines.join('\n'));
}

/**
 * Text as data: control characters other than newline and tab, and the bidirectional overrides that can make a line
 * read differently from what it holds, are shown as \uXXXX — an exception's justification is free text.
 */
export function visible(text: string): string {
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function clip(text: string): string {
  return text.length <= CKLB_TEXT_LIMIT ? text : `${text.slice(0, CKLB_TEXT_LIMIT - 1)}…`;
}

function uuid(): string {
  return globalThis.crypto.randomUUID();
}
