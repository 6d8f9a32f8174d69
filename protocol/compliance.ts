// STIG SV-95141r1 ("terminate a micro-VM when malicious activity is detected") judged for one agent from the policy it
// enforces: not_a_finding, open or not_reviewed, with the findings in sentences an assessor can paste and the forensic
// exceptions that apply. Pure (no I/O, the clock is the caller's), so the cockpit's compliance view, the policy CLI
// and the .cklb export (cklb.ts) give the same answer for the same policy.
//
// What "the base policy terminates on malicious" means here, and how it is checked:
// - The base is the policy's `rules` plus the built-in default (a malicious event no rule takes is terminated). It
//   complies when every malicious event it can be given is answered by terminate, or by a forensic hold under a
//   documented exception (the STIG's "test system or mission need"; a hold whose exception expired or does not cover
//   the VM is already terminate, protocol/policy.ts). A base `alert` for any malicious event is a finding, even where a
//   delta tightens it back: the STIG asks it of the base policy, which is what every agent falls back to.
// - The base is *tried*, not read: evaluate() (the very function the agent enforces) answers one malicious event of
//   each kind the rules can tell apart — by the only fields a match reads: severity (each minSeverity a rule names, and
//   info), category, sensor kind, sensor id, ATT&CK technique (each value a rule names, and one none names). Any other
//   event matches exactly the rules one of those matches, so the probe covers every malicious event, and a rule is
//   judged by the events that really reach it in first-match order: an `alert` rule shadowed by an earlier terminate
//   rule is no finding (checkPolicy, which reads the rules conservatively, still warns about it; the verdict says why
//   it is not a finding). Events of sensor kind `policy` are the agent's own records, never answered, so not tried. If
//   a policy names so many values that the kinds pass PROBE_LIMIT, the check reads the base rules instead
//   (conservative: an alert rule that can take a malicious event is a finding) and says so.
// - Deltas: evaluate() takes the strongest answer of the base and of every delta in scope, and a delta rule weaker
//   than the base is refused whole by checkPolicy ("tighten, never loosen"), so a delta can supersede terminate only
//   through a forensic hold under an exception. Every checkPolicy error is therefore a finding (the agent refuses such
//   a policy), and every hold rule that applies to this agent is reported with its exception: documented and
//   unexpired (listed, not a finding), expired or not covering (terminate again, a note), blank approver or
//   justification (not documented: a finding). A delta scoped to VM tags applies to this agent's VMs that carry one
//   of them, if any: the verdict says "VMs tagged …", as the cockpit may not know every VM's tags.
import type { Category, ForensicException, Policy, PolicyRule, PolicyScope, Severity, SignedPolicy, ThreatEvent } from './index.ts';
import { checkPolicy, evaluate, type PolicyContext } from './policy.ts';

/** The rule judged: DISA Bromium Secure Platform 4.x STIG V1R1 (2018-05-10), which Cordon applies to its micro-VMs. */
export const SV_95141R1 = {
  groupId: 'V-80437',
  ruleId: 'SV-95141r1_rule',
  ruleVersion: 'BROM-00-000645',
  severity: 'high',
  srg: 'SRG-APP-000295',
  ccis: ['CCI-002361'],
  title: 'The Bromium vSentry client must automatically terminate a micro-virtual machine (VM) when any malicious activities are detected within the micro-VM.',
} as const;

/** STIG Viewer's statuses, less not_applicable: the rule always applies to an agent that runs micro-VMs. */
export type StigStatus = 'not_a_finding' | 'open' | 'not_reviewed';

export interface StigFinding {
  /** open: this makes the rule a finding; note: worth the assessor's reading, not a finding. */
  kind: 'open' | 'note';
  code:
    | 'no_policy' | 'policy_refused' | 'base_alert' | 'exception_undocumented' // open
    | 'policy_unknown' // the note of a not_reviewed verdict
    | 'base_terminates' | 'base_alert_shadowed' | 'delta_applies' | 'hold_granted' | 'hold_expired' | 'hold_not_covered'
    | 'unsigned' | 'probe_limit'; // notes
  /** One or two sentences, plain text (never markup: exception texts are quoted as they were written). */
  text: string;
}

