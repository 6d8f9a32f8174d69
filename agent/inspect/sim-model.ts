// What runs in a simulated VM, read from its guest model (drivers/sim-guest.ts): the same processes and listeners its
// console's `ps` and `netstat -tlnp` show, so the evaluation view agrees with the console and the event feed. Only what
// the model holds is reported: no CPU or memory figures are made up.
import type { Vm, VmInspection } from '../../protocol/index.ts';
import type { SimGuest } from '../drivers/sim-guest.ts';

export function inspectSimGuest(guest: SimGuest, vm: Vm, ip: string | undefined, at: string): VmInspection {
  const processes = guest.processes().map((p) => ({
    pid: p.pid, ppid: p.ppid, user: p.user.slice(0, 128), command: p.command.slice(0, 8192), name: p.name.slice(0, 256), state: 'S',
  }));
  const sockets: VmInspection['sockets'] = guest.listeners().map((l) => ({
    protocol: l.proto, localAddress: l.address === '*' ? (ip ?? '0.0.0.0') : l.address.slice(0, 64), localPort: l.port,
    state: l.proto === 'udp' ? 'UNCONN' : 'LISTEN', pid: l.pid, program: l.program.slice(0, 256),
  }));
  for (const c of guest.connections()) {
    sockets.push({
      protocol: c.proto, localAddress: c.localAddress.slice(0, 64), localPort: c.localPort, remoteAddress: c.remoteAddress.slice(0, 64), remotePort: c.remotePort,
      state: c.state, pid: c.pid, program: c.program.slice(0, 256),
    });
  }
  const services = sockets.filter((s) => s.state === 'LISTEN' || s.state === 'UNCONN').map((s) => ({ name: `${s.program} ${s.protocol}/${s.localPort}`.slice(0, 256), state: 'listening', pid: s.pid }));
  return {
    vmId: vm.id, at, source: 'sim-model', processes, sockets, services,
    resources: { processCount: processes.length, ...(vm.memoryMiB !== undefined ? { memTotalKiB: vm.memoryMiB * 1024 } : {}) },
  };
}
