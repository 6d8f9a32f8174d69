// What the sim's actions do to its model: how long each takes (believable, from QEMU's measured timings), what a
// contained VM's events become, how its networks change, and the isolation proof the sim can honestly give — every
// check says it was modelled, since the sim touches no NIC, no bridge and sends no probe.
//
// Events of a VM that is not running (frozen, seizing, seized, terminated) are dropped: its vCPUs do not run.
// An isolated VM keeps running, so its processes, files and logins go on; its *connections* (anything but a
// listening socket) are rewritten:
//   - cut: "Blocked by isolation: …", state BLOCKED, no bytes: the link is down, nothing reached the network;
//   - honeypot: "In the honeypot: …", unchanged otherwise: the attacker's session goes on, into the quarantine bridge.
import type { IsolationCheck, IsolationProof, ThreatEvent, Vm, VmNetwork } from '../../protocol/index.ts';

/** The sim's quarantine bridge: where honeypot isolation and a honeypot clone put a VM's tap. */
export const QUARANTINE_BRIDGE = 'br-quarantine';

/** Milliseconds each step takes on the sim: QEMU's measured order of magnitude (MACHINE.md), scaled for a demo. */
export const SIM_TIMINGS = {
  quit: [10, 18],
  stopOrCont: [2, 6],
  setLink: [2, 8],
  moveTap: [4, 10],
  verify: [12, 22],
  cloneSave: [30, 50],
  cloneDisk: [10, 20],
  cloneStart: [20, 30],
  /** Per 256 KiB chunk of a capture: ~150 ms for the memory image, ~70 ms for the disk. */
  captureChunk: [16, 20],
  small: [3, 8],
} as const satisfies Record<string, readonly [number, number]>;

/** A believable duration for a step: uniform in [min, max] ms. */
export function stepMs([min, max]: readonly [number, number]): number {
  return min + Math.random() * (max - min);
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** The event as the VM's condition lets it be seen, or undefined when the VM cannot have produced it. */
export function shapeEvent(event: ThreatEvent, vm: Vm): ThreatEvent | undefined {
  if (vm.state !== 'running' && vm.state !== 'isolated') return undefined;
  const isolation = vm.isolation;
  const c = event.connection;
  if (!isolation || !c || c.direction === 'listen') return event;
  if (isolation.mode === 'cut') {
    const { bytesIn: _in, bytesOut: _out, ...connection } = c;
    return {
      ...event,
      title: clip(`Blocked by isolation: ${event.title}`, 512),
      description: clip(`${vm.name} is cut off (link down since ${isolation.since}): this connection never reached the network.${event.description ? ` ${event.description}` : ''}`, 4096),
      connection: { ...connection, state: 'BLOCKED' },
    };
  }
  return {
    ...event,
    title: clip(`In the honeypot: ${event.title}`, 512),
    description: clip(`${vm.name} is on the quarantine bridge ${QUARANTINE_BRIDGE} since ${isolation.since}: this connection reached only the honeypot network, where it is recorded.${event.description ? ` ${event.description}` : ''}`, 4096),
  };
}

/** The VM's networks once isolated: cut takes each link down; honeypot moves each tap to the quarantine bridge. */
export function isolatedNetworks(networks: readonly VmNetwork[], mode: 'cut' | 'honeypot'): VmNetwork[] {
  return networks.map((n) => (mode === 'cut' ? { ...n, link: 'down' } : { ...n, bridge: QUARANTINE_BRIDGE }));
}

/** A clone's networks: the same NICs (MAC, IP: the saved state needs them), link down, on no bridge or the honeypot's. */
export function cloneNetworks(networks: readonly VmNetwork[], network: 'none' | 'honeypot'): VmNetwork[] {
  return networks.map((n) => {
    const { bridge: _bridge, ...rest } = n;
    return network === 'honeypot' ? { ...rest, bridge: QUARANTINE_BRIDGE, link: 'down' } : { ...rest, link: 'down' };
  });
}

/**
 * What the sim can say after isolating: the three checks a real driver makes (link state, bridge membership, a probe
 * from the VM's old network), each computed from the sim's model and saying so. `home` is where the VM was before.
 */
export function simIsolationProof(vm: Pick<Vm, 'name'>, networks: readonly VmNetwork[], home: readonly VmNetwork[], mode: 'cut' | 'honeypot', at: string): IsolationProof {
  const checks: IsolationCheck[] = [];
  for (const [i, n] of networks.entries()) {
    const before = home[i] ?? n;
    const nic = `${n.name} of ${vm.name}`;
    const down = n.link === 'down';
    checks.push({
      name: `link-state:${n.name}`,
      ok: mode === 'cut' ? down : true,
      detail: mode === 'cut'
        ? `Simulated: the sim's model of ${nic} has its link ${down ? 'down' : 'UP'}; no real NIC was touched.`
        : `Simulated: the sim's model of ${nic} keeps its link ${n.link ?? 'up'}, as the guest must not notice the move; no real NIC was touched.`,
    });
    const off = n.bridge !== before.bridge || down;
    checks.push({
      name: `bridge-membership:${n.name}`,
      ok: off,
      detail: n.bridge
        ? `Simulated: the modelled tap of ${nic} is a port of ${n.bridge}${n.bridge !== before.bridge && before.bridge ? ` and no longer of ${before.bridge}` : down ? ', with its link down' : ''}; no bridge was inspected.`
        : `Simulated: the modelled tap of ${nic} is on no bridge; no bridge was inspected.`,
    });
    checks.push({
      name: `probe-from-outside:${n.name}`,
      ok: off,
      detail: `Simulated: a modelled probe from ${before.bridge ?? 'its old network'} to ${n.ip ?? 'the VM'} ${off ? 'got no answer' : 'was answered'}${mode === 'honeypot' && off ? ', and one from the honeypot side was answered' : ''}; no packet was sent.`,
    });
  }
  return { checkedAt: at, ok: checks.length > 0 && checks.every((c) => c.ok), checks: checks.slice(0, 32) };
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
