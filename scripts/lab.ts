// `npm run lab`: the cockpit's browser shell on a lab host. By default the built-in simulated lab (sim driver);
// with `--driver qemu`, real micro-VMs on this machine: it builds the lab image if needed (scripts/microvm/build.sh),
// makes the lab's host network (a production bridge with a gateway namespace, a quarantine bridge whose gateway has
// the same address and MAC, a tap per VM), writes a qemu config for two VMs, starts the agent on it as the lab agent
// and the cockpit connected to it, and prints the address to open. Ctrl+C takes it all down: VMs, taps, bridges,
// namespaces and the lab's work folder.
//
//   npm run lab                                   simulated host (any user)
//   npm run lab -- --driver qemu [--accel kvm]    real QEMU micro-VMs (root: bridges, taps, namespaces)
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseQemuConfig } from '../agent/drivers/qemu-config.ts';
import { LAB_IMAGE_DIR, labAppend, labImage } from '../agent/qemu/lab-guest.ts';
import { createGatewaySite, createTap, deleteLink, deleteNetns, linkExists, type GatewaySite } from '../agent/qemu/net.ts';
import { startBrowserShell } from '../main/browser-shell/server.ts';
import { startCockpit } from '../main/cockpit.ts';
import type { AgentSpawner } from '../main/lab.ts';
import { DEFAULT_SETTINGS, tokenFileSource, type CockpitSettings } from '../main/settings.ts';

const ROOT = join(import.meta.dirname, '..');
const HELP = `Usage: npm run lab -- [options]

Runs the Cordon cockpit in your browser on a lab host.

  --driver sim|qemu   sim: a simulated host (default); qemu: two real QEMU micro-VMs on this machine (root)
  --accel tcg|kvm     qemu: the accelerator (default tcg; kvm only where /dev/kvm works)
  --memory MIB        qemu: memory of each VM (default 256)
  --port N            the browser shell's port on 127.0.0.1 (default: a free one)
  --data-dir DIR      the cockpit's and the lab agent's data (default .cordon-data/lab, or lab-qemu)
  --json              print the ready line as JSON
  -h, --help          this text`;

/** The lab's host network: fixed names, so leftovers of a lab that was killed are found and removed. */
const NET = {
  prod: { bridge: 'cdnlab-br', netns: 'cdnlab-gw', veth: 'cdnlab-gv', vethPeer: 'cdnlab-gp' },
  quarantine: { bridge: 'cdnlab-qbr', netns: 'cdnlab-hpot', veth: 'cdnlab-hv', vethPeer: 'cdnlab-hp' },
  gatewayCidr: '10.77.0.1/24',
  gatewayMac: '02:c0:de:77:00:01',
  taps: ['cdnlab-t1', 'cdnlab-t2'],
};
const LAB_VMS = [
  { id: 'web-01', ip: '10.77.0.11', mac: '52:54:00:77:00:11', image: 'busybox lab guest: web frontend', tags: ['lab', 'web'] },
  { id: 'db-01', ip: '10.77.0.12', mac: '52:54:00:77:00:12', image: 'busybox lab guest: database', tags: ['lab', 'db'] },
];

