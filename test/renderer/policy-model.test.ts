// The policy view's logic: the editor's text read as a policy with the same checks main and the agents apply, the
// STIG baseline and the next version, each agent's verdict from what the cockpit knows, and the automatic responses
// announced (grouped by triggering event, newest first, dismissed ones left out).
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { ActionRecord, AgentPolicy, Policy } from '../../protocol/index.ts';
import { automaticNotices, nextVersion, noticeText, parsePolicy, policyText, stigBaseline, verdictOf } from '../../renderer/src/ui/policy/policy-model.ts';

const NOW = Date.parse('2026-11-23T10:00:00Z');

test('the STIG baseline reads back as a pushable, warning-free policy; its next version only moves version and time', () => {
  const base = stigBaseline(NOW);
  const parsed = parsePolicy(policyText(base), NOW);
  assert.ok(parsed.ok, JSON.stringify(parsed));
  assert.deepEqual(parsed.policy, base);
  assert.deepEqual(parsed.warnings, []);
  const next = nextVersion(base, NOW + 60_000);
  assert.equal(next.version, 2);
  assert.equal(next.issuedAt, '2026-11-23T10:01:00.000Z');
  assert.deepEqual({ ...next, version: 1, issuedAt: base.issuedAt }, base);
  assert.equal(base.version, 1, 'the original is left as it was');
});

test('what cannot be pushed is said in sentences: not JSON, a wrong shape, a delta that loosens', () => {
  const notJson = parsePolicy('{ "id": ', NOW);
  assert.ok(!notJson.ok);
  assert.match(notJson.errors[0]!, /not JSON/);
  const shape = parsePolicy(JSON.stringify({ ...stigBaseline(NOW), version: 0 }), NOW);
  assert.ok(!shape.ok);
  assert.match(shape.errors[0]!, /version/);
  const loose: Policy = { ...stigBaseline(NOW), deltas: [{ id: 'lax', scope: { vmTags: ['web'] }, rules: [{ id: 'quiet', match: { verdicts: ['malicious'] }, response: 'alert' }] }] };
  const loosening = parsePolicy(JSON.stringify(loose), NOW);
  assert.ok(!loosening.ok);
  assert.match(loosening.errors.join(' '), /would loosen the base/);
  const alertOnly: Policy = { ...stigBaseline(NOW), rules: [{ id: 'alert-all', match: { verdicts: ['malicious'] }, response: 'alert' }] };
  const warned = parsePolicy(JSON.stringify(alertOnly), NOW);
  assert.ok(warned.ok, 'enforceable');
  assert.match(warned.warnings.join(' '), /not STIG SV-95141r1 compliant/);
});

test('an agent\'s verdict: compliant under the baseline, open with none in force, not reviewed while unknown', () => {
  const signed = { policy: stigBaseline(NOW), signature: { algorithm: 'ed25519' as const, keyId: 'a'.repeat(64), value: `${'A'.repeat(86)}==` } };
  const agent = (o: Partial<AgentPolicy>): AgentPolicy => ({ agentId: 'hv-1', label: 'hv-1', link: 'connected', hostGroups: [], ...o });
  assert.equal(verdictOf(agent({ policy: signed, inForce: { id: 'stig-baseline', version: 1, signer: 'a'.repeat(64) } }), NOW).status, 'not_a_finding');
  assert.equal(verdictOf(agent({}), NOW).status, 'open', 'connected, and its hello names no policy');
  assert.equal(verdictOf(agent({ link: 'disconnected' }), NOW).status, 'not_reviewed', 'never heard from');
  assert.equal(verdictOf(agent({ inForce: { id: 'stig-baseline', version: 1, signer: 'a'.repeat(64) } }), NOW).status, 'not_reviewed', 'in force, not sent whole yet');
});

function rec(o: Partial<ActionRecord> & Pick<ActionRecord, 'requestId' | 'vmId'>): ActionRecord {
  return {
    agentId: 'hv-1', kind: 'terminate', params: {}, actor: { name: 'policy', role: 'automatic' }, reason: 'Policy p v1', requestedAt: '2026-11-23T10:00:00.000Z',
    phase: 'done', ...o,
  };
}

test('automatic responses are announced once per triggering event, newest first; dismissed and underway ones are not', () => {
  const provenance = (eventId: string, response: 'terminate' | 'forensic-hold' = 'terminate') => ({ policyId: 'p', version: 3, ruleId: 'r', layer: 'base', response, eventId });
  const byVm = new Map<string, ActionRecord[]>([
    ['hv-1/vm-a', [rec({ requestId: 'policy-a-terminate', vmId: 'vm-a', vmName: '<b>web</b>', policy: provenance('ev-a'), finishedAt: '2026-11-23T10:00:01.000Z' })]],
    ['hv-1/vm-b', [
      rec({ requestId: 'policy-b-freeze', vmId: 'vm-b', kind: 'freeze', policy: provenance('ev-b', 'forensic-hold'), finishedAt: '2026-11-23T10:00:02.000Z' }),
      rec({ requestId: 'policy-b-isolate', vmId: 'vm-b', kind: 'isolate', policy: provenance('ev-b', 'forensic-hold'), finishedAt: '2026-11-23T10:00:03.000Z' }),
      rec({ requestId: 'policy-b-seize', vmId: 'vm-b', kind: 'seize', policy: provenance('ev-b', 'forensic-hold'), finishedAt: '2026-11-23T10:00:04.000Z' }),
    ]],
    ['hv-1/vm-c', [
      rec({ requestId: 'policy-c-terminate', vmId: 'vm-c', phase: 'accepted', policy: provenance('ev-c') }),
      rec({ requestId: 'dana-1', vmId: 'vm-c', actor: { name: 'Dana' } }),
    ]],
  ]);
  const notices = automaticNotices(byVm, new Set());
  assert.deepEqual(notices.map((n) => n.key), ['hv-1/ev-b', 'hv-1/ev-a']);
  assert.equal(notices[0]!.records.length, 3);
  assert.match(noticeText(notices[0]!), /^Policy p v3 \(rule r\) put vm-b on forensic hold on hv-1 after event ev-b: freeze done, isolate done, seize done\.$/);
  assert.match(noticeText(notices[1]!), /terminated <b>web<\/b> on hv-1/, 'the VM\'s name as written, for the view to draw as text');
  assert.deepEqual(automaticNotices(byVm, new Set(['hv-1/ev-b'])).map((n) => n.key), ['hv-1/ev-a']);
  const failed = new Map([['hv-1/vm-d', [rec({ requestId: 'policy-d-terminate', vmId: 'vm-d', phase: 'failed', policy: provenance('ev-d') })]]]);
  assert.match(noticeText(automaticNotices(failed, new Set())[0]!), /tried to act on vm-d .*terminate failed/);
});