export interface ExceptionReport {
  id: string;
  justification: ForensicException['justification'];
  approver: string;
  scope: PolicyScope;
  expiresAt: string;
  expired: boolean;
  /** Where on this agent a hold runs under it: every VM, or only VMs with some tag (of the rule's delta or its own scope). */
  covers: 'all-vms' | 'some-vms';
  /** The hold rules that name it and apply to this agent: `base` or a delta id, and the rule id. */
  rules: { layer: string; ruleId: string }[];
}

export interface StigVerdict {
  ruleId: typeof SV_95141R1.ruleId;
  agentId: string;
  hostGroups: string[];
  status: StigStatus;
  /** The policy judged; signer is the signature's key id as written (this check does not verify signatures). */
  policy?: { id: string; version: number; signer?: string };
  /** Open findings first, then notes. */
  findings: StigFinding[];
  exceptions: ExceptionReport[];
  /** The time judged (RFC 3339): an exception that expires after it changes the answer. */
  checkedAt: string;
  /** The earliest expiry of an unexpired exception listed: judge again then. */
  nextChange?: string;
}

export interface StigComplianceInput {
  agentId: string;
  hostGroups?: readonly string[];
  /** The policy the agent enforces. null: the agent says none is in force (hello without `policy`); undefined: not known yet. */
  policy: SignedPolicy | Policy | null | undefined;
  /** ms since the epoch. */
  now: number;
}

/** Above this many malicious events to try, the base is read (conservatively) instead of tried. */
export const PROBE_LIMIT = 100_000;

const SEVERITIES = Object.keys({ info: 0, low: 0, medium: 0, high: 0, critical: 0 } satisfies Record<Severity, 0>) as Severity[];
const CATEGORIES = Object.keys({ process: 0, network: 0, file: 0, memory: 0, escape: 0, policy: 0, auth: 0, hypervisor: 0, other: 0 } satisfies Record<Category, 0>) as Category[];
type SensorKind = ThreatEvent['sensor']['kind'];
/** Which sensor kinds can report a detection the agent answers (its own `policy` records are never answered). */
const ANSWERED_KINDS: Record<SensorKind, boolean> = { guest: true, hypervisor: true, network: true, ids: true, log: true, sim: true, policy: false };
const SENSOR_KINDS = (Object.keys(ANSWERED_KINDS) as SensorKind[]).filter((k) => ANSWERED_KINDS[k]);

/** The SV-95141r1 verdict for one agent under the policy it enforces, at `now`. */
export function stigCompliance(input: StigComplianceInput): StigVerdict {
  const { agentId, now } = input;
  const hostGroups = [...(input.hostGroups ?? [])];
  const verdict: StigVerdict = { ruleId: SV_95141R1.ruleId, agentId, hostGroups, status: 'not_reviewed', findings: [], exceptions: [], checkedAt: new Date(now).toISOString() };
  const out = verdict.findings;
  if (input.policy === undefined) {
    out.push({ kind: 'note', code: 'policy_unknown', text: `Which policy agent ${agentId} enforces is not known yet (it has not said hello): not reviewed.` });
    return verdict;
  }
  if (input.policy === null) {
    out.push({ kind: 'open', code: 'no_policy', text: `Agent ${agentId} enforces no policy: nothing terminates a micro-VM automatically when malicious activity is detected. Push a signed policy (a base with no rule already terminates every malicious event).` });
    verdict.status = 'open';
    return verdict;
  }
  const signed = 'signature' in input.policy ? input.policy : undefined;
  const policy: Policy = signed ? signed.policy : (input.policy as Policy);
  verdict.policy = { id: policy.id, version: policy.version, ...(signed ? { signer: signed.signature.keyId } : {}) };
  const name = `policy ${policy.id} v${policy.version}`;
  const ctx: PolicyContext = { agentId, hostGroups, vmTags: [] };

  for (const error of checkPolicy(policy, now).errors) {
    out.push({ kind: 'open', code: 'policy_refused', text: `The agent refuses this policy as a whole: ${error}` });
  }
  judgeBase(policy, name, ctx, now, out);
  judgeDeltas(policy, ctx, out);
  verdict.exceptions = judgeHolds(policy, ctx, now, out);
  if (!signed) out.push({ kind: 'note', code: 'unsigned', text: `The ${name} is not signed: this is the verdict it would get once signed and in force; the agent enforces only a policy signed by a key it trusts.` });

  const next = verdict.exceptions.filter((e) => !e.expired).map((e) => e.expiresAt).sort((a, b) => Date.parse(a) - Date.parse(b))[0];
  if (next !== undefined) verdict.nextChange = next;
  verdict.findings = [...out.filter((f) => f.kind === 'open'), ...out.filter((f) => f.kind === 'note')];
  verdict.status = verdict.findings.some((f) => f.kind === 'open') ? 'open' : 'not_a_finding';
  return verdict;
}

