// What the sim's actions do to its simulated host, beyond the behaviour every driver shares: a contained VM's
// connections are blocked (cut) or go on into the honeypot, a clone carries the attacker's story on in its contained
// copy, the isolation proof says it was modelled, a seizure's files look like what QEMU would write, and a CI runner
// under investigation is not recycled away.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { checkThreatEvent, type ActionKind, type ActionParams, type ThreatEvent, type Vm } from '../../protocol/index.ts';
import type { ActionContext, Driver } from '../../agent/drivers/driver.ts';
import { createSimDriver, SimScript } from '../../agent/drivers/sim.ts';
import { HOSTILE_PROCESS_NAME } from '../../agent/drivers/sim-stories.ts';
import { BOUNDED, cleanup, sleep, tempDir } from './helpers.ts';

interface Sim {
  driver: Driver;
  events: ThreatEvent[];
  changes: Vm[];
  /** Where actions write (a seizure's capture). */
  workDir: string;
  act(vmId: string, kind: ActionKind, params?: ActionParams): ReturnType<Driver['act']>;
}

async function sim(t: TestContext, vms = 1, rate = 2000): Promise<Sim> {
  const dir = tempDir(t);
  const driver = createSimDriver({ agentId: 'sim-actions', vms, rate, seed: 5 });
  const events: ThreatEvent[] = [];
  const changes: Vm[] = [];
  await driver.start({ threats: (e) => events.push(...e), vmChanged: (vm) => changes.push(vm), vmRemoved: () => {}, note: () => {} });
  cleanup(t, () => driver.stop());
  let n = 0;
  return {
    driver, events, changes, workDir: dir,
    act: (vmId, kind, params = {}) => {
      const ctx: ActionContext = {
        requestId: `req-sim-${kind}-${++n}`, params, actor: { name: 'alice' }, reason: `test ${kind}`, workDir: dir,
        progress: () => {}, signal: new AbortController().signal,
      };
      return driver.act(vmId, kind, ctx);
    },
  };
}

test('a cut VM keeps running but its connections are "Blocked by isolation"; in the honeypot they go on, contained', BOUNDED, async (t) => {
  const s = await sim(t);
  const vm = s.driver.listVms()[0]!;
  await s.act(vm.id, 'isolate', { mode: 'cut' });
  let from = s.events.length;
  await sleep(600);
  const cut = s.events.slice(from).filter((e) => e.vmId === vm.id);
  assert.ok(cut.length > 100, `the VM keeps running: ${cut.length} events`);
  const cutConnections = cut.filter((e) => e.connection && e.connection.direction !== 'listen');
  assert.ok(cutConnections.length > 0);
  for (const e of cutConnections) {
    assert.match(e.title, /^Blocked by isolation: /);
    assert.equal(e.connection!.state, 'BLOCKED');
    assert.equal(e.connection!.bytesOut, undefined, 'no byte left the VM');
  }
  assert.ok(cut.some((e) => !e.connection), 'processes, files and logins go on');

  await s.act(vm.id, 'release');
  await s.act(vm.id, 'isolate', { mode: 'honeypot' });
  from = s.events.length;
  await sleep(600);
  const honeypot = s.events.slice(from).filter((e) => e.vmId === vm.id && e.connection && e.connection.direction !== 'listen');
  assert.ok(honeypot.length > 0 && honeypot.every((e) => e.title.startsWith('In the honeypot: ') && e.description?.includes('br-quarantine')));
  for (const e of [...cut, ...honeypot]) assert.ok(checkThreatEvent(e).ok, e.title);
});

test('every check of the sim\'s isolation proof says it was simulated, and what it would be on a real host', BOUNDED, async (t) => {
  const s = await sim(t);
  const vm = s.driver.listVms()[0]!;
  for (const params of [{ mode: 'cut' }, { mode: 'honeypot' }] as const) {
    const out = await s.act(vm.id, 'isolate', params);
    const proof = out.details!.isolation!;
    assert.ok(proof.ok);
    assert.deepEqual(proof.checks.map((c) => c.name), ['link-state:eth0', 'bridge-membership:eth0', 'probe-from-outside:eth0']);
    for (const c of proof.checks) assert.match(c.detail, /^Simulated: .*(no real NIC was touched|no bridge was inspected|no packet was sent)\.$/);
    await s.act(vm.id, 'release');
  }
});

