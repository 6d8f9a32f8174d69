// The capture part of a seizure on QEMU, once the VM is frozen: guest memory as an ELF core (dump-guest-memory,
// paging off), the disk copied through QEMU's block layer while the vCPUs stand still, the VM's configuration (the
// command line QEMU runs with, read back from the kernel, and the config it came from), QEMU's logs and the serial
// console's; each file hashed with SHA-256 and SHA-1 in one streaming pass (agent/evidence/hash.ts), then a manifest.
// QEMU writes its two big files into a private staging folder (paths it gets must pass paths.ts, which a request id
// need not), and they are moved into the action's folder before hashing.
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { CapturedFile, Vm } from '../../protocol/index.ts';
import { copyAndHash, hashFile, syncFile, writeAndHash, type FileDigest } from '../evidence/hash.ts';
import type { QemuMachine } from '../qemu/machine.ts';
import { systemCode } from '../errors.ts';
import { ActionFailure, type ActionContext } from './driver.ts';
import type { QemuVmSpec } from './qemu-config.ts';

export interface CaptureInput {
  machine: QemuMachine;
  /** The VM as the inventory showed it when the seizure began. */
  vm: Vm;
  /** The config file's entry for the VM (none for a clone). */
  spec?: QemuVmSpec;
  configSource: string;
  agentId: string;
  qemuVersion: string;
  /** Private, empty folder (0700) under the driver's work folder, for QEMU to write into. */
  stagingDir: string;
  /** QEMU's run state before the seizure froze it. */
  statusBefore: string;
  startedAt: string;
  ctx: ActionContext;
}

export interface CaptureResult {
  files: CapturedFile[];
  memory: { bytes: number; ms: number; mbPerSec: number };
}