/** The base alone (rules and the default), tried on every class of malicious event. */
function judgeBase(policy: Policy, name: string, ctx: PolicyContext, now: number, out: StigFinding[]): void {
  const base: Policy = { ...policy, deltas: [] };
  const events = maliciousEvents(policy, ctx.agentId);
  if (!events) {
    out.push({ kind: 'note', code: 'probe_limit', text: `The ${name} names too many severities, categories, sensors and techniques to try every combination; its base rules were read instead, conservatively (an alert rule that can take a malicious event counts as a finding).` });
    for (const rule of policy.rules) {
      if (rule.response === 'alert' && (!rule.match.verdicts || rule.match.verdicts.includes('malicious'))) {
        out.push({ kind: 'open', code: 'base_alert', text: `Base rule ${rule.id} answers malicious events${describeMatch(rule)} with an alert only: the micro-VM keeps running. Make it terminate, or a forensic hold under a documented exception.` });
      }
    }
    return;
  }
  const deciding = new Map<string, { response: string; example: ThreatEvent; count: number }>();
  for (const event of events) {
    const d = evaluate(base, event, ctx, now);
    const seen = deciding.get(d.ruleId);
    if (seen) seen.count++;
    else deciding.set(d.ruleId, { response: d.response === 'forensic-hold' || d.fallback ? 'forensic-hold' : d.response, example: event, count: 1 });
  }
  const alerts = [...deciding].filter(([, v]) => v.response !== 'terminate' && v.response !== 'forensic-hold');
  for (const [ruleId, { example, count }] of alerts) {
    const effective = evaluate(policy, example, ctx, now);
    const tightened = effective.layer !== 'base' && (effective.response === 'terminate' || effective.response === 'forensic-hold')
      ? ` On this agent's untagged VMs delta ${effective.layer} ${effective.response === 'terminate' ? 'terminates them' : 'holds them under an exception'}, but the STIG asks it of the base policy, which every agent falls back to.` : '';
    out.push({
      kind: 'open', code: 'base_alert',
      text: `Base rule ${ruleId} answers malicious events with an alert only (${count} of the ${events.length} kinds of malicious event tried, e.g. ${describeEvent(example)}): the micro-VM keeps running.${tightened} Make it terminate, or a forensic hold under a documented exception.`,
    });
  }
  const reached = new Set(deciding.keys());
  for (const rule of policy.rules) {
    if (rule.response === 'alert' && !reached.has(rule.id) && (!rule.match.verdicts || rule.match.verdicts.includes('malicious'))) {
      out.push({ kind: 'note', code: 'base_alert_shadowed', text: `Base rule ${rule.id} answers with an alert only, but no malicious event reaches it: earlier rules decide each one first (checkPolicy still warns about it; reorder or narrow it to keep the policy clear).` });
    }
  }
  if (alerts.length === 0) {
    const terminate = [...deciding].filter(([, v]) => v.response === 'terminate').map(([id]) => (id === 'default-malicious' ? 'the default' : id));
    const hold = [...deciding].filter(([, v]) => v.response === 'forensic-hold').map(([id]) => id);
    out.push({
      kind: 'note', code: 'base_terminates',
      text: `The base of ${name} terminates every malicious event: of the ${events.length} kinds tried (one of each kind its rules can tell apart by severity, category, sensor and ATT&CK technique), ` +
        `${terminate.length > 0 ? `each is terminated by ${list(terminate)}` : 'none is terminated outright'}${hold.length > 0 ? `, or held for forensics by ${list(hold)} (a hold falls back to terminate wherever its exception is expired, missing or out of scope)` : ''}.`,
    });
  }
}

