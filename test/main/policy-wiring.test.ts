// Policies from the cockpit's side, with real parts: the built-in lab (a real sim agent process that trusts the
// responder's key), the journal on its own thread, the hub. The cockpit signs, journals and pushes a policy; the agent
// enforces it and acts on its own; each automatic action reaches the VM's history and the journal with the policy's
// version and rule — live, and from the agent's record when the cockpit was away.
import { strict as assert } from 'node:assert';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ActionRecord, CockpitPolicyPushResult, CockpitPolicyStatus, CockpitPush, JournalPage, Policy } from '../../protocol/index.ts';
import { startCockpit, type Cockpit } from '../../main/cockpit.ts';
import { CockpitCallError } from '../../main/cockpit-service.ts';
import { FleetHub, type HubRecorder } from '../../main/fleet/hub.ts';
import { DEFAULT_SETTINGS, tokenFileSource } from '../../main/settings.ts';
import { nodeAgentSpawner } from '../../main/node-spawner.ts';
import { startAgent } from '../../agent/agent.ts';
import { keyFingerprint, signPolicy } from '../../agent/policy/signing.ts';
import { tempDir, waitFor } from '../helpers/processes.ts';

const STIG: Policy = {
  id: 'soc-stig', version: 1, issuedAt: '2026-11-23T09:00:00Z',
  rules: [{ id: 'terminate-malicious', match: { verdicts: ['malicious'] }, response: 'terminate' }],
};

describe('policies pushed from the cockpit', () => {
  const dir = tempDir('policy-wiring');
  const key = generateKeyPairSync('ed25519').privateKey;
  let cockpit: Cockpit;
  const pushes: CockpitPush[] = [];
  const call = <T>(method: string, params: unknown) => cockpit.service.call(method, params) as Promise<T>;

  before(async () => {
    cockpit = await startCockpit({
      settings: { ...DEFAULT_SETTINGS, agents: [], lab: { vms: 6, rate: 40 }, responder: { name: 'Dana Scully', role: 'lead' } },
      secrets: tokenFileSource, spawnAgent: nodeAgentSpawner, dataDir: dir.path, journal: { key: () => key, checkpointMs: 500 }, log: () => {},
    });
    cockpit.service.onPush((p) => pushes.push(p));
    await waitFor(() => cockpit.hub.agentStatuses().some((a) => a.link === 'connected'), 'the lab connected', 20_000);
  });

  after(async () => {
    await cockpit?.close();
    dir.remove();
  });

  it('names the lab and the key it signs with; no policy is in force yet', async () => {
    const status = await call<CockpitPolicyStatus>('policy.status', {});
    assert.equal(status.signer.keyId, keyFingerprint(key));
    assert.match(status.signer.publicKeyPem, /^-----BEGIN PUBLIC KEY-----/);
    assert.equal(status.agents.length, 1);
    assert.equal(status.agents[0]!.link, 'connected');
    assert.equal(status.agents[0]!.inForce, undefined);
  });

  it('refuses a policy that loosens the base before signing or sending it, and journals nothing', async () => {
    const loose: Policy = { ...STIG, version: 2, deltas: [{ id: 'lax', scope: { vmTags: ['web'] }, rules: [{ id: 'quiet', match: {}, response: 'alert' }] }] };
    await assert.rejects(call('policy.push', { policy: loose, agentIds: ['lab'], reason: 'try' }),
      (e: unknown) => e instanceof CockpitCallError && e.code === 'policy_invalid' && /would loosen the base/.test(e.message));
    await assert.rejects(call('policy.push', { policy: STIG, agentIds: [], reason: 'nobody' }), (e: unknown) => e instanceof CockpitCallError && e.code === 'bad_params');
    const page = await call<JournalPage>('journal.query', { kind: ['policy'], limit: 10 });
    assert.equal(page.records.length, 0);
  });

  it('signs, journals and pushes; each agent answers for itself; the agent then acts on its own, journaled with the rule', async () => {
    const result = await call<CockpitPolicyPushResult>('policy.push', { policy: STIG, agentIds: ['lab', 'elsewhere'], reason: 'STIG SV-95141r1 baseline' });
    assert.equal(result.signed.signature.keyId, keyFingerprint(key));
    const lab = result.outcomes.find((o) => o.agentId === 'lab');
    assert.deepEqual(lab, { agentId: 'lab', ok: true, inForce: { id: 'soc-stig', version: 1, signer: keyFingerprint(key) } });
    const elsewhere = result.outcomes.find((o) => o.agentId === 'elsewhere');
    assert.equal(elsewhere?.ok, false);
    assert.equal(elsewhere && !elsewhere.ok ? elsewhere.code : '', 'unknown_agent');

    // Every cockpit hears the whole policy (policy.current), this one too.
    const status = await waitFor(async () => {
      const s = await call<CockpitPolicyStatus>('policy.status', {});
      return s.agents[0]?.policy?.policy.version === 1 ? s : undefined;
    }, 'the policy in force, whole', 10_000);
    assert.deepEqual(status.agents[0]!.policy, result.signed);

    // The lab's scripted malicious events now terminate VMs with nobody clicking.
    const auto = await waitFor(() => {
      for (const p of pushes) if (p.type === 'action' && p.action.actor.role === 'automatic' && p.action.phase === 'done') return p.action;
      return undefined;
    }, 'an automatic terminate', 60_000);
    assert.equal(auto.kind, 'terminate');
    assert.deepEqual({ ...auto.policy, eventId: undefined }, { policyId: 'soc-stig', version: 1, ruleId: 'terminate-malicious', layer: 'base', response: 'terminate', eventId: undefined });
    assert.match(auto.reason, /^Policy soc-stig v1, rule terminate-malicious: malicious /);

    const actions = await waitFor(async () => {
      const p = await call<JournalPage>('journal.query', { kind: ['action'], text: auto.requestId, limit: 20 });
      return p.records.some((r) => (r.record.body as { step: string }).step === 'result') ? p : undefined;
    }, 'the automatic action journaled', 10_000);
    const result2 = actions.records.find((r) => (r.record.body as { step: string }).step === 'result')!;
    assert.equal(result2.record.actor?.name, 'policy');
    assert.equal(result2.record.actor?.role, 'automatic');
    assert.deepEqual((result2.record.body as { action: ActionRecord }).action.policy, auto.policy, 'the policy, its version and the rule, in the journal');
    // The triggering event is in the journal too, whatever the response.
    const trigger = await call<JournalPage>('journal.query', { kind: ['event'], text: auto.policy!.eventId, limit: 5 });
    assert.ok(trigger.records.some((r) => (r.record.body as { event: { id: string } }).event.id === auto.policy!.eventId), 'the triggering event journaled');

    const policies = await call<JournalPage>('journal.query', { kind: ['policy'], limit: 20 });
    const keys = policies.records.map((r) => (r.record.body as { key: string }).key);
    assert.ok(keys.includes('push soc-stig v1'), keys.join(', '));
    assert.ok(keys.includes('accepted soc-stig v1'));
    assert.ok(keys.includes('refused soc-stig v1'));
    assert.ok(keys.includes('in force soc-stig v1'));
    const pushed = policies.records.find((r) => (r.record.body as { key: string }).key === 'push soc-stig v1')!;
    assert.equal(pushed.record.actor?.name, 'Dana Scully');
    assert.equal((pushed.record.body as { reason: string }).reason, 'STIG SV-95141r1 baseline');
    const pushedAt = pushed.record.index;
    const acceptedAt = policies.records.find((r) => (r.record.body as { key: string }).key === 'accepted soc-stig v1')!.record.index;
    assert.ok(pushedAt < acceptedAt, 'the push is journaled before the agent\'s answer');
  });
});

