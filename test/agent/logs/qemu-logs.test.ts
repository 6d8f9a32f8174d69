// A real QEMU micro-VM under the qemu driver: what its guest printed on the serial console (from boot on, before any
// client connected) and what QEMU itself wrote (its stderr, with -msg timestamps) are in the agent's log store,
// found by a real logs.query over a real WebSocket by the VM's id and a time range. One VM, booted once; no network
// device, so no root is needed for it (building the lab image is, when it is missing).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startAgent } from '../../../agent/agent.ts';
import { parseQemuConfig } from '../../../agent/drivers/qemu-config.ts';
import { QemuDriver } from '../../../agent/drivers/qemu.ts';
import { LAB_BOOTED, LAB_IMAGE_DIR, labAppend, labImage } from '../../../agent/qemu/lab-guest.ts';
import { waitForLog } from '../../../agent/qemu/serial.ts';
import { ensureLabImage } from '../../qemu/helpers.ts';
import { TestCockpit, TOKEN } from '../helpers.ts';
import { waitForLogs } from './helpers.ts';

const CAN_BUILD = process.getuid?.() === 0 || existsSync(join(LAB_IMAGE_DIR, 'manifest.json'));

test('a real micro-VM\'s serial console and QEMU\'s own log are searchable by VM and time range', { skip: CAN_BUILD ? false : 'the lab image is not built and building it needs root', timeout: 180_000 }, async (t) => {
  ensureLabImage();
  // The kernel's boot messages are left on (no `quiet`): the console then has lines from before anyone connected.
  // Short: unix socket paths of the run folder must fit in 107 bytes.
  const dir = mkdtempSync('/tmp/cql-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const image = labImage();
  const driver = new QemuDriver(parseQemuConfig({
    workDir: join(dir, 'qemu'),
    vms: [{ id: 'logvm', name: 'log-vm', memoryMiB: 128, vcpus: 1, accel: 'tcg', kernel: image.kernel, initramfs: image.initramfs, append: labAppend({ hostname: 'log-vm' }).replace('quiet', 'loglevel=7') }],
  }), 'qemu-logs-agent');
  t.after(() => driver.destroy());
  const bootedFrom = new Date(Date.now() - 1000).toISOString();
  const agent = await startAgent({ token: TOKEN, driver, dataDir: join(dir, 'data'), agentId: 'qemu-logs-agent', note: () => {} });
  t.after(() => agent.close());
  const machine = driver.machineFor('logvm')!;
  await waitForLog(machine.serialLogPath, LAB_BOOTED, 90_000);
  const c = await TestCockpit.open(t, agent.url);
  assert.ok((await c.nextOfType('hello')).capabilities.includes('logs'));

  // The console, by VM and time range: the kernel's first line and the guest's ready line, in order.
  const window = { vmId: 'logvm', from: bootedFrom, to: new Date(Date.now() + 60_000).toISOString() };
  const serial = await waitForLogs(c, { ...window, sources: ['serial'], limit: 1000 }, (rs) => rs.some((r) => /cordon-guest: log-vm up in/.test(r.message)), 30_000);
  const ready = serial.find((r) => /cordon-guest: log-vm up in/.test(r.message));
  const kernel = serial.find((r) => /Linux version/.test(r.message));
  assert.ok(ready, `the guest's ready line is found; got ${serial.length} lines: ${serial.slice(0, 5).map((r) => r.message).join(' | ')}`);
  assert.ok(kernel, 'the kernel banner, printed before anyone connected to the console');
  assert.ok(kernel.seq < ready.seq, 'in the order the guest printed them');
  assert.equal(ready.origin, machine.serialLogPath);
  assert.ok(serial.every((r) => r.source === 'serial' && r.vmId === 'logvm' && r.agentId === 'qemu-logs-agent'));
  assert.ok(serial.every((r) => !/[\r\n]/.test(r.message)), 'lines without their line breaks');
  const before = await waitForLogs(c, { vmId: 'logvm', sources: ['serial'], to: bootedFrom }, () => true);
  assert.equal(before.length, 0, 'nothing from before the VM started');

  // QEMU's own log: killed on the host, it says so on its stderr, with its -msg timestamp.
  const killedAt = Date.now();
  process.kill(machine.pid, 'SIGTERM');
  const qemu = await waitForLogs(c, { vmId: 'logvm', sources: ['hypervisor'], text: 'terminating on signal 15' }, (rs) => rs.length > 0, 30_000);
  assert.equal(qemu.length, 1, 'QEMU\'s line about the signal');
  const line = qemu[0]!;
  assert.equal(line.app, 'qemu-system-x86_64');
  assert.match(line.message, /^terminating on signal 15 from pid \d+/);
  assert.equal(line.origin, machine.paths.stderrLog);
  assert.ok(Math.abs(Date.parse(line.time) - killedAt) < 10_000, `QEMU's own timestamp (${line.time}) is when it was killed`);
  assert.ok(line.receivedAt, 'the agent kept when it read it too');
  // The same VM's logs, all sources at once, newest first: QEMU's last word comes before its console's.
  const all = await waitForLogs(c, { vmId: 'logvm', limit: 1000 }, () => true);
  assert.equal(all[0]!.source, 'hypervisor');
  assert.deepEqual(c.invalid, []);
});
