// The auto-response policy on the agent: only a policy signed by a trusted key is enforced, the last good one survives
// a restart, and the sim agent terminates a VM on a malicious scripted event with no cockpit connected — a cockpit that
// connects afterwards sees the VM terminated, the action's record and its result.
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { startAgent } from '../../../agent/agent.ts';
import { policyRequestId } from '../../../agent/policy/enforcer.ts';
import { keyFingerprint, signPolicy } from '../../../agent/policy/signing.ts';
import type { EventMessage, Policy } from '../../../protocol/index.ts';
import { agentArgs, BOUNDED, cleanup, spawnAgent, TestCockpit, tempDir, TOKEN } from '../helpers.ts';

const POLICY: Policy = { id: 'soc-stig', version: 2, issuedAt: '2026-11-23T09:00:00Z', rules: [{ id: 'terminate-malicious', match: { verdicts: ['malicious'] }, response: 'terminate' }] };

function keyPair(dir: string, name: string): { privateKey: KeyObject; file: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const file = join(dir, `${name}.pub.pem`);
  writeFileSync(file, publicKey.export({ type: 'spki', format: 'pem' }));
  return { privateKey, file };
}

async function quietAgent(t: TestContext, dir: string, keyFile: string) {
  // A still sim (rate 0): these tests are about which policy is in force, not about events.
  const agent = await startAgent({ token: TOKEN, dataDir: join(dir, 'data'), agentId: 'policy-agent', rate: 0, vms: 2, seed: 1, logs: false, policyKeys: [keyFile], note: () => {} });
  cleanup(t, () => agent.close());
  return agent;
}

test('unsigned, untrusted and altered policies are refused with ref; the last good one is kept across a restart', BOUNDED, async (t) => {
  const dir = tempDir(t);
  const trusted = keyPair(dir, 'soc');
  const stranger = keyPair(dir, 'stranger');
  let agent = await quietAgent(t, dir, trusted.file);
  let cockpit = await TestCockpit.open(t, agent.url);
  const hello = await cockpit.nextOfType('hello');
  assert.equal(hello.policy, undefined, 'no policy in force yet');

  const good = signPolicy(POLICY, trusted.privateKey);
  cockpit.send({ type: 'policy.set', id: 'set-1', policy: good });
  const accepted = await cockpit.nextOfType('policy.accepted');
  assert.deepEqual(accepted, { type: 'policy.accepted', ref: 'set-1', policy: { id: 'soc-stig', version: 2, signer: keyFingerprint(trusted.privateKey) } });

  const refusals: [string, unknown, string][] = [
    // The wire schema itself requires the signature: an unsigned policy.set never reaches the policy code.
    ['unsigned', { policy: { ...POLICY, version: 3 } }, 'bad_message'],
    ['by a stranger', signPolicy({ ...POLICY, version: 3 }, stranger.privateKey), 'policy_untrusted'],
    ['altered after signing', { ...signPolicy({ ...POLICY, version: 3 }, trusted.privateKey), policy: { ...POLICY, version: 3, rules: [] } }, 'policy_bad_signature'],
    ['older', signPolicy({ ...POLICY, version: 1 }, trusted.privateKey), 'policy_stale'],
    ['loosening', signPolicy({ ...POLICY, version: 4, deltas: [{ id: 'lax', scope: { vmTags: ['web'] }, rules: [{ id: 'r', match: {}, response: 'alert' }] }] }, trusted.privateKey), 'policy_invalid'],
  ];
  for (const [what, policy, code] of refusals) {
    cockpit.send({ type: 'policy.set', id: `set-${code}`, policy });
    const error = await cockpit.nextOfType('error');
    assert.equal(error.code, code, what);
    assert.equal(error.ref, `set-${code}`);
  }
  cockpit.close();
  await agent.close();

  // An unsigned --policy file stops the agent at start, and the stored policy is left as it was.
  const unsigned = join(dir, 'unsigned.json');
  writeFileSync(unsigned, JSON.stringify({ policy: { ...POLICY, version: 9 } }));
  await assert.rejects(startAgent({ token: TOKEN, dataDir: join(dir, 'data'), agentId: 'policy-agent', rate: 0, logs: false, policyKeys: [trusted.file], policyFile: unsigned, note: () => {} }),
    (err: Error & { code?: string }) => err.code === 'policy_refused' && /\[policy_unsigned\]: The policy is not signed/.test(err.message));

  agent = await quietAgent(t, dir, trusted.file);
  cockpit = await TestCockpit.open(t, agent.url);
  const again = await cockpit.nextOfType('hello');
  assert.deepEqual(again.policy, accepted.policy, 'the last good policy is in force after the restart');
  assert.ok(again.capabilities.includes('policy'));
});