/** Captures a frozen VM into ctx.workDir; returns its files (manifest last), each with size and both hashes. */
export async function captureVm(input: CaptureInput): Promise<CaptureResult> {
  const { machine, vm, ctx } = input;
  const { signal, progress } = ctx;
  const out = ctx.workDir;
  mkdirSync(out, { recursive: true, mode: 0o700 });
  const files: CapturedFile[] = [];
  const add = (path: string, role: CapturedFile['role'], digest: FileDigest) => {
    files.push({ path, role, size: digest.size, sha256: digest.sha256, sha1: digest.sha1, capturedAt: new Date().toISOString() });
  };
  const notes: string[] = [];

  // Memory. QEMU reports how far its dump thread got; the responder sees it move.
  progress('memory', `Dumping the memory of ${vm.name} (${machine.config.memoryMiB} MiB, dump-guest-memory as an ELF core, paging off)`, 0.05);
  const memoryStaged = join(input.stagingDir, 'memory.elf');
  const poll = setInterval(() => {
    machine.qmp.execute<{ status: string; completed: number; total: number }>('query-dump', undefined, { timeoutMs: 2_000 }).then((q) => {
      if (q.status === 'active' && q.total > 0) progress('memory', `Dumping the memory of ${vm.name}: ${mib(q.completed)} of ${mib(q.total)} MiB`, 0.05 + (0.35 * q.completed) / q.total);
    }, () => {});
  }, 150);
  let memory;
  try {
    memory = await machine.dumpMemory(memoryStaged);
  } finally {
    clearInterval(poll);
  }
  signal.throwIfAborted();
  progress('memory', `Memory of ${vm.name} dumped: ${mib(memory.bytes)} MiB in ${(memory.ms / 1000).toFixed(2)} s (${memory.mbPerSec.toFixed(0)} MB/s)`, 0.4);

  let diskStaged: string | undefined;
  let diskMs: number | undefined;
  if (machine.config.disk) {
    progress('disk', `Copying the disk of ${vm.name} while it is frozen (drive-backup, raw)`, 0.42);
    diskStaged = join(input.stagingDir, 'disk.raw');
    const disk = await machine.copyDisk(diskStaged, { format: 'raw' });
    diskMs = disk.ms;
    signal.throwIfAborted();
    progress('disk', `Disk of ${vm.name} copied: ${mib(disk.bytes)} MiB in ${(disk.ms / 1000).toFixed(2)} s`, 0.5);
  } else {
    notes.push('The VM has no disk: only its memory, configuration and logs were captured.');
  }

  // Into the action's folder, each big file read once for both digests (moved if it can be, else copied while hashed).
  const big: Array<{ staged: string; path: string; role: CapturedFile['role']; from: number; to: number }> = [
    { staged: memoryStaged, path: 'memory.elf', role: 'memory', from: 0.5, to: 0.8 },
  ];
  if (diskStaged) big.push({ staged: diskStaged, path: 'disk.raw', role: 'disk', from: 0.8, to: 0.88 });
  for (const f of big) {
    const target = join(out, f.path);
    const total = statSync(f.staged).size || 1;
    const onBytes = (bytes: number) => progress('hash', `Hashing ${f.path} (SHA-256 and SHA-1, one pass): ${mib(bytes)} of ${mib(total)} MiB`, f.from + ((f.to - f.from) * bytes) / total);
    progress('hash', `Hashing ${f.path} (SHA-256 and SHA-1, one pass)`, f.from);
    let digest: FileDigest;
    if (moveFile(f.staged, target)) {
      digest = await hashFile(target, { signal, onBytes });
    } else {
      digest = await copyAndHash(f.staged, target, { signal, onBytes });
      rmSync(f.staged, { force: true });
    }
    add(f.path, f.role, digest);
  }

  progress('config', `Saving the configuration of ${vm.name}: QEMU's command line and the config it came from`, 0.9);
  add('config.json', 'config', await writeAndHash(join(out, 'config.json'), [Buffer.from(`${JSON.stringify(configRecord(input), null, 2)}\n`, 'utf8')], { signal }));

  progress('logs', `Saving QEMU's logs and the serial console's log of ${vm.name}`, 0.93);
  for (const [from, path, what] of [
    [machine.paths.qemuLog, 'qemu.log', 'QEMU\'s log (-D: guest errors)'],
    [machine.paths.stderrLog, 'qemu-stderr.log', 'QEMU\'s standard error'],
    [machine.paths.serialLog, 'serial-console.log', 'the serial console\'s log'],
  ] as const) {
    try {
      add(path, 'log', await copyAndHash(from, join(out, path), { signal }));
    } catch (err) {
      if (systemCode(err) !== 'ENOENT') throw err;
      notes.push(`${what} did not exist (${from}): QEMU wrote nothing to it.`);
    }
  }

  progress('manifest', 'Writing the manifest', 0.97);
  const finishedAt = new Date().toISOString();
  const manifest = {
    format: 'cordon-capture/1',
    captureId: ctx.requestId,
    simulated: false,
    agent: { id: input.agentId, host: hostname(), hypervisor: { kind: 'qemu', version: input.qemuVersion } },
    vm: { id: vm.id, name: vm.name, image: vm.image, memoryMiB: vm.memoryMiB, vcpus: vm.vcpus, cloneOf: vm.cloneOf, isolation: vm.isolation, networks: vm.networks },
    qemu: { pid: machine.pid, statusBefore: input.statusBefore, statusDuring: 'paused' },
    request: { requestId: ctx.requestId, actor: ctx.actor, reason: ctx.reason, caseId: ctx.params.caseId },
    startedAt: input.startedAt,
    finishedAt,
    method: {
      freeze: 'QMP stop, confirmed by query-status (paused) before anything was captured; the VM stays frozen.',
      memory: 'QMP dump-guest-memory, ELF core, paging:false: guest-physical memory as it is, not read through the guest\'s own page tables.',
      disk: machine.config.disk ? 'QMP drive-backup sync=full to a raw image, through QEMU\'s block layer (its caches and the qcow2 metadata resolved), while the vCPUs were stopped.' : 'no disk',
      hashes: 'SHA-256 is the evidentiary hash; SHA-1 is a cross-check for older custody forms. Each file was read once, both digests fed from the same bytes.',
    },
    timings: { memory: { bytes: memory.bytes, ms: Math.round(memory.ms), mbPerSec: Math.round(memory.mbPerSec) }, diskMs: diskMs === undefined ? undefined : Math.round(diskMs) },
    notes,
    files,
  };
  const m = await writeAndHash(join(out, 'manifest.json'), [Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8')], { signal });
  syncFile(out);
  rmSync(input.stagingDir, { recursive: true, force: true });
  progress('manifest', `Captured ${files.length + 1} files`, 1);
  return {
    files: [...files, { path: 'manifest.json', role: 'other', size: m.size, sha256: m.sha256, sha1: m.sha1, capturedAt: finishedAt }],
    memory: { bytes: memory.bytes, ms: memory.ms, mbPerSec: memory.mbPerSec },
  };
}

/** What config.json holds: how this QEMU was started and runs, as recorded and as the kernel reports it now. */
function configRecord(input: CaptureInput): unknown {
  const { machine } = input;
  let started: unknown = null;
  try {
    started = JSON.parse(readFileSync(machine.paths.machineFile, 'utf8'));
  } catch (err) {
    started = { unreadable: `${machine.paths.machineFile}: ${systemCode(err)}` };
  }
  let commandLine: string[] | string;
  try {
    commandLine = readFileSync(`/proc/${machine.pid}/cmdline`, 'utf8').split('\0').filter((a, i, all) => a !== '' || i < all.length - 1);
  } catch (err) {
    commandLine = `unreadable (${systemCode(err)})`;
  }
  return {
    note: 'The QEMU process as Cordon started it (machine.json) and its command line as the host kernel reports it for the running process (/proc/PID/cmdline), with the config file\'s entry for this VM.',
    vm: input.vm,
    configFile: input.configSource,
    configEntry: input.spec ?? null,
    qemu: { version: input.qemuVersion, pid: machine.pid, runningCommandLine: commandLine },
    startedWith: started,
  };
}

/** rename() when source and target share a file system; false when they do not (the caller copies). */
function moveFile(from: string, to: string): boolean {
  // The target must not exist: a capture never overwrites.
  try {
    closeSync(openSync(to, 'wx', 0o600));
  } catch (err) {
    throw new ActionFailure('capture_exists', `${to} already exists (${systemCode(err)}): a capture never overwrites a file; seize again with a new request id.`);
  }
  try {
    renameSync(from, to);
    return true;
  } catch (err) {
    rmSync(to, { force: true });
    if (systemCode(err) === 'EXDEV') return false;
    throw err;
  }
}

function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(0);
}
