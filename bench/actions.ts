// `npm run bench:actions`: each action's latency from request to result over a real agent socket, on the sim driver
// and on a real 256 MiB QEMU micro-VM (the qemu driver, TCG here), side by side: the agent CLI in its own process,
// an ActionCockpit sending `action` and timing until its `action.result` arrives (journal fsyncs, the driver, the
// hypervisor's confirmation and the isolation proof included). Also the test VM's boot time and the memory capture
// rate of a seizure. Targets on qemu: terminate, freeze, resume, isolate p99 ≤ 200 ms; clone ≤ 5 s; capture ≥ 200 MB/s.
// At most two VMs run at once (the VM and one clone); each capture is deleted once measured.
//
//   npx tsx bench/actions.ts [--runs 30] [--clones 20] [--seizes 5] [--memory 256] [--no-sim] [--no-qemu]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ActionKind, ActionParams } from '../protocol/index.ts';
import { parseQemuConfig } from '../agent/drivers/qemu-config.ts';
import { LAB_BOOTED, LAB_IMAGE_DIR, labAppend, labImage } from '../agent/qemu/lab-guest.ts';
import { createGatewaySite, deleteLink, type GatewaySite } from '../agent/qemu/net.ts';
import { waitForLog } from '../agent/qemu/serial.ts';
import { ActionCockpit, type ActionAnswer } from '../test/agent/action-cockpit.ts';
import { startAgentProcess, writeToken, type RunningProcess } from '../test/helpers/processes.ts';
import { percentile, ROOT } from './lib.ts';

const { values } = parseArgs({ options: {
  runs: { type: 'string', default: '30' }, clones: { type: 'string', default: '20' }, seizes: { type: 'string', default: '5' },
  memory: { type: 'string', default: '256' }, 'no-sim': { type: 'boolean', default: false }, 'no-qemu': { type: 'boolean', default: false },
} });
const RUNS = Number(values.runs);
const CLONES = Number(values.clones);
const SEIZES = Number(values.seizes);
const MEMORY_MIB = Number(values.memory);
const TOKEN = 'bench-actions-token-0123456789';
const GATEWAY = '10.77.0.1';

const log = (s: string) => console.error(`bench:actions: ${s}`);
const dir = mkdtempSync('/tmp/cq-bact-');
const undo: Array<() => unknown> = [];
let agent: (RunningProcess & { url: string }) | undefined;

type Samples = Map<string, number[]>;
const results: Record<'sim' | 'qemu', Samples> = { sim: new Map(), qemu: new Map() };
const extra: Record<string, number | string> = {};

/** Runs one action and records its request → result time under `name`; a failed action stops the bench. */
async function act(samples: Samples, c: ActionCockpit, vmId: string, kind: ActionKind, params: ActionParams = {}, name: string = kind): Promise<ActionAnswer> {
  const a = await c.act(vmId, kind, { params, reason: `bench ${kind}`, actor: { name: 'bench' }, timeoutMs: 120_000 });
  if (!a.result?.ok) throw new Error(`${kind} of ${vmId} did not succeed: ${JSON.stringify(a.result?.error ?? a.first)}`);
  samples.set(name, [...(samples.get(name) ?? []), a.ms]);
  return a;
}