test('the sim agent terminates a VM on a malicious event with no cockpit; one connecting later sees it all', { timeout: 90_000 }, async (t) => {
  const dir = tempDir(t);
  const key = keyPair(dir, 'soc');
  const policyFile = join(dir, 'policy.json');
  writeFileSync(policyFile, JSON.stringify(signPolicy(POLICY, key.privateKey)));
  const agent = await spawnAgent(t, agentArgs(dir, ['--rate', '40', '--vms', '4', '--no-logs', '--policy-key', key.file, '--policy', policyFile]));
  // No cockpit: wait for the agent's own line saying the terminate is done.
  const deadline = Date.now() + 30_000;
  while (!/action policy-[0-9a-f]{32}-terminate .*done in \d+ ms; .* is terminated/.test(agent.stderr())) {
    assert.ok(Date.now() < deadline, `no automatic terminate within 30 s; stderr:\n${agent.stderr().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }

  const cockpit = await TestCockpit.open(t, agent.ready.url);
  const hello = await cockpit.nextOfType('hello');
  assert.equal(hello.policy?.id, 'soc-stig');
  const inventory = await cockpit.nextOfType('inventory');
  cockpit.send({ type: 'subscribe', id: 'sub-1', since: 0 });
  const record = await cockpit.next<EventMessage>((m) => m.type === 'event' && m.event.category === 'policy', 10_000, 'the policy record');
  const vm = inventory.vms.find((v) => v.id === record.event.vmId);
  assert.equal(vm?.state, 'terminated', 'the inventory shows the VM terminated');
  assert.equal(record.event.sensor.kind, 'policy');
  assert.match(record.event.title, /^Policy terminate of .*: rule terminate-malicious of soc-stig v2$/);
  const trigger = cockpit.received.find((m): m is EventMessage => m.type === 'event' && m.event.vmId === vm.id && m.event.verdict === 'malicious' && m.seq < record.seq
    && record.event.description!.includes(`event ${m.event.id} `));
  assert.ok(trigger, 'the triggering event is in the stream, before the record, named by it');
  assert.ok(trigger.seq < record.seq);
  const requestId = policyRequestId(trigger.event.id, 'terminate');
  assert.ok(record.event.description!.includes(requestId));
  // The same in structure, for a cockpit to journal each step as an action.
  assert.deepEqual(record.event.response?.provenance, { policyId: 'soc-stig', version: 2, ruleId: 'terminate-malicious', layer: 'base', response: 'terminate', eventId: trigger.event.id });
  assert.equal(record.event.response.actions.length, 1);
  const step = record.event.response.actions[0]!;
  assert.equal(step.requestId, requestId);
  assert.equal(step.kind, 'terminate');
  assert.equal(step.ok, true);
  assert.equal(step.state, 'terminated');
  assert.ok(step.startedAt && step.finishedAt && step.startedAt <= step.finishedAt);

  // The same request id again, as a cockpit would ask for the outcome: the first result, never a second run.
  cockpit.send({ type: 'action', requestId, vmId: vm.id, kind: 'terminate', params: {}, actor: { name: 'alice' }, reason: 'what did the policy do?' });
  const result = await cockpit.nextOfType('action.result');
  assert.equal(result.requestId, requestId);
  assert.equal(result.ok, true);
  assert.equal(result.replayed, true);
  assert.equal(result.state, 'terminated');
  assert.match(agent.stderr(), new RegExp(`action ${requestId} \\(terminate of ${vm.id}, by policy at policy\\): accepted .*reason: "Policy soc-stig v2, rule terminate-malicious: malicious`));
  assert.deepEqual(cockpit.invalid, []);
});
