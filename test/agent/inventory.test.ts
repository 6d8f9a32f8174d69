// The inventory a cockpit holds stays current: a VM the driver adds or changes arrives as `vm`, one it loses as
// `vm.removed`, to every connected cockpit. Runs the agent in-process (startAgent) with a driver the test controls.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ActionKind, ThreatEvent, Vm } from '../../protocol/index.ts';
import { startAgent } from '../../agent/agent.ts';
import { ActionFailure, type Driver, type DriverSink } from '../../agent/drivers/driver.ts';
import { BOUNDED, cleanup, tempDir, TestCockpit, TOKEN } from './helpers.ts';

/** A driver whose host changes only when the test says so. */
class ScriptedDriver implements Driver {
  readonly kind = 'scripted';
  readonly version = '0';
  readonly actions: readonly ActionKind[] = [];
  sink: DriverSink | undefined;
  vms: Vm[] = [{ id: 'vm-a', name: 'alpha', state: 'running' }];
  async start(sink: DriverSink) {
    this.sink = sink;
  }
  async stop() {
    this.sink = undefined;
  }
  listVms() {
    return this.vms;
  }
  getVm(vmId: string) {
    return this.vms.find((v) => v.id === vmId);
  }
  async act(): Promise<never> {
    throw new ActionFailure('unsupported', 'This scripted driver carries out no actions.');
  }
}

test('vm upserts and removals reach every connected cockpit; events from any driver are numbered', BOUNDED, async (t) => {
  const dir = tempDir(t);
  const driver = new ScriptedDriver();
  const agent = await startAgent({ token: TOKEN, driver, dataDir: join(dir, 'data'), agentId: 'in-process', note: () => {} });
  cleanup(t, () => agent.close());
  assert.match(agent.url, /^ws:\/\/127\.0\.0\.1:\d+$/);
  const one = await TestCockpit.open(t, agent.url);
  const two = await TestCockpit.open(t, agent.url);
  for (const c of [one, two]) {
    const hello = await c.nextOfType('hello');
    assert.equal(hello.hypervisor.kind, 'scripted');
    assert.deepEqual((await c.nextOfType('inventory')).vms.map((v) => v.id), ['vm-a']);
  }

  const beta: Vm = { id: 'vm-b', name: 'beta', state: 'running', tags: ['new'] };
  driver.vms.push(beta);
  driver.sink!.vmChanged(beta);
  driver.sink!.vmRemoved('vm-a');
  for (const c of [one, two]) {
    assert.deepEqual((await c.nextOfType('vm')).vm, beta);
    assert.equal((await c.nextOfType('vm.removed')).vmId, 'vm-a');
  }

  const event: ThreatEvent = { id: 'x1', time: new Date().toISOString(), agentId: 'in-process', vmId: 'vm-b', severity: 'high', verdict: 'malicious', category: 'network', title: 'test', sensor: { id: 't', kind: 'ids' } };
  driver.sink!.threats([event, { ...event, id: 'x2' }]);
  one.send({ type: 'subscribe', since: 0 });
  const events = await one.events(2);
  assert.deepEqual(events.map((e) => [e.seq, e.event.id]), [[1, 'x1'], [2, 'x2']]);
  assert.deepEqual([...one.invalid, ...two.invalid], []);
});
