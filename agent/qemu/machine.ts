// One QEMU micro-VM process (`-M microvm`): started from a config or adopted from its run folder, and every
// hypervisor-level action on it over QMP, each confirmed by QEMU itself (query-status, events, the process table).
// QEMU is always started with an argument array, never through a shell: VM names and paths are attacker-adjacent.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { QemuError, isQemuError } from './errors.ts';
import { checkInterfaceName, checkMac } from './net.ts';
import { checkExistingFile, checkNewFile, checkPrivateDir, checkSafePath, qemuOptValue } from './paths.ts';
import { QmpClient, type EventWait, type QmpEvent } from './qmp.ts';

export type Accel = 'tcg' | 'kvm';

/** Where the VM's NIC leads on the host. */
export type NicBackend =
  /** A host tap created beforehand (net.ts), usually a port of a bridge. QEMU opens it by name. */
  | { kind: 'tap'; ifname: string }
  /** User-mode networking with `restrict=on`: the guest can reach nothing outside QEMU. The isolated default. */
  | { kind: 'user' };

export interface NicConfig {
  mac: string;
  backend: NicBackend;
  /**
   * Let a tap offer virtio-net offloads (vnet_hdr: TSO, checksum). Off by default: a VM whose NIC had vnet_hdr
   * cannot be loaded into a QEMU whose NIC backend lacks it ("Failed to load virtio-net-device:tmp"), so with
   * offloads on, a clone can only go to another tap, never to user-mode networking. Turn on for throughput.
   */
  offloads?: boolean;
}

export interface DiskConfig {
  path: string;
  format: 'qcow2' | 'raw';
  /** Size of the image to create with qemu-img when `path` does not exist yet. */
  sizeMiB?: number;
}

export interface MachineConfig {
  /** Stable id: names the run folder's contents and the VM in the cockpit. [a-z0-9-], 1..63, starts alnum. */
  id: string;
  /** A human name (free text, may come from the guest's owner); shown by `query-name`. */
  name: string;
  memoryMiB: number;
  vcpus: number;
  /** `kvm` on real hosts; `tcg` where /dev/kvm is unusable (nested, CI). */
  accel: Accel;
  /** An uncompressed vmlinux boots about twice as fast as a bzImage under TCG. */
  kernel: string;
  initramfs: string;
  /** Added to the kernel command line after the console and reboot flags this module sets. */
  append?: string;
  disk?: DiskConfig;
  nic?: NicConfig;
  /** Private folder (mode 0700) for the QMP and serial sockets, logs, pidfile and machine.json. */
  runDir: string;
  /** The VM this one was cloned from, recorded in machine.json. */
  cloneOf?: string;
  /**
   * A second UART (the guest's ttyS1, at 0x2f8) on its own socket, where the agent tells the guest its console's
   * window size (agent/qemu/winsize.ts); the lab guest applies it to ttyS0. A device like any other: a clone has it
   * when its origin had it, or the saved state would not load.
   */
  consoleControl?: boolean;
  /**
   * A third UART (the guest's ttyS2, at 0x3e8) on its own socket, where the lab guest's cordon-inspectd runs what the
   * agent sends and answers on the same line (agent/inspect/guest-shell.ts): the evaluation view, read without the
   * responder's console. Like consoleControl, a device a clone must share with its origin.
   */
  inspectLine?: boolean;
  qemuBinary?: string;
  qemuImgBinary?: string;
}

export interface MachinePaths {
  runDir: string;
  qmpSocket: string;
  serialSocket: string;
  serialLog: string;
  /** The console control line's socket (consoleControl): window sizes to the guest, acknowledgements back. */
  controlSocket: string;
  /** The inspection line's socket (inspectLine). */
  inspectSocket: string;
  /** QEMU's own log (`-D`): guest errors and unimplemented-device notes. */
  qemuLog: string;
  /** QEMU's stderr: start-up errors, warnings, a failed incoming migration's reason. */
  stderrLog: string;
  pidFile: string;
  /** The config and command line this VM was started with: for adoption, and part of a seizure's record. */
  machineFile: string;
}

export interface RunStatus {
  /** QEMU's run state: `running`, `paused`, `postmigrate`, `inmigrate`, `prelaunch`, `shutdown`, `guest-panicked`... */
  status: string;
  running: boolean;
}

/** The QMP ids of the devices, fixed so that a clone's devices match its origin's exactly. */
export const DEVICE_IDS = { nic: 'nic0', netdev: 'net0', disk: 'disk0', diskFile: 'disk0-file', blk: 'blk0', serial: 'ser0', qmp: 'qmp0', control: 'ctl0', controlUart: 'ctl0-uart', inspect: 'insp0', inspectUart: 'insp0-uart' } as const;

const ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** Unix socket paths are limited to 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH = 107;
/** Migration bandwidth while saving state: the default (128 MiB/s) would stretch a 256 MiB VM's pause to 2 s. */
const SAVE_BANDWIDTH = 64 * 1024 * 1024 * 1024;

