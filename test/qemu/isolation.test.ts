// Isolation on the host's network, in a little network the test builds itself: a production bridge and a honeypot
// bridge, each with a gateway (same address, same MAC) in its own namespace. Moving the VM's tap to the honeypot
// keeps the guest running and unaware, its beacon now lands in the honeypot, production no longer reaches it, and
// release puts it back. A clone can be started straight onto the honeypot, link down, and let talk there only.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { attachToBridge, createGatewaySite, createTap, deleteLink, execInNetns, linkInfo, type GatewaySite } from '../../agent/qemu/net.ts';
import type { SerialConsole } from '../../agent/qemu/serial.ts';
import { Cleanup, bootLabVm, ensureLabImage, eventually, ms, openConsole, tag, type BootedVm } from './helpers.ts';

const GATEWAY_MAC = '02:c0:de:77:00:01';
const GUEST_IP = '10.77.0.2';

const ROOT_ONLY = process.getuid?.() === 0 ? false : 'needs root: it creates bridges, taps and network namespaces';

describe('isolation by moving a VM tap between a production and a honeypot bridge', { timeout: 120_000, skip: ROOT_ONLY }, () => {
  const cleanup = new Cleanup();
  const x = tag();
  let prod: GatewaySite;
  let honeypot: GatewaySite;
  const tap = `cq${x}-tap`;
  let vm: BootedVm;
  let guest: SerialConsole;

  before(async () => {
    ensureLabImage();
    prod = await createGatewaySite({ bridge: `cq${x}-pbr`, netns: `cq${x}-prod`, veth: `cq${x}-pv`, vethPeer: `cq${x}-pg`, gatewayCidr: '10.77.0.1/24', gatewayMac: GATEWAY_MAC });
    cleanup.add('remove the production site', () => prod.remove());
    honeypot = await createGatewaySite({ bridge: `cq${x}-hbr`, netns: `cq${x}-hpot`, veth: `cq${x}-hv`, vethPeer: `cq${x}-hg`, gatewayCidr: '10.77.0.1/24', gatewayMac: GATEWAY_MAC });
    cleanup.add('remove the honeypot site', () => honeypot.remove());
    await createTap(tap, { bridge: prod.bridge });
    cleanup.add(`delete ${tap}`, () => deleteLink(tap, { ifMissing: 'ignore' }));
    vm = await bootLabVm(cleanup, { id: 'tapped', backend: { kind: 'tap', ifname: tap }, ip: `${GUEST_IP}/24`, gateway: '10.77.0.1' });
    guest = await openConsole(cleanup, vm.machine);
  });
  after(() => cleanup.run());

  const reaches = async (site: GatewaySite, seconds = 2) =>
    (await execInNetns(site.netns, ['busybox', 'ping', '-c', '1', '-W', String(seconds), GUEST_IP])).code === 0;

  /** Listens on the gateway's beacon port inside a site and resolves with the first beacon line that arrives. */
  const catchBeacon = (site: GatewaySite, timeoutMs: number) => new Promise<string>((resolve, reject) => {
    const nc = spawn('ip', ['netns', 'exec', site.netns, 'busybox', 'nc', '-l', '-p', '8443'], { stdio: ['pipe', 'pipe', 'ignore'] });
    let out = '';
    const done = (err?: Error) => { clearTimeout(timer); nc.kill('SIGKILL'); if (err) reject(err); else resolve(out); };
    const timer = setTimeout(() => done(new Error(`no beacon reached ${site.netns} within ${timeoutMs} ms`)), timeoutMs);
    nc.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; if (/beacon cordon-guest \d+/.test(out)) done(); });
    nc.once('error', done);
  });

  test('on the production bridge, the production gateway reaches the guest', async () => {
    assert.equal((await linkInfo(tap)).master, prod.bridge);
    assert.ok(await eventually(() => reaches(prod), 10_000, 100), 'production pings the guest');
    assert.match(await catchBeacon(prod, 10_000), /beacon cordon-guest \d+/, 'the beacon calls production home');
  });

  test('honeypot: the tap moves, the guest keeps running unaware, and its traffic goes to the honeypot only', async (t) => {
    const started = performance.now();
    await attachToBridge(tap, honeypot.bridge);
    t.diagnostic(`tap moved to the honeypot bridge in ${ms(performance.now() - started)}`);
    const info = await linkInfo(tap);
    assert.equal(info.master, honeypot.bridge, 'ip -j link shows the honeypot bridge as master');
    assert.equal((await vm.machine.status()).status, 'running');
    assert.equal((await guest.run('cat /sys/class/net/eth0/carrier')).trim(), '1', 'the guest sees no link change');
    assert.match(await catchBeacon(honeypot, 10_000), /beacon cordon-guest \d+/, 'the beacon now lands in the honeypot');
    assert.ok(await reaches(honeypot), 'the honeypot side reaches the guest');
    assert.equal(await reaches(prod, 1), false, 'production no longer reaches the guest');
  });

  test('release: the tap goes back to the production bridge', async () => {
    await attachToBridge(tap, prod.bridge);
    assert.equal((await linkInfo(tap)).master, prod.bridge);
    assert.ok(await eventually(() => reaches(prod), 10_000, 100), 'production reaches the guest again');
    assert.equal(await reaches(honeypot, 1), false, 'the honeypot does not');
  });

  test('cut: with the link down production no longer reaches the guest, which runs on; link up restores it', async () => {
    await vm.machine.setLink(false);
    try {
      assert.equal(await reaches(prod, 1), false, 'production gets no answer');
      assert.equal((await guest.run('cat /sys/class/net/eth0/carrier')).trim(), '0');
      assert.equal((await vm.machine.status()).status, 'running');
    } finally {
      await vm.machine.setLink(true);
    }
    assert.ok(await eventually(() => reaches(prod), 10_000, 100), 'production reaches the guest again');
  });

  test('a clone started on the honeypot bridge comes up with its link down, and talks only to the honeypot when let', async (t) => {
    const cloneTap = `cq${x}-ctap`;
    await createTap(cloneTap, { bridge: honeypot.bridge });
    cleanup.add(`delete ${cloneTap}`, () => deleteLink(cloneTap, { ifMissing: 'ignore' }));
    const statePath = join(vm.dir, 'state.bin');
    const cloneDisk = join(vm.dir, 'clone.qcow2');
    await vm.machine.saveState(statePath, { diskTo: cloneDisk });
    const { machine: clone, ms: cloneMs } = await vm.machine.startClone(statePath, {
      id: 'tapped-clone', name: 'clone on the honeypot', runDir: join(vm.dir, 'clone'), disk: { path: cloneDisk, format: 'qcow2' },
      nicBackend: { kind: 'tap', ifname: cloneTap },
    });
    cleanup.add('kill the clone', () => clone.kill());
    t.diagnostic(`clone onto the honeypot bridge: ${ms(cloneMs)}`);
    const twin = await openConsole(cleanup, clone);
    assert.equal((await twin.run('cat /sys/class/net/eth0/carrier')).trim(), '0', 'link down on arrival');
    assert.equal(await reaches(honeypot, 1), false, 'nothing answers on the honeypot while the link is down');
    await clone.setLink(true);
    assert.ok(await eventually(() => reaches(honeypot), 10_000, 100), 'with the link up, the honeypot reaches the clone');
    assert.ok(await reaches(prod), 'and production still reaches the origin, not disturbed');
    twin.close();
    await clone.quit();
  });

  test('a clone of a tapped VM can go to user-mode networking (restrict=on) instead', async () => {
    const statePath = join(vm.dir, 'state-2.bin');
    const cloneDisk = join(vm.dir, 'clone-2.qcow2');
    await vm.machine.saveState(statePath, { diskTo: cloneDisk });
    const { machine: clone } = await vm.machine.startClone(statePath, {
      id: 'tapped-clone-2', name: 'clone in user-mode', runDir: join(vm.dir, 'clone-2'), disk: { path: cloneDisk, format: 'qcow2' },
    });
    cleanup.add('kill the second clone', () => clone.kill());
    const twin = await openConsole(cleanup, clone);
    assert.equal((await twin.run('cat /sys/class/net/eth0/carrier')).trim(), '0', 'link down on arrival');
    assert.match(await twin.run('pidof beacon'), /^\d+\n$/);
    twin.close();
    await clone.quit();
  });
});
