// The sim's log lines, so that the lab has logs as a real host would: each VM's boot on its serial console and its
// QEMU starting, then, beside the events, the console lines and hypervisor warnings a real guest and QEMU would have
// written about the same activity (a login, a command, a listener, a guest driving a virtio ring out of bounds).
// Lines are derived from the events themselves, with no randomness of their own, so a seed replays them too.
import type { ThreatEvent, Vm } from '../../protocol/index.ts';
import type { LogEntry } from '../logs/store.ts';

/** At most this many events per tick get log lines: a load test at 50,000 events/s must not make 50,000 lines/s. */
export const LOG_EVENTS_PER_TICK = 8;

/** The console and QEMU lines of a VM booting, a few seconds before `at`. */
export function bootLines(vm: Vm, at: number): LogEntry[] {
  const mib = vm.memoryMiB ?? 1024;
  const t = (s: number) => new Date(at - 6000 + s * 1000).toISOString();
  const serial = (s: number, message: string): LogEntry => ({ source: 'serial', vmId: vm.id, time: t(s), origin: 'sim serial console', message });
  const kernel = (s: number, message: string) => serial(s, `[${s.toFixed(6).padStart(12)}] ${message}`);
  const ip = vm.networks?.[0]?.ip;
  return [
    { source: 'hypervisor', vmId: vm.id, time: t(0), severity: 6, app: 'qemu-system-x86_64', origin: 'sim hypervisor', message: `-name guest=${vm.name} -M microvm -m ${mib} -smp ${vm.vcpus ?? 1}: starting (simulated)` },
    kernel(0, 'Linux version 6.1.0-28-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1'),
    kernel(0.01, `Command line: console=ttyS0 reboot=t panic=-1 cordon.hostname=${vm.name}`),
    kernel(0.42, `Memory: ${Math.round(mib * 0.93) * 1024}K/${mib * 1024}K available`),
    kernel(1.87, 'virtio_net virtio1 eth0: renamed from eth0'),
    serial(3.2, 'systemd[1]: Reached target multi-user.target - Multi-User System.'),
    ...(ip ? [serial(3.4, `systemd-networkd[211]: eth0: DHCPv4 address ${ip}/24`)] : []),
    serial(4.1, `Debian GNU/Linux 12 ${vm.name} ttyS0`),
    serial(4.1, `${vm.name} login: `),
  ];
}

/** The log lines a real guest or QEMU would have written about this event, if any. */
export function linesFor(event: ThreatEvent): LogEntry[] {
  const base = { vmId: event.vmId, time: event.time };
  const serial = (message: string): LogEntry => ({ source: 'serial', ...base, origin: 'sim serial console', message });
  const p = event.process;
  const out: LogEntry[] = [];
  if (event.category === 'escape' || event.category === 'hypervisor') {
    out.push({ source: 'hypervisor', ...base, severity: 4, app: 'qemu-system-x86_64', origin: 'sim hypervisor', message: hypervisorLine(event) });
  }
  if (event.category === 'auth' && p) {
    out.push(serial(`${p.name}[${p.pid}]: ${event.title}`));
  } else if (p && p.commandLine && (event.category === 'process' || event.category === 'network')) {
    out.push(serial(`audit: type=EXECVE pid=${p.pid} ppid=${p.ppid ?? 1} comm="${p.name}" uid=${p.user ?? 'root'} cmd=${JSON.stringify(p.commandLine)}`));
  } else if (event.file) {
    out.push(serial(`audit: type=PATH name=${JSON.stringify(event.file.path)} op=${event.file.operation ?? 'open'}${p ? ` comm="${p.name}" pid=${p.pid}` : ''}`));
  }
  if (event.connection?.direction === 'listen' && p) {
    out.push(serial(`kernel: ${p.name} (${p.pid}) listening on ${event.connection.protocol} ${event.connection.localAddress ?? '0.0.0.0'}:${event.connection.localPort ?? 0}`));
  }
  return out;
}

function hypervisorLine(event: ThreatEvent): string {
  const t = event.title.toLowerCase();
  if (t.includes('virtio') || t.includes('descriptor')) return 'virtio: bogus descriptor or out of resources';
  if (t.includes('mmio')) return 'virtio-mmio: unimplemented register write (offset 0x0fc, value 0xdeadbeef)';
  if (t.includes('vmxon') || t.includes('nested')) return 'warning: guest executed VMXON with nested virtualization disabled';
  if (t.includes('/dev/port') || t.includes('port i/o')) return 'warning: guest I/O to port 0xcf8 outside any device (simulated)';
  if (t.includes('execve') || t.includes('seccomp')) return 'seccomp: blocked execve by the QEMU sandbox (-sandbox elevateprivileges=deny)';
  return `warning: ${event.title}`;
}
