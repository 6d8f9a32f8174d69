// STIG SV-95141r1 judged per agent from the policy it enforces: a compliant set is not a finding and says why; a
// missing policy, a base that only alerts on malicious, a delta that loosens, an undocumented exception are open; an
// expired exception falls back to terminate and stays compliant; a delta scoped to VM tags is said to apply to some VMs.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { keyFingerprint, signPolicy } from '../../agent/policy/signing.ts';
import { PROBE_LIMIT, stigCompliance, type StigFinding, type StigVerdict } from '../../protocol/compliance.ts';
import type { ForensicException, Policy, PolicyDelta, PolicyRule, ThreatEvent } from '../../protocol/index.ts';
import { checkPolicy, evaluate } from '../../protocol/policy.ts';

const T0 = Date.parse('2026-11-23T10:00:00Z');
const AGENT = { agentId: 'hv-07', hostGroups: ['dc-east'] };
const policy = (over: Partial<Policy> = {}): Policy => ({ id: 'soc-stig', version: 3, issuedAt: '2026-11-23T09:00:00Z', rules: [], ...over });
const lab: ForensicException = {
  id: 'ex-lab', justification: { kind: 'test-system', text: 'Malware lab: keep samples running for analysis.' },
  approver: 'ISSM j.doe', scope: { vmTags: ['lab'] }, expiresAt: '2026-11-23T12:00:00Z',
};
const labHold: PolicyDelta = { id: 'lab', scope: { vmTags: ['lab'] }, rules: [{ id: 'hold-lab', match: { verdicts: ['malicious'] }, response: 'forensic-hold', exception: 'ex-lab' }] };

const judge = (p: Policy | null | undefined, now = T0, agent = AGENT) => stigCompliance({ ...agent, policy: p, now });
const codes = (v: StigVerdict, kind: StigFinding['kind']) => v.findings.filter((f) => f.kind === kind).map((f) => f.code);
const text = (v: StigVerdict, code: StigFinding['code']) => v.findings.filter((f) => f.code === code).map((f) => f.text).join('\n');

test('a compliant set: the base terminates malicious events, deltas only tighten: not a finding, with the evidence', () => {
  const p = policy({
    rules: [
      { id: 'kill-malicious', match: { verdicts: ['malicious'] }, response: 'terminate' },
      { id: 'alert-suspicious', match: { verdicts: ['suspicious'] }, response: 'alert' },
    ],
    deltas: [
      { id: 'east-strict', scope: { hostGroups: ['dc-east'] }, rules: [{ id: 'kill-suspicious', match: { verdicts: ['suspicious'], minSeverity: 'high' }, response: 'terminate' }] },
      { id: 'west', scope: { hostGroups: ['dc-west'] }, rules: [{ id: 'kill-all', match: {}, response: 'terminate' }] },
    ],
  });
  const v = judge(p);
  assert.equal(v.status, 'not_a_finding', JSON.stringify(v.findings, null, 2));
  assert.deepEqual(codes(v, 'open'), []);
  // Two kinds of malicious event: high or more, and less (the only minSeverity named); nothing else is told apart.
  assert.match(text(v, 'base_terminates'), /^The base of policy soc-stig v3 terminates every malicious event: of the 2 kinds tried .*each is terminated by kill-malicious\.$/);
  assert.match(text(v, 'delta_applies'), /^Delta east-strict \(host group dc-east\) applies to every VM of this agent/);
  assert.doesNotMatch(text(v, 'delta_applies'), /west/, 'a delta for another host group does not apply here');
  assert.deepEqual(v.exceptions, []);
  assert.deepEqual(v.policy, { id: 'soc-stig', version: 3 });
  assert.equal(v.checkedAt, '2026-11-23T10:00:00.000Z');
  assert.equal(v.nextChange, undefined);
});

test('a base with no rule at all is compliant: the default terminates every malicious event', () => {
  const v = judge(policy());
  assert.equal(v.status, 'not_a_finding');
  assert.match(text(v, 'base_terminates'), /each is terminated by the default\.$/);
});

