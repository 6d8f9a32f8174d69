// The sim's events are valid cordon.v1 threat events, tell all four scripted attacks among benign noise, carry
// the hostile strings a UI must show as text, and replay identically for the same seed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkThreatEvent, type ThreatEvent } from '../../protocol/index.ts';
import { createSimDriver, SimScript } from '../../agent/drivers/sim.ts';
import { HOSTILE_PROCESS_NAME, STORIES } from '../../agent/drivers/sim-stories.ts';
import { BOUNDED, sleep } from './helpers.ts';

function play(seed: number, count: number, options: { vms?: number; rate?: number } = {}): ThreatEvent[] {
  const script = new SimScript({ agentId: 'sim-test', vms: options.vms ?? 8, seed, rate: options.rate ?? 5, bootTime: '2026-11-23T10:00:00.000Z' });
  const out: ThreatEvent[] = [];
  for (let i = 0; i < count; i++) out.push({ id: `e${i}`, time: '2026-11-23T10:00:00.123Z', ...script.next() });
  return out;
}

test('every simulated event passes the ThreatEvent schema', BOUNDED, () => {
  for (const vms of [1, 2, 8, 40]) {
    for (const e of play(7, 5000, { vms })) {
      const checked = checkThreatEvent(e);
      assert.ok(checked.ok, `${e.title} (${vms} VMs): ${checked.ok ? '' : checked.error.message}`);
    }
  }
});

test('all four attack scenarios appear, with plausible verdicts, among mostly benign background', BOUNDED, () => {
  const events = play(3, 3000);
  const scenarios = new Set(events.map((e) => e.scenario));
  for (const name of ['document-c2-beacon', 'bind-shell-listener', 'lateral-ssh', 'vm-escape-ubi010']) assert.ok(scenarios.has(name), `${name} appears`);
  assert.deepEqual(STORIES.map((s) => s.name).sort(), ['bind-shell-listener', 'document-c2-beacon', 'lateral-ssh', 'vm-escape-ubi010']);
  const background = events.filter((e) => e.scenario === 'background');
  assert.ok(background.length > events.length / 2, 'background is the majority');
  assert.ok(background.every((e) => e.verdict !== 'malicious' && (e.severity === 'info' || e.severity === 'low')));
  const escape = events.filter((e) => e.scenario === 'vm-escape-ubi010' && e.category === 'escape');
  assert.ok(escape.length > 0 && escape.every((e) => e.severity === 'critical' && e.verdict === 'malicious' && e.mitre?.techniqueId === 'T1611'));
  const beacon = events.filter((e) => e.scenario === 'document-c2-beacon').map((e) => e.mitre?.techniqueId);
  for (const id of ['T1204.002', 'T1059.004', 'T1071.001']) assert.ok(beacon.includes(id), `the document story carries ${id}`);
  const listener = events.filter((e) => e.scenario === 'bind-shell-listener');
  assert.ok(listener.some((e) => e.connection?.direction === 'listen' && e.connection.localPort === 4444));
  const lateral = events.filter((e) => e.scenario === 'lateral-ssh').map((e) => e.mitre?.techniqueId);
  assert.ok(lateral.includes('T1021.004') && lateral.includes('T1046'));
  const lateralVms = new Set(events.filter((e) => e.scenario === 'lateral-ssh').map((e) => e.vmId));
  assert.ok(lateralVms.size >= 2, 'lateral movement spans two VMs');
});

test('the first story of any seed names a process <img src=x onerror=alert(1)>, early', BOUNDED, () => {
  for (const seed of [1, 2, 99, 123456]) {
    const events = play(seed, 60, { rate: 5 });
    const hostile = events.find((e) => e.process?.name === HOSTILE_PROCESS_NAME);
    assert.ok(hostile, `seed ${seed}: the hostile process name appears within 60 events`);
    assert.equal(HOSTILE_PROCESS_NAME, '<img src=x onerror=alert(1)>');
  }
  assert.ok(play(5, 3000).some((e) => e.process?.commandLine?.includes('\u001b[')), 'terminal escapes appear too');
});

test('the same seed gives the same sequence of titles; another seed does not', BOUNDED, () => {
  const titles = (seed: number) => play(seed, 2000).map((e) => `${e.vmName} ${e.title}`);
  assert.deepEqual(titles(11), titles(11));
  assert.notDeepEqual(titles(11), titles(12));
});

test('the driver emits at about its rate, in batches with millisecond times, and nothing after stop()', BOUNDED, async () => {
  const driver = createSimDriver({ agentId: 'sim-test', vms: 8, rate: 20_000, seed: 1 });
  let count = 0;
  let batches = 0;
  let times = new Set<string>();
  await driver.start({
    threats: (events) => {
      count += events.length;
      batches++;
      times = new Set([...times, ...events.map((e) => e.time)]);
    },
    vmChanged: () => {},
    vmRemoved: () => {},
    note: () => {},
  });
  assert.equal(driver.kind, 'sim');
  assert.equal(driver.listVms().length, 8);
  await sleep(1000);
  await driver.stop();
  const after = count;
  await sleep(50);
  assert.equal(count, after, 'nothing is emitted after stop()');
  // Generous: a loaded CI machine may lag, but an idle one makes ~20,000.
  assert.ok(count > 5000 && count < 30_000, `${count} events in about a second`);
  assert.ok(batches > 10 && batches < count / 10, `${batches} batches: events travel in ticks`);
  assert.ok([...times].every((t) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(t)), 'times have millisecond precision');
});

test('an ephemeral VM is replaced: removed, a new one added, later events name the new one', BOUNDED, () => {
  const changes: { removed: string; added: string }[] = [];
  const script = new SimScript({ agentId: 'sim-test', vms: 8, seed: 9, rate: 5, onRecycle: (r, a) => changes.push({ removed: r.vm.id, added: a.vm.id }) });
  const seen: string[] = [];
  for (let i = 0; i < 3100; i++) seen.push(script.next().vmId);
  assert.equal(changes.length, 2);
  const { removed, added } = changes[0]!;
  assert.notEqual(removed, added);
  assert.ok(seen.slice(2999).every((id) => id !== changes[1]!.removed), 'no event about a VM that is gone');
  assert.ok(script.fleet.vms.some((v) => v.vm.id === changes[1]!.added));
});