/** Which deltas apply to this agent, and how far. */
function judgeDeltas(policy: Policy, ctx: PolicyContext, out: StigFinding[]): void {
  for (const delta of policy.deltas ?? []) {
    const reach = coverage(delta.scope, ctx);
    if (reach === 'none') continue;
    const where = reach === 'all-vms' ? 'to every VM of this agent' : `only to this agent's VMs tagged ${list(delta.scope.vmTags ?? [])}, if it has any`;
    const holds = delta.rules.filter((r) => r.response === 'forensic-hold').length;
    out.push({
      kind: 'note', code: 'delta_applies',
      text: `Delta ${delta.id} (${describeScope(delta.scope)}) applies ${where}: its ${delta.rules.length} rule${delta.rules.length === 1 ? '' : 's'} can only tighten the base${holds > 0 ? `, except ${holds} forensic hold${holds === 1 ? '' : 's'} (judged on ${holds === 1 ? 'its' : 'their'} own)` : ''}.`,
    });
  }
}

/** Every hold rule that applies to this agent, judged by its exception; returns the exceptions they use. */
function judgeHolds(policy: Policy, ctx: PolicyContext, now: number, out: StigFinding[]): ExceptionReport[] {
  const exceptions = new Map((policy.exceptions ?? []).map((e) => [e.id, e]));
  const reports = new Map<string, ExceptionReport>();
  const layers: { layer: string; reach: Coverage; rules: readonly PolicyRule[]; scope?: PolicyScope }[] = [
    { layer: 'base', reach: 'all-vms', rules: policy.rules },
    ...(policy.deltas ?? []).map((d) => ({ layer: d.id, reach: coverage(d.scope, ctx), rules: d.rules, scope: d.scope })),
  ];
  for (const { layer, reach, rules, scope } of layers) {
    if (reach === 'none') continue;
    for (const rule of rules) {
      if (rule.response !== 'forensic-hold' || rule.exception === undefined) continue; // no exception: a checkPolicy error already
      const e = exceptions.get(rule.exception);
      if (!e) continue; // an exception it does not document: a checkPolicy error already
      const who = `${layer === 'base' ? 'Base' : `Delta ${layer}`} rule ${rule.id}`;
      const own = coverage(e.scope, ctx);
      if (own === 'none') {
        out.push({ kind: 'note', code: 'hold_not_covered', text: `${who} asks for a forensic hold under exception ${e.id}, which does not cover this agent (${describeScope(e.scope)}): its VMs are terminated instead.` });
        continue;
      }
      const tagged: (readonly string[])[] = [];
      if (reach === 'some-vms' && scope?.vmTags) tagged.push(scope.vmTags);
      const ownTags = e.scope.vmTags;
      if (own === 'some-vms' && ownTags && !tagged.some((t) => t.join('\n') === ownTags.join('\n'))) tagged.push(ownTags);
      const covers: Coverage = tagged.length === 0 ? 'all-vms' : 'some-vms';
      const expired = !(Date.parse(e.expiresAt) > now);
      const report = reports.get(e.id) ?? {
        id: e.id, justification: { ...e.justification }, approver: e.approver, scope: e.scope, expiresAt: e.expiresAt, expired, covers, rules: [],
      };
      if (covers === 'all-vms') report.covers = 'all-vms';
      report.rules.push({ layer, ruleId: rule.id });
      reports.set(e.id, report);
      const vms = tagged.length === 0 ? 'every VM of this agent' : `this agent's VMs tagged ${tagged.map((t) => list(t)).join(' and tagged ')}`;
      const documented = `exception ${e.id} (${e.justification.kind}: "${e.justification.text}", approved by ${e.approver}, ${expired ? 'expired at' : 'until'} ${e.expiresAt})`;
      if (expired) {
        out.push({ kind: 'note', code: 'hold_expired', text: `${who} held the events it matches on ${vms} for forensics under ${documented}: since then they are terminated again, as the STIG asks.` });
      } else if (!e.justification.text.trim() || !e.approver.trim()) {
        out.push({ kind: 'open', code: 'exception_undocumented', text: `${who} holds the events it matches on ${vms} instead of terminating them, under exception ${e.id}, which ${!e.approver.trim() ? 'names no approver' : 'gives no justification'}: an exception must be documented (a test system or a mission need, approved, scoped, expiring).` });
      } else {
        out.push({ kind: 'note', code: 'hold_granted', text: `${who} holds (freeze, isolate to the honeypot, seize) the events it matches on ${vms} instead of terminating them, under ${documented}: a documented exception, not a finding until it expires.` });
      }
    }
  }
  return [...reports.values()];
}