export function machinePaths(runDir: string): MachinePaths {
  return {
    runDir,
    qmpSocket: join(runDir, 'qmp.sock'),
    serialSocket: join(runDir, 'serial.sock'),
    serialLog: join(runDir, 'serial.log'),
    controlSocket: join(runDir, 'conctl.sock'),
    inspectSocket: join(runDir, 'inspect.sock'),
    qemuLog: join(runDir, 'qemu.log'),
    stderrLog: join(runDir, 'qemu.stderr.log'),
    pidFile: join(runDir, 'qemu.pid'),
    machineFile: join(runDir, 'machine.json'),
  };
}

/** Checks a config before anything runs; returns it with the MAC in lower case. */
export function checkConfig(config: MachineConfig): MachineConfig {
  if (!ID.test(config.id)) throw new QemuError('invalid_config', `The VM id ${JSON.stringify(config.id)} is not allowed: use 1 to 63 of a-z, 0-9 and '-', starting with a letter or digit.`);
  // eslint-disable-next-line no-control-regex
  if (typeof config.name !== 'string' || config.name.length === 0 || config.name.length > 128 || /[\u0000-\u001f\u007f]/.test(config.name)) {
    throw new QemuError('invalid_config', `The VM name of ${config.id} must be 1 to 128 printable characters.`);
  }
  if (!Number.isInteger(config.memoryMiB) || config.memoryMiB < 32 || config.memoryMiB > 1024 * 1024) throw new QemuError('invalid_config', `Memory of ${config.id} must be a whole number of MiB, at least 32.`);
  if (!Number.isInteger(config.vcpus) || config.vcpus < 1 || config.vcpus > 255) throw new QemuError('invalid_config', `vcpus of ${config.id} must be a whole number from 1 to 255.`);
  if (config.accel !== 'tcg' && config.accel !== 'kvm') throw new QemuError('invalid_config', `accel of ${config.id} must be "kvm" or "tcg".`);
  checkSafePath(config.kernel, 'kernel');
  checkSafePath(config.initramfs, 'initramfs');
  checkSafePath(config.runDir, 'run folder');
  if ((config.append ?? '').length > 1500) throw new QemuError('invalid_config', `The kernel command line of ${config.id} is too long.`);
  if (config.disk) {
    checkSafePath(config.disk.path, 'disk image');
    if (config.disk.format !== 'qcow2' && config.disk.format !== 'raw') throw new QemuError('invalid_config', `The disk format of ${config.id} must be qcow2 or raw.`);
  }
  let nic = config.nic;
  if (nic) {
    nic = { ...nic, mac: checkMac(nic.mac) };
    if (nic.backend.kind === 'tap') checkInterfaceName(nic.backend.ifname, 'tap');
    else if (nic.backend.kind !== 'user') throw new QemuError('invalid_config', `The NIC backend of ${config.id} must be "tap" or "user".`);
  }
  const paths = machinePaths(config.runDir);
  if ([paths.serialSocket, paths.qmpSocket, paths.controlSocket, paths.inspectSocket].some((path) => Buffer.byteLength(path) > MAX_SOCKET_PATH)) {
    throw new QemuError('invalid_config', `The run folder ${config.runDir} is too long for a unix socket path (at most ${MAX_SOCKET_PATH - 13} bytes): choose a shorter one.`);
  }
  return { ...config, nic };
}

/** The kernel flags every micro-VM needs, before the config's own. */
export function baseAppend(accel: Accel, tscKhz = hostTscKhz()): string {
  // reboot=t: a guest reboot becomes a triple fault, which -no-reboot turns into QEMU exiting (microvm has no
  // reset path of its own). panic=-1: a panicking guest exits at once instead of hanging. Under TCG, microvm
  // gives the guest no way to calibrate the
  // TSC and it hangs at "Marking TSC unstable" unless told the frequency; and since a TCG guest's rdtsc reads the
  // host's TSC, the frequency must be the host's, or the guest's clock runs fast or slow (2 GHz on a 2.6 GHz host
  // made guest time run 1.3x fast: wrong timestamps in everything a seizure collects from the guest).
  return `console=ttyS0 reboot=t panic=-1${accel === 'tcg' ? ` tsc_early_khz=${tscKhz}` : ''}`;
}

/**
 * The host's TSC frequency in kHz: /proc/cpuinfo's `cpu MHz` when the CPU has a constant TSC (then that figure is
 * the TSC's), else 2 GHz, which boots but lets the guest clock drift.
 */
export function hostTscKhz(): number {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const flags = /^flags\s*:(.*)$/m.exec(info)?.[1] ?? '';
    const mhz = Number(/^cpu MHz\s*:\s*([0-9.]+)$/m.exec(info)?.[1]);
    if (/\bconstant_tsc\b/.test(flags) && Number.isFinite(mhz) && mhz > 100) return Math.round(mhz * 1000);
  } catch { /* not Linux, or no /proc */ }
  return 2_000_000;
}

/**
 * QEMU's command line for a config, as an argument array. `incoming` makes a clone's destination: paused (`-S`),
 * waiting for `migrate-incoming` (`-incoming defer`). Values that pass through QEMU's option parser are checked
 * (ids, names of interfaces, paths) or comma-escaped (the free-text name).
 */
