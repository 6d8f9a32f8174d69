// The auto-response policy, evaluated purely: precedence of base, deltas and exceptions; "tighten, never loosen";
// a forensic exception that expires while the clock runs; canonical JSON for the signed bytes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalJson } from '../../protocol/canonical.ts';
import type { ForensicException, Policy, ThreatEvent } from '../../protocol/index.ts';
import { checkPolicy, evaluate } from '../../protocol/policy.ts';

const T0 = Date.parse('2026-11-23T10:00:00Z');
const event = (over: Partial<ThreatEvent> = {}): ThreatEvent => ({
  id: 'evt-1', time: '2026-11-23T10:00:00Z', agentId: 'hv-07', vmId: 'mvm-web-01', severity: 'high', verdict: 'malicious',
  category: 'process', title: 'nc listens on 4444', sensor: { id: 'auditd', kind: 'guest' }, mitre: { techniqueId: 'T1059.004' }, ...over,
});
const ctx = { agentId: 'hv-07', hostGroups: ['dc-east'], vmTags: ['web'] };
const policy = (over: Partial<Policy> = {}): Policy => ({ id: 'stig', version: 1, issuedAt: '2026-11-23T09:00:00Z', rules: [], ...over });
const hold: ForensicException = {
  id: 'ex-lab', justification: { kind: 'test-system', text: 'Malware lab: keep samples running for analysis.' },
  approver: 'ISSM j.doe', scope: { vmTags: ['lab'] }, expiresAt: '2026-11-23T10:05:00Z',
};

test('with no rule, a malicious event is terminated (STIG default) and anything else gets no response', () => {
  assert.deepEqual(evaluate(policy(), event(), ctx, T0), { response: 'terminate', ruleId: 'default-malicious', layer: 'base' });
  assert.equal(evaluate(policy(), event({ verdict: 'suspicious' }), ctx, T0).response, 'none');
});

test('the first matching base rule decides; a technique matches its sub-techniques', () => {
  const p = policy({ rules: [
    { id: 'alert-scans', match: { techniques: ['T1046'] }, response: 'alert' },
    { id: 'kill-shells', match: { techniques: ['T1059'], minSeverity: 'medium' }, response: 'terminate' },
    { id: 'alert-rest', match: { verdicts: ['suspicious'] }, response: 'alert' },
  ] });
  assert.equal(evaluate(p, event(), ctx, T0).ruleId, 'kill-shells');
  assert.equal(evaluate(p, event({ severity: 'low' }), ctx, T0).ruleId, 'default-malicious');
  assert.deepEqual(evaluate(p, event({ verdict: 'suspicious', mitre: { techniqueId: 'T1046' } }), ctx, T0), { response: 'alert', ruleId: 'alert-scans', layer: 'base' });
  assert.equal(evaluate(p, event({ verdict: 'suspicious', sensor: { id: 'x', kind: 'ids' }, mitre: { techniqueId: 'T1021' } }), ctx, T0).ruleId, 'alert-rest');
});

test('a delta in scope tightens the base; one out of scope changes nothing; a delta never loosens at evaluation either', () => {
  const p = policy({
    rules: [{ id: 'alert-suspicious', match: { verdicts: ['suspicious'] }, response: 'alert' }],
    deltas: [
      { id: 'dmz-strict', scope: { vmTags: ['web'] }, rules: [{ id: 'kill-suspicious', match: { verdicts: ['suspicious'] }, response: 'terminate' }] },
      { id: 'other-site', scope: { hostGroups: ['dc-west'] }, rules: [{ id: 'kill-all', match: {}, response: 'terminate' }] },
    ],
  });
  assert.deepEqual(evaluate(p, event({ verdict: 'suspicious' }), ctx, T0), { response: 'terminate', ruleId: 'kill-suspicious', layer: 'dmz-strict' });
  assert.equal(evaluate(p, event({ verdict: 'suspicious' }), { ...ctx, vmTags: ['db'] }, T0).response, 'alert');
  assert.equal(evaluate(p, event({ verdict: 'benign' }), ctx, T0).response, 'none', 'dc-west is not this host\'s group');
  const loose = policy({ deltas: [{ id: 'lax', scope: { agents: ['hv-07'] }, rules: [{ id: 'just-alert', match: {}, response: 'alert' }] }] });
  assert.equal(evaluate(loose, event(), ctx, T0).response, 'terminate');
});

