// The qemu driver's config file (`--driver qemu --config FILE`): which micro-VMs this host runs, on which bridges,
// where honeypot isolation sends them, and where the driver keeps its run folders. Read once at start and checked
// whole: every problem is listed (with where it is in the file) before anything runs, so an operator fixes the file
// in one go. Names and paths reach QEMU's option parser and `ip`, so each is held to a strict alphabet here.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Accel, DiskConfig } from '../qemu/machine.ts';
import { INTERFACE_NAME } from '../qemu/net.ts';
import { checkSafePath } from '../qemu/paths.ts';
import { AgentError, systemCode } from '../errors.ts';

/** A micro-VM as the config file describes it. */
export interface QemuVmSpec {
  /** Stable id: the VM's id on the wire and the name of its run folder. [a-z0-9-], starts with a letter or digit. */
  id: string;
  /** What responders see; free text (printable), 1..128 characters. */
  name: string;
  memoryMiB: number;
  vcpus: number;
  accel: Accel;
  kernel: string;
  initramfs: string;
  append?: string;
  disk?: DiskConfig;
  nic?: NicSpec;
  image?: string;
  tags?: string[];
}

/** The VM's NIC: a host tap on a production bridge. */
export interface NicSpec {
  /** The interface's name inside the guest, as the inventory shows it (default `eth0`). */
  name: string;
  mac: string;
  /** The guest's IPv4 address on that network: shown in the inventory and probed by the isolation proof. */
  ip?: string;
  /** The host tap QEMU opens (created on `bridge` when missing). */
  tap: string;
  /** The production bridge the tap is a port of. */
  bridge: string;
}

/** A network namespace with a leg on a bridge: where the isolation proof sends its probes from. */
export interface ProbeSite {
  bridge: string;
  netns: string;
}

export interface QemuDriverConfig {
  /** Absolute path of the config file, or `(inline)`. */
  source: string;
  /** Private folder (0700) of run folders, clone states, disk copies and the driver's state. */
  workDir: string;
  /** The bridge honeypot isolation moves a VM's tap to; without it, honeypot isolation is refused. */
  quarantineBridge?: string;
  probes: ProbeSite[];
  /** What happens to the VMs when the agent stops: they run on (adopted at the next start), or are terminated. */
  onAgentStop: 'leave-running' | 'terminate';
  /** How long a `quit` may take before QEMU is killed. */
  quitDeadlineMs: number;
  qemuBinary?: string;
  qemuImgBinary?: string;
  vms: QemuVmSpec[];
}

const ID = /^[a-z0-9][a-z0-9-]{0,55}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const BINARY = /^[A-Za-z0-9._+/-]{1,256}$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

const TOP_KEYS = ['workDir', 'quarantineBridge', 'probes', 'onAgentStop', 'quitDeadlineMs', 'qemuBinary', 'qemuImgBinary', 'vms'];
const VM_KEYS = ['id', 'name', 'memoryMiB', 'vcpus', 'accel', 'kernel', 'initramfs', 'append', 'disk', 'nic', 'image', 'tags'];
const NIC_KEYS = ['name', 'mac', 'ip', 'tap', 'bridge'];
const DISK_KEYS = ['path', 'format', 'sizeMiB'];

/** Reads and checks a config file; an AgentError `invalid_config` lists every problem found. */
export function loadQemuConfig(file: string): QemuDriverConfig {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new AgentError('config_unreadable', `Cannot read the qemu config ${path} (${systemCode(err)}): check the path given to --config and its permissions.`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new AgentError('invalid_config', `The qemu config ${path} is not valid JSON (${(err as Error).message}).`, { cause: err });
  }
  return parseQemuConfig(json, { source: path, baseDir: dirname(path) });
}

/**
 * Checks a config object (parsed JSON, or built by a test or the lab). Relative paths are taken from `baseDir`.
 * Throws one `invalid_config` AgentError whose message lists each problem as `where: what to fix`.
 */
