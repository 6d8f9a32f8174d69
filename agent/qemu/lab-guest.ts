// The lab micro-VM that scripts/microvm/build.sh makes: where its files are, the kernel flags its init reads, and
// what it prints and runs, so that the qemu driver, the tests and the bench boot it the same way. Besides the root
// shell on ttyS0 (its serial console), the listener and the beacon, it runs /usr/sbin/cordon-winsize, which applies the
// window sizes the agent sends on the console control line (ttyS1, agent/qemu/winsize.ts) to ttyS0.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { QemuError } from './errors.ts';

export const LAB_IMAGE_DIR = join(import.meta.dirname, '..', '..', 'dist', 'microvm');

/** The guest prints this on its serial console once eth0 is configured and its services start. */
export const LAB_READY = /cordon-guest: [a-z0-9-]+ up in [0-9.]+ s/;
/** The prompt of the root shell on ttyS0 (`HOST:DIR# `). */
export const LAB_PROMPT = /[a-z0-9-]+:[^\s]*# /;
/** Booted: the ready line and then the shell's prompt, in the serial log. Boot times are measured to this. */
export const LAB_BOOTED = new RegExp(`${LAB_READY.source}[\\s\\S]*${LAB_PROMPT.source}`);
/** The bind shell an intruder left listening (busybox `nc -ll -p 4444 -e /bin/sh`). */
export const LAB_LISTENER_PORT = 4444;
/** Where the beacon calls home on its gateway, every `beaconSeconds`. */
export const LAB_BEACON_PORT = 8443;

export interface LabImage {
  kernel: string;
  initramfs: string;
  kernelPackage: string;
  kernelVersion: string;
}

export function labImage(dir = LAB_IMAGE_DIR): LabImage {
  const kernel = join(dir, 'vmlinux');
  const initramfs = join(dir, 'initramfs.cpio.gz');
  const manifestPath = join(dir, 'manifest.json');
  if (!existsSync(kernel) || !existsSync(initramfs) || !existsSync(manifestPath)) {
    throw new QemuError('invalid_config', `The lab micro-VM is not built in ${dir}: run scripts/microvm/build.sh (as root, it installs what it needs).`);
  }
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { kernelPackage?: string; kernelVersion?: string };
  return { kernel, initramfs, kernelPackage: manifest.kernelPackage ?? 'unknown', kernelVersion: manifest.kernelVersion ?? 'unknown' };
}

const HOSTNAME = /^[a-z0-9-]{1,63}$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** The lab guest's kernel flags: its address, gateway, host name and beacon period. */
export function labAppend(options: { ip?: string; gateway?: string; hostname?: string; beaconSeconds?: number } = {}): string {
  const flags = [
    'quiet',
    // Without IPv6, busybox's listener binds 0.0.0.0 and shows in /proc/net/tcp (not tcp6), as a sensor expects.
    'ipv6.disable=1',
  ];
  if (options.ip !== undefined) {
    const [addr, prefix] = options.ip.split('/');
    if (!addr || !IPV4.test(addr) || !prefix || !/^\d{1,2}$/.test(prefix)) throw new QemuError('invalid_config', `cordon.ip must be a.b.c.d/n, not ${JSON.stringify(options.ip)}.`);
    flags.push(`cordon.ip=${options.ip}`);
  }
  if (options.gateway !== undefined) {
    if (!IPV4.test(options.gateway)) throw new QemuError('invalid_config', `cordon.gw must be a.b.c.d, not ${JSON.stringify(options.gateway)}.`);
    flags.push(`cordon.gw=${options.gateway}`);
  }
  if (options.hostname !== undefined) {
    if (!HOSTNAME.test(options.hostname)) throw new QemuError('invalid_config', `The guest host name must be 1 to 63 of a-z, 0-9 and '-'.`);
    flags.push(`cordon.hostname=${options.hostname}`);
  }
  if (options.beaconSeconds !== undefined) {
    if (!Number.isInteger(options.beaconSeconds) || options.beaconSeconds < 1 || options.beaconSeconds > 3600) throw new QemuError('invalid_config', 'The beacon period must be 1 to 3600 whole seconds.');
    flags.push(`cordon.beacon=${options.beaconSeconds}`);
  }
  return flags.join(' ');
}
