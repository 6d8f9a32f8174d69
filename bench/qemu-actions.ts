// Latency of each hypervisor action on a real 256 MiB lab micro-VM, straight at the QEMU layer (no agent, no
// wire): boot, stop, cont (each confirmed by query-status), set_link, a tap moved between bridges (root only),
// memory capture in MB/s, clone (save state + disk copy + second QEMU loaded, link down, running) and quit until
// the process is gone. Prints p50/p99 over repeated runs, and one JSON line for scripts.
//
//   npx tsx bench/qemu-actions.ts [--runs 30] [--boots 3] [--dumps 5] [--clones 5]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { QemuMachine, type MachineConfig, type NicBackend } from '../agent/qemu/machine.ts';
import { LAB_BOOTED, labAppend, labImage, LAB_IMAGE_DIR } from '../agent/qemu/lab-guest.ts';
import { attachToBridge, createBridge, createTap, deleteLink } from '../agent/qemu/net.ts';
import { waitForLog } from '../agent/qemu/serial.ts';
import { percentile, ROOT } from './lib.ts';

const { values } = parseArgs({ options: {
  runs: { type: 'string', default: '30' }, boots: { type: 'string', default: '3' },
  dumps: { type: 'string', default: '5' }, clones: { type: 'string', default: '5' },
} });
const runs = Number(values.runs);
const MEMORY_MIB = 256;

// Whatever happens, no VM, tap or bridge outlives the bench.
const machines = new Set<QemuMachine>();
const links: string[] = [];
const dir = mkdtempSync('/tmp/cq-bench-');
async function cleanUp(): Promise<void> {
  for (const m of machines) await m.kill().catch(() => {});
  for (const l of links.reverse()) await deleteLink(l, { ifMissing: 'ignore' }).catch(() => {});
  rmSync(dir, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => { void cleanUp().finally(() => process.exit(130)); });

const samples = new Map<string, number[]>();
const record = (name: string, value: number) => { samples.set(name, [...(samples.get(name) ?? []), value]); };
const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
  const started = performance.now();
  const r = await fn();
  record(name, performance.now() - started);
  return r;
};

function config(id: string, backend: NicBackend): MachineConfig {
  const image = labImage();
  return {
    id, name: id, memoryMiB: MEMORY_MIB, vcpus: 1, accel: 'tcg', kernel: image.kernel, initramfs: image.initramfs,
    append: labAppend({ ip: '10.77.0.2/24', gateway: '10.77.0.1', beaconSeconds: 1 }),
    runDir: join(dir, id), disk: { path: join(dir, `${id}.qcow2`), format: 'qcow2', sizeMiB: 64 },
    nic: { mac: '52:54:00:be:0c:01', backend },
  };
}

async function boot(id: string, backend: NicBackend): Promise<QemuMachine> {
  const started = performance.now();
  const m = await QemuMachine.start(config(id, backend));
  machines.add(m);
  await waitForLog(m.serialLogPath, LAB_BOOTED, 60_000);
  record('boot (spawn → shell prompt on ttyS0)', performance.now() - started);
  return m;
}

async function quit(m: QemuMachine): Promise<void> {
  const r = await m.quit();
  machines.delete(m);
  record('terminate: quit → process gone', r.ms);
}

async function main(): Promise<void> {
  if (spawnSync('qemu-system-x86_64', ['--version']).status !== 0 || spawnSync('test', ['-f', join(LAB_IMAGE_DIR, 'manifest.json')]).status !== 0) {
    const r = spawnSync('bash', [join(ROOT, 'scripts/microvm/build.sh')], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error('scripts/microvm/build.sh failed');
  }
  const image = labImage();
  const root = process.getuid?.() === 0;
  const tag = Math.random().toString(16).slice(2, 6);
  const [bridgeA, bridgeB, tap] = [`cqb${tag}-a`, `cqb${tag}-b`, `cqb${tag}-t`];
  let backend: NicBackend = { kind: 'user' };
  if (root) {
    await createBridge(bridgeA); links.push(bridgeA);
    await createBridge(bridgeB); links.push(bridgeB);
    await createTap(tap, { bridge: bridgeA }); links.push(tap);
    backend = { kind: 'tap', ifname: tap };
  }
  console.log(`QEMU ${spawnSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0]}, TCG, ${MEMORY_MIB} MiB, kernel ${image.kernelPackage} ${image.kernelVersion}, NIC ${backend.kind}`);

  for (let i = 1; i < Number(values.boots); i++) await quit(await boot(`boot-${i}`, { kind: 'user' }));
  const vm = await boot('bench', backend);

  for (let i = 0; i < runs; i++) {
    await timed('freeze: stop (confirmed)', () => vm.stop());
    await timed('resume: cont (confirmed)', () => vm.cont());
    await timed('isolate cut: set_link down', () => vm.setLink(false));
    await timed('release cut: set_link up', () => vm.setLink(true));
    if (root) {
      await timed('isolate honeypot: tap → other bridge', () => attachToBridge(tap, bridgeB));
      await timed('release honeypot: tap → back', () => attachToBridge(tap, bridgeA));
    }
  }

  for (let i = 0; i < Number(values.dumps); i++) {
    const path = join(dir, `memory-${i}.elf`);
    await vm.stop();
    const r = await vm.dumpMemory(path);
    await vm.cont();
    record('memory capture (ms)', r.ms);
    record('memory capture (MB/s)', r.mbPerSec);
    rmSync(path, { force: true });
  }

  for (let i = 0; i < Number(values.clones); i++) {
    const statePath = join(dir, `state-${i}.bin`);
    const diskPath = join(dir, `clone-${i}.qcow2`);
    const started = performance.now();
    const saved = await vm.saveState(statePath, { diskTo: diskPath });
    const clone = await vm.startClone(statePath, { id: `clone-${i}`, name: `clone ${i}`, runDir: join(dir, `clone-${i}`), disk: { path: diskPath, format: 'qcow2' } });
    machines.add(clone.machine);
    record('clone: save + start + running, link down', performance.now() - started);
    record('clone: origin paused', saved.pausedMs);
    record('clone: state load', clone.loadMs);
    await quit(clone.machine);
    rmSync(statePath, { force: true });
    rmSync(diskPath, { force: true });
  }
  await quit(vm);

  const rows = [...samples].map(([name, values]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return { name, n: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1]! };
  });
  const width = Math.max(...rows.map((r) => r.name.length));
  console.log(`\n${'action'.padEnd(width)}      n       p50       p99       max`);
  for (const r of rows) {
    const f = (v: number) => (r.name.includes('MB/s') ? v.toFixed(0) : `${v.toFixed(1)} ms`).padStart(9);
    console.log(`${r.name.padEnd(width)} ${String(r.n).padStart(6)} ${f(r.p50)} ${f(r.p99)} ${f(r.max)}`);
  }
  console.log(JSON.stringify({ bench: 'qemu-actions', memoryMiB: MEMORY_MIB, results: rows }));
}

try {
  await main();
} finally {
  await cleanUp();
}