test('"tighten, never loosen": a delta rule weaker than the base is refused with a sentence saying why', () => {
  const p = policy({
    rules: [{ id: 'kill-escape', match: { categories: ['escape'] }, response: 'terminate' }],
    deltas: [
      { id: 'lax', scope: { agents: ['hv-07'] }, rules: [{ id: 'just-alert', match: { categories: ['escape', 'file'] }, response: 'alert' }] },
      { id: 'fine', scope: { agents: ['hv-07'] }, rules: [{ id: 'alert-benign-auth', match: { verdicts: ['benign'], categories: ['auth'] }, response: 'alert' }] },
    ],
  });
  const { errors } = checkPolicy(p, T0);
  assert.equal(errors.length, 1, errors.join('\n'));
  assert.match(errors[0]!, /^Delta lax rule just-alert would loosen the base: it answers events that base rule kill-escape answers with terminate with alert only\. A delta may tighten the base, never loosen it/);
  const viaDefault = checkPolicy(policy({ deltas: [{ id: 'lax', scope: { agents: ['a'] }, rules: [{ id: 'r', match: { minSeverity: 'high' }, response: 'alert' }] }] }), T0);
  assert.match(viaDefault.errors[0]!, /malicious events, which the base terminates by default/);
});

test('a forensic hold needs a documented exception; a base alert for malicious is flagged as not STIG compliant', () => {
  const { errors, warnings } = checkPolicy(policy({
    rules: [
      { id: 'hold-nothing', match: { categories: ['memory'] }, response: 'forensic-hold' },
      { id: 'hold-ghost', match: { categories: ['file'] }, response: 'forensic-hold', exception: 'ex-ghost' },
      { id: 'alert-all', match: {}, response: 'alert' },
    ],
  }), T0);
  assert.deepEqual(errors.map((e) => e.split(' ').slice(0, 3).join(' ')), ['Base rule hold-nothing', 'Base rule hold-ghost']);
  assert.match(errors[0]!, /allowed only under a documented exception \(justification, approver, scope, expiry\)/);
  assert.match(warnings[0]!, /alert-all answers malicious events with an alert only: not STIG SV-95141r1 compliant/);
});

test('an exception holds until it expires, then the same event is terminated on its own (injected clock)', () => {
  const p = policy({
    exceptions: [hold],
    deltas: [{ id: 'lab', scope: { vmTags: ['lab'] }, rules: [{ id: 'hold-lab', match: { verdicts: ['malicious'] }, response: 'forensic-hold', exception: 'ex-lab' }] }],
  });
  assert.deepEqual(checkPolicy(p, T0), { errors: [], warnings: [] }, 'a delta may loosen through an exception');
  const lab = { ...ctx, vmTags: ['lab'] };
  let now = T0 + 60_000;
  const before = evaluate(p, event(), lab, now);
  assert.equal(before.response, 'forensic-hold');
  assert.equal(before.exception?.approver, 'ISSM j.doe');
  assert.equal(evaluate(p, event(), ctx, now).response, 'terminate', 'the exception covers lab VMs only');
  now = Date.parse(hold.expiresAt);
  const after = evaluate(p, event(), lab, now);
  assert.deepEqual(after, { response: 'terminate', ruleId: 'hold-lab', layer: 'lab', fallback: 'exception ex-lab expired at 2026-11-23T10:05:00Z' });
  assert.match(checkPolicy(p, now).warnings[0]!, /Exception ex-lab expired .* terminate again/);
});

test('canonical JSON sorts members at every level and writes no whitespace (the signed bytes)', () => {
  assert.equal(canonicalJson({ b: [{ z: 1, a: 'é' }], a: null, c: undefined }), '{"a":null,"b":[{"a":"é","z":1}]}');
});
