// Which VM a log line or a detector's alert is about, from what it names: a host name (a syslog sender's HOSTNAME, a
// Falco container), an IP address (the sender's, an alert's source or destination) or an operator's explicit map
// (`--syslog-vm HOST=VMID`). Read from the driver's inventory (VM ids, names, network addresses), rebuilt at most
// every two seconds so a busy listener does not walk the inventory per message.
import type { Vm } from '../../protocol/index.ts';

/** The vmId for events about the hypervisor host itself rather than one of its VMs. */
export const HOST_VM_ID = 'host';

export interface VmMatcher {
  /** The VM whose id or name is `name` (case-insensitive, also its first DNS label), or whom the operator's map names. */
  byName(name: string | undefined): Vm | undefined;
  /** The VM with this address on one of its networks. */
  byIp(ip: string | undefined): Vm | undefined;
}

export function vmMatcher(listVms: () => Vm[], explicit: Readonly<Record<string, string>> = {}): VmMatcher {
  let builtAt = -Infinity;
  let names = new Map<string, Vm>();
  let ips = new Map<string, Vm>();
  const map = new Map(Object.entries(explicit).map(([k, v]) => [k.toLowerCase(), v]));
  const refresh = () => {
    if (performance.now() - builtAt < 2000) return;
    builtAt = performance.now();
    names = new Map();
    ips = new Map();
    const vms = listVms();
    const byId = new Map(vms.map((vm) => [vm.id, vm]));
    for (const vm of vms) {
      // A clone shares its origin's name prefix, MAC and IP: the origin keeps the match, the clone has its own id.
      if (!names.has(vm.id.toLowerCase())) names.set(vm.id.toLowerCase(), vm);
      if (!vm.cloneOf && !names.has(vm.name.toLowerCase())) names.set(vm.name.toLowerCase(), vm);
      if (vm.cloneOf || vm.state === 'terminated') continue;
      for (const n of vm.networks ?? []) if (n.ip && !ips.has(n.ip)) ips.set(n.ip, vm);
    }
    for (const [host, vmId] of map) {
      const vm = byId.get(vmId);
      if (vm) names.set(host, vm);
    }
  };
  return {
    byName(name) {
      // Callers pass what a log line or an alert says: anything but a non-empty string names no VM.
      if (typeof name !== 'string' || !name) return undefined;
      refresh();
      const lower = name.toLowerCase();
      return names.get(lower) ?? names.get(lower.split('.')[0]!);
    },
    byIp(ip) {
      if (typeof ip !== 'string' || !ip) return undefined;
      refresh();
      return ips.get(ip.replace(/^::ffff:/, ''));
    },
  };
}