describe('a cockpit that was away when the policy acted', () => {
  it('journals each automatic step from the agent\'s record, with the policy, once', { timeout: 60_000 }, async () => {
    const dir = tempDir('policy-away');
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const keyFile = join(dir.path, 'signer.pub.pem');
    writeFileSync(keyFile, publicKey.export({ type: 'spki', format: 'pem' }));
    const policyFile = join(dir.path, 'policy.json');
    writeFileSync(policyFile, JSON.stringify(signPolicy(STIG, privateKey)));
    const lines: string[] = [];
    const agent = await startAgent({ token: 'away-token', dataDir: join(dir.path, 'agent'), agentId: 'hv-away', rate: 40, vms: 4, seed: 7, logs: false, policyKeys: [keyFile], policyFile, note: (l) => lines.push(l) });
    const hub = new FleetHub({ link: { backfill: 100_000 } });
    try {
      await waitFor(() => lines.some((l) => /action policy-[0-9a-f]{32}-terminate .*done/.test(l)), 'the agent terminating on its own', 30_000);
      const recorded: { step: string; rec: ActionRecord }[] = [];
      const recorder: HubRecorder = {
        events: () => {},
        actionAsked: async () => {},
        actionStep: (step, rec) => recorded.push({ step, rec: structuredClone(rec) }),
      };
      const late = new FleetHub({ link: { backfill: 100_000 }, recorder });
      try {
        late.addAgent({ agentId: 'hv-away', label: 'away', url: agent.url, token: 'away-token' });
        const first = await waitFor(() => recorded.find((r) => r.rec.actor.role === 'automatic'), 'the automatic step recorded on arrival', 20_000);
        assert.equal(first.step, 'result');
        assert.equal(first.rec.kind, 'terminate');
        assert.equal(first.rec.phase, 'done');
        assert.equal(first.rec.state, 'terminated');
        assert.equal(first.rec.policy?.policyId, 'soc-stig');
        assert.equal(first.rec.policy?.version, 1);
        assert.equal(first.rec.policy?.ruleId, 'terminate-malicious');
        assert.ok(first.rec.finishedAt, 'with the times the agent recorded');
        assert.ok(late.actionRecords().some((a) => a.requestId === first.rec.requestId), 'in the VM\'s history');
        await new Promise((r) => setTimeout(r, 500));
        const ids = recorded.filter((r) => r.rec.actor.role === 'automatic').map((r) => `${r.rec.requestId}:${r.step}`);
        assert.equal(new Set(ids).size, ids.length, `each step recorded once: ${ids.join(', ')}`);
      } finally {
        late.close();
      }
    } finally {
      hub.close();
      await agent.close();
      dir.remove();
    }
  });
});