export function parseQemuConfig(json: unknown, options: { source?: string; baseDir?: string } = {}): QemuDriverConfig {
  const source = options.source ?? '(inline)';
  const baseDir = options.baseDir ?? process.cwd();
  const problems: string[] = [];
  const p = (where: string, what: string) => problems.push(`${where}: ${what}`);

  if (!isObject(json)) {
    throw new AgentError('invalid_config', `The qemu config ${source} must be a JSON object with "workDir" and "vms".`);
  }
  unknownKeys(json, TOP_KEYS, '', p);

  const path = (value: unknown, where: string, what: string): string | undefined => {
    if (typeof value !== 'string' || value.length === 0) {
      p(where, `give the ${what} path as a string`);
      return undefined;
    }
    const abs = isAbsolute(value) ? value : resolve(baseDir, value);
    try {
      return checkSafePath(abs, what);
    } catch (err) {
      p(where, (err as Error).message.replace(/\.$/, ''));
      return undefined;
    }
  };
  const ifname = (value: unknown, where: string, what: string): string | undefined => {
    if (typeof value !== 'string' || !INTERFACE_NAME.test(value)) {
      p(where, `the ${what} name ${JSON.stringify(value)} must be 1 to 15 of a-z, 0-9 and '-'`);
      return undefined;
    }
    return value;
  };

  const workDir = path(json.workDir, 'workDir', 'work folder');
  const quarantineBridge = json.quarantineBridge === undefined ? undefined : ifname(json.quarantineBridge, 'quarantineBridge', 'quarantine bridge');

  const probes: ProbeSite[] = [];
  if (json.probes !== undefined) {
    if (!Array.isArray(json.probes)) p('probes', 'give a list of { "bridge": ..., "netns": ... }');
    else {
      json.probes.forEach((probe: unknown, i) => {
        const where = `probes[${i}]`;
        if (!isObject(probe)) return void p(where, 'give { "bridge": ..., "netns": ... }');
        unknownKeys(probe, ['bridge', 'netns'], where, p);
        const bridge = ifname(probe.bridge, `${where}.bridge`, 'bridge');
        const netns = ifname(probe.netns, `${where}.netns`, 'network namespace');
        if (bridge && netns) {
          if (probes.some((o) => o.bridge === bridge)) p(`${where}.bridge`, `${bridge} has a probe already; give one namespace per bridge`);
          else probes.push({ bridge, netns });
        }
      });
    }
  }

  let onAgentStop: QemuDriverConfig['onAgentStop'] = 'leave-running';
  if (json.onAgentStop !== undefined) {
    if (json.onAgentStop === 'leave-running' || json.onAgentStop === 'terminate') onAgentStop = json.onAgentStop;
    else p('onAgentStop', 'must be "leave-running" (the VMs outlive the agent and are adopted at its next start) or "terminate"');
  }
  let quitDeadlineMs = 3_000;
  if (json.quitDeadlineMs !== undefined) {
    if (typeof json.quitDeadlineMs === 'number' && Number.isInteger(json.quitDeadlineMs) && json.quitDeadlineMs >= 100 && json.quitDeadlineMs <= 60_000) quitDeadlineMs = json.quitDeadlineMs;
    else p('quitDeadlineMs', 'must be a whole number of milliseconds from 100 to 60000');
  }
  const binary = (value: unknown, where: string): string | undefined => {
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || !BINARY.test(value)) {
      p(where, 'must be a program name or an absolute path of letters, digits and . _ + - /');
      return undefined;
    }
    return value;
  };
  const qemuBinary = binary(json.qemuBinary, 'qemuBinary');
  const qemuImgBinary = binary(json.qemuImgBinary, 'qemuImgBinary');

  const vms: QemuVmSpec[] = [];
  if (!Array.isArray(json.vms) || json.vms.length === 0) p('vms', 'list at least one VM');
  else {
    json.vms.forEach((raw: unknown, i) => {
      const vm = parseVm(raw, `vms[${i}]`, problems, path, ifname);
      if (vm) vms.push(vm);
    });
  }

  // Across VMs: ids, MACs, taps and addresses on a bridge are one each.
  const seen = new Map<string, string>();
  const once = (key: string, where: string, what: string) => {
    const first = seen.get(key);
    if (first) p(where, `${what} is used by ${first} too`);
    else seen.set(key, where);
  };
  vms.forEach((vm, i) => {
    once(`id:${vm.id}`, `vms[${i}].id`, `the id ${vm.id}`);
    if (vm.nic) {
      once(`mac:${vm.nic.mac}`, `vms[${i}].nic.mac`, `the MAC ${vm.nic.mac}`);
      once(`tap:${vm.nic.tap}`, `vms[${i}].nic.tap`, `the tap ${vm.nic.tap}`);
      if (vm.nic.ip) once(`ip:${vm.nic.bridge}:${vm.nic.ip}`, `vms[${i}].nic.ip`, `the address ${vm.nic.ip} on ${vm.nic.bridge}`);
      if (vm.nic.bridge === quarantineBridge) p(`vms[${i}].nic.bridge`, `${vm.nic.bridge} is the quarantine bridge: put the VM on its production bridge`);
      if (vm.nic.tap === vm.nic.bridge || vm.nic.tap === quarantineBridge) p(`vms[${i}].nic.tap`, 'a tap cannot have the name of a bridge');
    }
  });

  if (problems.length > 0) {
    const list = problems.slice(0, 40).map((x, i) => `${i + 1}) ${x}`).join('; ');
    throw new AgentError('invalid_config', `The qemu config ${source} has ${problems.length} problem${problems.length === 1 ? '' : 's'}: ${list}${problems.length > 40 ? '; …' : ''}.`);
  }
  const config: QemuDriverConfig = { source, workDir: workDir!, probes, onAgentStop, quitDeadlineMs, vms };
  if (quarantineBridge) config.quarantineBridge = quarantineBridge;
  if (qemuBinary) config.qemuBinary = qemuBinary;
  if (qemuImgBinary) config.qemuImgBinary = qemuImgBinary;
  return config;
}