test('no policy in force is open (nothing terminates); a policy not known yet is not reviewed', () => {
  const none = judge(null);
  assert.equal(none.status, 'open');
  assert.deepEqual(codes(none, 'open'), ['no_policy']);
  assert.match(none.findings[0]!.text, /^Agent hv-07 enforces no policy: nothing terminates a micro-VM automatically/);
  const unknown = judge(undefined);
  assert.equal(unknown.status, 'not_reviewed');
  assert.deepEqual(unknown.findings.map((f) => f.code), ['policy_unknown']);
});

test('a base rule that answers some malicious events with an alert only is open, named with an example event', () => {
  const v = judge(policy({
    rules: [
      { id: 'alert-av-files', match: { categories: ['file'], sensors: ['clamav'] }, response: 'alert' },
      { id: 'kill-malicious', match: { verdicts: ['malicious'] }, response: 'terminate' },
    ],
  }));
  assert.equal(v.status, 'open');
  assert.deepEqual(codes(v, 'open'), ['base_alert']);
  assert.match(text(v, 'base_alert'), /^Base rule alert-av-files answers malicious events with an alert only \(\d+ of the \d+ kinds of malicious event tried, e\.g\. an? \w+ file event from sensor clamav/);
  assert.equal(v.findings[0]!.code, 'base_alert', 'open findings come first');
});

test('the probe reaches a rule only one sensor and one ATT&CK sub-technique can trigger', () => {
  const v = judge(policy({ rules: [{ id: 'alert-shells', match: { sensors: ['auditd'], techniques: ['T1059.004'], minSeverity: 'critical' }, response: 'alert' }] }));
  assert.equal(v.status, 'open');
  assert.match(text(v, 'base_alert'), /e\.g\. a critical \w+ event from sensor auditd \(\w+\), technique T1059\.004\)/);
});

test('a base alert is open even where a delta terminates for this agent: the STIG asks it of the base', () => {
  const v = judge(policy({
    rules: [{ id: 'alert-all', match: {}, response: 'alert' }],
    deltas: [{ id: 'east-kill', scope: { hostGroups: ['dc-east'] }, rules: [{ id: 'kill-malicious', match: { verdicts: ['malicious'] }, response: 'terminate' }] }],
  }));
  assert.equal(v.status, 'open');
  assert.match(text(v, 'base_alert'), /delta east-kill terminates them, but the STIG asks it of the base policy/);
});

test('an alert rule that no malicious event reaches is not a finding, though checkPolicy warns (the verdict says why)', () => {
  const p = policy({
    rules: [
      { id: 'kill-malicious', match: { verdicts: ['malicious'] }, response: 'terminate' },
      { id: 'alert-rest', match: {}, response: 'alert' },
    ],
  });
  assert.match(checkPolicy(p, T0).warnings.join('\n'), /alert-rest answers malicious events with an alert only/, 'the conservative reading flags it');
  const v = judge(p);
  assert.equal(v.status, 'not_a_finding');
  assert.match(text(v, 'base_alert_shadowed'), /^Base rule alert-rest answers with an alert only, but no malicious event reaches it/);
});

test('a delta in scope that would loosen the base without an exception is open: the agent refuses the policy', () => {
  const v = judge(policy({ deltas: [{ id: 'lax', scope: { agents: ['hv-07'] }, rules: [{ id: 'just-alert', match: { categories: ['escape'] }, response: 'alert' }] }] }));
  assert.equal(v.status, 'open');
  assert.deepEqual(codes(v, 'open'), ['policy_refused']);
  assert.match(text(v, 'policy_refused'), /^The agent refuses this policy as a whole: Delta lax rule just-alert would loosen the base/);
});

test('a forensic hold without a documented exception is open; so is one whose exception names no approver', () => {
  const missing = judge(policy({ rules: [{ id: 'hold-all', match: { verdicts: ['malicious'] }, response: 'forensic-hold' }] }));
  assert.equal(missing.status, 'open');
  assert.match(text(missing, 'policy_refused'), /hold-all asks for a forensic hold without naming an exception/);

  const blank = judge(policy({ exceptions: [{ ...lab, approver: '  ' }], deltas: [labHold] }));
  assert.equal(blank.status, 'open');
  assert.deepEqual(codes(blank, 'open'), ['exception_undocumented']);
  assert.match(text(blank, 'exception_undocumented'), /under exception ex-lab, which names no approver: an exception must be documented/);
});

