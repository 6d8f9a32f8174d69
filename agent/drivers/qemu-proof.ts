// The isolation proof of the qemu driver: what it checks after isolating (and after releasing), so that the cockpit
// shows what was verified rather than "done". Three kinds of check, each saying exactly what it saw:
//   link state        — QEMU's acknowledgement of `set_link` (QEMU 7.2 has no query that reads a NIC's link back);
//   bridge membership — the VM's host tap, read back from the kernel with `ip -j link` (its master bridge, UP);
//   probes            — ICMP echo from a network namespace on the production bridge (and on the quarantine bridge):
//                       the production side must have reached the guest *before* and no longer reach it *after*,
//                       or the silence proves nothing (a frozen or firewalled guest is silent too).
// A check that could not run says so and is not ok, and the proof is ok only when every check is.
import { spawn } from 'node:child_process';
import type { IsolationCheck, IsolationProof } from '../../protocol/index.ts';
import { checkInterfaceName, type LinkInfo } from '../qemu/net.ts';

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** How long the "no longer reaches" probe listens: three echo requests 25 ms apart, then this many ms in all. */
export const SILENCE_WINDOW_MS = 100;
/** How long a "reaches" probe waits for its one reply. */
export const REACH_TIMEOUT_MS = 1_000;

export interface ProbeOutcome {
  /** The probe ran (ip, the namespace and busybox were there). */
  ran: boolean;
  /** At least one echo reply came back. */
  reached: boolean;
  sent: number;
  received: number;
  /** Round trip of the first reply. */
  rttMs?: number;
  /** How long the probe took, spawn included. */
  ms: number;
  /** Why it did not run. */
  error?: string;
}

/**
 * Pings `ip` from inside `netns` with busybox: `reach` sends one echo request and waits up to a second for the reply
 * (it returns as soon as one comes); `silence` sends three 25 ms apart and stops listening after SILENCE_WINDOW_MS
 * (SIGINT: busybox then prints its counts and exits). Arguments only, no shell; names and address are checked.
 */
export function ping(netns: string, ip: string, mode: 'reach' | 'silence'): Promise<ProbeOutcome> {
  checkInterfaceName(netns, 'network namespace');
  if (!IPV4.test(ip)) return Promise.resolve({ ran: false, reached: false, sent: 0, received: 0, ms: 0, error: `${JSON.stringify(ip)} is not an IPv4 address` });
  const args = mode === 'reach'
    ? ['netns', 'exec', netns, 'busybox', 'ping', '-c', '1', '-W', String(REACH_TIMEOUT_MS / 1000), ip]
    : ['netns', 'exec', netns, 'busybox', 'ping', '-c', '3', '-i', '0.025', '-W', '1', ip];
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out = (out + d).slice(-8000); });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err = (err + d).slice(-2000); });
    const interrupt = setTimeout(() => child.kill('SIGINT'), mode === 'silence' ? SILENCE_WINDOW_MS : REACH_TIMEOUT_MS + 500);
    const kill = setTimeout(() => child.kill('SIGKILL'), (mode === 'silence' ? SILENCE_WINDOW_MS : REACH_TIMEOUT_MS + 500) + 1_000);
    child.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(interrupt);
      clearTimeout(kill);
      resolve({ ran: false, reached: false, sent: 0, received: 0, ms: performance.now() - started, error: e.code === 'ENOENT' ? '`ip` (iproute2) is not installed' : e.message });
    });
    child.once('close', (code) => {
      clearTimeout(interrupt);
      clearTimeout(kill);
      const ms = performance.now() - started;
      const counts = /(\d+) packets transmitted, (\d+) packets received/.exec(out);
      const rtt = /time=([0-9.]+) ms/.exec(out);
      if (!counts || (code !== 0 && code !== 1)) {
        const why = err.trim().split('\n').slice(-1)[0] || `exit status ${code}`;
        resolve({ ran: false, reached: false, sent: 0, received: 0, ms, error: /exec of "busybox" failed/.test(err) ? 'busybox is not installed (apt-get install busybox-static)' : why });
        return;
      }
      const received = Number(counts[2]);
      const outcome: ProbeOutcome = { ran: true, reached: received > 0, sent: Number(counts[1]), received, ms };
      if (rtt) outcome.rttMs = Number(rtt[1]);
      resolve(outcome);
    });
  });
}

