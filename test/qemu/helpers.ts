// Harness for the real micro-VM tests: builds the lab image when it is missing, boots VMs in private temp folders,
// and keeps a clean-up stack so that every process, socket, tap, bridge, namespace and file goes, even on failure.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { QemuMachine, type MachineConfig, type NicBackend } from '../../agent/qemu/machine.ts';
import { LAB_BOOTED, LAB_IMAGE_DIR, labAppend, labImage } from '../../agent/qemu/lab-guest.ts';
import { SerialConsole, waitForLog } from '../../agent/qemu/serial.ts';

export const ROOT = join(import.meta.dirname, '..', '..');

/**
 * Runs scripts/microvm/build.sh: it installs QEMU when missing (CI runs as root), builds the image when missing,
 * and otherwise only checks that dist/microvm matches the script (about a second), so a changed guest is rebuilt.
 */
export function ensureLabImage(): void {
  // Its output goes to stderr: the test runner reads a test file's stdout as its own report.
  const r = spawnSync('bash', [join(ROOT, 'scripts', 'microvm', 'build.sh')], { stdio: ['ignore', 2, 2], timeout: 600_000 });
  if (r.status !== 0) throw new Error(`scripts/microvm/build.sh failed (status ${r.status}); see its output above.`);
  if (!existsSync(join(LAB_IMAGE_DIR, 'manifest.json'))) throw new Error(`scripts/microvm/build.sh left no image in ${LAB_IMAGE_DIR}.`);
}

/** Last in, first out; every step runs even if an earlier one fails. */
export class Cleanup {
  private readonly steps: Array<{ what: string; run: () => unknown }> = [];

  add(what: string, run: () => unknown): void {
    this.steps.push({ what, run });
  }

  async run(): Promise<void> {
    const failures: string[] = [];
    while (this.steps.length) {
      const step = this.steps.pop()!;
      try { await step.run(); } catch (err) { failures.push(`${step.what}: ${String(err)}`); }
    }
    if (failures.length) throw new Error(`clean-up failed:\n${failures.join('\n')}`);
  }
}

/** A private temp folder (mode 0700, as mkdtemp makes it), removed at clean-up. Short: unix socket paths are. */
export function tempFolder(cleanup: Cleanup, prefix = 'cq'): string {
  const dir = mkdtempSync(`/tmp/${prefix}-`);
  cleanup.add(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A short random tag for names of host interfaces (15 characters at most in all). */
export function tag(): string {
  return randomBytes(2).toString('hex');
}

export interface LabVmOptions {
  id?: string;
  memoryMiB?: number;
  backend?: NicBackend;
  mac?: string;
  ip?: string;
  gateway?: string;
  beaconSeconds?: number;
  disk?: boolean;
}

export interface BootedVm {
  machine: QemuMachine;
  dir: string;
  /** From spawning QEMU to the root shell's prompt on the serial console (after the guest's ready line). */
  bootMs: number;
}

/** Boots the lab guest and waits for its ready line; the VM is killed at clean-up if a test left it running. */
export async function bootLabVm(cleanup: Cleanup, options: LabVmOptions = {}): Promise<BootedVm> {
  const dir = tempFolder(cleanup);
  const image = labImage();
  const id = options.id ?? 'lab-vm';
  const config: MachineConfig = {
    id,
    name: `${id} (test)`,
    memoryMiB: options.memoryMiB ?? 256,
    vcpus: 1,
    accel: 'tcg',
    kernel: image.kernel,
    initramfs: image.initramfs,
    append: labAppend({ ip: options.ip ?? '10.77.0.2/24', gateway: options.gateway ?? '10.77.0.1', hostname: 'cordon-guest', beaconSeconds: options.beaconSeconds ?? 1 }),
    runDir: join(dir, 'run'),
    disk: options.disk === false ? undefined : { path: join(dir, 'disk.qcow2'), format: 'qcow2', sizeMiB: 64 },
    nic: { mac: options.mac ?? '52:54:00:c0:de:01', backend: options.backend ?? { kind: 'user' } },
  };
  const started = performance.now();
  const machine = await QemuMachine.start(config);
  cleanup.add(`kill ${id}`, () => machine.kill());
  await waitForLog(machine.serialLogPath, LAB_BOOTED, 30_000);
  return { machine, dir, bootMs: performance.now() - started };
}

/** Opens the guest's serial console for the test, closed at clean-up. */
export async function openConsole(cleanup: Cleanup, machine: QemuMachine): Promise<SerialConsole> {
  const console = await SerialConsole.connect(machine.serialSocketPath);
  cleanup.add('close the serial console', () => console.close());
  return console;
}

/** Polls `check` until it returns true, for at most `timeoutMs`. */
export async function eventually(check: () => Promise<boolean>, timeoutMs: number, intervalMs = 200): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie still answers kill(0); it has exited all the same.
  return !/\) [ZX] /.test(spawnSync('cat', [`/proc/${pid}/stat`], { encoding: 'utf8' }).stdout ?? '');
}

export const ms = (n: number): string => `${n.toFixed(1)} ms`;
