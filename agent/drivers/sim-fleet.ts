// The simulated host's micro-VMs and the seeded random source every sim module draws from. Same seed, same fleet,
// same story: e2e tests and training runs can be replayed exactly.
import type { Vm } from '../../protocol/index.ts';

/** A small, fast, seedable PRNG (mulberry32): Math.random cannot be seeded, and the sim must be replayable. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new RangeError('Rng.pick needs a non-empty list.');
    return item;
  }
  hex(length: number): string {
    let out = '';
    while (out.length < length) out += Math.floor(this.next() * 0x100000000).toString(16).padStart(8, '0');
    return out.slice(0, length);
  }
}

/** What a VM is for. Roles drive its background noise and which attacks it is a plausible victim of. */
export type Role = 'web' | 'db' | 'build' | 'api' | 'desk' | 'mail' | 'dns' | 'cache' | 'files';

interface RoleSpec {
  role: Role;
  image: string;
  memoryMiB: number;
  vcpus: number;
  /** Network segment: the host bridge and the /24 it carries. */
  segment: 'dmz' | 'prod' | 'ci' | 'office';
  tags: string[];
}

// The default --vms 8 gives one of each of the first eight, so every scenario finds a plausible victim.
const ROLES: readonly RoleSpec[] = [
  { role: 'web', image: 'debian-12 nginx + php-fpm web frontend', memoryMiB: 1024, vcpus: 2, segment: 'dmz', tags: ['internet-facing', 'pci'] },
  { role: 'db', image: 'debian-12 postgresql 15', memoryMiB: 4096, vcpus: 4, segment: 'prod', tags: ['crown-jewel', 'pci'] },
  { role: 'build', image: 'debian-12 ci runner (ephemeral)', memoryMiB: 2048, vcpus: 2, segment: 'ci', tags: ['ephemeral'] },
  { role: 'api', image: 'alpine-3.20 node 20 api service', memoryMiB: 1024, vcpus: 2, segment: 'prod', tags: ['internet-facing'] },
  { role: 'desk', image: 'debian-12 document viewer micro-VM (libreoffice, evince)', memoryMiB: 2048, vcpus: 2, segment: 'office', tags: ['untrusted-content', 'user:jdoe'] },
  { role: 'mail', image: 'debian-12 postfix + dovecot', memoryMiB: 1024, vcpus: 1, segment: 'dmz', tags: ['internet-facing'] },
  { role: 'dns', image: 'debian-12 unbound resolver', memoryMiB: 512, vcpus: 1, segment: 'prod', tags: ['infrastructure'] },
  { role: 'cache', image: 'debian-12 redis 7', memoryMiB: 2048, vcpus: 2, segment: 'prod', tags: [] },
  { role: 'files', image: 'debian-12 samba file share', memoryMiB: 2048, vcpus: 2, segment: 'office', tags: ['crown-jewel'] },
];

const SEGMENTS = {
  dmz: { bridge: 'br-dmz', net: '10.20.10' },
  prod: { bridge: 'br-prod', net: '10.20.20' },
  ci: { bridge: 'br-ci', net: '10.20.30' },
  office: { bridge: 'br-office', net: '10.20.40' },
} as const;

/** A VM as the sim keeps it: the wire view plus what the scenarios need to tell a coherent story about it. */
export interface SimVm {
  vm: Vm;
  role: Role;
  ip: string;
  /** The /24 it sits on, for internal scans. */
  net: string;
  /** Its position in the fleet (stable across recycling, so background templates can be rebuilt in place). */
  slot: number;
}

export class SimFleet {
  readonly vms: SimVm[] = [];
  private readonly rng: Rng;
  private readonly counters = new Map<Role, number>();
  private readonly hostOctets = new Map<string, number>();

  constructor(count: number, seed: number, private readonly bootTime: string) {
    this.rng = new Rng(seed ^ 0x5eed_f1ee);
    for (let slot = 0; slot < count; slot++) this.vms.push(this.build(slot, ROLES[slot % ROLES.length]!));
  }

  byRole(roles: readonly Role[]): SimVm[] {
    return this.vms.filter((v) => roles.includes(v.role));
  }

  /**
   * Replaces an ephemeral VM with a fresh one in the same slot, as a CI system does with its runners; returns the
   * old and the new VM, or undefined when the fleet has no ephemeral VM that `replaceable` lets go (a responder's
   * frozen or isolated runner is kept: CI does not get to destroy what is under investigation).
   */
  recycle(slotHint: number, time: string, replaceable: (vm: SimVm) => boolean = () => true): { removed: SimVm; added: SimVm } | undefined {
    const candidates = this.vms.filter((v) => v.role === 'build' && replaceable(v));
    if (candidates.length === 0) return undefined;
    const removed = candidates[slotHint % candidates.length]!;
    const spec = ROLES.find((r) => r.role === removed.role)!;
    const added = this.build(removed.slot, spec, time);
    this.vms[removed.slot] = added;
    return { removed, added };
  }

  private build(slot: number, spec: RoleSpec, since = this.bootTime): SimVm {
    const n = (this.counters.get(spec.role) ?? 0) + 1;
    this.counters.set(spec.role, n);
    const name = `${spec.role}-${String(n).padStart(2, '0')}`;
    const segment = SEGMENTS[spec.segment];
    const octet = (this.hostOctets.get(segment.net) ?? 10) + 1;
    this.hostOctets.set(segment.net, octet > 250 ? 10 : octet);
    // Beyond 240 VMs on one segment addresses repeat; harmless for a simulation and keeps every address valid.
    const ip = `${segment.net}.${octet}`;
    // 52:54:00 is QEMU's locally administered prefix, what a responder sees on real micro-VMs.
    const mac = `52:54:00:${this.rng.hex(2)}:${this.rng.hex(2)}:${this.rng.hex(2)}`;
    const vm: Vm = {
      id: `vm-${name}-${this.rng.hex(4)}`,
      name,
      state: 'running',
      networks: [{ name: 'eth0', mac, ip, bridge: segment.bridge, link: 'up' }],
      tags: [spec.role, spec.segment, ...spec.tags],
      memoryMiB: spec.memoryMiB,
      vcpus: spec.vcpus,
      image: spec.image,
      since,
    };
    return { vm, role: spec.role, ip, net: segment.net, slot };
  }
}
