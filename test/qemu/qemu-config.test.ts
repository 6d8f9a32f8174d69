// The qemu driver's config file is checked whole before anything runs: every problem is listed with where it is and
// what to write instead, names and paths outside the strict alphabets never get through, and the agent's command
// line refuses a bad or missing config in one line with a code, starting no QEMU.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { AgentError } from '../../agent/errors.ts';
import { parseQemuConfig } from '../../agent/drivers/qemu-config.ts';
import { createQemuDriver } from '../../agent/drivers/qemu.ts';
import { runAgentCli, tokenFile } from '../agent/helpers.ts';

const vm = {
  id: 'web-01', name: 'web-01', memoryMiB: 256, vcpus: 1, accel: 'tcg',
  kernel: '/srv/cordon/vmlinux', initramfs: '/srv/cordon/initramfs.cpio.gz',
  nic: { mac: '52:54:00:AA:00:01', ip: '10.77.0.11', tap: 'tap-web01', bridge: 'br-prod' },
};
const good = { workDir: '/var/lib/cordon/qemu', quarantineBridge: 'br-quar', probes: [{ bridge: 'br-prod', netns: 'probe-prod' }], vms: [vm] };

function problems(json: unknown): string {
  try {
    parseQemuConfig(json, { source: 'test.json', baseDir: '/etc/cordon' });
  } catch (err) {
    assert.ok(err instanceof AgentError);
    assert.equal(err.code, 'invalid_config');
    return err.message;
  }
  assert.fail('the config was accepted');
}

describe('the qemu driver\'s config', () => {
  const dir = mkdtempSync('/tmp/cq-conf-');
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a good config is read with defaults: leave VMs running when the agent stops, quit within 3 s, eth0', () => {
    const c = parseQemuConfig(good);
    assert.equal(c.onAgentStop, 'leave-running');
    assert.equal(c.quitDeadlineMs, 3_000);
    assert.equal(c.vms[0]!.nic!.name, 'eth0');
    assert.equal(c.vms[0]!.nic!.mac, '52:54:00:aa:00:01', 'MACs are kept in lower case');
    const relative = parseQemuConfig({ ...good, workDir: 'qemu', vms: [{ ...vm, kernel: 'img/vmlinux' }] }, { baseDir: '/etc/cordon' });
    assert.equal(relative.workDir, '/etc/cordon/qemu', 'relative paths are taken from the config file\'s folder');
    assert.equal(relative.vms[0]!.kernel, '/etc/cordon/img/vmlinux');
  });

  test('every problem is listed at once, each with where it is', () => {
    const message = problems({
      workDir: '/var/lib/cordon,evil',
      quarantineBridge: 'br-prod',
      probes: [{ bridge: 'br prod', netns: 'x' }],
      onAgentStop: 'ask',
      colour: 'blue',
      vms: [
        { ...vm, id: 'Web 01', accel: 'hvf', memoryMiB: 8, nic: { ...vm.nic, mac: '52:54:00:aa', tap: 'tap;reboot' } },
        { ...vm, id: 'db-01', name: 'db\n01', kernel: undefined, nic: { ...vm.nic, ip: '10.77.0.300' } },
        { ...vm, id: 'web-02', disk: { path: '/srv/x', format: 'vmdk' } },
      ],
    });
    for (const expected of [
      /workDir: The work folder path .* is not allowed/,
      /colour: unknown setting/,
      /probes\[0\]\.bridge: the bridge name "br prod"/,
      /onAgentStop: must be "leave-running"/,
      /vms\[0\]\.id: "Web 01" is not allowed/,
      /vms\[0\]\.accel: must be "kvm"/,
      /vms\[0\]\.memoryMiB/,
      /vms\[0\]\.nic\.mac: "52:54:00:aa" is not a MAC/,
      /vms\[0\]\.nic\.tap: the tap name "tap;reboot"/,
      /vms\[1\]\.name: give 1 to 128 printable characters/,
      /vms\[1\]\.kernel: a micro-VM \(-M microvm\) boots a kernel directly/,
      /vms\[1\]\.nic\.ip: "10\.77\.0\.300" is not an IPv4 address/,
      /vms\[2\]\.disk\.format: must be "qcow2" or "raw"/,
    ]) assert.match(message, expected);
    assert.match(message, /^The qemu config test\.json has \d+ problems: 1\) /);
  });

  test('a VM on the quarantine bridge, or two VMs on one tap or address, are refused', () => {
    assert.match(problems({ ...good, quarantineBridge: 'br-prod' }), /vms\[0\]\.nic\.bridge: br-prod is the quarantine bridge/);
    const twin = { ...vm, id: 'web-02', nic: { ...vm.nic, mac: '52:54:00:aa:00:02' } };
    const m = problems({ ...good, vms: [vm, twin] });
    assert.match(m, /vms\[1\]\.nic\.tap: the tap tap-web01 is used by vms\[0\]/);
    assert.match(m, /vms\[1\]\.nic\.ip: the address 10\.77\.0\.11 on br-prod is used by vms\[0\]/);
  });

  test('the qemu driver without a config says which flag is missing', () => {
    assert.throws(() => createQemuDriver({ agentId: 'a', vms: 1, rate: 1, seed: 1 }), (err) => err instanceof AgentError && err.code === 'config_missing' && /--config FILE/.test(err.message));
  });

  test('the agent refuses a missing or bad config in one line with a code, and --config without qemu', { timeout: 60_000 }, async () => {
    const token = tokenFile(dir);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ...good, vms: [{ ...vm, accel: 'xen' }] }));
    const notJson = join(dir, 'not.json');
    writeFileSync(notJson, '{ "vms": [');
    for (const [args, expected] of [
      [['--driver', 'qemu'], /needs its config file.*\[config_missing\]/],
      [['--driver', 'qemu', '--config', join(dir, 'nope.json')], /Cannot read the qemu config .*ENOENT.*\[config_unreadable\]/],
      [['--driver', 'qemu', '--config', notJson], /is not valid JSON.*\[invalid_config\]/],
      [['--driver', 'qemu', '--config', bad], /vms\[0\]\.accel: must be "kvm".*\[invalid_config\]/],
      [['--driver', 'sim', '--config', bad], /--config is read by the qemu driver only.*\[bad_flag\]/],
    ] as const) {
      const r = await runAgentCli([...args, '--listen', '127.0.0.1:0', '--token-file', token, '--data-dir', join(dir, 'data')]);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, expected);
    }
  });
});
