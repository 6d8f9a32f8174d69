// The evaluation view's source on a real micro-VM (QEMU, TCG): the agent reads the guest's processes, sockets and
// resources over the guest's inspection line (ttyS2), never its serial console, and answers `inspect` over a real
// WebSocket. The lab guest's real `nc -ll -p 4444` bind shell shows as a process and as a listener it owns; a frozen VM
// is refused with a sentence that points at a clone.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startAgent, type RunningAgent } from '../../agent/agent.ts';
import { parseQemuConfig } from '../../agent/drivers/qemu-config.ts';
import { QemuDriver } from '../../agent/drivers/qemu.ts';
import { MARK } from '../../agent/inspect/guest-shell.ts';
import { LAB_BOOTED, labAppend, labImage } from '../../agent/qemu/lab-guest.ts';
import { waitForLog } from '../../agent/qemu/serial.ts';
import { TestCockpit, TOKEN } from '../agent/helpers.ts';
import { ensureLabImage } from './helpers.ts';

const ROOT_ONLY = process.getuid?.() === 0 ? false : 'needs root: it builds the lab image (apt-get) when missing';
const VM = 'insp-1';

describe('inspecting a real micro-VM', { skip: ROOT_ONLY, timeout: 180_000 }, () => {
  let workDir: string;
  let driver: QemuDriver;
  let agent: RunningAgent;

  before(async () => {
    ensureLabImage();
    workDir = mkdtempSync('/tmp/cins-');
    const image = labImage();
    const config = parseQemuConfig({
      workDir, onAgentStop: 'terminate',
      vms: [{ id: VM, name: 'lab-inspect', memoryMiB: 128, vcpus: 1, accel: 'tcg', kernel: image.kernel, initramfs: image.initramfs, append: labAppend({ hostname: 'lab-inspect' }), tags: ['lab'] }],
    });
    driver = new QemuDriver(config, 'inspect-qemu');
    agent = await startAgent({ token: TOKEN, driver, dataDir: join(workDir, 'data'), agentId: 'inspect-qemu', logs: false, note: () => {} });
    await waitForLog(driver.machineFor(VM)!.serialLogPath, LAB_BOOTED, 90_000);
  });
  after(async () => {
    await agent?.close();
    await driver?.destroy();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  test('the guest\'s bind shell as a process and the listener it owns, its memory and load, read off the console', async (t) => {
    const cockpit = await TestCockpit.open(t, agent.url);
    const hello = await cockpit.nextOfType('hello');
    assert.ok(hello.capabilities.includes('inspect'));
    // The guest's daemons may still be starting: ask until the bind shell is there (each answer must be whole).
    let inspection;
    for (let i = 0; ; i++) {
      cockpit.send({ type: 'inspect', id: `insp-${i}`, vmId: VM });
      const answer = await cockpit.nextOfType('inspect.result', 30_000);
      assert.equal(answer.ref, `insp-${i}`);
      inspection = answer.inspection;
      assert.equal(inspection.source, 'guest-shell');
      assert.equal(inspection.warnings, undefined, `a whole answer: ${JSON.stringify(inspection.warnings)}`);
      if (inspection.sockets.some((s) => s.localPort === 4444) || i >= 5) break;
    }
    const nc = inspection.processes.find((p) => p.command === 'nc -ll -p 4444 -e /bin/sh');
    assert.ok(nc, `the bind shell among ${inspection.processes.map((p) => p.command).join(' | ')}`);
    assert.ok(['root', '0'].includes(nc.user), `run by root (busybox may print the uid): ${nc.user}`);
    assert.equal(nc.name, 'nc');
    assert.ok(inspection.processes.some((p) => p.pid === 1), 'init');
    const listener = inspection.sockets.find((s) => s.protocol === 'tcp' && s.localPort === 4444 && s.state === 'LISTEN');
    assert.ok(listener, `a tcp listener on 4444 among ${JSON.stringify(inspection.sockets)}`);
    assert.equal(listener.pid, nc.pid, 'owned by the bind shell\'s process');
    assert.equal(listener.program, 'nc');
    assert.ok(inspection.services.some((s) => s.name === 'nc tcp/4444' && s.pid === nc.pid));
    assert.ok((inspection.resources.memTotalKiB ?? 0) > 64 * 1024, 'a 128 MiB guest');
    assert.ok(inspection.resources.processCount >= 5);
    assert.ok(inspection.resources.uptimeS !== undefined && inspection.resources.uptimeS > 0);
    // Nothing was typed into the responder's console: the script never shows on ttyS0.
    assert.ok(!readFileSync(driver.machineFor(VM)!.serialLogPath, 'utf8').includes(MARK), 'the serial console never saw the inspection');
    assert.deepEqual(cockpit.invalid, []);
  });

  test('a frozen VM cannot be inspected: it says so and points at a clone', async (t) => {
    const cockpit = await TestCockpit.open(t, agent.url);
    await cockpit.nextOfType('hello');
    cockpit.send({ type: 'action', requestId: 'req-freeze-insp-1', vmId: VM, kind: 'freeze', params: {}, actor: { name: 'test' }, reason: 'hold it' });
    const result = await cockpit.nextOfType('action.result', 30_000);
    assert.equal(result.ok, true);
    cockpit.send({ type: 'inspect', id: 'insp-frozen', vmId: VM });
    const error = await cockpit.nextOfType('error', 10_000);
    assert.equal(error.ref, 'insp-frozen');
    assert.equal(error.code, 'not_running');
    assert.match(error.message, /frozen.*clone/);
    cockpit.send({ type: 'inspect', id: 'insp-none', vmId: 'nope' });
    assert.equal((await cockpit.nextOfType('error', 10_000)).code, 'unknown_vm');
  });
});