test('a clone carries the attacker\'s story on in its contained copy, blocked from reaching out', BOUNDED, async (t) => {
  const s = await sim(t);
  const origin = s.driver.listVms()[0]!;
  const out = await s.act(origin.id, 'clone');
  const cloneId = out.details!.cloneVmId!;
  const clone = s.driver.getVm(cloneId)!;
  assert.equal(clone.cloneOf, origin.id);
  assert.equal(clone.networks?.[0]?.bridge, undefined, 'network "none": on no bridge');
  assert.ok(s.changes.some((v) => v.id === cloneId), 'the clone was reported to the agent');
  const from = s.events.length;
  await sleep(1500);
  const after = s.events.slice(from);
  const story = (vmId: string) => after.filter((e) => e.vmId === vmId && e.scenario !== 'background');
  assert.ok(story(cloneId).length > 0, 'the attacker\'s steps happen in the clone too');
  assert.deepEqual(new Set(story(cloneId).map((e) => e.scenario)), new Set(story(origin.id).map((e) => e.scenario)), 'the same story in both');
  assert.ok(after.some((e) => e.vmId === cloneId && e.scenario === 'background'), 'the clone has its own background activity');
  for (const e of after.filter((x) => x.vmId === cloneId && x.connection && x.connection.direction !== 'listen')) {
    assert.match(e.title, /^Blocked by isolation: /, 'nothing from the clone reaches a network');
  }
  assert.equal(new Set(after.map((e) => e.id)).size, after.length, 'event ids stay unique');
  // The origin terminated, the clone goes on: it is a VM of its own.
  await s.act(origin.id, 'terminate');
  const later = s.events.length;
  await sleep(400);
  assert.equal(s.events.slice(later).filter((e) => e.vmId === origin.id).length, 0);
  assert.ok(s.events.slice(later).some((e) => e.vmId === cloneId));
  await s.act(cloneId, 'release');
  assert.equal(s.driver.getVm(cloneId)?.networks?.[0]?.bridge, origin.networks?.[0]?.bridge, 'released, the clone takes over its origin\'s place');
});

test('a seizure writes an ELF core, a disk with a partition table, config, log, the VM\'s events and a manifest that says it is synthetic', BOUNDED, async (t) => {
  const s = await sim(t);
  const vm = s.driver.listVms()[0]!;
  await sleep(400); // long enough for the first story (the bind shell, on the web VM) to leave its strings in memory
  const out = await s.act(vm.id, 'seize', { caseId: 'CASE-9' });
  assert.equal(out.state, 'seized');
  const files = out.details!.files!;
  assert.deepEqual(files.map((f) => f.path), ['memory.elf', 'disk.raw', 'config.json', 'hypervisor.log', 'events.jsonl', 'manifest.json']);
  assert.equal(out.details!.captureId, 'req-sim-seize-1');
  const dir = s.workDir;
  const memory = readFileSync(join(dir, 'memory.elf'));
  assert.deepEqual([...memory.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], 'ELF magic');
  assert.equal(memory[4], 2, '64-bit');
  assert.equal(memory.readUInt16LE(16), 4, 'a core file (ET_CORE)');
  assert.equal(memory.readUInt16LE(18), 0x3e, 'x86-64');
  assert.ok(memory.includes(Buffer.from(HOSTILE_PROCESS_NAME)), 'the attacker\'s process name is in memory, for strings(1) to find');
  const disk = readFileSync(join(dir, 'disk.raw'));
  assert.equal(disk.readUInt16BE(510), 0x55aa, 'an MBR boot signature');
  assert.equal(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).vm.id, vm.id);
  assert.match(readFileSync(join(dir, 'hypervisor.log'), 'utf8'), /seize asked by alice: test seize/);
  const events = readFileSync(join(dir, 'events.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as ThreatEvent);
  assert.ok(events.length > 10 && events.every((e) => e.vmId === vm.id && checkThreatEvent(e).ok));
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  assert.equal(manifest.simulated, true);
  assert.match(manifest.statement, /synthetic/);
  assert.equal(manifest.request.caseId, 'CASE-9');
  assert.deepEqual(manifest.files, files.slice(0, -1), 'the manifest lists every other file with the hashes the result gives');
  assert.ok(s.changes.some((v) => v.id === vm.id && v.state === 'seizing'), 'seizing was reported while it ran');
});

test('a CI runner under investigation is not replaced by the next one', BOUNDED, () => {
  const recycled: string[] = [];
  const script = new SimScript({ agentId: 'x', vms: 8, seed: 9, rate: 5, onRecycle: (r) => recycled.push(r.vm.id), replaceable: (v) => v.vm.state === 'running' });
  const runner = script.fleet.vms.find((v) => v.role === 'build')!;
  runner.vm = { ...runner.vm, state: 'frozen' };
  for (let i = 0; i < 3100; i++) script.next();
  assert.deepEqual(recycled, [], 'the only runner is frozen: nothing is recycled');
  runner.vm = { ...runner.vm, state: 'running' };
  for (let i = 0; i < 1500; i++) script.next();
  assert.deepEqual(recycled, [runner.vm.id]);
});