function parseVm(
  raw: unknown, where: string, problems: string[],
  path: (v: unknown, where: string, what: string) => string | undefined,
  ifname: (v: unknown, where: string, what: string) => string | undefined,
): QemuVmSpec | undefined {
  const p = (at: string, what: string) => problems.push(`${at}: ${what}`);
  if (!isObject(raw)) {
    p(where, 'give the VM as an object with id, name, memoryMiB, vcpus, accel, kernel, initramfs and nic');
    return undefined;
  }
  unknownKeys(raw, VM_KEYS, where, p);
  const before = problems.length;
  const id = typeof raw.id === 'string' && ID.test(raw.id) ? raw.id : (p(`${where}.id`, `${JSON.stringify(raw.id)} is not allowed: use 1 to 56 of a-z, 0-9 and '-', starting with a letter or digit`), '');
  const name = typeof raw.name === 'string' && raw.name.length > 0 && raw.name.length <= 128 && !CONTROL.test(raw.name)
    ? raw.name : (p(`${where}.name`, 'give 1 to 128 printable characters'), '');
  const memoryMiB = int(raw.memoryMiB, 32, 1024 * 1024) ?? (p(`${where}.memoryMiB`, 'give a whole number of MiB, at least 32'), 0);
  const vcpus = int(raw.vcpus ?? 1, 1, 255) ?? (p(`${where}.vcpus`, 'give a whole number from 1 to 255'), 0);
  const accel = raw.accel === 'kvm' || raw.accel === 'tcg' ? raw.accel : (p(`${where}.accel`, 'must be "kvm" (real hosts) or "tcg" (no usable /dev/kvm)'), 'tcg');
  if (raw.kernel === undefined) p(`${where}.kernel`, 'a micro-VM (-M microvm) boots a kernel directly: give its path (an uncompressed vmlinux boots fastest)');
  const kernel = raw.kernel === undefined ? undefined : path(raw.kernel, `${where}.kernel`, 'kernel');
  if (raw.initramfs === undefined) p(`${where}.initramfs`, 'give the initramfs path');
  const initramfs = raw.initramfs === undefined ? undefined : path(raw.initramfs, `${where}.initramfs`, 'initramfs');
  let append: string | undefined;
  if (raw.append !== undefined) {
    if (typeof raw.append === 'string' && raw.append.length <= 1500 && !CONTROL.test(raw.append)) append = raw.append;
    else p(`${where}.append`, 'give the kernel command line as one line of at most 1500 characters');
  }
  let disk: DiskConfig | undefined;
  if (raw.disk !== undefined) {
    if (!isObject(raw.disk)) p(`${where}.disk`, 'give { "path": ..., "format": "qcow2" | "raw", "sizeMiB": N }');
    else {
      unknownKeys(raw.disk, DISK_KEYS, `${where}.disk`, p);
      const diskPath = path(raw.disk.path, `${where}.disk.path`, 'disk image');
      const format = raw.disk.format === 'qcow2' || raw.disk.format === 'raw' ? raw.disk.format : (p(`${where}.disk.format`, 'must be "qcow2" or "raw"'), undefined);
      let sizeMiB: number | undefined;
      if (raw.disk.sizeMiB !== undefined) sizeMiB = int(raw.disk.sizeMiB, 1, 16 * 1024 * 1024) ?? (p(`${where}.disk.sizeMiB`, 'give a whole number of MiB'), undefined);
      if (diskPath && format) disk = sizeMiB === undefined ? { path: diskPath, format } : { path: diskPath, format, sizeMiB };
    }
  }
  let nic: NicSpec | undefined;
  if (raw.nic !== undefined) {
    if (!isObject(raw.nic)) p(`${where}.nic`, 'give { "mac": ..., "tap": ..., "bridge": ..., "ip": ... }');
    else {
      unknownKeys(raw.nic, NIC_KEYS, `${where}.nic`, p);
      const mac = typeof raw.nic.mac === 'string' && MAC.test(raw.nic.mac.toLowerCase()) ? raw.nic.mac.toLowerCase() : (p(`${where}.nic.mac`, `${JSON.stringify(raw.nic.mac)} is not a MAC address (xx:xx:xx:xx:xx:xx)`), undefined);
      let ip: string | undefined;
      if (raw.nic.ip !== undefined) ip = typeof raw.nic.ip === 'string' && IPV4.test(raw.nic.ip) ? raw.nic.ip : (p(`${where}.nic.ip`, `${JSON.stringify(raw.nic.ip)} is not an IPv4 address (a.b.c.d, no prefix)`), undefined);
      const tap = ifname(raw.nic.tap, `${where}.nic.tap`, 'tap');
      const bridge = ifname(raw.nic.bridge, `${where}.nic.bridge`, 'bridge');
      let nicName = 'eth0';
      if (raw.nic.name !== undefined) nicName = typeof raw.nic.name === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(raw.nic.name) ? raw.nic.name : (p(`${where}.nic.name`, 'give the guest interface name (e.g. eth0)'), 'eth0');
      if (mac && tap && bridge) nic = ip ? { name: nicName, mac, ip, tap, bridge } : { name: nicName, mac, tap, bridge };
    }
  }
  let image: string | undefined;
  if (raw.image !== undefined) image = typeof raw.image === 'string' && raw.image.length <= 256 && !CONTROL.test(raw.image) ? raw.image : (p(`${where}.image`, 'give at most 256 printable characters'), undefined);
  let tags: string[] | undefined;
  if (raw.tags !== undefined) {
    if (Array.isArray(raw.tags) && raw.tags.length <= 63 && raw.tags.every((t) => typeof t === 'string' && t.length > 0 && t.length <= 64 && !CONTROL.test(t))) tags = raw.tags as string[];
    else p(`${where}.tags`, 'give at most 63 tags of 1 to 64 printable characters');
  }
  // A VM with any problem is left out; its problems are listed.
  if (problems.length > before || !kernel || !initramfs) return undefined;
  const spec: QemuVmSpec = { id, name, memoryMiB, vcpus, accel, kernel, initramfs };
  if (append !== undefined) spec.append = append;
  if (disk) spec.disk = disk;
  if (nic) spec.nic = nic;
  if (image !== undefined) spec.image = image;
  if (tags) spec.tags = tags;
  return spec;
}

function unknownKeys(obj: Record<string, unknown>, allowed: readonly string[], where: string, p: (where: string, what: string) => void): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) p(where ? `${where}.${key}` : key, `unknown setting (known here: ${allowed.join(', ')}); a typo?`);
  }
}

function int(value: unknown, min: number, max: number): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max ? value : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