type Coverage = 'all-vms' | 'some-vms' | 'none';

/** How much of this agent a scope covers: all of it (the agent or one of its host groups), VMs with a tag, or nothing. */
function coverage(scope: PolicyScope, ctx: PolicyContext): Coverage {
  if (scope.agents?.includes(ctx.agentId) || scope.hostGroups?.some((g) => ctx.hostGroups.includes(g))) return 'all-vms';
  return scope.vmTags && scope.vmTags.length > 0 ? 'some-vms' : 'none';
}

/**
 * One malicious event of each kind the rules can tell apart, as the only fields a match reads: each severity a rule's
 * minSeverity names (and info); each category a rule names (and one none names); each sensor kind a rule names (and
 * one none names) × each sensor id a rule names (and one none names); each ATT&CK technique a rule names (and none).
 * Any other value behaves like the one tried in its place. Undefined when that is over PROBE_LIMIT.
 */
function maliciousEvents(policy: Policy, agentId: string): ThreatEvent[] | undefined {
  const rules = [...policy.rules, ...(policy.deltas ?? []).flatMap((d) => d.rules)];
  const namedAndOneMore = <T>(all: readonly T[], named: ReadonlySet<unknown>) => [...all.filter((v) => named.has(v)), ...all.filter((v) => !named.has(v)).slice(0, 1)];
  const severities = SEVERITIES.filter((s, i) => i === 0 || rules.some((r) => r.match.minSeverity === s));
  const categories = namedAndOneMore(CATEGORIES, new Set(rules.flatMap((r) => r.match.categories ?? [])));
  const sensors = new Set(rules.flatMap((r) => r.match.sensors ?? []));
  const kinds = namedAndOneMore(SENSOR_KINDS, sensors);
  let unnamed = 'sensor-no-rule-names';
  while (sensors.has(unnamed)) unnamed += '-';
  const sensorIds = [...sensors, unnamed];
  const techniques: (string | undefined)[] = [undefined, ...new Set(rules.flatMap((r) => r.match.techniques ?? []))];
  const total = severities.length * categories.length * kinds.length * sensorIds.length * techniques.length;
  if (total > PROBE_LIMIT) return undefined;
  const events: ThreatEvent[] = [];
  for (const severity of severities) {
    for (const category of categories) {
      for (const kind of kinds) {
        for (const id of sensorIds) {
          for (const techniqueId of techniques) {
            events.push({
              id: `probe-${events.length}`, time: '1970-01-01T00:00:00Z', agentId, vmId: 'probe', severity, verdict: 'malicious', category,
              title: 'probe', sensor: { id, kind }, ...(techniqueId ? { mitre: { techniqueId } } : {}),
            });
          }
        }
      }
    }
  }
  return events;
}

function describeEvent(e: ThreatEvent): string {
  const sensor = e.sensor.id.startsWith('sensor-no-rule-names') ? `a ${e.sensor.kind} sensor` : `sensor ${e.sensor.id} (${e.sensor.kind})`;
  return `${/^[aeiou]/.test(e.severity) ? 'an' : 'a'} ${e.severity} ${e.category} event from ${sensor}${e.mitre ? `, technique ${e.mitre.techniqueId}` : ''}`;
}

function describeMatch(rule: PolicyRule): string {
  const m = rule.match;
  const parts = [
    m.minSeverity ? `of severity ${m.minSeverity} or more` : '',
    m.categories ? `in ${list(m.categories)}` : '',
    m.sensors ? `from ${list(m.sensors)}` : '',
    m.techniques ? `with technique ${list(m.techniques)}` : '',
  ].filter(Boolean);
  return parts.length > 0 ? ` ${parts.join(', ')}` : '';
}

/** "agents a, b; host groups g; VM tags t" */
export function describeScope(scope: PolicyScope): string {
  return [
    scope.agents ? `agent${scope.agents.length === 1 ? '' : 's'} ${list(scope.agents)}` : '',
    scope.hostGroups ? `host group${scope.hostGroups.length === 1 ? '' : 's'} ${list(scope.hostGroups)}` : '',
    scope.vmTags ? `VM tag${scope.vmTags.length === 1 ? '' : 's'} ${list(scope.vmTags)}` : '',
  ].filter(Boolean).join('; ');
}

function list(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}