/** The same plan on both drivers: freeze/resume, isolate and release in both modes, clones (each terminated), seizures. */
async function plan(samples: Samples, c: ActionCockpit, vmId: string, dataDir: string, onCapture?: (manifest: { timings?: { memory?: { mbPerSec?: number; ms?: number; bytes?: number } } }) => void): Promise<void> {
  await act(samples, c, vmId, 'freeze', {}, 'warm-up');
  await act(samples, c, vmId, 'resume', {}, 'warm-up');
  for (let i = 0; i < RUNS; i++) {
    await act(samples, c, vmId, 'freeze');
    await act(samples, c, vmId, 'resume');
  }
  for (let i = 0; i < RUNS; i++) {
    await act(samples, c, vmId, 'isolate', { mode: 'cut' }, 'isolate (cut)');
    await act(samples, c, vmId, 'release', {}, 'release (cut)');
  }
  for (let i = 0; i < RUNS; i++) {
    await act(samples, c, vmId, 'isolate', { mode: 'honeypot' }, 'isolate (honeypot)');
    await act(samples, c, vmId, 'release', {}, 'release (honeypot)');
  }
  for (let i = 0; i < CLONES; i++) {
    const network = i % 2 === 0 ? 'none' : 'honeypot';
    const a = await act(samples, c, vmId, 'clone', { network }, `clone (${network})`);
    // Terminating each clone at once keeps two VMs at most, and gives terminate its samples.
    await act(samples, c, a.result!.details!.cloneVmId!, 'terminate');
  }
  for (let i = 0; i < SEIZES; i++) {
    const a = await act(samples, c, vmId, 'seize', { caseId: 'BENCH-1' });
    const folder = join(dataDir, 'actions', a.requestId);
    try {
      onCapture?.(JSON.parse(readFileSync(join(folder, 'manifest.json'), 'utf8')));
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
    await act(samples, c, vmId, 'resume', {}, 'resume (after seize)');
  }
  await act(samples, c, vmId, 'terminate');
}

async function benchSim(): Promise<void> {
  log('sim: starting an agent (CLI) with the sim driver');
  const dataDir = join(dir, 'sim-data');
  agent = await startAgentProcess({ tokenFile: writeToken(dir, TOKEN), dataDir, agentId: 'bench-sim', rate: 20, vms: 4, seed: 3 });
  const c = await ActionCockpit.open(agent.url, TOKEN);
  const [vm] = (await c.inventory()).filter((v) => v.state === 'running' && !v.tags?.includes('ephemeral'));
  await plan(results.sim, c, vm!.id, dataDir);
  c.close();
  await agent.kill('SIGTERM');
  agent = undefined;
}

async function benchQemu(): Promise<void> {
  if (process.getuid?.() !== 0) {
    log('qemu: skipped, it needs root (bridges, taps, network namespaces)');
    return;
  }
  const built = spawnSync('bash', [join(ROOT, 'scripts', 'microvm', 'build.sh')], { stdio: ['ignore', 2, 2], timeout: 900_000 });
  if (built.status !== 0) throw new Error('scripts/microvm/build.sh failed');
  const image = labImage(LAB_IMAGE_DIR);
  const t = Math.random().toString(16).slice(2, 6);
  const site = async (role: string): Promise<GatewaySite> => {
    const s = await createGatewaySite({ bridge: `cqb${t}-${role}br`, netns: `cqb${t}-${role}ns`, veth: `cqb${t}-${role}v`, vethPeer: `cqb${t}-${role}p`, gatewayCidr: `${GATEWAY}/24`, gatewayMac: '02:c0:de:77:00:01' });
    undo.push(() => s.remove());
    return s;
  };
  const prod = await site('p');
  const quarantine = await site('q');
  const tap = `cqb${t}-tap`;
  undo.push(() => deleteLink(tap, { ifMissing: 'ignore' }));
  const workDir = join(dir, 'qemu');
  undo.push(() => killLeftovers(workDir));
  const vmId = 'bench-01';
  const config = {
    workDir,
    quarantineBridge: quarantine.bridge,
    probes: [{ bridge: prod.bridge, netns: prod.netns }, { bridge: quarantine.bridge, netns: quarantine.netns }],
    onAgentStop: 'terminate',
    vms: [{
      id: vmId, name: vmId, memoryMiB: MEMORY_MIB, vcpus: 1, accel: 'tcg', kernel: image.kernel, initramfs: image.initramfs,
      append: labAppend({ ip: '10.77.0.11/24', gateway: GATEWAY, hostname: vmId, beaconSeconds: 1 }),
      disk: { path: join(dir, `${vmId}.qcow2`), format: 'qcow2', sizeMiB: 64 },
      nic: { mac: '52:54:00:be:0c:11', ip: '10.77.0.11', tap, bridge: prod.bridge },
    }],
  };
  parseQemuConfig(config);
  const configPath = join(dir, 'qemu.json');
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  const dataDir = join(dir, 'qemu-data');
  log(`qemu: starting an agent (CLI) with the qemu driver: one ${MEMORY_MIB} MiB micro-VM, TCG, on ${prod.bridge}`);
  const started = performance.now();
  agent = await startAgentProcess({ tokenFile: writeToken(dir, TOKEN), dataDir, agentId: 'bench-qemu', extra: ['--driver', 'qemu', '--config', configPath] });
  const agentReadyMs = performance.now() - started;
  await waitForLog(join(workDir, 'run', vmId, 'serial.log'), LAB_BOOTED, 120_000);
  extra['qemu agent ready (ms)'] = Math.round(agentReadyMs);
  extra['qemu boot: agent start → guest shell prompt (ms)'] = Math.round(performance.now() - started);
  const c = await ActionCockpit.open(agent.url, TOKEN);
  await c.inventory();
  const rates: number[] = [];
  await plan(results.qemu, c, vmId, dataDir, (m) => {
    if (m.timings?.memory?.mbPerSec) rates.push(m.timings.memory.mbPerSec);
  });
  const sorted = [...rates].sort((a, b) => a - b);
  extra['memory capture MB/s (p50)'] = percentile(sorted, 50);
  extra['memory capture MB/s (min)'] = sorted[0] ?? NaN;
  if (c.invalid.length > 0) throw new Error(`invalid frames from the agent: ${c.invalid[0]}`);
  c.close();
  await agent.kill('SIGTERM');
  agent = undefined;
}

/** Any QEMU the agent left (it terminates them on a clean stop), found by pidfile in our own work folder. */
function killLeftovers(workDir: string): void {
  const runRoot = join(workDir, 'run');
  let runs: string[] = [];
  try { runs = readdirSync(runRoot); } catch { return; }
  for (const run of runs) {
    try {
      const pid = Number.parseInt(readFileSync(join(runRoot, run, 'qemu.pid'), 'utf8').trim(), 10);
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(join(runRoot, run, 'qmp.sock'))) process.kill(pid, 'SIGKILL');
    } catch { /* gone */ }
  }
}