export function buildQemuArgs(config: MachineConfig, options: { incoming?: boolean } = {}): string[] {
  const c = checkConfig(config);
  const p = machinePaths(c.runDir);
  const append = [baseAppend(c.accel), c.append ?? ''].join(' ').trim();
  const args = [
    '-name', `guest=${qemuOptValue(c.name)}`,
    '-M', 'microvm',
    '-accel', c.accel,
    '-cpu', c.accel === 'tcg' ? 'max' : 'host',
    '-m', String(c.memoryMiB),
    '-smp', String(c.vcpus),
    '-nodefaults', '-no-user-config',
    '-display', 'none',
    '-no-reboot',
    // Seccomp: no obsolete syscalls, no setuid/capability changes, no scheduler/affinity games. `spawn` stays
    // allowed because saving state uses an `exec:` migration (QEMU 7.2 has no `file:` URI).
    '-sandbox', 'on,obsolete=deny,elevateprivileges=deny,resourcecontrol=deny',
    '-msg', 'timestamp=on',
    '-kernel', c.kernel,
    '-initrd', c.initramfs,
    '-append', append,
    '-chardev', `socket,id=${DEVICE_IDS.serial},path=${p.serialSocket},server=on,wait=off,logfile=${p.serialLog},logappend=on`,
    '-serial', `chardev:${DEVICE_IDS.serial}`,
    '-chardev', `socket,id=${DEVICE_IDS.qmp},path=${p.qmpSocket},server=on,wait=off`,
    '-mon', `chardev=${DEVICE_IDS.qmp},mode=control`,
    '-pidfile', p.pidFile,
    '-D', p.qemuLog,
    '-d', 'guest_errors',
  ];
  if (c.nic) {
    const b = c.nic.backend;
    args.push('-netdev', b.kind === 'tap'
      ? `tap,id=${DEVICE_IDS.netdev},ifname=${b.ifname},script=no,downscript=no,vnet_hdr=${c.nic.offloads ? 'on' : 'off'}`
      : `user,id=${DEVICE_IDS.netdev},restrict=on`);
    args.push('-device', `virtio-net-device,netdev=${DEVICE_IDS.netdev},id=${DEVICE_IDS.nic},mac=${c.nic.mac}`);
  }
  if (c.disk) {
    // -blockdev in JSON form: a path never meets QEMU's comma syntax or its `proto:` filename parsing.
    args.push('-blockdev', JSON.stringify({ driver: 'file', filename: c.disk.path, 'node-name': DEVICE_IDS.diskFile }));
    args.push('-blockdev', JSON.stringify({ driver: c.disk.format, file: DEVICE_IDS.diskFile, 'node-name': DEVICE_IDS.disk }));
    args.push('-device', `virtio-blk-device,drive=${DEVICE_IDS.disk},id=${DEVICE_IDS.blk}`);
  }
  if (c.consoleControl) {
    // Index 1 is the legacy COM2 (0x2f8): the guest's 8250 driver finds it as ttyS1 without any module.
    args.push('-chardev', `socket,id=${DEVICE_IDS.control},path=${p.controlSocket},server=on,wait=off`);
    args.push('-device', `isa-serial,chardev=${DEVICE_IDS.control},id=${DEVICE_IDS.controlUart},index=1`);
  }
  if (c.inspectLine) {
    // Index 2 is the legacy COM3 (0x3e8, IRQ 4 shared with COM1): ttyS2 to the guest's 8250 driver.
    args.push('-chardev', `socket,id=${DEVICE_IDS.inspect},path=${p.inspectSocket},server=on,wait=off`);
    args.push('-device', `isa-serial,chardev=${DEVICE_IDS.inspect},id=${DEVICE_IDS.inspectUart},index=2`);
  }
  if (options.incoming) args.push('-S', '-incoming', 'defer');
  return args;
}

export interface StartOptions {
  /** Deadline for QMP to answer after the process starts (it takes ~0.2 s). */
  readyTimeoutMs?: number;
  /** Start as a clone's destination: paused, waiting for `migrate-incoming`. */
  incoming?: boolean;
  /** Receives a line for the operator when something odd but survivable happens. */
  note?: (line: string) => void;
}

export interface QuitResult {
  /** From the `quit` command to the process confirmed gone. */
  ms: number;
  /** QEMU did not exit by the deadline and was killed with SIGKILL. */
  forced: boolean;
}

export interface CaptureResult {
  path: string;
  bytes: number;
  ms: number;
}

export interface SaveStateResult extends CaptureResult {
  /** How long the guest's vCPUs did not run because of the save (0 when it was already frozen). */
  pausedMs: number;
  /** The disk copied during the same pause, when asked for: a clone needs both from the same instant. */
  disk?: CaptureResult;
}

export interface CloneOverrides {
  id: string;
  name: string;
  runDir: string;
  /** The clone's own disk: the copy saveState({ diskTo }) made. Required when the origin has a disk. */
  disk?: DiskConfig;
  /** Where the clone's NIC leads; user-mode with restrict=on unless a (bridge-less or honeypot) tap is given. */
  nicBackend?: NicBackend;
}

export interface CloneResult {
  machine: QemuMachine;
  /** From starting the second QEMU to it running with its link down. */
  ms: number;
  /** Loading the saved state alone. */
  loadMs: number;
}

export class QemuMachine {
  readonly paths: MachinePaths;
  private exitedAt: number | undefined;
  private readonly exitPromise: Promise<void>;
  private jobSeq = 0;

