// The qemu driver on real micro-VMs: first the behaviour every driver must show (test/agent/driver-behaviour.ts),
// then what only a real hypervisor can show, checked from outside (QMP status, the process, the tap's bridge in
// `ip -j link`, probes from network namespaces) and from inside the guest (its serial console: carrier, processes).
// The host network is the test's own: a production bridge and a quarantine bridge, each with a gateway namespace of
// the same address and MAC, removed at the end even when a test fails. At most two VMs run at once (a clone counts).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, createReadStream, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ActionKind, ActionParams, Vm } from '../../protocol/index.ts';
import { startAgent, type RunningAgent } from '../../agent/agent.ts';
import type { ActionContext, Driver, DriverSink } from '../../agent/drivers/driver.ts';
import { parseQemuConfig, type QemuDriverConfig } from '../../agent/drivers/qemu-config.ts';
import { QemuDriver } from '../../agent/drivers/qemu.ts';
import { isQemuError } from '../../agent/qemu/errors.ts';
import { LAB_BOOTED, labAppend, labImage } from '../../agent/qemu/lab-guest.ts';
import { createGatewaySite, execInNetns, linkInfo, type GatewaySite } from '../../agent/qemu/net.ts';
import { QmpClient } from '../../agent/qemu/qmp.ts';
import { SerialConsole, waitForLog } from '../../agent/qemu/serial.ts';
import { ActionCockpit } from '../agent/action-cockpit.ts';
import { describeDriverBehaviour, type NetworkWatch } from '../agent/driver-behaviour.ts';
import { Cleanup, ensureLabImage, eventually, pidExists, tag } from './helpers.ts';

const ROOT_ONLY = process.getuid?.() === 0 ? false : 'needs root: it creates bridges, taps and network namespaces';
const GATEWAY = '10.77.0.1';
const GATEWAY_MAC = '02:c0:de:77:00:01';
const MEMORY_MIB = 128;
const TOKEN = 'qemu-test-token-0123456789abcdef';

const x = tag();
const cleanup = new Cleanup();
let prod: GatewaySite;
let honeypot: GatewaySite;

before(async () => {
  if (ROOT_ONLY) return;
  ensureLabImage();
  prod = await createGatewaySite({ bridge: `bq${x}-pbr`, netns: `bq${x}-prod`, veth: `bq${x}-pv`, vethPeer: `bq${x}-pg`, gatewayCidr: `${GATEWAY}/24`, gatewayMac: GATEWAY_MAC });
  cleanup.add('remove the production site', () => prod.remove());
  honeypot = await createGatewaySite({ bridge: `bq${x}-qbr`, netns: `bq${x}-hpot`, veth: `bq${x}-hv`, vethPeer: `bq${x}-hg`, gatewayCidr: `${GATEWAY}/24`, gatewayMac: GATEWAY_MAC });
  cleanup.add('remove the honeypot site', () => honeypot.remove());
});
after(() => cleanup.run());

/** The host tap of VM number `i` (from 1) of a driver keyed `key`: the same again for a restarted driver. */
function tapOf(key: string, i: number): string {
  return `bq${createHash('sha1').update(key).digest('hex').slice(0, 4)}-${i}`;
}

/** A config of `count` lab VMs on the production bridge. */
function labConfig(workDir: string, count: number, key: string): QemuDriverConfig {
  const image = labImage();
  return parseQemuConfig({
    workDir,
    quarantineBridge: honeypot.bridge,
    probes: [{ bridge: prod.bridge, netns: prod.netns }, { bridge: honeypot.bridge, netns: honeypot.netns }],
    vms: Array.from({ length: count }, (_, i) => ({
      id: `vm-${i + 1}`,
      name: `web-0${i + 1}`,
      memoryMiB: MEMORY_MIB,
      vcpus: 1,
      accel: 'tcg',
      kernel: image.kernel,
      initramfs: image.initramfs,
      append: labAppend({ ip: `10.77.0.${11 + i}/24`, gateway: GATEWAY, hostname: `web-0${i + 1}`, beaconSeconds: 1 }),
      disk: { path: join(workDir, `vm-${i + 1}.qcow2`), format: 'qcow2', sizeMiB: 32 },
      nic: { mac: `52:54:00:c0:de:${(0x11 + i).toString(16)}`, ip: `10.77.0.${11 + i}`, tap: tapOf(key, i + 1), bridge: prod.bridge },
      image: 'busybox lab guest',
      tags: ['lab'],
    })),
  });
}