const { values } = parseArgs({
  options: {
    driver: { type: 'string', default: 'sim' },
    accel: { type: 'string', default: 'tcg' },
    memory: { type: 'string', default: '256' },
    port: { type: 'string' },
    'data-dir': { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});

const teardown: Array<{ what: string; run: () => unknown }> = [];
let agentChild: ChildProcess | undefined;

async function main(): Promise<void> {
  if (values.help) {
    console.log(HELP);
    return;
  }
  if (values.driver !== 'sim' && values.driver !== 'qemu') throw new Error(`--driver ${values.driver}: choose sim or qemu.`);
  if (values.accel !== 'tcg' && values.accel !== 'kvm') throw new Error(`--accel ${values.accel}: choose tcg or kvm.`);
  const memoryMiB = Number(values.memory);
  if (!Number.isInteger(memoryMiB) || memoryMiB < 64 || memoryMiB > 8192) throw new Error(`--memory ${values.memory}: give a whole number of MiB from 64 to 8192.`);
  // Each lab keeps its own data: the qemu lab's VMs are not the sim's, though both agents are called "lab".
  const dataDir = resolve(values['data-dir'] ?? join(ROOT, '.cordon-data', values.driver === 'qemu' ? 'lab-qemu' : 'lab'));
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const rendererDir = join(ROOT, 'dist', 'renderer');
  if (!existsSync(join(rendererDir, 'index.html'))) throw new Error('The renderer is not built: run `npm run build:renderer` (npm run lab does it).');

  let labAgent: { args?: string[]; label?: string } | undefined;
  if (values.driver === 'qemu') {
    const configPath = await prepareQemuLab(values.accel, memoryMiB);
    labAgent = { args: ['--driver', 'qemu', '--config', configPath], label: 'Lab (QEMU micro-VMs on this machine)' };
  }

  const settings: CockpitSettings = { ...DEFAULT_SETTINGS, agents: [] };
  const cockpit = await startCockpit({
    settings, secrets: tokenFileSource, spawnAgent: labSpawner, dataDir, forceLab: true, ...(labAgent ? { labAgent } : {}),
  });
  teardown.push({ what: 'stop the cockpit and the lab agent', run: async () => {
    await cockpit.close();
    await agentExited(15_000);
  } });
  const shell = await startBrowserShell({ service: cockpit.service, rendererDir, port: values.port === undefined ? 0 : Number(values.port) });
  teardown.push({ what: 'close the browser shell', run: () => shell.close() });
  if (values.json) {
    console.log(JSON.stringify({ ready: true, driver: values.driver, url: shell.url, loginUrl: shell.loginUrl, pid: process.pid }));
  } else {
    const what = values.driver === 'qemu'
      ? `two QEMU micro-VMs (web-01 10.77.0.11, db-01 10.77.0.12; ${values.accel}, ${memoryMiB} MiB) on ${NET.prod.bridge}, quarantine bridge ${NET.quarantine.bridge}`
      : 'the simulated lab host';
    console.log(`\nCordon's lab is running: ${what}.\nOpen this address (it carries this run's token; keep it to yourself):\n\n  ${shell.loginUrl}\n\nCtrl+C stops it and removes everything the lab made.`);
  }
}

/** The lab agent in its own process group: a Ctrl+C at the terminal reaches this script, which stops it in order. */
const labSpawner: AgentSpawner = (args) => {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'agent', 'cli.ts'), ...args], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], detached: true,
  });
  agentChild = child;
  return {
    stdout: child.stdout,
    kill: () => child.kill('SIGTERM'),
    onExit: (listener) => child.on('exit', (code) => listener(code)),
  };
};

function agentExited(timeoutMs: number): Promise<void> {
  const child = agentChild;
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      done();
    }, timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      done();
    });
  });
}

/** Builds what the qemu lab needs on this host and returns its config file. */
async function prepareQemuLab(accel: 'tcg' | 'kvm', memoryMiB: number): Promise<string> {
  if (process.getuid?.() !== 0) {
    throw new Error('The qemu lab needs root: it creates bridges, taps and network namespaces (run it with sudo, or use `npm run lab` for the simulated one).');
  }
  if (!existsSync(join(LAB_IMAGE_DIR, 'manifest.json')) || spawnSync('qemu-system-x86_64', ['--version']).status !== 0) {
    console.error('cordon-lab: building the lab micro-VM image (scripts/microvm/build.sh; installs QEMU and a Debian kernel if missing)…');
  }
  // It checks in about a second when everything is there, and rebuilds an image that no longer matches the script.
  const built = spawnSync('bash', [join(ROOT, 'scripts', 'microvm', 'build.sh')], { stdio: ['ignore', 2, 2], timeout: 900_000 });
  if (built.status !== 0) throw new Error(`scripts/microvm/build.sh failed (status ${built.status}); its output is above.`);
  const image = labImage();

  await removeLeftovers();
  const work = mkdtempSync('/tmp/cordon-lab-');
  teardown.push({ what: `remove ${work}`, run: () => rmSync(work, { recursive: true, force: true }) });
  const sites: GatewaySite[] = [];
  teardown.push({ what: 'remove the lab\'s host network', run: async () => {
    for (const t of NET.taps) await deleteLink(t, { ifMissing: 'ignore' }).catch(() => {});
    for (const site of sites.reverse()) await site.remove();
  } });
  teardown.push({ what: 'stop any lab VM still running', run: () => killLabQemus(work) });
  sites.push(await createGatewaySite({ ...NET.prod, gatewayCidr: NET.gatewayCidr, gatewayMac: NET.gatewayMac }));
  sites.push(await createGatewaySite({ ...NET.quarantine, gatewayCidr: NET.gatewayCidr, gatewayMac: NET.gatewayMac }));
  for (const t of NET.taps) await createTap(t, { bridge: NET.prod.bridge });

  const workDir = join(work, 'qemu');
  const config = {
    workDir,
    quarantineBridge: NET.quarantine.bridge,
    probes: [{ bridge: NET.prod.bridge, netns: NET.prod.netns }, { bridge: NET.quarantine.bridge, netns: NET.quarantine.netns }],
    // The lab's VMs live and die with it.
    onAgentStop: 'terminate',
    vms: LAB_VMS.map((vm, i) => ({
      id: vm.id,
      name: vm.id,
      memoryMiB,
      vcpus: 1,
      accel,
      kernel: image.kernel,
      initramfs: image.initramfs,
      append: labAppend({ ip: `${vm.ip}/24`, gateway: NET.gatewayCidr.split('/')[0]!, hostname: vm.id, beaconSeconds: 5 }),
      disk: { path: join(work, `${vm.id}.qcow2`), format: 'qcow2', sizeMiB: 64 },
      nic: { mac: vm.mac, ip: vm.ip, tap: NET.taps[i]!, bridge: NET.prod.bridge },
      image: vm.image,
      tags: vm.tags,
    })),
  };
  parseQemuConfig(config); // the lab's own config must be valid; the agent checks it again
  const path = join(work, 'qemu-lab.json');
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  console.error(`cordon-lab: host network ready (${NET.prod.bridge} with gateway ${NET.gatewayCidr} in ${NET.prod.netns}, quarantine ${NET.quarantine.bridge} with the same gateway in ${NET.quarantine.netns}); config ${path}`);
  return path;
}