  private constructor(
    readonly config: MachineConfig,
    /** The QEMU process id, confirmed against its command line when adopted. */
    readonly pid: number,
    readonly qmp: QmpClient,
    private readonly child: ChildProcess | undefined,
  ) {
    this.paths = machinePaths(config.runDir);
    this.exitPromise = child
      ? new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve();
        else child.once('exit', () => resolve());
      }).then(() => { this.exitedAt = performance.now(); })
      : new Promise<void>(() => {});
  }

  get id(): string { return this.config.id; }
  /** The serial console's socket: one client at a time (a responder's console, or an inspection). */
  get serialSocketPath(): string { return this.paths.serialSocket; }
  /** Everything the guest wrote to its serial console since start, including before anyone connected. */
  get serialLogPath(): string { return this.paths.serialLog; }
  /** The console control line (window sizes), when the VM was started with one. */
  get controlSocketPath(): string | undefined { return this.config.consoleControl ? this.paths.controlSocket : undefined; }
  get inspectSocketPath(): string | undefined { return this.config.inspectLine ? this.paths.inspectSocket : undefined; }

  /**
   * Whether a client holds the serial console's chardev now (QMP query-chardev: a socket chardev's filename starts
   * with `disconnected:` while it has none). QEMU accepts one client at a time; a second one waits unanswered.
   */
  async serialConnected(): Promise<boolean> {
    const devs = await this.qmp.execute<Array<{ label: string; filename: string }>>('query-chardev');
    const ser = devs.find((d) => d.label === DEVICE_IDS.serial);
    return ser !== undefined && !ser.filename.startsWith('disconnected:');
  }
  /** Whether this object started the process (false when adopted after an agent restart). */
  get owned(): boolean { return this.child !== undefined; }

  /** Starts a QEMU for `config` and resolves once QMP answers. The process outlives the agent (it is adopted later). */
  static async start(config: MachineConfig, options: StartOptions = {}): Promise<QemuMachine> {
    const c = checkConfig(config);
    const paths = machinePaths(c.runDir);
    mkdirSync(c.runDir, { recursive: true, mode: 0o700 });
    checkPrivateDir(c.runDir, 'run');
    checkExistingFile(c.kernel, 'kernel');
    checkExistingFile(c.initramfs, 'initramfs');
    const running = livePid(paths);
    if (running !== undefined) {
      throw new QemuError('qemu_start_failed', `VM ${c.id} already runs as QEMU pid ${running} in ${c.runDir}: adopt it instead of starting another.`);
    }
    // Sockets left by a QEMU that was killed would make the new one's socket path look ready before it is.
    for (const f of [paths.qmpSocket, paths.serialSocket, paths.controlSocket, paths.pidFile]) rmSync(f, { force: true });
    if (c.disk) await ensureDisk(c);
    const args = buildQemuArgs(c, { incoming: options.incoming });
    const binary = c.qemuBinary ?? 'qemu-system-x86_64';
    writeFileSync(paths.machineFile, JSON.stringify({ config: c, binary, args, startedAt: new Date().toISOString() }, null, 2) + '\n', { mode: 0o600 });

    const stderrFd = openSync(paths.stderrLog, 'a', 0o600);
    const startedLogAt = statSync(paths.stderrLog).size;
    let child: ChildProcess;
    try {
      // detached: QEMU gets its own session, so a Ctrl-C at the agent's terminal or the agent's exit does not take
      // the VMs down; a restarted agent adopts them.
      child = spawn(binary, args, { detached: true, stdio: ['ignore', 'ignore', stderrFd] });
    } finally {
      closeSync(stderrFd);
    }
    const spawnError = new Promise<never>((_, reject) => child.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT'
      ? new QemuError('tool_missing', `${binary} is not installed: apt-get install qemu-system-x86 (scripts/microvm/build.sh does it).`, { cause: err })
      : new QemuError('qemu_start_failed', `Could not start ${binary}: ${err.message}.`, { cause: err }))));
    spawnError.catch(() => {});
    child.unref();
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const deadline = performance.now() + (options.readyTimeoutMs ?? 10_000);
    let qmp: QmpClient | undefined;
    while (!qmp) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new QemuError('qemu_start_failed', `QEMU for ${c.id} exited (${child.exitCode ?? child.signalCode}) before it was ready: ${logTail(paths.stderrLog, startedLogAt) || 'no message'}`);
      }
      if (performance.now() > deadline) {
        child.kill('SIGKILL');
        throw new QemuError('qemu_start_failed', `QEMU for ${c.id} did not open its monitor within ${options.readyTimeoutMs ?? 10_000} ms; killed it. ${logTail(paths.stderrLog, startedLogAt)}`);
      }
      try {
        qmp = await QmpClient.connect(paths.qmpSocket, { note: options.note });
      } catch (err) {
        if (!isQemuError(err, 'qmp_connect_failed') && !isQemuError(err, 'qemu_gone')) throw err;
        await Promise.race([sleep(15), exited, spawnError]);
      }
    }
    if (child.pid === undefined) throw new QemuError('qemu_start_failed', `QEMU for ${c.id} has no process id.`);
    return new QemuMachine(c, child.pid, qmp, child);
  }

  /**
   * Takes over a QEMU that runs already (the agent restarted): reads machine.json and the pidfile from `runDir`,
   * checks that the pid is a QEMU serving this run folder's QMP socket (pids get reused), and connects to QMP.
   */
  static async adopt(runDir: string, options: { note?: (line: string) => void } = {}): Promise<QemuMachine> {
    const paths = machinePaths(checkSafePath(runDir, 'run folder'));
    let record: { config?: MachineConfig };
    try {
      record = JSON.parse(readFileSync(paths.machineFile, 'utf8')) as { config?: MachineConfig };
    } catch (err) {
      throw new QemuError('qemu_adopt_failed', `No readable machine.json in ${runDir}: this folder was not made by Cordon, or was damaged.`, { cause: err });
    }
    if (!record.config) throw new QemuError('qemu_adopt_failed', `${paths.machineFile} holds no config.`);
    const config = checkConfig(record.config);
    if (config.runDir !== runDir) throw new QemuError('qemu_adopt_failed', `${paths.machineFile} describes the run folder ${config.runDir}, not ${runDir}.`);
    const pid = livePid(paths);
    if (pid === undefined) throw new QemuError('qemu_adopt_failed', `VM ${config.id} does not run any more (no live QEMU behind ${paths.pidFile}).`);
    const qmp = await QmpClient.connect(paths.qmpSocket, { note: options.note });
    return new QemuMachine(config, pid, qmp, undefined);
  }

  /** Calls `listener` with each QMP event of this VM (STOP, RESUME, SHUTDOWN, GUEST_PANICKED, ...). */
  onEvent(listener: (event: QmpEvent) => void): () => void {
    return this.qmp.onEvent(listener);
  }

  async status(): Promise<RunStatus> {
    const r = await this.qmp.execute<{ status: string; running: boolean }>('query-status');
    return { status: r.status, running: r.running };
  }

  /** Freezes every vCPU (RAM and devices stay as they are); confirmed by query-status. */
  async stop(): Promise<RunStatus> {
    await this.qmp.execute('stop');
    const s = await this.status();
    if (s.running) throw new QemuError('not_confirmed', `QEMU accepted stop for ${this.id} but still reports it running.`);
    return s;
  }

  /** Resumes the vCPUs; confirmed by query-status. */
  async cont(): Promise<RunStatus> {
    await this.qmp.execute('cont');
    const s = await this.status();
    if (!s.running) throw new QemuError('not_confirmed', `QEMU accepted cont for ${this.id} but reports it ${s.status}.`);
    return s;
  }

  /**
   * Sets the NIC's link state. The guest's driver sees carrier go down (and up) like a pulled cable; the NIC and its
   * backend stay in place, so a clone taken later still has the same devices.
   */
  async setLink(up: boolean): Promise<void> {
    if (!this.config.nic) throw new QemuError('invalid_config', `VM ${this.id} has no NIC.`);
    await this.qmp.execute('set_link', { name: DEVICE_IDS.nic, up });
  }

  /** The process is no longer there (exited and reaped, or no such pid). */
  isGone(): boolean {
    if (this.child) return this.child.exitCode !== null || this.child.signalCode !== null;
    return processState(this.pid) !== 'alive';
  }

  /** Resolves true once the process is gone, false at the deadline. */
  async waitGone(timeoutMs: number): Promise<boolean> {
    if (this.child) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.exitPromise, new Promise<void>((r) => { timer = setTimeout(r, timeoutMs); })]);
      clearTimeout(timer);
      return this.isGone();
    }
    const deadline = performance.now() + timeoutMs;
    while (!this.isGone()) {
      if (performance.now() > deadline) return false;
      await sleep(5);
    }
    return true;
  }

  /** Terminates: `quit`, then the process confirmed gone; SIGKILL if it is still there at the deadline. */
  async quit(options: { deadlineMs?: number } = {}): Promise<QuitResult> {
    const started = performance.now();
    const deadlineMs = options.deadlineMs ?? 3_000;
    try {
      await this.qmp.execute('quit', undefined, { timeoutMs: deadlineMs });
    } catch (err) {
      // QEMU may close the socket before its answer gets out; a timeout is handled by the kill below.
      if (!isQemuError(err, 'qemu_gone') && !isQemuError(err, 'qmp_timeout')) throw err;
    }
    let forced = false;
    if (!(await this.waitGone(Math.max(0, started + deadlineMs - performance.now())))) {
      forced = true;
      this.signal('SIGKILL');
      if (!(await this.waitGone(2_000))) {
        throw new QemuError('not_confirmed', `QEMU pid ${this.pid} (${this.id}) is still there after quit and SIGKILL; check the host (a stuck process in D state?).`);
      }
    }
    const ms = (this.exitedAt ?? performance.now()) - started;
    this.afterExit();
    return { ms, forced };
  }

  /** Kills the process at once (SIGKILL) and waits until it is gone; for clean-up, not for responders. */
  async kill(): Promise<void> {
    if (!this.isGone()) {
      this.signal('SIGKILL');
      if (!(await this.waitGone(3_000))) throw new QemuError('not_confirmed', `QEMU pid ${this.pid} survived SIGKILL.`);
    }
    this.afterExit();
  }

  /**
   * Writes guest RAM to `path` as an ELF core (`dump-guest-memory`, paging:false): the physical memory as it is,
   * without trusting the guest's own page tables (paging:true walks them, which a rootkit can tamper with, and is
   * slower). QEMU pauses the vCPUs for the dump and restores the previous state after.
   */
  async dumpMemory(path: string, options: { timeoutMs?: number } = {}): Promise<CaptureResult & { mbPerSec: number }> {
    checkNewFile(path, 'memory dump');
    const started = performance.now();
    const timeoutMs = options.timeoutMs ?? 30_000 + this.config.memoryMiB * 100;
    const done = this.qmp.waitForEvent('DUMP_COMPLETED', { timeoutMs });
    try {
      await this.qmp.execute('dump-guest-memory', { paging: false, protocol: `file:${path}`, detach: true });
    } catch (err) {
      done.cancel();
      throw err;
    }
    const result = await settle(done, () => this.qmp.execute<{ status: string }>('query-dump'), (q) => q.status === 'completed' || q.status === 'failed', timeoutMs);
    const failed = 'event' in result
      ? (result.data.result as { status?: string } | undefined)?.status !== 'completed' || typeof result.data.error === 'string'
      : result.status !== 'completed';
    if (failed) {
      const why = 'event' in result && typeof result.data.error === 'string' ? result.data.error : 'QEMU reports the dump failed';
      throw new QemuError('operation_failed', `The memory dump of ${this.id} failed: ${why}. Check free space in ${path}'s folder.`);
    }
    // DUMP_COMPLETED is sent by the dump thread *before* its clean-up, which restores the run state it paused for
    // the dump (`save-vm`) and closes the file. Returning at once hands back a VM that reads as neither running nor
    // frozen, and a second dump started in that window has its file closed under it by the first one's clean-up
    // (QEMU keeps one global dump state): "dump: failed to save memory: Bad file descriptor". So wait for both. The
    // closed file is also what a hash of the capture must be taken of.
    await this.waitWhileStatus('save-vm', 10_000);
    await this.waitFileClosed(path, 10_000);
    const ms = performance.now() - started;
    const bytes = statSync(path).size;
    return { path, bytes, ms, mbPerSec: bytes / 1e6 / (ms / 1000) };
  }

  /**
   * Copies the VM's disk to a new image at `dest` with `drive-backup` (sync=full). The copy goes through QEMU's
   * block layer, so it is what the guest sees at the moment the job starts: qcow2 metadata and any backing chain
   * resolved, writes still in QEMU's caches included, consistent even if the VM were running (copy-before-write).
   * A plain `cp` of the image file would copy a container (qcow2) that is only consistent once QEMU has flushed,
   * and would ignore QEMU's image lock. `raw` (the default) is what forensic tools read and hash directly.
   */
  async copyDisk(dest: string, options: { format?: 'raw' | 'qcow2'; timeoutMs?: number } = {}): Promise<CaptureResult> {
    if (!this.config.disk) throw new QemuError('invalid_config', `VM ${this.id} has no disk to copy.`);
    checkNewFile(dest, 'disk copy');
    const started = performance.now();
    const jobId = `cordon-copy-${++this.jobSeq}`;
    const timeoutMs = options.timeoutMs ?? 120_000;
    const done = this.qmp.waitForEvent(['BLOCK_JOB_COMPLETED', 'BLOCK_JOB_CANCELLED'], { timeoutMs, match: (e) => e.data.device === jobId });
    try {
      await this.qmp.execute('drive-backup', {
        'job-id': jobId, device: DEVICE_IDS.disk, target: dest, format: options.format ?? 'raw', sync: 'full', mode: 'absolute-paths',
      });
    } catch (err) {
      done.cancel();
      throw err;
    }
    const e = await done.promise;
    if (e.event === 'BLOCK_JOB_CANCELLED' || typeof e.data.error === 'string') {
      throw new QemuError('operation_failed', `The disk copy of ${this.id} failed: ${typeof e.data.error === 'string' ? e.data.error : 'the job was cancelled'}.`);
    }
    // The target image is closed when the job is dismissed, just after the event; hash it only once QEMU let go.
    await this.waitFileClosed(dest, 10_000);
    return { path: dest, bytes: statSync(dest).size, ms: performance.now() - started };
  }

  /**
   * Saves the VM's full device and RAM state to `path` (a migration into `exec:cat > PATH`; QEMU 7.2 has no `file:`
   * URI). The vCPUs are stopped first so that the state, and the disk copied during the same pause (`diskTo`), are
   * of one instant; a VM that was running runs again afterwards. QEMU hands the URI to `/bin/sh -c`, which is why
   * the path must pass checkNewFile (a strict character set, in a private folder).
   *
   * Note: after a migration QEMU leaves the source's disks inactive until the next `cont`. A VM that was frozen
   * before stays frozen in state `postmigrate`; copy its disk before saving, not after.
   */
  async saveState(path: string, options: { diskTo?: string; diskFormat?: 'qcow2' | 'raw'; timeoutMs?: number } = {}): Promise<SaveStateResult> {
    checkNewFile(path, 'saved state');
    if (options.diskTo !== undefined) checkNewFile(options.diskTo, 'disk copy');
    const started = performance.now();
    const timeoutMs = options.timeoutMs ?? 30_000 + this.config.memoryMiB * 200;
    const wasRunning = (await this.status()).running;
    if (wasRunning) await this.stop();
    const pausedAt = performance.now();
    let failure: unknown;
    let disk: CaptureResult | undefined;
    try {
      if (options.diskTo !== undefined) disk = await this.copyDisk(options.diskTo, { format: options.diskFormat ?? this.config.disk?.format ?? 'qcow2' });
      await this.qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'events', state: true }] });
      await this.qmp.execute('migrate-set-parameters', { 'max-bandwidth': SAVE_BANDWIDTH });
      const terminal = ['completed', 'failed', 'cancelled'];
      const done = this.qmp.waitForEvent('MIGRATION', { timeoutMs, match: (e) => terminal.includes(String(e.data.status)) });
      try {
        await this.qmp.execute('migrate', { uri: `exec:cat > ${path}` });
      } catch (err) {
        done.cancel();
        throw err;
      }
      const end = await settle(done, () => this.qmp.execute<{ status?: string }>('query-migrate'), (q) => terminal.includes(String(q.status)), timeoutMs);
      const status = 'event' in end ? String(end.data.status) : String(end.status);
      if (status !== 'completed') {
        const q = await this.qmp.execute<{ 'error-desc'?: string }>('query-migrate').catch(() => ({} as { 'error-desc'?: string }));
        throw new QemuError('operation_failed', `Saving the state of ${this.id} ended ${status}: ${q['error-desc'] ?? 'no reason given'}. Check free space in the folder of ${path}.`);
      }
      // QEMU reports `completed` from the migration thread before the main loop has finished the migration: until
      // the run state leaves finish-migrate, `cont` is refused ("Migration is not finalized yet") and the disks
      // are still inactive. Resuming in that window left the origin frozen with read-only disks.
      await this.waitWhileStatus('finish-migrate', 10_000);
    } catch (err) {
      failure = err;
    }
    // The origin carries on as it was, whether the save worked or not.
    if (wasRunning) await this.cont();
    const resumedAt = performance.now();
    if (failure) throw failure;
    return { path, bytes: statSync(path).size, ms: performance.now() - started, pausedMs: wasRunning ? resumedAt - pausedAt : 0, disk };
  }

  /**
   * Starts a clone from a state saved by saveState(): a second QEMU with the same devices (a clone without the
   * origin's NIC cannot load the state), paused and waiting (`-incoming defer`), which loads the state, gets its
   * NIC's link set down, and only then runs. Its NIC keeps the origin's MAC (and the guest its IP) but leads to an
   * isolated backend, so the clone has no network connection of the origin's.
   */
  async startClone(fromStateFile: string, overrides: CloneOverrides, options: StartOptions = {}): Promise<CloneResult> {
    checkExistingFile(fromStateFile, 'saved state');
    if (this.config.disk && !overrides.disk) {
      throw new QemuError('invalid_config', `VM ${this.id} has a disk, so its clone needs its own copy: saveState(path, { diskTo }) makes one during the same pause.`);
    }
    if (this.config.nic?.offloads && this.config.nic.backend.kind === 'tap' && (overrides.nicBackend ?? { kind: 'user' }).kind !== 'tap') {
      throw new QemuError('invalid_config', `VM ${this.id}'s NIC has tap offloads (vnet_hdr) on, which user-mode networking cannot take over: give the clone a tap (on no bridge, or on the honeypot bridge).`);
    }
    const started = performance.now();
    const config: MachineConfig = {
      ...this.config,
      id: overrides.id,
      name: overrides.name,
      runDir: overrides.runDir,
      disk: overrides.disk,
      nic: this.config.nic ? { ...this.config.nic, backend: overrides.nicBackend ?? { kind: 'user' } } : undefined,
      cloneOf: this.config.id,
    };
    const clone = await QemuMachine.start(config, { ...options, incoming: true });
    try {
      const loadStarted = performance.now();
      await clone.qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'events', state: true }] });
      const terminal = ['completed', 'failed', 'cancelled'];
      const timeoutMs = 30_000 + this.config.memoryMiB * 200;
      const done = clone.qmp.waitForEvent('MIGRATION', { timeoutMs, match: (e) => terminal.includes(String(e.data.status)) });
      await clone.qmp.execute('migrate-incoming', { uri: `exec:cat ${fromStateFile}` });
      let end: QmpEvent | RunStatus;
      try {
        end = await settle(done, () => clone.status(), (s) => s.status !== 'inmigrate', timeoutMs);
      } catch (err) {
        // QEMU 7.2 exits when an incoming migration fails; its reason is on stderr.
        if (isQemuError(err, 'qemu_gone')) {
          await clone.waitGone(1_000);
          throw new QemuError('operation_failed', `The clone of ${this.id} could not load the saved state: ${logTail(clone.paths.stderrLog, 0) || 'QEMU exited'}`, { cause: err });
        }
        throw err;
      }
      if ('event' in end && end.data.status !== 'completed') {
        throw new QemuError('operation_failed', `The clone of ${this.id} could not load the saved state (${String(end.data.status)}): ${logTail(clone.paths.stderrLog, 0)}`);
      }
      // The destination reports `completed` once the state is loaded, but it leaves `inmigrate` (and activates its
      // disks) a moment later; a `cont` in between only arms an autostart and query-status would not say running.
      await clone.waitWhileStatus('inmigrate', 10_000);
      const loadMs = performance.now() - loadStarted;
      // The link state travels in the migration stream (virtio-net restores it on load), so it is set after the
      // load and before the first instruction runs: the guest never sees a carrier on the clone.
      if (config.nic) await clone.setLink(false);
      await clone.cont();
      return { machine: clone, ms: performance.now() - started, loadMs };
    } catch (err) {
      await clone.kill().catch(() => {});
      throw err;
    }
  }

  /** Waits until the QEMU process no longer holds `path` open (read from /proc/PID/fd; skipped where there is none). */
  private async waitFileClosed(path: string, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    const fdDir = `/proc/${this.pid}/fd`;
    for (;;) {
      let open = false;
      try {
        for (const fd of readdirSync(fdDir)) {
          try { if (readlinkSync(`${fdDir}/${fd}`) === path) { open = true; break; } } catch { /* closed meanwhile */ }
        }
      } catch {
        return; // no /proc, or the process is gone: nothing holds the file
      }
      if (!open) return;
      if (performance.now() > deadline) throw new QemuError('not_confirmed', `QEMU (${this.id}) still holds ${path} open ${timeoutMs} ms after reporting it complete.`);
      await sleep(2);
    }
  }

  /** Polls query-status until the run state is no longer `status`. */
  private async waitWhileStatus(status: string, timeoutMs: number): Promise<RunStatus> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const s = await this.status();
      if (s.status !== status) return s;
      if (performance.now() > deadline) throw new QemuError('not_confirmed', `VM ${this.id} stayed in state ${status} for ${timeoutMs} ms after QEMU reported the operation complete.`);
      await sleep(2);
    }
  }

  /** Closes the QMP connection without touching the VM (the agent is shutting down; the VM runs on). */
  detach(): void {
    this.qmp.close();
  }

  private signal(sig: NodeJS.Signals): void {
    try {
      process.kill(this.pid, sig);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }

  /** After the process is gone: close QMP and remove what a killed QEMU leaves behind (logs stay: evidence). */
  private afterExit(): void {
    this.qmp.close();
    for (const f of [this.paths.qmpSocket, this.paths.serialSocket, this.paths.controlSocket, this.paths.pidFile]) rmSync(f, { force: true });
  }
}