/** The driver, whose start() also waits until each guest has booted to its shell (probes need a guest that answers). */
class BootedQemu implements Driver {
  constructor(readonly inner: QemuDriver) {}
  get kind() { return this.inner.kind; }
  get version() { return this.inner.version; }
  get actions() { return this.inner.actions; }
  async start(sink: DriverSink): Promise<void> {
    await this.inner.start(sink);
    // Clones are left out: their guest booted in the origin, and prints nothing on arrival.
    await Promise.all(this.inner.listVms().filter((v) => v.state !== 'terminated' && !v.cloneOf).map((v) => {
      const m = this.inner.machineFor(v.id);
      return m ? waitForLog(m.serialLogPath, LAB_BOOTED, 60_000) : undefined;
    }));
  }
  stop() { return this.inner.stop(); }
  listVms() { return this.inner.listVms(); }
  getVm(id: string) { return this.inner.getVm(id); }
  refuse(vm: Vm, kind: ActionKind, params: ActionParams) { return this.inner.refuse(vm, kind, params); }
  act(vmId: string, kind: ActionKind, ctx: ActionContext) { return this.inner.act(vmId, kind, ctx); }
  destroy() { return this.inner.destroy(); }
}

/**
 * Watches a lab VM's network from outside the driver: `ip -o monitor link` for any kernel event about its tap (joining
 * or leaving a bridge, its flags) while the action runs, and before and after, the tap as `ip -j link` shows it and the
 * guest's own view over its serial console (eth0's carrier and carrier_changes, which counts every flap of the link).
 */
