// Fault campaign (issue 8): the agent killed with SIGKILL while events stream at a high rate, and while an action runs
// (after action.accepted, before action.result), then started again on the same data dir and port. The cockpit's
// side is the real fleet hub and agent link, in this process. Afterwards, by seq and byte for byte against the
// agent's own log: no event lost, none doubled; by the agent's action journal on disk: no request id began twice; and
// the retry the hub sends after reconnecting is answered with the first outcome, in a sentence.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ActionMessage, ActionResultMessage, CockpitPush } from '../../protocol/index.ts';
import { record } from './campaign.ts';
import { actionsRunTwice, assertSentence, clonesOf, FAULT_BOUNDED, FaultAgent, settle, until, watchAgent } from './fault-kit.ts';

const KILLS_MID_STREAM = 3;

test('agent killed (SIGKILL) mid-stream three times at a high rate: every event arrives exactly once, byte for byte', FAULT_BOUNDED, async (t) => {
  const agent = await FaultAgent.create(t, ['--vms', '6', '--rate', '4000', '--no-logs']);
  await agent.start();
  const { hub, link, received } = watchAgent(t, agent, { label: 'fault', link: { backoff: { baseMs: 50, maxMs: 500 } } });

  const heldAtKill: number[] = [];
  for (let i = 0; i < KILLS_MID_STREAM; i++) {
    // Mid-stream: connected, and a few thousand events received since this start, so they flow as the kill lands.
    const from = received.total;
    await until(() => link.snapshotStatus().link === 'connected' && received.total >= from + 3000, `events flowing before kill ${i + 1}`);
    await agent.kill9();
    heldAtKill.push(link.lastSeq);
    await until(() => link.snapshotStatus().link !== 'connected', 'the link to notice the kill');
    if (i < KILLS_MID_STREAM - 1) await agent.start();
  }
  const { r, status } = await settle(agent, hub, link, received);
  assert.ok(r.expected > 3000 * KILLS_MID_STREAM, `the stream was busy (${r.expected} events)`);
  assert.ok(heldAtKill.every((s, i) => s > (heldAtKill[i - 1] ?? 0)), `each run streamed before its kill (${heldAtKill.join(', ')} of ${status.lastSeq})`);
  assert.equal(agent.crashes, 0, 'no agent process ended on its own');
  record({
    campaign: 'fault', kind: 'agent killed (SIGKILL) mid-stream', injected: agent.kills,
    eventsLost: r.lost, eventsDoubled: r.doubled, actionsDuplicated: 0, crashes: agent.crashes,
    outcome: `${agent.kills} kills while the sim streamed at --rate 4000; the link reconnected by itself each time and resumed from its last seq: ` +
      `all ${r.expected} stored events arrived once, byte for byte as the agent stored them (${status.duplicatesDropped} replayed duplicates dropped by seq), no gap.`,
  });
});

test('agent killed (SIGKILL) mid-action (clone, seize): no request id runs twice; the retry gets the first outcome in a sentence', FAULT_BOUNDED, async (t) => {
  const agent = await FaultAgent.create(t, ['--vms', '3', '--rate', '200', '--no-logs']);
  await agent.start();
  const { hub, link, received } = watchAgent(t, agent, { label: 'fault', link: { backoff: { baseMs: 50, maxMs: 500 } } });
  const results: ActionResultMessage[] = [];
  link.on('action', (u) => { if (u.type === 'action.result') results.push(u); });
  const actor = { name: 'Fault Campaign', role: 'responder', cockpit: 'fault-test' };
  const vms = await until(() => hub.snapshot().inventories.find((i) => i.agentId === agent.agentId && i.vms.length >= 3)?.vms, 'the inventory');

  const outcomes: string[] = [];
  const asked: ActionMessage[] = [];
  for (const [i, kind] of (['clone', 'seize'] as const).entries()) {
    const vm = vms[i]!;
    // Killed from inside the push handler, the moment the hub hears action.accepted: before action.result.
    let killing: Promise<void> | undefined;
    const onPush = (p: CockpitPush) => {
      if (p.type === 'action' && p.action.kind === kind && p.action.phase === 'accepted' && !killing) killing = agent.kill9();
    };
    hub.on('push', onPush);
    const rec = await hub.act({ agentId: agent.agentId, vmId: vm.id, kind, params: kind === 'seize' ? { caseId: 'FAULT-1' } : {}, reason: `fault campaign: kill the agent mid-${kind}` }, actor);
    asked.push({ type: 'action', requestId: rec.requestId, vmId: rec.vmId, kind: rec.kind, params: rec.params, actor: rec.actor, reason: rec.reason });
    await until(() => killing !== undefined, `action.accepted of the ${kind}`);
    await killing;
    hub.off('push', onPush);
    assert.equal(results.filter((m) => m.requestId === rec.requestId).length, 0, `no result of the ${kind} reached the cockpit before the kill`);
    await agent.start();
    // The hub re-sends the unfinished request under the same id on the new hello; the agent answers from its journal.
    const done = await until(() => hub.actionRecords().find((r) => r.requestId === rec.requestId && (r.phase === 'done' || r.phase === 'failed')), `the ${kind}'s outcome after the restart`);
    const first = results.find((m) => m.requestId === rec.requestId)!;
    assert.equal(first.replayed, true, 'answered from the journal, not run');
    if (done.ok) {
      outcomes.push(`the ${kind} had finished just before the kill and its stored result came back`);
    } else {
      assert.equal(done.error?.code, 'agent_restarted', JSON.stringify(done.error));
      assertSentence(done.error?.message, `the ${kind}'s outcome`);
      outcomes.push(`the ${kind} came back failed: "${done.error!.message}"`);
    }
    // Asked again under the same id, as another retry would: the same outcome, nothing run.
    const count = results.length;
    assert.ok(link.sendAction(asked.at(-1)!));
    const again = await until(() => results.slice(count).find((m) => m.requestId === rec.requestId), `the second retry's answer for the ${kind}`);
    assert.equal(again.replayed, true);
    assert.equal(again.ok, first.ok);
    assert.deepEqual(again.error, first.error);
  }
  const clones = clonesOf(hub, agent, vms[0]!.id);
  const { r } = await settle(agent, hub, link, received);
  const duplicated = actionsRunTwice(agent, asked.map((a) => a.requestId), clones);
  assert.ok(clones <= 1, `at most one clone of ${vms[0]!.name} exists (${clones})`);
  assert.equal(agent.crashes, 0, 'no agent process ended on its own');
  record({
    campaign: 'fault', kind: 'agent killed (SIGKILL) mid-action', injected: asked.length,
    eventsLost: r.lost, eventsDoubled: r.doubled, actionsDuplicated: duplicated, crashes: agent.crashes,
    outcome: `Killed after action.accepted of a clone and of a seizure, then restarted: each request id began once in the agent's journal; ` +
      `the hub's retry under the same id got the stored outcome (${outcomes.join('; ')}), and a second retry the same; ${r.expected} events arrived once each.`,
  });
});