/** The pid in the pidfile if that process is alive and is the QEMU serving this run folder's QMP socket. */
function livePid(paths: MachinePaths): number | undefined {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(paths.pidFile, 'utf8').trim(), 10);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 1 || processState(pid) !== 'alive') return undefined;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmdline.some((a) => a.includes(`path=${paths.qmpSocket},`)) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** alive, zombie (exited, not yet reaped: gone for every purpose but the pid), or gone. */
function processState(pid: number): 'alive' | 'zombie' | 'gone' {
  let stat: string;
  try { stat = readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return 'gone'; }
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state === 'Z' || state === 'X' ? 'zombie' : 'alive';
}

async function ensureDisk(c: MachineConfig): Promise<void> {
  const disk = c.disk!;
  let exists = true;
  try { lstatSync(disk.path); } catch { exists = false; }
  if (exists) { checkExistingFile(disk.path, 'disk image'); return; }
  if (!disk.sizeMiB) throw new QemuError('invalid_config', `The disk image ${disk.path} of ${c.id} does not exist and no sizeMiB was given to create it.`);
  const tool = c.qemuImgBinary ?? 'qemu-img';
  const r = await new Promise<{ code: number | null; err: string }>((resolve, reject) => {
    const child = spawn(tool, ['create', '-q', '-f', disk.format, disk.path, `${disk.sizeMiB}M`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    child.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT'
      ? new QemuError('tool_missing', `${tool} is not installed: apt-get install qemu-utils.`, { cause: e })
      : e));
    child.once('close', (code) => resolve({ code, err }));
  });
  if (r.code !== 0) throw new QemuError('qemu_start_failed', `qemu-img could not create ${disk.path}: ${r.err.trim()}`);
}

