// Actions through the hub against a scripted agent (unit level; the real agents are in test/agent and
// test/qemu): the record moves sending → accepted → done, a cut before the result re-sends the same request
// id on reconnect, and a bad request from a view is refused with a sentence.
import { strict as assert } from 'node:assert';
import { after, describe, it } from 'node:test';
import { WebSocketServer, type WebSocket } from 'ws';
import { decodeClientMessage, type ActionMessage, type ActionRecord, type CockpitPush } from '../../protocol/index.ts';
import { CockpitCallError, CockpitService } from '../../main/cockpit-service.ts';
import { FleetHub } from '../../main/fleet/hub.ts';
import { hello } from '../helpers/events.ts';
import { freePort, waitFor } from '../helpers/processes.ts';

const now = () => new Date().toISOString();

/** A scripted agent on a fixed port, so the hub can reconnect to a new one after a cut. */
async function scriptedAgent(port: number, onAction: (ws: WebSocket, a: ActionMessage) => void, onConnect?: (ws: WebSocket) => void): Promise<{ actions: ActionMessage[]; close(): Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port, handleProtocols: (p) => (p.has('cordon.v1') ? 'cordon.v1' : false) });
  await new Promise((r) => wss.once('listening', r));
  const actions: ActionMessage[] = [];
  wss.on('connection', (ws) => {
    ws.send(JSON.stringify(hello('hv', 0)));
    ws.send(JSON.stringify({ type: 'inventory', vms: [{ id: 'vm-1', name: 'web-01', state: 'running' }] }));
    onConnect?.(ws);
    ws.on('message', (d) => {
      const m = decodeClientMessage(d.toString());
      assert.ok(m.ok, 'the hub sends only valid cordon.v1');
      if (m.value.type === 'action') {
        actions.push(m.value);
        onAction(ws, m.value);
      }
    });
  });
  return {
    actions,
    close: () => new Promise((resolve) => { for (const c of wss.clients) c.terminate(); wss.close(() => resolve()); }),
  };
}

