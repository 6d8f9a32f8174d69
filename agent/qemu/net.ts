// Host networking for isolation, through iproute2's `ip`: bridges, taps, veth pairs and namespaces, and which
// bridge a VM's tap hangs on. Every call is an argument array (no shell) and every name is checked first: interface
// names reach the kernel and the command line, and a VM's name is attacker-adjacent.
import { spawn } from 'node:child_process';
import { QemuError } from './errors.ts';

/** Linux allows 15 bytes; this pattern also keeps names free of anything a shell or `ip` would read as syntax. */
export const INTERFACE_NAME = /^[a-z0-9-]{1,15}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const CIDR = /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/;

export interface LinkInfo {
  name: string;
  /** The bridge this link is a port of, or null. */
  master: string | null;
  /** The kernel's operational state: `UP`, `DOWN`, `UNKNOWN` (a tap whose QEMU is attached reads UP or UNKNOWN). */
  operstate: string;
  mac: string;
  /** Administratively up (the UP flag). */
  up: boolean;
}

export interface InNetns {
  /** Run in this network namespace (`ip -n NAME`) instead of the agent's own. */
  netns?: string;
}

export function checkInterfaceName(name: string, what = 'interface'): string {
  if (!INTERFACE_NAME.test(name)) {
    throw new QemuError('invalid_config',
      `The ${what} name ${JSON.stringify(name)} is not allowed: use 1 to 15 characters among a-z, 0-9 and '-'.`);
  }
  return name;
}

export function checkMac(mac: string): string {
  const lower = mac.toLowerCase();
  if (!MAC.test(lower)) throw new QemuError('invalid_config', `${JSON.stringify(mac)} is not a MAC address (expected xx:xx:xx:xx:xx:xx).`);
  return lower;
}

function netnsArgs(opts: InNetns | undefined): string[] {
  return opts?.netns === undefined ? [] : ['-n', checkInterfaceName(opts.netns, 'network namespace')];
}

/** Runs `ip ARGS` and resolves with its stdout; rejects with `host_network_failed` and ip's own message. */
export function runIp(args: readonly string[], timeoutMs = 10_000): Promise<string> {
  return runTool('ip', args, timeoutMs);
}

/** Runs `ip netns exec NETNS ARGV...` (a probe from inside a test or honeypot network), resolving with its output. */
export async function execInNetns(netns: string, argv: readonly string[], timeoutMs = 10_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  checkInterfaceName(netns, 'network namespace');
  return runToolStatus('ip', ['netns', 'exec', netns, ...argv], timeoutMs);
}

export async function createBridge(name: string, opts: InNetns & { mac?: string } = {}): Promise<void> {
  checkInterfaceName(name, 'bridge');
  // A bridge takes the lowest MAC of its ports unless one is set; pinning it keeps a gateway on the bridge stable
  // while taps come and go. STP stays off so a tap forwards as soon as it is attached.
  const mac = opts.mac === undefined ? [] : ['address', checkMac(opts.mac)];
  await runIp([...netnsArgs(opts), 'link', 'add', 'name', name, ...mac, 'type', 'bridge', 'stp_state', '0']);
  await setLinkUp(name, true, opts);
}

/** Creates a persistent tap for QEMU to open by name (`-netdev tap,ifname=NAME`), optionally on a bridge. */
export async function createTap(name: string, opts: InNetns & { bridge?: string } = {}): Promise<void> {
  checkInterfaceName(name, 'tap');
  await runIp([...netnsArgs(opts), 'tuntap', 'add', 'dev', name, 'mode', 'tap']);
  if (opts.bridge !== undefined) await attachToBridge(name, opts.bridge, opts);
  await setLinkUp(name, true, opts);
}

/** A veth pair; `peerNetns` moves the second end into that namespace. */
export async function createVethPair(name: string, peer: string, opts: { peerNetns?: string } = {}): Promise<void> {
  checkInterfaceName(name, 'veth');
  checkInterfaceName(peer, 'veth peer');
  const ns = opts.peerNetns === undefined ? [] : ['netns', checkInterfaceName(opts.peerNetns, 'network namespace')];
  await runIp(['link', 'add', 'name', name, 'type', 'veth', 'peer', 'name', peer, ...ns]);
}

/** Deletes a link (bridge, tap, veth). With `ifMissing: 'ignore'` a link that is already gone is not an error. */
export async function deleteLink(name: string, opts: InNetns & { ifMissing?: 'ignore' | 'fail' } = {}): Promise<void> {
  checkInterfaceName(name);
  try {
    await runIp([...netnsArgs(opts), 'link', 'del', 'dev', name]);
  } catch (err) {
    if (opts.ifMissing === 'ignore' && !(await linkExists(name, opts))) return;
    throw err;
  }
}

export async function linkExists(name: string, opts: InNetns = {}): Promise<boolean> {
  checkInterfaceName(name);
  const r = await runToolStatus('ip', [...netnsArgs(opts), '-j', 'link', 'show', 'dev', name], 10_000);
  return r.code === 0;
}

/** `ip link set TAP master BRIDGE`: moves a port from whatever bridge it was on in one step. */
export async function attachToBridge(tap: string, bridge: string, opts: InNetns = {}): Promise<void> {
  await runIp([...netnsArgs(opts), 'link', 'set', 'dev', checkInterfaceName(tap, 'tap'), 'master', checkInterfaceName(bridge, 'bridge')]);
}

export async function detachFromBridge(tap: string, opts: InNetns = {}): Promise<void> {
  await runIp([...netnsArgs(opts), 'link', 'set', 'dev', checkInterfaceName(tap, 'tap'), 'nomaster']);
}

