// `inspect` on the sim agent over a real WebSocket: what runs in a simulated VM agrees with what its events said (the
// process an event named is in the list, its listener too); a frozen VM and an unknown one are refused with ref.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { startAgent } from '../../agent/agent.ts';
import type { EventMessage } from '../../protocol/index.ts';
import { cleanup, tempDir, TestCockpit, TOKEN } from './helpers.ts';

test('a simulated VM\'s processes and listeners agree with its events; frozen and unknown VMs are refused', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const agent = await startAgent({ token: TOKEN, dataDir: join(dir, 'data'), agentId: 'insp-sim', rate: 200, vms: 6, seed: 11, logs: false, note: () => {} });
  cleanup(t, () => agent.close());
  const cockpit = await TestCockpit.open(t, agent.url);
  const hello = await cockpit.nextOfType('hello');
  assert.ok(hello.capabilities.includes('inspect'));
  cockpit.send({ type: 'subscribe', since: 0 });
  // An event that names a process with a listening socket: the guest model then has both.
  const named = await cockpit.next<EventMessage>((m) => m.type === 'event' && m.event.process !== undefined && m.event.connection?.direction === 'listen' && m.event.connection.localPort !== undefined, 30_000, 'an event naming a listener');
  const { vmId, process, connection } = named.event;
  cockpit.send({ type: 'inspect', id: 'insp-1', vmId });
  const result = await cockpit.nextOfType('inspect.result', 10_000);
  assert.equal(result.ref, 'insp-1');
  const i = result.inspection;
  assert.equal(i.vmId, vmId);
  assert.equal(i.source, 'sim-model');
  assert.ok(i.processes.some((p) => p.pid === process!.pid), `pid ${process!.pid} (${process!.name}) among ${i.processes.map((p) => p.pid).join(', ')}`);
  assert.ok(i.sockets.some((s) => s.localPort === connection!.localPort && s.pid === process!.pid && s.state === 'LISTEN'), `its listener on ${connection!.localPort}`);
  assert.equal(i.resources.processCount, i.processes.length);
  assert.equal(i.resources.cpuPercent, undefined, 'the model has no CPU figure: none is made up');

  cockpit.send({ type: 'action', requestId: 'req-freeze-sim-0001', vmId, kind: 'freeze', params: {}, actor: { name: 'test' }, reason: 'hold' });
  await cockpit.next((m) => m.type === 'action.result' && m.requestId === 'req-freeze-sim-0001', 10_000, 'frozen');
  cockpit.send({ type: 'inspect', id: 'insp-2', vmId });
  const frozen = await cockpit.next((m) => m.type === 'error' && m.ref === 'insp-2', 10_000, 'refused');
  assert.equal(frozen.type === 'error' && frozen.code, 'not_running');
  cockpit.send({ type: 'inspect', id: 'insp-3', vmId: 'no-such-vm' });
  const unknown = await cockpit.next((m) => m.type === 'error' && m.ref === 'insp-3', 10_000, 'unknown');
  assert.equal(unknown.type === 'error' && unknown.code, 'unknown_vm');
  assert.deepEqual(cockpit.invalid, []);
});