describe('actions through the hub', () => {
  const hub = new FleetHub({ link: { backfill: 0, backoff: { baseMs: 50, maxMs: 200 } } });
  const service = new CockpitService(hub, { name: 'Dana Scully', role: 'responder', cockpit: 'soc-desk-3' });
  const pushes: ActionRecord[] = [];
  service.onPush((p: CockpitPush) => { if (p.type === 'action') pushes.push(p.action); });
  after(() => hub.close());

  it('records an action from the click to the hypervisor-confirmed result', async () => {
    const port = await freePort();
    const agent = await scriptedAgent(port, (ws, a) => {
      ws.send(JSON.stringify({ type: 'action.accepted', requestId: a.requestId, vmId: a.vmId, kind: a.kind, at: now() }));
      ws.send(JSON.stringify({ type: 'action.progress', requestId: a.requestId, step: 'stop', message: 'Pausing every vCPU', at: now() }));
      ws.send(JSON.stringify({ type: 'action.result', requestId: a.requestId, vmId: a.vmId, kind: a.kind, ok: true, state: 'frozen', startedAt: now(), finishedAt: now() }));
    });
    hub.addAgent({ agentId: 'hv', label: 'HV', url: `ws://127.0.0.1:${port}`, token: 't' });
    await waitFor(() => hub.snapshot().inventories.some((i) => i.vms.length > 0), 'the inventory');
    const { requestId } = (await service.call('act', { agentId: 'hv', vmId: 'vm-1', kind: 'freeze', params: {}, reason: 'beacon seen' })) as { requestId: string };
    await waitFor(() => pushes.some((p) => p.requestId === requestId && p.phase === 'done'), 'the result');
    const phases = pushes.filter((p) => p.requestId === requestId).map((p) => p.phase);
    assert.equal(phases[0], 'sending');
    assert.ok(phases.includes('accepted'));
    assert.equal(phases.at(-1), 'done');
    const rec = hub.actionRecords().find((r) => r.requestId === requestId)!;
    assert.equal(rec.state, 'frozen');
    assert.equal(rec.vmName, 'web-01');
    assert.deepEqual(rec.actor, { name: 'Dana Scully', role: 'responder', cockpit: 'soc-desk-3' });
    assert.equal(agent.actions.length, 1);
    assert.equal(agent.actions[0]!.reason, 'beacon seen');
    hub.removeAgent('hv');
    await agent.close();
  });

  it('re-sends an unfinished action under the same request id after a cut, and takes the replayed result', async () => {
    const port = await freePort();
    // The first agent accepts and then the link is cut before any result.
    let first = await scriptedAgent(port, (ws, a) => {
      ws.send(JSON.stringify({ type: 'action.accepted', requestId: a.requestId, vmId: a.vmId, kind: a.kind, at: now() }));
    });
    hub.addAgent({ agentId: 'hv', label: 'HV', url: `ws://127.0.0.1:${port}`, token: 't' });
    await waitFor(() => hub.agentStatuses().find((s) => s.agentId === 'hv')?.link === 'connected', 'connected');
    const { requestId } = (await service.call('act', { agentId: 'hv', vmId: 'vm-1', kind: 'terminate', params: {}, reason: 'escape attempt' })) as { requestId: string };
    await waitFor(() => hub.actionRecords().find((r) => r.requestId === requestId)?.phase === 'accepted', 'accepted');
    await first.close();
    const second = await scriptedAgent(port, (ws, a) => {
      ws.send(JSON.stringify({ type: 'action.result', requestId: a.requestId, vmId: a.vmId, kind: a.kind, ok: true, state: 'terminated', startedAt: now(), finishedAt: now(), replayed: true }));
    });
    await waitFor(() => hub.actionRecords().find((r) => r.requestId === requestId)?.phase === 'done', 'the replayed result', 10_000);
    assert.equal(second.actions.length, 1);
    assert.equal(second.actions[0]!.requestId, requestId, 'the same request id, so the agent never runs it twice');
    first = second;
    hub.removeAgent('hv');
    await first.close();
  });

  it('refuses a bad request from a view with a sentence, and an unknown agent', async () => {
    await assert.rejects(service.call('act', { agentId: 'hv', vmId: 'vm-1', kind: 'terminate', params: {}, reason: '' }), (e: unknown) =>
      e instanceof CockpitCallError && e.code === 'bad_params' && /reason/.test(e.message));
    await assert.rejects(service.call('act', { agentId: 'hv', vmId: 'vm-1', kind: 'explode', params: {}, reason: 'x' }), (e: unknown) =>
      e instanceof CockpitCallError && e.code === 'bad_params');
    await assert.rejects(service.call('act', { agentId: 'nowhere', vmId: 'vm-1', kind: 'freeze', params: {}, reason: '' }), (e: unknown) =>
      e instanceof CockpitCallError && e.code === 'unknown_agent' && /nowhere/.test(e.message));
  });
});

