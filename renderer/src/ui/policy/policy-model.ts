// The policy view's logic, without React: reading the editor's text as a policy (its shape checked by the same
// schema main checks, its rules by the same "tighten, never loosen" check the agents run), the starting text for a
// new version, the STIG baseline, each agent's SV-95141r1 verdict, and the automatic responses to announce.
import { checkCockpitPolicyPush, type ActionRecord, type AgentPolicy, type Policy } from '../../../../protocol/index.ts';
import { checkPolicy } from '../../../../protocol/policy.ts';
import { stigCompliance, type StigVerdict } from '../../../../protocol/compliance.ts';

export type ParsedPolicy =
  | { ok: true; policy: Policy; warnings: string[] }
  | { ok: false; errors: string[] };

/** The editor's text as a policy, or every reason it cannot be pushed, in sentences. */
export function parsePolicy(text: string, now: number): ParsedPolicy {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, errors: [`The policy is not JSON: ${(err as Error).message}`] };
  }
  // The schema of a push (the policy inside it) is the one main applies: the same answer here, before sending.
  const shape = checkCockpitPolicyPush({ policy: value, agentIds: ['check'], reason: 'check' });
  if (!shape.ok) return { ok: false, errors: [shape.error.message.replace(/^The policy push /, 'The policy ')] };
  const policy = shape.value.policy;
  const problems = checkPolicy(policy, now);
  if (problems.errors.length > 0) return { ok: false, errors: problems.errors };
  return { ok: true, policy, warnings: problems.warnings };
}

/** STIG SV-95141r1 as a policy: terminate on malicious, alert on suspicious of medium severity or more. */
export function stigBaseline(now: number): Policy {
  return {
    id: 'stig-baseline',
    version: 1,
    issuedAt: new Date(now).toISOString(),
    description: 'STIG SV-95141r1: a micro-VM with malicious activity is terminated automatically.',
    rules: [
      { id: 'terminate-malicious', match: { verdicts: ['malicious'] }, response: 'terminate' },
      { id: 'alert-suspicious', match: { verdicts: ['suspicious'], minSeverity: 'medium' }, response: 'alert' },
    ],
    deltas: [],
    exceptions: [],
  };
}

/** The next version of a policy in force: same content, version + 1, issued now. */
export function nextVersion(policy: Policy, now: number): Policy {
  return { ...structuredClone(policy), version: policy.version + 1, issuedAt: new Date(now).toISOString() };
}

export function policyText(policy: Policy): string {
  return `${JSON.stringify(policy, null, 2)}\n`;
}

/**
 * Each agent's verdict: judged on the whole policy once the agent sent it; "none in force" when its hello said so
 * (and it is connected); not reviewed while the cockpit does not know.
 */
export function verdictOf(agent: AgentPolicy, now: number): StigVerdict {
  const policy = agent.policy ?? (agent.inForce ? undefined : agent.link === 'connected' ? null : undefined);
  return stigCompliance({ agentId: agent.agentId, hostGroups: agent.hostGroups, policy, now });
}

/** An automatic response to announce: the agent's policy acted on a VM. */
export interface AutomaticNotice {
  key: string;
  records: ActionRecord[];
}

/**
 * The automatic actions, grouped by the event that triggered them (a hold is three steps), newest first, leaving out
 * those dismissed. Only actions that ended are announced: what was done, not what is being tried.
 */
export function automaticNotices(byVm: ReadonlyMap<string, readonly ActionRecord[]>, dismissed: ReadonlySet<string>, max = 5): AutomaticNotice[] {
  const groups = new Map<string, ActionRecord[]>();
  for (const list of byVm.values()) {
    for (const rec of list) {
      if (rec.actor.role !== 'automatic' || rec.phase === 'sending' || rec.phase === 'accepted') continue;
      const key = `${rec.agentId}/${rec.policy?.eventId ?? rec.requestId}`;
      if (dismissed.has(key)) continue;
      const group = groups.get(key);
      if (group) group.push(rec);
      else groups.set(key, [rec]);
    }
  }
  const latest = (g: ActionRecord[]) => g.reduce((t, r) => (r.finishedAt ?? r.requestedAt) > t ? (r.finishedAt ?? r.requestedAt) : t, '');
  return [...groups].map(([key, records]) => ({ key, records }))
    .sort((a, b) => (latest(a.records) < latest(b.records) ? 1 : -1))
    .slice(0, max);
}

/** One sentence for a notice: which policy did what to which VM, and how it ended. */
export function noticeText(n: AutomaticNotice): string {
  const first = n.records[0]!;
  const p = first.policy;
  const vm = first.vmName ?? first.vmId;
  const steps = n.records.map((r) => `${r.kind} ${r.phase === 'done' ? 'done' : r.phase === 'rejected' ? 'refused' : 'failed'}`).join(', ');
  const what = p?.response === 'forensic-hold' ? `put ${vm} on forensic hold` : `terminated ${vm}`;
  const who = p ? `Policy ${p.policyId} v${p.version} (rule ${p.ruleId}${p.layer === 'base' ? '' : `, delta ${p.layer}`})` : 'The agent\'s policy';
  const ok = n.records.every((r) => r.phase === 'done');
  return `${who} ${ok ? what : `tried to act on ${vm}`} on ${first.agentId} after event ${p?.eventId ?? '?'}: ${steps}.`;
}
