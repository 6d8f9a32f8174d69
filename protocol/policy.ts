// The auto-response policy, evaluated: which response (terminate, alert, forensic hold, none) a threat event gets on a
// VM, by which rule, and whether a policy is well formed ("tighten, never loosen"). Pure — no I/O, and the clock is
// the caller's — so the agent enforces it and the cockpit's compliance view can show the same answer for the same
// event. STIG SV-95141r1: a VM with malicious activity is terminated; the only way around it is a documented forensic
// exception (justification, approver, scope, expiry), and an expired exception falls back to terminate on its own.
//
// Precedence: the base's rules are read in order and the first that matches decides (none: malicious → terminate,
// anything else → no response). Each delta whose scope covers the agent, one of its host groups or one of the VM's
// tags does the same with its rules. The strongest answer wins (terminate > alert > none), so a delta can only
// tighten; a forensic hold under a valid exception, from any layer, takes the place of terminate.
import type { ForensicException, Policy, PolicyMatch, PolicyResponse, PolicyRule, PolicyScope, Severity, ThreatEvent } from './index.ts';

/** Where an event was seen, as far as scopes are concerned. */
export interface PolicyContext {
  agentId: string;
  hostGroups: readonly string[];
  /** The VM's tags (none for the host itself). */
  vmTags: readonly string[];
}

export interface PolicyDecision {
  response: PolicyResponse | 'none';
  /** The rule that decided: a rule id, or `default-malicious` / `default` when none matched. */
  ruleId: string;
  /** `base`, or the id of the delta the rule came from. */
  layer: string;
  /** The exception a forensic hold runs under. */
  exception?: ForensicException;
  /** Why a hold was asked for and not granted (its exception expired or does not cover this VM): terminate instead. */
  fallback?: string;
}

export interface PolicyProblems {
  /** The policy must not be enforced: a hold without an exception, a delta that would loosen the base, ... */
  errors: string[];
  /** Enforceable, but worth the signer's attention (not STIG compliant, an exception already expired). */
  warnings: string[];
}

export const DEFAULT_MALICIOUS_RULE = 'default-malicious';
const RANK: Record<PolicyDecision['response'], number> = { none: 0, alert: 1, terminate: 2, 'forensic-hold': 2 };
const SEVERITY: Record<Severity, number> = { info: 0, low: 1, medium: 2, high: 3, critical: 4 };

/** What `policy` answers to `event` seen in `ctx`, at `now` (ms since the epoch). */
export function evaluate(policy: Policy, event: ThreatEvent, ctx: PolicyContext, now: number): PolicyDecision {
  const exceptions = new Map((policy.exceptions ?? []).map((e) => [e.id, e]));
  const base = policy.rules.find((r) => matches(r.match, event));
  const candidates: PolicyDecision[] = [
    base
      ? grant(base, 'base', exceptions, ctx, now)
      : event.verdict === 'malicious' ? { response: 'terminate', ruleId: DEFAULT_MALICIOUS_RULE, layer: 'base' } : { response: 'none', ruleId: 'default', layer: 'base' },
  ];
  for (const delta of policy.deltas ?? []) {
    if (!inScope(delta.scope, ctx)) continue;
    const rule = delta.rules.find((r) => matches(r.match, event));
    if (rule) candidates.push(grant(rule, delta.id, exceptions, ctx, now));
  }
  const hold = candidates.find((c) => c.response === 'forensic-hold');
  if (hold) return hold;
  // The first of the strongest (the base before the deltas), except that a hold that fell back to terminate names
  // itself: the responder must read that the exception expired, not only that the default applied.
  return candidates.reduce((best, c) => (RANK[c.response] > RANK[best.response] || (RANK[c.response] === RANK[best.response] && c.fallback && !best.fallback) ? c : best));
}

/** A rule's response, with its hold granted only under an exception that is unexpired and covers this VM. */
function grant(rule: PolicyRule, layer: string, exceptions: ReadonlyMap<string, ForensicException>, ctx: PolicyContext, now: number): PolicyDecision {
  if (rule.response !== 'forensic-hold') return { response: rule.response, ruleId: rule.id, layer };
  const exception = rule.exception !== undefined ? exceptions.get(rule.exception) : undefined;
  if (!exception) return { response: 'terminate', ruleId: rule.id, layer, fallback: `rule ${rule.id} asks for a forensic hold without a documented exception` };
  const expires = Date.parse(exception.expiresAt);
  if (!(expires > now)) return { response: 'terminate', ruleId: rule.id, layer, fallback: `exception ${exception.id} expired at ${exception.expiresAt}` };
  if (!inScope(exception.scope, ctx)) return { response: 'terminate', ruleId: rule.id, layer, fallback: `exception ${exception.id} does not cover this VM` };
  return { response: 'forensic-hold', ruleId: rule.id, layer, exception };
}