describe('an action is recorded durably before it is sent', () => {
  it('sends nothing until the recorder has the ask on disk, and nothing at all if it cannot record it', async () => {
    const order: string[] = [];
    let release: (() => void) | undefined;
    let refuse = false;
    // A recorder at the unit level (the real journal is in journal-wiring.test.ts): it holds the ask until released.
    const hub = new FleetHub({
      link: { backfill: 0 },
      recorder: {
        events: () => {},
        actionAsked: (rec) => {
          order.push(`asked ${rec.kind}`);
          if (refuse) return Promise.reject(new Error('the disk is full'));
          return new Promise<void>((resolve) => { release = () => { order.push('durable'); resolve(); }; });
        },
        actionStep: (step) => void order.push(step),
      },
    });
    const service = new CockpitService(hub, { name: 'Dana Scully' });
    const port = await freePort();
    const agent = await scriptedAgent(port, (ws, a) => {
      order.push('agent got it');
      ws.send(JSON.stringify({ type: 'action.accepted', requestId: a.requestId, vmId: a.vmId, kind: a.kind, at: now() }));
    });
    try {
      hub.addAgent({ agentId: 'hv', label: 'HV', url: `ws://127.0.0.1:${port}`, token: 't' });
      await waitFor(() => hub.snapshot().inventories.some((i) => i.vms.length > 0), 'the inventory');
      const asked = service.call('act', { agentId: 'hv', vmId: 'vm-1', kind: 'freeze', params: {}, reason: 'beacon seen' });
      await waitFor(() => release, 'the recorder has the ask');
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(agent.actions.length, 0, 'not sent while the ask is not durable');
      release!();
      await asked;
      await waitFor(() => order.includes('accepted'), 'accepted and recorded');
      assert.deepEqual(order, ['asked freeze', 'durable', 'agent got it', 'accepted']);

      refuse = true;
      await assert.rejects(service.call('act', { agentId: 'hv', vmId: 'vm-1', kind: 'terminate', params: {}, reason: 'escape' }), (e: unknown) =>
        e instanceof CockpitCallError && e.code === 'not_journaled' && /disk is full/.test(e.message));
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(agent.actions.length, 1, 'the unrecorded terminate never reached the agent');
      const failed = hub.actionRecords().find((r) => r.kind === 'terminate')!;
      assert.equal(failed.phase, 'failed');
      assert.equal(failed.error?.code, 'not_journaled');
    } finally {
      hub.close();
      await agent.close();
    }
  });
});

describe('another cockpit\'s actions', () => {
  it('are followed from their acceptance, with who asked and why, recorded, and never re-sent from here', async () => {
    const steps: string[] = [];
    const hub = new FleetHub({
      link: { backfill: 0, backoff: { baseMs: 50, maxMs: 200 } },
      recorder: { events: () => {}, actionAsked: async () => {}, actionStep: (step, rec) => void steps.push(`${step} ${rec.actor.name}`) },
    });
    const pushes: ActionRecord[] = [];
    hub.on('push', (p) => { if (p.type === 'action') pushes.push(p.action); });
    const port = await freePort();
    let agent = await scriptedAgent(port, () => {});
    try {
      hub.addAgent({ agentId: 'hv', label: 'HV', url: `ws://127.0.0.1:${port}`, token: 't' });
      await waitFor(() => hub.snapshot().inventories.some((i) => i.vms.length > 0), 'the inventory');
      // What the agent broadcasts when a responder at another desk freezes vm-1; and an old agent's bare accepted.
      const other = { requestId: 'desk-7-00000001', vmId: 'vm-1', kind: 'freeze' as const };
      await agent.close();
      agent = await scriptedAgent(port, () => {}, (ws) => {
        ws.send(JSON.stringify({ type: 'action.accepted', ...other, at: now(), actor: { name: 'Fox Mulder', cockpit: 'desk-7' }, reason: 'beacon from vm-1', params: {} }));
        ws.send(JSON.stringify({ type: 'action.accepted', requestId: 'old-agent-0001', vmId: 'vm-1', kind: 'resume', at: now() }));
        ws.send(JSON.stringify({ type: 'action.result', ...other, ok: true, state: 'frozen', startedAt: now(), finishedAt: now() }));
      });
      await waitFor(() => pushes.some((p) => p.requestId === other.requestId && p.phase === 'done'), 'the other cockpit\'s freeze, done');
      const rec = hub.actionRecords().find((r) => r.requestId === other.requestId)!;
      assert.deepEqual(rec.actor, { name: 'Fox Mulder', cockpit: 'desk-7' });
      assert.equal(rec.reason, 'beacon from vm-1');
      assert.equal(rec.vmName, 'web-01');
      assert.equal(rec.state, 'frozen');
      assert.equal(hub.actionRecords().some((r) => r.requestId === 'old-agent-0001'), false, 'an accepted that says nobody is not invented into a record');
      assert.deepEqual(steps, ['accepted Fox Mulder', 'result Fox Mulder']);
      assert.equal(agent.actions.length, 0, 'another cockpit\'s action is never sent from here');
    } finally {
      hub.close();
      await agent.close();
    }
  });
});