/** Pings until one reply comes or `withinMs` passed (a guest whose carrier just came back may take a moment). */
export async function pingUntilReached(netns: string, ip: string, withinMs: number): Promise<ProbeOutcome> {
  const deadline = performance.now() + withinMs;
  const started = performance.now();
  for (;;) {
    const r = await ping(netns, ip, 'reach');
    if (r.reached || !r.ran || performance.now() > deadline) return { ...r, ms: performance.now() - started };
  }
}

export function check(name: string, ok: boolean, detail: string): IsolationCheck {
  return { name: name.slice(0, 128), ok, detail: detail.length <= 1024 ? detail : `${detail.slice(0, 1023)}…` };
}

export function proof(checks: IsolationCheck[], at = new Date().toISOString()): IsolationProof {
  return { checkedAt: at, ok: checks.length > 0 && checks.every((c) => c.ok), checks: checks.slice(0, 32) };
}

/** What QEMU acknowledged about the NIC's link. */
export function linkCheck(nic: string, vmName: string, up: boolean, ackAt: string, when = ''): IsolationCheck {
  return check(`link-state:${nic}`, true,
    `QEMU acknowledged set_link ${up ? 'up' : 'down'} on ${nic} of ${vmName} at ${ackAt}${when} (QMP). QEMU 7.2 has no query that reads a NIC's link back, so this is QEMU's acknowledgement, not a read-back; the guest sees carrier ${up ? '1' : '0'}.`);
}

/**
 * A link Cordon took down earlier and left alone since (a renewal checks it again without setting it: the guest must
 * see no change). QEMU cannot read a NIC's link back, so this rests on the acknowledgement it gave then.
 */
export function linkHeldDownCheck(nic: string, vmName: string, ackAt: string): IsolationCheck {
  return check(`link-state:${nic}`, true,
    `QEMU acknowledged set_link down on ${nic} of ${vmName} at ${ackAt} (QMP), and Cordon has not set it since; it was not set again for this check, so the guest saw no change. QEMU 7.2 has no query that reads a NIC's link back, so this rests on that acknowledgement; the guest sees carrier 0.`);
}

/** The guest's link was left as it was (honeypot mode moves the tap, not the link). */
export function linkUntouchedCheck(nic: string, vmName: string, tap: string, info: LinkInfo | Error): IsolationCheck {
  if (info instanceof Error) return check(`link-state:${nic}`, false, `Could not read the tap ${tap} of ${vmName} back (${info.message}); its state is unverified.`);
  const ok = info.up;
  return check(`link-state:${nic}`, ok, ok
    ? `The NIC's link of ${vmName} was not touched (the guest sees no change); its host tap ${tap} reads UP (operstate ${info.operstate}) in ip -j link.`
    : `The host tap ${tap} of ${vmName} reads ${info.up ? 'UP' : 'administratively DOWN'} (operstate ${info.operstate}) in ip -j link: traffic does not flow through it.`);
}

/**
 * Where the tap is, read back from the kernel. `expected` is the bridge it must be a port of (null: of none);
 * `notOn` the bridge it must not be on (the production one, for honeypot isolation and clones).
 */
export function bridgeCheck(nic: string, vmName: string, tap: string, info: LinkInfo | Error, expected: string | null, notOn?: string): IsolationCheck {
  const name = `bridge-membership:${nic}`;
  if (info instanceof Error) return check(name, false, `Could not read the tap ${tap} of ${vmName} back with ip -j link (${info.message}): its bridge membership is unverified.`);
  const where = info.master ? `a port of ${info.master}` : 'a port of no bridge';
  const ok = info.master === expected && (notOn === undefined || info.master !== notOn);
  const not = notOn !== undefined && info.master !== notOn ? `, not of ${notOn}` : '';
  return check(name, ok, ok
    ? `ip -j link shows the tap ${tap} of ${vmName} as ${where}${not}.`
    : `ip -j link shows the tap ${tap} of ${vmName} as ${where}, where it should be ${expected ? `a port of ${expected}` : 'on no bridge'}.`);
}