async function cleanUp(): Promise<void> {
  await agent?.kill('SIGTERM');
  for (const step of undo.reverse()) {
    try { await step(); } catch { /* best effort: the next step still runs */ }
  }
  rmSync(dir, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => { void cleanUp().finally(() => process.exit(130)); });

const TARGETS: Record<string, number> = { terminate: 200, freeze: 200, resume: 200, 'isolate (cut)': 200, 'isolate (honeypot)': 200, 'clone (none)': 5_000, 'clone (honeypot)': 5_000 };

try {
  if (!values['no-sim']) await benchSim();
  if (!values['no-qemu']) await benchQemu();
  const names = [...new Set([...results.sim.keys(), ...results.qemu.keys()])].filter((n) => n !== 'warm-up');
  const stats = (xs: number[] | undefined) => {
    if (!xs?.length) return undefined;
    const s = [...xs].sort((a, b) => a - b);
    const r = (v: number) => Math.round(v * 10) / 10;
    return { n: s.length, p50: r(percentile(s, 50)), p99: r(percentile(s, 99)), max: r(s[s.length - 1]!) };
  };
  const f = (v: number | undefined) => (v === undefined ? '—' : v.toFixed(1)).padStart(8);
  console.log(`\nactions over a real agent socket, request → result, in ms (qemu: ${MEMORY_MIB} MiB micro-VM, TCG)\n`);
  console.log(`${'action'.padEnd(22)} ${'sim n'.padStart(6)} ${'p50'.padStart(8)} ${'p99'.padStart(8)} ${'qemu n'.padStart(7)} ${'p50'.padStart(8)} ${'p99'.padStart(8)} ${'max'.padStart(8)}  target (p99, qemu)`);
  const rows = names.map((name) => {
    const s = stats(results.sim.get(name));
    const q = stats(results.qemu.get(name));
    const target = TARGETS[name];
    const verdict = target === undefined || !q ? '' : `≤ ${target} ms: ${q.p99 <= target ? 'met' : 'MISSED'}`;
    console.log(`${name.padEnd(22)} ${String(s?.n ?? 0).padStart(6)} ${f(s?.p50)} ${f(s?.p99)} ${String(q?.n ?? 0).padStart(7)} ${f(q?.p50)} ${f(q?.p99)} ${f(q?.max)}  ${verdict}`);
    return { name, sim: s, qemu: q, targetMs: target };
  });
  console.log('');
  for (const [k, v] of Object.entries(extra)) console.log(`${k}: ${typeof v === 'number' ? v.toFixed(0) : v}${k.startsWith('memory capture MB/s (min)') ? `  (target ≥ 200 MB/s: ${Number(v) >= 200 ? 'met' : 'MISSED'})` : ''}`);
  console.log(JSON.stringify({ bench: 'actions', memoryMiB: MEMORY_MIB, rows, extra }));
} finally {
  await cleanUp();
}
