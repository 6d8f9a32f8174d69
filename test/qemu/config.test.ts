// What reaches QEMU's command line and the shell of an `exec:` migration is checked first: a hostile VM name cannot
// add an option, interface names and paths outside a strict alphabet are refused before anything runs, and QEMU
// writes captures only as new files in a private folder.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { baseAppend, buildQemuArgs, type MachineConfig } from '../../agent/qemu/machine.ts';
import { checkInterfaceName } from '../../agent/qemu/net.ts';
import { checkNewFile, checkSafePath } from '../../agent/qemu/paths.ts';
import { isQemuError } from '../../agent/qemu/errors.ts';
import { labAppend } from '../../agent/qemu/lab-guest.ts';

const base: MachineConfig = {
  id: 'vm-1', name: 'web-01', memoryMiB: 256, vcpus: 1, accel: 'tcg',
  kernel: '/srv/cordon/vmlinux', initramfs: '/srv/cordon/initramfs.cpio.gz', runDir: '/run/cordon/vm-1',
  disk: { path: '/srv/cordon/vm-1.qcow2', format: 'qcow2' },
  nic: { mac: '52:54:00:AB:CD:EF', backend: { kind: 'tap', ifname: 'tap-vm-1' } },
};
const refused = (err: unknown) => isQemuError(err, 'invalid_config');

describe('QEMU command line and paths', () => {
  const dir = mkdtempSync('/tmp/cq-cfg-');
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a micro-VM on TCG gets -cpu max and the TSC flag; on KVM neither', () => {
    const tcg = buildQemuArgs(base);
    assert.equal(tcg[tcg.indexOf('-M') + 1], 'microvm');
    assert.equal(tcg[tcg.indexOf('-cpu') + 1], 'max');
    assert.match(tcg[tcg.indexOf('-append') + 1] ?? '', /tsc_early_khz=\d+/);
    assert.ok(tcg.includes('-no-reboot'));
    assert.ok(tcg.includes('virtio-net-device,netdev=net0,id=nic0,mac=52:54:00:ab:cd:ef'));
    assert.ok(tcg.includes('tap,id=net0,ifname=tap-vm-1,script=no,downscript=no,vnet_hdr=off'), 'no offloads: a clone may go to user-mode');
    const kvm = buildQemuArgs({ ...base, accel: 'kvm' });
    assert.equal(kvm[kvm.indexOf('-cpu') + 1], 'host');
    assert.doesNotMatch(kvm[kvm.indexOf('-append') + 1] ?? '', /tsc_early_khz/);
    assert.match(baseAppend('tcg', 2_600_000), /tsc_early_khz=2600000/);
  });

  test('a user-mode NIC is restricted, and a clone destination waits paused for its state', () => {
    const args = buildQemuArgs({ ...base, nic: { mac: base.nic!.mac, backend: { kind: 'user' } } }, { incoming: true });
    assert.ok(args.includes('user,id=net0,restrict=on'));
    assert.deepEqual(args.slice(-3), ['-S', '-incoming', 'defer']);
  });

  test('a hostile VM name stays one value: its commas are doubled, and control characters are refused', () => {
    const args = buildQemuArgs({ ...base, name: 'x,process=evil,debug-threads=on' });
    assert.equal(args[args.indexOf('-name') + 1], 'guest=x,,process=evil,,debug-threads=on');
    assert.throws(() => buildQemuArgs({ ...base, name: 'line\nbreak' }), refused);
  });

  test('interface names, MACs, ids and paths outside the strict alphabet are refused', () => {
    for (const name of ['', 'a-very-long-name-16', 'tap0;reboot', 'TAP0', 'tap 0', '../x']) {
      assert.throws(() => checkInterfaceName(name), refused, JSON.stringify(name));
    }
    assert.throws(() => buildQemuArgs({ ...base, nic: { mac: '52:54:00:ab:cd', backend: { kind: 'user' } } }), refused);
    assert.throws(() => buildQemuArgs({ ...base, id: 'VM 1' }), refused);
    for (const path of ['relative/x', '/a,b', '/a b', '/a/../b', '/a//b', '/srv/x;rm -rf', '/srv/$(id)', '/srv/nbd:host', '/srv/x`id`']) {
      assert.throws(() => checkSafePath(path, 'test'), refused, path);
    }
    assert.throws(() => buildQemuArgs({ ...base, disk: { path: '/srv/json:{}', format: 'raw' } }), refused);
    assert.throws(() => buildQemuArgs({ ...base, runDir: `/tmp/${'x'.repeat(100)}` }), (err) => refused(err) && /unix socket/.test((err as Error).message));
  });

  test('captures go only to new files in a private folder reached without symlinks', () => {
    const priv = join(dir, 'private');
    mkdirSync(priv, { mode: 0o700 });
    assert.equal(checkNewFile(join(priv, 'state.bin'), 'saved state'), join(priv, 'state.bin'));
    writeFileSync(join(priv, 'old.elf'), '');
    assert.throws(() => checkNewFile(join(priv, 'old.elf'), 'memory dump'), (err) => refused(err) && /already exists/.test((err as Error).message));
    const open = join(dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    assert.throws(() => checkNewFile(join(open, 'state.bin'), 'saved state'), (err) => refused(err) && /writable by others/.test((err as Error).message));
    symlinkSync(priv, join(dir, 'link'));
    assert.throws(() => checkNewFile(join(dir, 'link', 'state.bin'), 'saved state'), (err) => refused(err) && /symbolic link/.test((err as Error).message));
    assert.throws(() => checkNewFile(join(dir, 'missing', 'state.bin'), 'saved state'), (err) => refused(err) && /does not exist/.test((err as Error).message));
  });

  test('the lab guest flags are checked too', () => {
    assert.equal(labAppend({ ip: '10.77.0.2/24', gateway: '10.77.0.1', hostname: 'web-01', beaconSeconds: 3 }),
      'quiet ipv6.disable=1 cordon.ip=10.77.0.2/24 cordon.gw=10.77.0.1 cordon.hostname=web-01 cordon.beacon=3');
    assert.throws(() => labAppend({ hostname: 'x init=/bin/sh' }), refused);
    assert.throws(() => labAppend({ ip: '10.77.0.2' }), refused);
  });
});