export interface ProbePlan {
  bridge: string;
  /** The namespace on `bridge` the probe runs from, if one is configured. */
  netns?: string;
  ip?: string;
}

/** Why a probe cannot run, or undefined when it can. */
export function cannotProbe(plan: ProbePlan, nic: string): string | undefined {
  if (!plan.netns) return `Not run: no probe namespace is configured on ${plan.bridge} (the config's "probes"), so nothing was checked from that side.`;
  if (!plan.ip) return `Not run: the config gives no IP address for ${nic}, so there was nothing to probe.`;
  return undefined;
}

/**
 * The production side no longer reaches the guest: `before` must have reached it (else silence proves nothing) and
 * `after` must not.
 */
export function goneFromCheck(name: string, nic: string, plan: ProbePlan, before: ProbeOutcome | undefined, after: ProbeOutcome | undefined): IsolationCheck {
  const skip = cannotProbe(plan, nic);
  if (skip) return check(name, false, skip);
  const from = `From the namespace ${plan.netns} on ${plan.bridge}`;
  if (before && !before.ran) return check(name, false, `Not run: ${before.error ?? 'the probe could not start'}.`);
  if (after && !after.ran) return check(name, false, `Not run after isolating: ${after.error ?? 'the probe could not start'}.`);
  if (!before?.reached) {
    return check(name, false, `${from}, ${plan.ip} did not answer an ICMP echo even before isolating (frozen, firewalled, or not up yet), so its silence now proves nothing; rely on the other checks.`);
  }
  if (!after || after.reached) {
    return check(name, false, `${from}, ${plan.ip} STILL ANSWERS after isolating (${after?.received ?? '?'} of ${after?.sent ?? '?'} echo requests): the VM is not cut off from ${plan.bridge}.`);
  }
  return check(name, true, `${from}: before isolating, ${plan.ip} answered an ICMP echo in ${fmt(before.rttMs)}; after, ${after.sent} echo requests sent 25 ms apart got no reply within ${SILENCE_WINDOW_MS} ms.`);
}

/** A side reaches the guest (the honeypot after isolating, production after release). */
export function reachesCheck(name: string, nic: string, plan: ProbePlan, outcome: ProbeOutcome | undefined, what: string): IsolationCheck {
  const skip = cannotProbe(plan, nic);
  if (skip) return check(name, false, skip);
  if (!outcome?.ran) return check(name, false, `Not run: ${outcome?.error ?? 'the probe could not start'}.`);
  const from = `From the namespace ${plan.netns} on ${plan.bridge}`;
  return outcome.reached
    ? check(name, true, `${from}, ${plan.ip} answers an ICMP echo (${fmt(outcome.rttMs)}): ${what}.`)
    : check(name, false, `${from}, ${plan.ip} did not answer an ICMP echo within ${Math.round(outcome.ms)} ms: ${what} is not confirmed.`);
}

/** A side gets no answer, without a baseline (a clone's isolated network never reached it): said as such. */
export function silentCheck(name: string, nic: string, plan: ProbePlan, outcome: ProbeOutcome | undefined, why: string): IsolationCheck {
  const skip = cannotProbe(plan, nic);
  if (skip) return check(name, false, skip);
  if (!outcome?.ran) return check(name, false, `Not run: ${outcome?.error ?? 'the probe could not start'}.`);
  const from = `From the namespace ${plan.netns} on ${plan.bridge}`;
  return outcome.reached
    ? check(name, false, `${from}, ${plan.ip} ANSWERS (${outcome.received} of ${outcome.sent} echo requests): ${why} does not hold.`)
    : check(name, true, `${from}, ${outcome.sent} echo requests to ${plan.ip} got no reply within ${SILENCE_WINDOW_MS} ms: ${why}.`);
}

function fmt(ms: number | undefined): string {
  return ms === undefined ? 'an unmeasured time' : `${ms < 10 ? ms.toFixed(2) : ms.toFixed(0)} ms`;
}