async function watchNetwork(driver: Driver, vmId: string): Promise<NetworkWatch> {
  const inner = (driver as BootedQemu).inner;
  const tap = inner.config.vms.find((v) => v.id === vmId)?.nic?.tap;
  const machine = inner.machineFor(vmId);
  assert.ok(tap && machine, `${vmId} has a tap and a running QEMU`);
  const look = async () => {
    const link = await linkInfo(tap);
    const guest = await SerialConsole.connect(machine.serialSocketPath);
    try {
      const [carrier, flaps] = (await guest.run('cat /sys/class/net/eth0/carrier /sys/class/net/eth0/carrier_changes')).trim().split('\n');
      return { bridge: link.master, up: link.up, operstate: link.operstate, carrier, flaps };
    } finally {
      guest.close();
    }
  };
  const before = await look();
  const monitor = spawn('ip', ['-o', 'monitor', 'link'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const closed = once(monitor, 'close');
  let seen = '';
  monitor.stdout.setEncoding('utf8').on('data', (d: string) => { seen += d; });
  await new Promise((r) => setTimeout(r, 200)); // subscribed by then
  return {
    async stop() {
      await new Promise((r) => setTimeout(r, 200)); // the last events, if any
      monitor.kill();
      await closed;
      const after = await look();
      const changes = seen.split('\n').filter((l) => l.includes(` ${tap}:`) || l.includes(` ${tap}@`)).map((l) => `ip monitor link: ${l.trim()}`);
      for (const key of Object.keys(before) as (keyof typeof before)[]) {
        if (before[key] !== after[key]) changes.push(`${key}: ${String(before[key])} before, ${String(after[key])} after`);
      }
      return changes;
    },
  };
}

describe('the qemu driver on real micro-VMs', { skip: ROOT_ONLY }, () => {
  describeDriverBehaviour('qemu', (setup) => {
    const workDir = join(setup.dataDir, '..', 'qemu');
    return new BootedQemu(new QemuDriver(labConfig(workDir, setup.vms, setup.dataDir), setup.agentId));
  }, {
    testTimeoutMs: 240_000,
    actionTimeoutMs: 60_000,
    // The qemu driver makes threat events only of what the hypervisor reports outside Cordon; the guest has no sensor.
    eventWaitMs: 0,
    dispose: (d) => (d as BootedQemu).destroy(),
    watchNetwork,
  });
});

describe('the qemu driver, seen from outside and inside the guest', { skip: ROOT_ONLY, timeout: 300_000 }, () => {
  const local = new Cleanup();
  let dir: string;
  let driver: QemuDriver;
  let agent: RunningAgent;
  let c: ActionCockpit;
  let guest: SerialConsole;
  const vmId = 'vm-1';
  const GUEST_IP = '10.77.0.11';

  before(async () => {
    dir = mkdtempSync('/tmp/cq-drv-');
    local.add(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
    driver = new QemuDriver(labConfig(join(dir, 'qemu'), 1, dir), 'qemu-test-agent');
    local.add('destroy the driver\'s VMs and taps', () => driver.destroy());
    agent = await startAgent({ token: TOKEN, driver, dataDir: join(dir, 'data'), agentId: 'qemu-test-agent', note: () => {} });
    local.add('close the agent', () => agent.close());
    await waitForLog(driver.machineFor(vmId)!.serialLogPath, LAB_BOOTED, 60_000);
    c = await ActionCockpit.open(agent.url, TOKEN);
    local.add('close the cockpit', () => c.close());
    await c.inventory();
    c.send({ type: 'subscribe', since: 0 });
    guest = await SerialConsole.connect(driver.machineFor(vmId)!.serialSocketPath);
    local.add('close the serial console', () => guest.close());
  });
  after(() => local.run());

  const act = async (id: string, kind: ActionKind, params: ActionParams = {}) => {
    const a = await c.act(id, kind, { params, timeoutMs: 60_000, reason: `test: ${kind}` });
    assert.ok(a.result?.ok, `${kind} succeeds: ${JSON.stringify(a.result ?? a.first)}`);
    return a.result;
  };
  const reaches = async (site: GatewaySite, ip = GUEST_IP) => (await execInNetns(site.netns, ['busybox', 'ping', '-c', '1', '-W', '1', ip])).code === 0;
  const carrier = async (console = guest) => (await console.run('cat /sys/class/net/eth0/carrier')).trim();

  test('freeze: QEMU reports it paused and the guest shell is silent; resume: the same processes carry on', async () => {
    const machine = driver.machineFor(vmId)!;
    const beacon = (await guest.run('pidof beacon')).trim();
    const count = Number((await guest.run('cat /run/beacon.count')).trim());
    await act(vmId, 'freeze');
    assert.deepEqual(await machine.status(), { status: 'paused', running: false }, 'QMP query-status: paused');
    await assert.rejects(guest.run('echo alive', 1_500), (err) => isQemuError(err, 'guest_timeout'), 'the frozen guest does not answer');
    await act(vmId, 'resume');
    assert.deepEqual(await machine.status(), { status: 'running', running: true });
    assert.equal((await guest.run('pidof beacon')).trim(), beacon, 'the same beacon process after resume');
    assert.ok(await eventually(async () => Number((await guest.run('cat /run/beacon.count')).trim()) > count, 10_000), 'the beacon keeps counting');
  });

  test('isolate cut: the guest sees carrier 0 and keeps running, production cannot reach it; release brings it back', async () => {
    assert.ok(await reaches(prod), 'production reaches the guest before');
    const r = await act(vmId, 'isolate', { mode: 'cut' });
    assert.ok(r!.details?.isolation?.ok, JSON.stringify(r!.details?.isolation));
    assert.equal(await carrier(), '0', 'inside the guest: no carrier');
    assert.equal((await driver.machineFor(vmId)!.status()).status, 'running', 'QEMU still runs it');
    assert.equal(await reaches(prod), false, 'production gets no answer');
    const released = await act(vmId, 'release');
    assert.ok(released!.details?.isolation?.ok, JSON.stringify(released!.details?.isolation));
    assert.equal(await carrier(), '1', 'inside the guest: carrier again');
    assert.ok(await reaches(prod), 'production reaches it again');
  });

  test('isolate honeypot: the tap is a port of the quarantine bridge, the guest sees no change; release puts it back', async () => {
    const tap = tapOf(dir, 1);
    assert.equal((await linkInfo(tap)).master, prod.bridge);
    const r = await act(vmId, 'isolate', { mode: 'honeypot' });
    const proof = r!.details?.isolation;
    assert.ok(proof?.ok, JSON.stringify(proof));
    assert.deepEqual(proof.checks.map((k) => k.name.split(':')[0]), ['link-state', 'bridge-membership', 'probe-production', 'probe-honeypot']);
    assert.equal((await linkInfo(tap)).master, honeypot.bridge, 'ip -j link: the tap is on the quarantine bridge');
    assert.equal(await carrier(), '1', 'the guest sees no link change');
    assert.ok(await reaches(honeypot), 'the honeypot side reaches the guest');
    assert.equal(await reaches(prod), false, 'production does not');
    await act(vmId, 'release');
    assert.equal((await linkInfo(tap)).master, prod.bridge, 'ip -j link: back on the production bridge');
    assert.ok(await eventually(() => reaches(prod), 5_000, 100), 'production reaches it again');
  });

  test('clone: a second QEMU whose guest sees no carrier, same MAC, the attacker\'s processes; terminate leaves no process', async () => {
    const r = await act(vmId, 'clone');
    const cloneId = r!.details!.cloneVmId!;
    const clone = driver.machineFor(cloneId)!;
    assert.notEqual(clone.pid, driver.machineFor(vmId)!.pid, 'another QEMU process');
    assert.deepEqual(await clone.status(), { status: 'running', running: true });
    const tap = r!.details!.isolation!.checks.find((k) => k.name.startsWith('bridge-membership'))!.detail.match(/tap (cdn[0-9a-f]{6})/)![1]!;
    assert.equal((await linkInfo(tap)).master, null, 'the clone\'s tap is a port of no bridge');
    const twin = await SerialConsole.connect(clone.serialSocketPath);
    try {
      assert.equal(await carrier(twin), '0', 'inside the clone: eth0 has no carrier');
      assert.equal((await twin.run('cat /sys/class/net/eth0/address')).trim(), '52:54:00:c0:de:11', 'the same MAC');
      assert.match(await twin.run('pidof beacon'), /^\d+\n$/, 'the origin\'s processes run in the clone');
    } finally {
      twin.close();
    }
    assert.equal(await carrier(), '1', 'the origin keeps its link');
    assert.ok(await reaches(prod), 'and production still reaches the origin');

    const done = await act(cloneId, 'terminate');
    assert.equal(done!.state, 'terminated');
    assert.equal(done!.details?.killed, false, 'it quit in time');
    assert.equal(pidExists(clone.pid), false, `QEMU pid ${clone.pid} is gone`);
    assert.equal(existsSync(clone.paths.qmpSocket), false, 'no QMP socket left');
    await assert.rejects(clone.status(), (err) => isQemuError(err, 'qemu_gone'), 'QMP is gone with it');
    assert.ok(await eventually(async () => !(await linkExistsQuiet(tap)), 5_000, 50), 'the clone\'s tap is deleted');
  });

  test('a stop on the host that Cordon did not ask for: the VM shows frozen and a hypervisor event says so', async () => {
    const from = c.mark;
    await driver.machineFor(vmId)!.qmp.execute('stop');
    const { message } = await c.waitFor((m) => m.type === 'event' && m.event.vmId === vmId && m.event.category === 'hypervisor', 5_000, 'a hypervisor event', from);
    assert.ok(message.type === 'event' && /stopped outside Cordon/.test(message.event.title), JSON.stringify(message));
    await c.waitFor((m) => m.type === 'vm' && m.vm.id === vmId && m.vm.state === 'frozen', 5_000, 'the VM shown frozen', from);
    await act(vmId, 'resume');
  });

  test('a guest that reboots itself: QEMU exits (-no-reboot), the VM shows terminated, one hypervisor event says why', async () => {
    const r = await act(vmId, 'clone');
    const cloneId = r!.details!.cloneVmId!;
    const clone = driver.machineFor(cloneId)!;
    const from = c.mark;
    const twin = await SerialConsole.connect(clone.serialSocketPath);
    try {
      twin.write('reboot -f\n');
      const { message } = await c.waitFor((m) => m.type === 'event' && m.event.vmId === cloneId, 10_000, 'an event about the clone', from);
      assert.ok(message.type === 'event' && /shut down outside Cordon \(guest-reset\)/.test(message.event.title), JSON.stringify(message));
      await c.waitFor((m) => m.type === 'vm' && m.vm.id === cloneId && m.vm.state === 'terminated', 10_000, 'the clone shown terminated', from);
    } finally {
      twin.close();
    }
    assert.ok(await eventually(async () => !pidExists(clone.pid), 5_000, 50), 'its QEMU is gone');
    assert.equal(c.eventsOf(cloneId, from).length, 1, 'one event, not one for the shutdown and another for the exit');
    assert.equal(driver.getVm(vmId)!.state, 'running', 'the origin runs on');
  });

  test('seize: the VM ends paused and seized; the memory is an ELF core; every hash recomputed matches', async () => {
    const a = await c.act(vmId, 'seize', { params: { caseId: 'CASE-7' }, reason: 'test: seize', timeoutMs: 120_000 });
    assert.ok(a.result?.ok, JSON.stringify(a.result));
    assert.ok(a.progress.some((p) => p.step === 'memory' && (p.fraction ?? 0) > 0), 'memory progress with a fraction');
    assert.deepEqual(await driver.machineFor(vmId)!.status(), { status: 'paused', running: false }, 'QMP: paused');
    assert.equal(driver.getVm(vmId)!.state, 'seized');
    const folder = join(dir, 'data', 'actions', a.requestId);
    const files = a.result.details!.files!;
    assert.deepEqual(files.map((f) => f.path), ['memory.elf', 'disk.raw', 'config.json', 'qemu.log', 'qemu-stderr.log', 'serial-console.log', 'manifest.json']);
    for (const f of files) {
      const [sha256, sha1, size] = await digest(join(folder, f.path));
      assert.equal(size, f.size, `${f.path}: size`);
      assert.equal(sha256, f.sha256, `${f.path}: SHA-256`);
      assert.equal(sha1, f.sha1, `${f.path}: SHA-1`);
    }
    const head = Buffer.alloc(18);
    const fd = openSync(join(folder, 'memory.elf'), 'r');
    try { readSync(fd, head, 0, 18, 0); } finally { closeSync(fd); }
    assert.deepEqual([...head.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], 'ELF magic');
    assert.equal(head.readUInt16LE(16), 4, 'e_type ET_CORE');
    assert.ok(files.find((f) => f.role === 'memory')!.size >= MEMORY_MIB * 1024 * 1024, 'the whole RAM');
    assert.equal(files.find((f) => f.role === 'disk')!.size, 32 * 1024 * 1024, 'the whole disk, raw');
    const manifest = JSON.parse(readFileSync(join(folder, 'manifest.json'), 'utf8'));
    assert.equal(manifest.simulated, false);
    assert.equal(manifest.request.caseId, 'CASE-7');
    assert.deepEqual(manifest.files.map((f: { path: string }) => f.path), files.slice(0, -1).map((f) => f.path));
    const config = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8'));
    assert.ok(config.qemu.runningCommandLine.includes('microvm'), 'the running command line, read back from /proc');
    assert.match(readFileSync(join(folder, 'serial-console.log'), 'utf8'), /cordon-guest: web-01 up in/);
    await assert.rejects(guest.run('echo alive', 1_500), (err) => isQemuError(err, 'guest_timeout'), 'the seized guest stays frozen');
    rmSync(join(folder, 'memory.elf'));
  });

  test('an agent restart adopts the running QEMU; a cont on the host while the agent was away is reported', async () => {
    const pid = driver.machineFor(vmId)!.pid;
    c.close();
    await agent.close(); // the VM runs on: VMs outlive the agent unless the config says otherwise
    assert.ok(pidExists(pid), 'QEMU still runs without the agent');
    const outside = await QmpClient.connect(join(dir, 'qemu', 'run', vmId, 'qmp.sock'));
    await outside.execute('cont'); // someone on the host resumes the seized VM
    outside.close();
    driver = new QemuDriver(labConfig(join(dir, 'qemu'), 1, dir), 'qemu-test-agent');
    agent = await startAgent({ token: TOKEN, driver, dataDir: join(dir, 'data'), agentId: 'qemu-test-agent', note: () => {} });
    c = await ActionCockpit.open(agent.url, TOKEN);
    await c.inventory();
    c.send({ type: 'subscribe', since: 0 });
    assert.equal(driver.machineFor(vmId)!.pid, pid, 'the same QEMU, adopted');
    assert.equal(driver.machineFor(vmId)!.owned, false);
    const { message } = await c.waitFor((m) => m.type === 'event' && m.event.vmId === vmId && /resumed outside Cordon/.test(m.event.title), 5_000, 'the event about the outside cont');
    assert.equal(message.type === 'event' && message.event.severity, 'high', 'a seized VM that runs again is serious');
    assert.equal(c.vm(vmId)?.state, 'running', 'shown as QEMU has it: running');
    assert.equal(await carrier(), '1');
  });

  test('a QEMU killed on the host: the VM shows terminated and a hypervisor event says it exited unexpectedly', async () => {
    const machine = driver.machineFor(vmId)!;
    const from = c.mark;
    process.kill(machine.pid, 'SIGKILL');
    const { message } = await c.waitFor((m) => m.type === 'event' && m.event.vmId === vmId && /exited unexpectedly/.test(m.event.title), 10_000, 'the exit event', from);
    assert.equal(message.type === 'event' && message.event.sensor.kind, 'hypervisor');
    await c.waitFor((m) => m.type === 'vm' && m.vm.id === vmId && m.vm.state === 'terminated', 10_000, 'the VM shown terminated', from);
    assert.equal(pidExists(machine.pid), false);
    const refused = await c.act(vmId, 'resume', { timeoutMs: 5_000 });
    assert.equal(refused.rejected?.code, 'wrong_state');
  });
});

async function linkExistsQuiet(name: string): Promise<boolean> {
  try {
    await linkInfo(name);
    return true;
  } catch {
    return false;
  }
}

/** SHA-256, SHA-1 and size of a file, computed here independently of the agent's own hashing. */
async function digest(path: string): Promise<[string, string, number]> {
  const a = createHash('sha256');
  const b = createHash('sha1');
  let size = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    a.update(chunk);
    b.update(chunk);
    size += chunk.length;
  }
  return [a.digest('hex'), b.digest('hex'), size];
}