/** Whether a rule's match takes this event: every field given must match. */
export function matches(m: PolicyMatch, e: ThreatEvent): boolean {
  if (m.verdicts && !m.verdicts.includes(e.verdict)) return false;
  if (m.minSeverity && SEVERITY[e.severity] < SEVERITY[m.minSeverity]) return false;
  if (m.categories && !m.categories.includes(e.category)) return false;
  if (m.sensors && !m.sensors.includes(e.sensor.id) && !m.sensors.includes(e.sensor.kind)) return false;
  if (m.techniques) {
    const id = e.mitre?.techniqueId;
    if (!id || !m.techniques.some((t) => id === t || id.startsWith(`${t}.`))) return false;
  }
  return true;
}

/** Whether a scope covers the agent, one of its host groups or one of the VM's tags. */
export function inScope(scope: PolicyScope, ctx: PolicyContext): boolean {
  return Boolean(scope.agents?.includes(ctx.agentId)
    || scope.hostGroups?.some((g) => ctx.hostGroups.includes(g))
    || scope.vmTags?.some((t) => ctx.vmTags.includes(t)));
}

/**
 * What is wrong with a policy, in sentences its signer can act on. `now` only turns an expired exception into a warning.
 * "Tighten, never loosen" is checked conservatively: a delta rule weaker than a base rule (or the malicious default)
 * whose match could take the same event is refused, even if an earlier base rule would in fact have decided.
 */
export function checkPolicy(policy: Policy, now: number): PolicyProblems {
  const errors: string[] = [];
  const warnings: string[] = [];
  const exceptions = new Map((policy.exceptions ?? []).map((e) => [e.id, e]));
  const unique = (what: string, ids: string[]) => {
    const seen = new Set<string>();
    for (const id of ids) {
      if (seen.has(id)) errors.push(`Two ${what} are named "${id}": give each its own id, so a decision names one.`);
      seen.add(id);
    }
  };
  unique('exceptions', (policy.exceptions ?? []).map((e) => e.id));
  unique('deltas', (policy.deltas ?? []).map((d) => d.id));
  for (const e of policy.exceptions ?? []) {
    if (!(Date.parse(e.expiresAt) > now)) warnings.push(`Exception ${e.id} expired at ${e.expiresAt}: the rules that use it terminate again.`);
  }
  const checkRule = (rule: PolicyRule, where: string) => {
    if (rule.response === 'forensic-hold') {
      if (rule.exception === undefined) {
        errors.push(`${where} rule ${rule.id} asks for a forensic hold without naming an exception: a hold instead of terminate is allowed only under a documented exception (justification, approver, scope, expiry).`);
      } else if (!exceptions.has(rule.exception)) {
        errors.push(`${where} rule ${rule.id} names the exception "${rule.exception}", which this policy does not document: add it under "exceptions" or drop the hold.`);
      }
    } else if (rule.exception !== undefined) {
      errors.push(`${where} rule ${rule.id} names an exception but answers ${rule.response}: an exception only allows a forensic hold.`);
    }
  };
  unique('base rules', policy.rules.map((r) => r.id));
  for (const rule of policy.rules) {
    checkRule(rule, 'Base');
    if (rule.response === 'alert' && overlaps(rule.match, { verdicts: ['malicious'] })) {
      warnings.push(`Base rule ${rule.id} answers malicious events with an alert only: not STIG SV-95141r1 compliant, which terminates them.`);
    }
  }
  const baseLine: { id: string; match: PolicyMatch; response: PolicyResponse }[] = [...policy.rules, { id: DEFAULT_MALICIOUS_RULE, match: { verdicts: ['malicious'] }, response: 'terminate' }];
  for (const delta of policy.deltas ?? []) {
    unique(`rules of delta ${delta.id}`, delta.rules.map((r) => r.id));
    for (const rule of delta.rules) {
      checkRule(rule, `Delta ${delta.id}`);
      if (rule.response === 'forensic-hold') continue; // loosening through an exception is the one allowed way
      const stronger = baseLine.find((b) => RANK[b.response] > RANK[rule.response] && overlaps(rule.match, b.match));
      if (stronger) {
        const what = stronger.id === DEFAULT_MALICIOUS_RULE ? 'malicious events, which the base terminates by default' : `events that base rule ${stronger.id} answers with ${stronger.response}`;
        errors.push(`Delta ${delta.id} rule ${rule.id} would loosen the base: it answers ${what} with ${rule.response} only. A delta may tighten the base, never loosen it; a documented forensic exception is the only way around terminate.`);
      }
    }
  }
  return { errors, warnings };
}

/** Whether some event could match both. */
function overlaps(a: PolicyMatch, b: PolicyMatch): boolean {
  const meet = <T>(x: readonly T[] | undefined, y: readonly T[] | undefined) => !x || !y || x.some((v) => y.includes(v));
  const techniques = !a.techniques || !b.techniques
    || a.techniques.some((s) => b.techniques!.some((t) => s === t || s.startsWith(`${t}.`) || t.startsWith(`${s}.`)));
  return meet(a.verdicts, b.verdicts) && meet(a.categories, b.categories) && meet(a.sensors, b.sensors) && techniques;
}