export async function setLinkUp(name: string, up: boolean, opts: InNetns = {}): Promise<void> {
  await runIp([...netnsArgs(opts), 'link', 'set', 'dev', checkInterfaceName(name), up ? 'up' : 'down']);
}

export async function setMac(name: string, mac: string, opts: InNetns = {}): Promise<void> {
  await runIp([...netnsArgs(opts), 'link', 'set', 'dev', checkInterfaceName(name), 'address', checkMac(mac)]);
}

export async function addAddress(name: string, cidr: string, opts: InNetns = {}): Promise<void> {
  if (!CIDR.test(cidr)) throw new QemuError('invalid_config', `${JSON.stringify(cidr)} is not an IPv4 address with a prefix (a.b.c.d/n).`);
  await runIp([...netnsArgs(opts), 'addr', 'add', cidr, 'dev', checkInterfaceName(name)]);
}

/** The link as the kernel reports it (`ip -j link show`): its master bridge, operstate, MAC and UP flag. */
export async function linkInfo(name: string, opts: InNetns = {}): Promise<LinkInfo> {
  checkInterfaceName(name);
  const out = await runIp([...netnsArgs(opts), '-j', 'link', 'show', 'dev', name]);
  let parsed: unknown;
  try { parsed = JSON.parse(out); } catch (err) {
    throw new QemuError('host_network_failed', `\`ip -j link show ${name}\` printed something that is not JSON; is iproute2 too old?`, { cause: err });
  }
  const link = Array.isArray(parsed) ? parsed[0] as Record<string, unknown> | undefined : undefined;
  if (!link) throw new QemuError('host_network_failed', `The kernel reports no link named ${name}.`);
  return {
    name,
    master: typeof link.master === 'string' ? link.master : null,
    operstate: typeof link.operstate === 'string' ? link.operstate : 'UNKNOWN',
    mac: typeof link.address === 'string' ? link.address : '',
    up: Array.isArray(link.flags) && link.flags.includes('UP'),
  };
}

export async function createNetns(name: string): Promise<void> {
  await runIp(['netns', 'add', checkInterfaceName(name, 'network namespace')]);
  await setLinkUp('lo', true, { netns: name });
}

export async function deleteNetns(name: string, opts: { ifMissing?: 'ignore' | 'fail' } = {}): Promise<void> {
  checkInterfaceName(name, 'network namespace');
  try {
    await runIp(['netns', 'del', name]);
  } catch (err) {
    if (opts.ifMissing === 'ignore' && !(await runIp(['netns', 'list'])).split('\n').some((l) => l.split(' ')[0] === name)) return;
    throw err;
  }
}

export interface GatewaySite {
  /** The bridge in the agent's namespace that VM taps attach to. */
  bridge: string;
  /** The namespace that plays the gateway (and whatever sits behind it). */
  netns: string;
  /** The veth end that is a port of `bridge`. */
  veth: string;
  /** Its peer inside `netns`, which holds the gateway's address and MAC. */
  vethPeer: string;
  gatewayCidr: string;
  gatewayMac: string;
  /** Removes the namespace, veth and bridge; safe to call twice and after a partial creation. */
  remove(): Promise<void>;
}

/**
 * A small network for a VM's tap: a bridge, and a namespace behind a veth pair that holds the gateway's address.
 * Two sites with the same gateway address *and MAC* (a production one and a honeypot one) let a VM's tap be moved
 * from one to the other while the guest's ARP entry for its gateway stays valid: the guest sees no change and
 * carries on talking, now into the contained network.
 */
export async function createGatewaySite(opts: {
  bridge: string; netns: string; veth: string; vethPeer: string; gatewayCidr: string; gatewayMac: string;
}): Promise<GatewaySite> {
  const site: GatewaySite = {
    ...opts,
    gatewayMac: checkMac(opts.gatewayMac),
    remove: async () => {
      // The namespace goes first: deleting it destroys the veth end inside it, and with it the pair.
      await deleteNetns(opts.netns, { ifMissing: 'ignore' }).catch(() => {});
      await deleteLink(opts.veth, { ifMissing: 'ignore' }).catch(() => {});
      await deleteLink(opts.bridge, { ifMissing: 'ignore' }).catch(() => {});
    },
  };
  try {
    await createBridge(opts.bridge);
    await createNetns(opts.netns);
    await createVethPair(opts.veth, opts.vethPeer, { peerNetns: opts.netns });
    await attachToBridge(opts.veth, opts.bridge);
    await setLinkUp(opts.veth, true);
    await setMac(opts.vethPeer, site.gatewayMac, { netns: opts.netns });
    await addAddress(opts.vethPeer, opts.gatewayCidr, { netns: opts.netns });
    await setLinkUp(opts.vethPeer, true, { netns: opts.netns });
  } catch (err) {
    await site.remove();
    throw err;
  }
  return site;
}

function runTool(tool: string, args: readonly string[], timeoutMs: number): Promise<string> {
  return runToolStatus(tool, args, timeoutMs).then((r) => {
    if (r.code === 0) return r.stdout;
    throw new QemuError('host_network_failed',
      `\`${tool} ${args.join(' ')}\` failed: ${r.stderr.trim() || `exit status ${r.code}`}.`, { command: `${tool} ${args[0] ?? ''}`.trim() });
  });
}

function runToolStatus(tool: string, args: readonly string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr = (stderr + d).slice(-4000); });
    child.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT'
      ? new QemuError('tool_missing', `\`${tool}\` is not installed: install iproute2 (apt-get install iproute2).`, { cause: err })
      : new QemuError('host_network_failed', `Could not run \`${tool}\`: ${err.message}.`, { cause: err })));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