/** The end of a log file written after `from` bytes, on one line, for an error message. */
function logTail(path: string, from: number): string {
  try {
    const size = statSync(path).size;
    const start = Math.max(from, size - 2000);
    const buf = Buffer.alloc(size - start);
    const fd = openSync(path, 'r');
    try { readSync(fd, buf, 0, buf.length, start); } finally { closeSync(fd); }
    return buf.toString('utf8').trim().split('\n').slice(-4).join(' | ');
  } catch {
    return '';
  }
}

/**
 * Waits for an event, and meanwhile polls a query as a safety net (an event can be missed if QEMU emitted it just
 * before a listener existed, or if the capability for it was off). Whichever reports the end first wins.
 */
async function settle<Q>(wait: EventWait, query: () => Promise<Q>, finished: (q: Q) => boolean, timeoutMs: number): Promise<QmpEvent | Q> {
  let stop = false;
  const poll = (async (): Promise<Q> => {
    const deadline = performance.now() + timeoutMs;
    let interval = 10;
    while (!stop) {
      await sleep(interval);
      interval = Math.min(interval * 2, 250);
      if (stop) break;
      const q = await query();
      if (finished(q)) return q;
      if (performance.now() > deadline) break;
    }
    return new Promise<Q>(() => {});
  })();
  try {
    return await Promise.race([wait.promise, poll]);
  } finally {
    stop = true;
    wait.cancel();
    poll.catch(() => {});
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