/** A lab killed with SIGKILL leaves its bridges and namespaces; their names are the lab's own, so they go. */
async function removeLeftovers(): Promise<void> {
  const names = [...NET.taps, NET.prod.veth, NET.quarantine.veth, NET.prod.bridge, NET.quarantine.bridge];
  const found: string[] = [];
  for (const n of names) if (await linkExists(n)) found.push(n);
  const netns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').map((l) => l.split(' ')[0]);
  for (const ns of [NET.prod.netns, NET.quarantine.netns]) if (netns.includes(ns)) found.push(`netns ${ns}`);
  if (found.length === 0) return;
  console.error(`cordon-lab: removing what an earlier lab left behind: ${found.join(', ')}`);
  for (const ns of [NET.prod.netns, NET.quarantine.netns]) await deleteNetns(ns, { ifMissing: 'ignore' }).catch(() => {});
  for (const n of names) await deleteLink(n, { ifMissing: 'ignore' }).catch(() => {});
}

/**
 * After the agent has gone: kills any QEMU it left (it terminates its VMs on a clean stop; this is for an agent that
 * was killed), found by the pidfiles in the lab's own work folder and confirmed by its command line, and deletes the
 * taps the driver made for clones.
 */
async function killLabQemus(work: string): Promise<void> {
  const runRoot = join(work, 'qemu', 'run');
  let runs: string[] = [];
  try { runs = readdirSync(runRoot); } catch { /* nothing started */ }
  for (const run of runs) {
    let pid: number;
    try { pid = Number.parseInt(readFileSync(join(runRoot, run, 'qemu.pid'), 'utf8').trim(), 10); } catch { continue; }
    let cmdline = '';
    try { cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { continue; }
    if (!cmdline.includes(join(runRoot, run, 'qmp.sock'))) continue;
    console.error(`cordon-lab: QEMU pid ${pid} (${run}) outlived the agent; killing it.`);
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone meanwhile */ }
  }
  try {
    const state = JSON.parse(readFileSync(join(work, 'qemu', 'driver-state.json'), 'utf8')) as { vms?: Record<string, { tap?: string; ownTap?: boolean }> };
    for (const v of Object.values(state.vms ?? {})) if (v.ownTap && v.tap) await deleteLink(v.tap, { ifMissing: 'ignore' }).catch(() => {});
  } catch { /* no state: no clone taps */ }
}

let stopping = false;
async function stop(code: number): Promise<never> {
  if (stopping) process.exit(code);
  stopping = true;
  for (const step of teardown.reverse()) {
    try {
      await step.run();
    } catch (err) {
      console.error(`cordon-lab: could not ${step.what}: ${(err as Error).message}`);
    }
  }
  process.exit(code);
}

process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
// Should this script die another way, its agent does not linger.
process.on('exit', () => { if (agentChild && agentChild.exitCode === null) agentChild.kill('SIGKILL'); });

main().catch((err: unknown) => {
  console.error(`cordon-lab: ${(err as Error).message}`);
  void stop(1);
});