test('a hold under an unexpired documented exception is compliant and listed; once expired it is terminate again, still compliant', () => {
  const p = policy({ exceptions: [lab], deltas: [labHold] });
  const before = judge(p, T0);
  assert.equal(before.status, 'not_a_finding', JSON.stringify(before.findings, null, 2));
  assert.match(text(before, 'hold_granted'), /^Delta lab rule hold-lab holds \(freeze, isolate to the honeypot, seize\) the events it matches on this agent's VMs tagged lab instead of terminating them, under exception ex-lab \(test-system: "Malware lab: keep samples running for analysis\.", approved by ISSM j\.doe, until 2026-11-23T12:00:00Z\)/);
  assert.deepEqual(before.exceptions, [{
    id: 'ex-lab', justification: lab.justification, approver: 'ISSM j.doe', scope: { vmTags: ['lab'] }, expiresAt: '2026-11-23T12:00:00Z',
    expired: false, covers: 'some-vms', rules: [{ layer: 'lab', ruleId: 'hold-lab' }],
  }]);
  assert.equal(before.nextChange, '2026-11-23T12:00:00Z', 'judge again when the exception expires');

  const after = judge(p, Date.parse(lab.expiresAt));
  assert.equal(after.status, 'not_a_finding');
  assert.equal(text(after, 'hold_granted'), '');
  assert.match(text(after, 'hold_expired'), /expired at 2026-11-23T12:00:00Z\): since then they are terminated again, as the STIG asks\.$/);
  assert.equal(after.exceptions[0]?.expired, true);
  assert.equal(after.nextChange, undefined);
});

