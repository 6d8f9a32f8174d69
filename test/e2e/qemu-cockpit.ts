// A cockpit on one real QEMU micro-VM, for the end-to-end test (console-qemu.test.ts) and bench/console.ts: the agent
// as its own process (`agent/cli.ts --driver qemu --config FILE`, loopback, a token file), one lab guest with no NIC
// (a console and an inspection need none), and the browser shell (`main/browser-shell/cli.ts`, as `npm run serve`)
// pointed at it through its settings file, as a responder configures an agent. Everything lives in one private temp
// folder, short enough for QEMU's unix sockets; stop() takes it all down, QEMU included if the agent left it.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LAB_BOOTED, labAppend, labImage } from '../../agent/qemu/lab-guest.ts';
import { waitForLog } from '../../agent/qemu/serial.ts';
import { startNodeProcess, writeToken, type RunningProcess } from '../helpers/processes.ts';

export interface QemuCockpitOptions {
  /** The VM's id on the wire (and its run folder's name). */
  vmId?: string;
  /** The guest's host name: its prompt is `HOSTNAME:DIR# `. */
  hostname?: string;
  memoryMiB?: number;
  agentId?: string;
  /** Extra flags for the browser shell (e.g. --responder). */
  shellArgs?: string[];
  /** How long the guest may take to boot (TCG on a shared machine). */
  bootTimeoutMs?: number;
}

export interface QemuCockpit {
  dir: string;
  agentId: string;
  vmId: string;
  hostname: string;
  agent: RunningProcess;
  shell: RunningProcess;
  /** The address that logs a browser in (it carries the run's token). */
  loginUrl: string;
  /** The VM's run folder: serial.sock, serial.log, qemu.pid. */
  runDir: string;
  serialLog: string;
  serialSocket: string;
  /** Milliseconds from starting the agent to the guest's prompt in its serial log. */
  bootMs: number;
  qemuPid(): number | undefined;
  stop(): Promise<void>;
}

/** Starts the agent on one lab VM, waits for the guest's prompt, then starts the browser shell configured with it. */
export async function startQemuCockpit(options: QemuCockpitOptions = {}): Promise<QemuCockpit> {
  const vmId = options.vmId ?? 'cq-1';
  const hostname = options.hostname ?? 'lab-e2e';
  const agentId = options.agentId ?? 'qemu-e2e';
  // Short: QEMU's socket paths must stay under 108 bytes.
  const dir = mkdtempSync('/tmp/cqe-');
  const workDir = join(dir, 'q');
  const runDir = join(workDir, 'run', vmId);
  const image = labImage();
  const config = {
    workDir,
    onAgentStop: 'terminate',
    vms: [{
      id: vmId, name: hostname, memoryMiB: options.memoryMiB ?? 192, vcpus: 1, accel: 'tcg', kernel: image.kernel, initramfs: image.initramfs,
      append: labAppend({ hostname }), image: 'busybox lab guest', tags: ['lab', 'e2e'],
    }],
  };
  const configPath = join(dir, 'qemu.json');
  writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  const tokenFile = writeToken(dir, `qemu-e2e-${Math.random().toString(36).slice(2)}`);

  let agent: RunningProcess | undefined;
  let shell: RunningProcess | undefined;
  const qemuPid = (): number | undefined => {
    try {
      const pid = Number.parseInt(readFileSync(join(runDir, 'qemu.pid'), 'utf8').trim(), 10);
      return Number.isInteger(pid) ? pid : undefined;
    } catch {
      return undefined;
    }
  };
  const stop = async (): Promise<void> => {
    await shell?.kill();
    if (agent) {
      // The agent terminates its VMs on a clean stop (onAgentStop: terminate); a stuck one is killed after 20 s.
      const killer = setTimeout(() => agent!.child.kill('SIGKILL'), 20_000);
      await agent.kill();
      clearTimeout(killer);
    }
    // A QEMU the agent left behind (it was killed): found by its pidfile and confirmed by its command line.
    const pid = qemuPid();
    if (pid !== undefined) {
      let cmdline = '';
      try { cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { /* gone */ }
      if (cmdline.includes(runDir)) {
        try { process.kill(pid, 'SIGKILL'); } catch { /* gone meanwhile */ }
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const started = performance.now();
    agent = await startNodeProcess('agent/cli.ts', [
      '--driver', 'qemu', '--config', configPath, '--listen', '127.0.0.1:0', '--token-file', tokenFile,
      '--data-dir', join(dir, 'agent'), '--agent-id', agentId,
    ], 60_000);
    const serialLog = join(runDir, 'serial.log');
    await waitFor(() => existsSync(serialLog), options.bootTimeoutMs ?? 90_000, `${serialLog} to appear`);
    await waitForLog(serialLog, LAB_BOOTED, options.bootTimeoutMs ?? 90_000);
    const bootMs = performance.now() - started;

    // The shell's settings (conf's settings.json in its data folder): this one agent, no lab.
    const shellDir = join(dir, 'shell');
    const settings = { agents: [{ agentId, label: `QEMU micro-VM on this machine (${agentId})`, url: String(agent.ready.url), tokenFile }] };
    mkdirSync(shellDir, { recursive: true, mode: 0o700 });
    writeFileSync(join(shellDir, 'settings.json'), `${JSON.stringify(settings, null, 2)}\n`, { mode: 0o600 });
    shell = await startNodeProcess('main/browser-shell/cli.ts', ['--json', '--data-dir', shellDir, ...(options.shellArgs ?? [])], 60_000);
    return {
      dir, agentId, vmId, hostname, agent, shell, loginUrl: String(shell.ready.loginUrl), runDir, serialLog, serialSocket: join(runDir, 'serial.sock'),
      bootMs, qemuPid, stop,
    };
  } catch (err) {
    const why = `${(err as Error).message}${agent ? `\nagent stderr:\n${agent.stderr().slice(-3000)}` : ''}`;
    await stop().catch(() => undefined);
    throw new Error(why, { cause: err });
  }
}

/** The size of a file, or 0. */
export function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