test('a delta scoped to VM tags applies to some VMs of the agent, and the verdict says which; one scoped to the agent, to all', () => {
  const p = policy({
    exceptions: [{ ...lab, scope: { agents: ['hv-07'] } }],
    deltas: [labHold, { id: 'web-strict', scope: { vmTags: ['web', 'dmz'] }, rules: [{ id: 'kill-suspicious', match: { verdicts: ['suspicious'] }, response: 'terminate' }] }],
  });
  const v = judge(p);
  assert.equal(v.status, 'not_a_finding');
  const deltas = text(v, 'delta_applies');
  assert.match(deltas, /Delta lab \(VM tag lab\) applies only to this agent's VMs tagged lab, if it has any/);
  assert.match(deltas, /Delta web-strict \(VM tags web or dmz\) applies only to this agent's VMs tagged web or dmz, if it has any/);
  assert.equal(v.exceptions[0]?.covers, 'some-vms', 'the exception covers the agent, its rule only lab VMs');

  const wholeAgent = judge(policy({ exceptions: [{ ...lab, scope: { hostGroups: ['dc-east'] } }], deltas: [{ ...labHold, scope: { agents: ['hv-07'] } }] }));
  assert.equal(wholeAgent.exceptions[0]?.covers, 'all-vms');
  assert.match(text(wholeAgent, 'hold_granted'), /on every VM of this agent instead of terminating them/);

  const elsewhere = judge(p, T0, { agentId: 'hv-09', hostGroups: ['dc-west'] });
  assert.match(text(elsewhere, 'hold_not_covered'), /exception ex-lab, which does not cover this agent \(agent hv-07\): its VMs are terminated instead/);
  assert.deepEqual(elsewhere.exceptions, []);
});

test('a signed policy: the verdict names its signer; a plain one is judged as a draft', () => {
  const { privateKey } = generateKeyPairSync('ed25519');
  const signed = stigCompliance({ ...AGENT, policy: signPolicy(policy(), privateKey), now: T0 });
  assert.equal(signed.policy?.signer, keyFingerprint(privateKey));
  assert.equal(text(signed, 'unsigned'), '');
  assert.match(text(judge(policy()), 'unsigned'), /is not signed: this is the verdict it would get once signed and in force/);
});

test('past the probe limit the base rules are read conservatively, and the verdict says so', () => {
  const techniques = Array.from({ length: 256 }, (_, i) => `T${String(1000 + i)}`) as [string, ...string[]];
  const sensors = Array.from({ length: 256 }, (_, i) => `sensor-${i}`) as [string, ...string[]];
  const p = policy({ rules: [
    { id: 'kill-known', match: { techniques }, response: 'terminate' },
    { id: 'kill-sensors', match: { sensors, categories: ['file', 'network'] }, response: 'terminate' },
    { id: 'kill-malicious', match: { verdicts: ['malicious'] }, response: 'terminate' },
    { id: 'alert-rest', match: {}, response: 'alert' },
  ] });
  // 1 severity × (2 categories + 1) × 1 sensor kind × (256 sensors + 1) × (256 techniques + 1)
  assert.ok(3 * 257 * 257 > PROBE_LIMIT, 'this policy is over the limit');
  const v = judge(p);
  assert.match(text(v, 'probe_limit'), /names too many severities, categories, sensors and techniques to try every combination/);
  assert.equal(v.status, 'open', 'read conservatively, the shadowed alert rule counts');
  assert.match(text(v, 'base_alert'), /^Base rule alert-rest answers malicious events with an alert only/);
});

test('the kinds of malicious event tried stand for every one: a base alert found by trying everything is found by the verdict', () => {
  // Small alphabets, so that "everything" can be tried: every severity, category and sensor kind, sensor ids and
  // techniques named or not, sub-techniques of named techniques.
  const SEVERITY = ['info', 'low', 'medium', 'high', 'critical'] as const;
  const CATEGORY = ['process', 'network', 'file', 'memory', 'escape', 'policy', 'auth', 'hypervisor', 'other'] as const;
  const KIND = ['guest', 'hypervisor', 'network', 'ids', 'log', 'sim'] as const;
  const SENSOR = ['auditd', 'guest', 'ids', 'falco'] as const;
  const TECHNIQUE = ['T1059', 'T1059.004', 'T1046'] as const;
  const subset = <T>(items: readonly T[]) => fc.option(fc.uniqueArray(fc.constantFrom(...items), { minLength: 1, maxLength: items.length }), { nil: undefined });
  const rule = fc.record({
    verdicts: subset(['benign', 'suspicious', 'malicious'] as const), minSeverity: fc.option(fc.constantFrom(...SEVERITY), { nil: undefined }),
    categories: subset(CATEGORY), sensors: subset(SENSOR), techniques: subset(TECHNIQUE), response: fc.constantFrom('terminate', 'alert'),
  });
  const everything: ThreatEvent[] = [];
  for (const severity of SEVERITY) for (const category of CATEGORY) for (const kind of KIND) {
    for (const id of [...SENSOR, 'clamav']) for (const techniqueId of [undefined, ...TECHNIQUE, 'T1059.001', 'T1046.002', 'T9999']) {
      everything.push({ id: 'e', time: '2026-11-23T10:00:00Z', agentId: 'hv-07', vmId: 'vm', severity, verdict: 'malicious', category, title: 't', sensor: { id, kind }, ...(techniqueId ? { mitre: { techniqueId } } : {}) });
    }
  }
  fc.assert(fc.property(fc.array(rule, { maxLength: 5 }), (drawn) => {
    const rules = drawn.map(({ response, ...m }, i) => ({
      id: `r${i}`, response,
      match: Object.fromEntries(Object.entries(m).filter(([, v]) => v !== undefined)) as PolicyRule['match'],
    }));
    const p = policy({ rules });
    const alerted = new Set(everything.map((e) => evaluate(p, e, { ...AGENT, vmTags: [] }, T0)).filter((d) => d.response === 'alert').map((d) => d.ruleId));
    const v = judge(p);
    const found = new Set(v.findings.filter((f) => f.code === 'base_alert').map((f) => /^Base rule (\S+) /.exec(f.text)![1]));
    assert.deepEqual([...found].sort(), [...alerted].sort());
    assert.equal(v.status, alerted.size > 0 ? 'open' : 'not_a_finding');
  }), { numRuns: 300 });
});
