// The `qemu` driver: the QEMU micro-VMs (`-M microvm`) a config file describes, started by the agent or adopted after
// it restarted, watched over QMP and acted on through the QEMU layer (agent/qemu/), every effect confirmed by the
// hypervisor: query-status after stop/cont, the process gone after quit, the kernel's own view of a tap's bridge.
// Each QMP event that Cordon did not cause (STOP, RESUME, SHUTDOWN, GUEST_PANICKED, a QEMU that exits) becomes an
// inventory change and a threat event of category `hypervisor`. What the driver did (states, isolations, clones,
// terminations) is kept in `<workDir>/driver-state.json`, so that a restarted agent shows the same host, re-asserts a
// cut link, and never boots again a VM a responder terminated.
//
//   npm run agent -- --driver qemu --config /etc/cordon/qemu.json --token-file token.txt
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ActionKind, ActionParams, IsolationCheck, Severity, ThreatEvent, Verdict, Vm, VmInspection, VmNetwork } from '../../protocol/index.ts';
import { inspectOverLine } from '../inspect/inspect-line.ts';
import { AgentError, systemCode } from '../errors.ts';
import { isQemuError } from '../qemu/errors.ts';
import { machinePaths, QemuMachine, type MachineConfig } from '../qemu/machine.ts';
import { attachToBridge, createTap, deleteLink, linkExists, linkInfo, setLinkUp, type LinkInfo } from '../qemu/net.ts';
import { checkPrivateDir } from '../qemu/paths.ts';
import type { QmpEvent } from '../qemu/qmp.ts';
import { ActionFailure, type ActionContext, type ActionOutcome, type ConsoleHandlers, type ConsoleSource, type Driver, type DriverConfig, type DriverSink } from './driver.ts';
import { attachSerialConsole, deadConsole } from './qemu-console.ts';
import {
  ACTION_KINDS, applyCondition, cloneCondition, during, isolationMode, isRenewal, isRunning, refuse, settle, type Condition, type Refusal,
} from '../../protocol/lifecycle.ts';
import { loadQemuConfig, type NicSpec, type QemuDriverConfig, type QemuVmSpec } from './qemu-config.ts';
import {
  bridgeCheck, check, goneFromCheck, linkCheck, linkHeldDownCheck, linkUntouchedCheck, ping, pingUntilReached, proof, reachesCheck, silentCheck, type ProbeOutcome, type ProbePlan,
} from './qemu-proof.ts';
import { captureVm } from './qemu-seize.ts';

export interface QemuDriverOptions {
  agentId: string;
  /** The config file given with --config. */
  configFile?: string;
  /** A config checked already (parseQemuConfig): tests, the lab, the bench. */
  config?: QemuDriverConfig;
}

/** The NIC of a VM as the driver keeps it: the config's, or a clone's copy of its origin's. */
interface Nic {
  name: string;
  mac: string;
  ip?: string;
}

/** One VM the driver knows: its wire view, its QEMU (while there is one), and its host tap. */
interface Entry {
  id: string;
  /** The config file's entry; none for a clone. */
  spec?: QemuVmSpec;
  vm: Vm;
  machine?: QemuMachine;
  nic?: Nic;
  /** The host tap of its NIC. */
  tap?: string;
  /** Where release puts the tap back: the production bridge (a clone's is its origin's). */
  homeBridge?: string;
  /** When QEMU last acknowledged set_link down on its NIC (isolate, a clone's start, an adoption): a renewal's proof. */
  linkDownAckAt?: string;
  /** The driver made this tap for a clone, and deletes it with the clone. */
  ownTap: boolean;
  /** An action runs on it: its QMP STOP/RESUME are Cordon's own. */
  acting: boolean;
  /** terminate runs: the exit is expected. */
  expectExit: boolean;
  /** A SHUTDOWN event said why QEMU is going; its exit needs no second threat event. */
  shutdownSaid: boolean;
  unwatch: Array<() => void>;
}

/** What driver-state.json keeps per VM. */
interface Saved {
  vm: Vm;
  tap?: string;
  homeBridge?: string;
  ownTap?: boolean;
}

interface SavedState {
  format: 'cordon-qemu-driver/1';
  vms: Record<string, Saved>;
  /** Taps the driver created for configured VMs (deleted by destroy()). */
  createdTaps: string[];
}

const STATE_FILE = 'driver-state.json';
/** How long release waits for the production side to reach the guest again. */
const RELEASE_REACH_MS = 3_000;
/** How long a probe that expects an answer keeps asking (baseline before isolating, the honeypot side after). */
const REACH_MS = 3_000;

export class QemuDriver implements Driver {
  /** The inspection running on each VM (its line takes one client): the next one waits for it. */
  private readonly inspecting = new Map<string, Promise<VmInspection>>();
  readonly kind = 'qemu';
  readonly actions = ACTION_KINDS;
  private qemuVersion = 'unknown';
  private sink: DriverSink | undefined;
  private readonly entries = new Map<string, Entry>();
  private readonly createdTaps = new Set<string>();
  private stopped = false;
  private readonly runId = randomBytes(4).toString('hex');
  private counter = 0;
  private readonly note: (line: string) => void = (line) => this.sink?.note(`qemu: ${line}`);

  constructor(readonly config: QemuDriverConfig, private readonly agentId: string) {}

  get version(): string {
    return this.qemuVersion;
  }

  private get workDir(): string {
    return this.config.workDir;
  }

  async start(sink: DriverSink): Promise<void> {
    this.sink = sink;
    this.stopped = false;
    mkdirSync(this.workDir, { recursive: true, mode: 0o700 });
    checkPrivateDir(this.workDir, 'qemu work');
    for (const sub of ['run', 'states', 'disks', 'staging']) mkdirSync(join(this.workDir, sub), { mode: 0o700, recursive: true });
    this.qemuVersion = qemuVersion(this.config.qemuBinary ?? 'qemu-system-x86_64');
    const saved = this.readState();
    for (const t of saved.createdTaps) this.createdTaps.add(t);
    for (const b of [this.config.quarantineBridge, ...this.config.probes.map((p) => p.bridge)]) {
      if (b && !(await linkExists(b))) this.note(`the bridge ${b} named in ${this.config.source} does not exist (yet): isolation into it or probes on it will fail until it does.`);
    }
    if (this.config.probes.length === 0) this.note('no "probes" in the config: isolation proofs cannot check from the production side and will not be ok.');
    for (const spec of this.config.vms) await this.bringUp(spec, saved.vms[spec.id]);
    for (const [id, rec] of Object.entries(saved.vms)) {
      if (rec.vm.cloneOf && !this.entries.has(id)) await this.adoptClone(id, rec);
      else if (!rec.vm.cloneOf && !this.entries.has(id) && rec.vm.state !== 'terminated') {
        this.note(`${rec.vm.name} (${id}) is no longer in ${this.config.source}: if its QEMU still runs (run folder ${join(this.workDir, 'run', id)}), it is not under Cordon's control.`);
      }
    }
    this.persist();
    const running = [...this.entries.values()].filter((e) => e.machine).length;
    this.note(`QEMU ${this.qemuVersion}: ${running} VM(s) under control, ${this.entries.size - running} not running (work folder ${this.workDir}).`);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const e of this.entries.values()) this.unwatch(e);
    if (this.config.onAgentStop === 'terminate') {
      await Promise.all([...this.entries.values()].map(async (e) => {
        const m = e.machine;
        if (!m) return;
        e.expectExit = true;
        await m.quit({ deadlineMs: this.config.quitDeadlineMs }).catch(() => m.kill().catch(() => {}));
        if (e.ownTap && e.tap) await deleteLink(e.tap, { ifMissing: 'ignore' }).catch(() => {});
      }));
      // VMs that live and die with the agent: the next start boots the configured ones afresh.
      this.writeState({ format: 'cordon-qemu-driver/1', vms: {}, createdTaps: [...this.createdTaps] });
    } else {
      for (const e of this.entries.values()) e.machine?.detach();
      this.persist();
    }
    this.sink = undefined;
  }

  /**
   * Kills every QEMU this driver started or adopted (SIGKILL, by pid) and deletes the taps it created: for tests,
   * the lab and benchmarks once the agent is closed. Not a responder's action.
   */
  async destroy(): Promise<void> {
    this.stopped = true;
    for (const e of this.entries.values()) {
      this.unwatch(e);
      await e.machine?.kill().catch(() => {});
      if (e.ownTap && e.tap) await deleteLink(e.tap, { ifMissing: 'ignore' }).catch(() => {});
    }
    for (const t of this.createdTaps) await deleteLink(t, { ifMissing: 'ignore' }).catch(() => {});
  }

  /** The QEMU behind a VM while it runs under this driver (tests and diagnostics read its QMP status and pid). */
  machineFor(vmId: string): QemuMachine | undefined {
    return this.entries.get(vmId)?.machine;
  }

  listVms(): Vm[] {
    return [...this.entries.values()].map((e) => e.vm);
  }

  /**
   * The VM's serial console (the agent holds one attachment per VM and shares it). A terminated VM's console is what
   * its log last showed; a VM whose monitor is lost has none to offer.
   */
  async openConsole(vmId: string, handlers: ConsoleHandlers): Promise<ConsoleSource> {
    const e = this.entries.get(vmId);
    if (!e) throw new AgentError('unknown_vm', `There is no VM "${vmId}" on this host's qemu driver: check the inventory.`);
    if (e.vm.state === 'terminated') return deadConsole(machinePaths(join(this.workDir, 'run', e.id)).serialLog);
    if (!e.machine) throw new AgentError('console_unavailable', `Cordon has no connection to ${e.vm.name}'s QEMU, so it cannot reach its console: restart the agent to adopt it again, or check the host.`);
    return attachSerialConsole(e.machine, e.vm.name, handlers, this.note);
  }

  /** What runs in the guest, read on its inspection line (never the responder's console); one at a time per VM. */
  async inspect(vmId: string): Promise<VmInspection> {
    const e = this.entries.get(vmId);
    if (!e) throw new AgentError('unknown_vm', `There is no VM "${vmId}" on this host's qemu driver: check the inventory.`);
    const m = e.machine;
    if (!m || !isRunning(e.vm.state)) {
      throw new AgentError('not_running', `${e.vm.name} is ${e.vm.state}: its guest runs nothing that could answer. Inspect a clone of it (the clone action) to look without touching it${e.vm.state === 'frozen' ? ', or resume it' : ''}.`);
    }
    const path = m.inspectSocketPath;
    if (!path) throw new AgentError('inspect_unavailable', `${e.vm.name} was started without an inspection line (by an older agent): restart it to inspect it.`);
    const previous = this.inspecting.get(vmId) ?? Promise.resolve();
    const run = previous.catch(() => {}).then(async () => {
      const first = await inspectOverLine(path, vmId, e.vm.name);
      // Just after boot the guest's helper may not have set up its line yet (the script is then echoed, or read
      // half): one more try a moment later, and the second answer stands, whatever it says.
      if (first.processes.length > 0 && first.warnings === undefined) return first;
      await new Promise((r) => setTimeout(r, 1000));
      return inspectOverLine(path, vmId, e.vm.name);
    });
    this.inspecting.set(vmId, run);
    try {
      return await run;
    } finally {
      if (this.inspecting.get(vmId) === run) this.inspecting.delete(vmId);
    }
  }

  getVm(vmId: string): Vm | undefined {
    return this.entries.get(vmId)?.vm;
  }

  /**
   * What holds this VM's data on the host, for sanitisation: its disk image (the config's, or a clone's copy), the
   * saved state it was started from (a clone), the saved states made from it to start its clones (its memory, as it
   * was then), and its serial console's log. Only files that exist.
   */
  vmFiles(vmId: string): Array<{ path: string; what: string }> {
    const e = this.entries.get(vmId);
    const name = e?.vm.name ?? vmId;
    const out: Array<{ path: string; what: string }> = [];
    if (e?.spec?.disk) out.push({ path: e.spec.disk.path, what: `the disk image of ${name} (from the agent's config)` });
    for (const format of ['qcow2', 'raw']) out.push({ path: join(this.workDir, 'disks', `${vmId}.${format}`), what: `the disk copy of ${name} (made for a clone)` });
    out.push({ path: join(this.workDir, 'states', `${vmId}.state`), what: `the saved state (memory and devices) ${name} was started from` });
    for (const c of this.entries.values()) {
      if (c.vm.cloneOf === vmId) out.push({ path: join(this.workDir, 'states', `${c.id}.state`), what: `the saved state (memory and devices) of ${name} made to start its clone ${c.vm.name}` });
    }
    out.push({ path: machinePaths(join(this.workDir, 'run', vmId)).serialLog, what: `the serial console's log of ${name}` });
    return out.filter((f, i) => existsSync(f.path) && out.findIndex((g) => g.path === f.path) === i);
  }

  refuse(vm: Vm, kind: ActionKind, params: ActionParams): Refusal | undefined {
    const e = this.entries.get(vm.id);
    if (!e) return undefined;
    if (!e.machine && vm.state !== 'terminated') {
      return { code: 'wrong_state', message: `Cordon has no monitor connection to ${vm.name}'s QEMU, so it cannot act on it: restart the agent to adopt it again, or check the host.` };
    }
    const needsNic = kind === 'isolate' || kind === 'release';
    if (needsNic && (!e.nic || !e.tap)) {
      return { code: 'unsupported', message: `${vm.name} has no network interface on a host tap, so there is nothing to ${kind}.` };
    }
    const honeypot = (kind === 'isolate' && isolationMode('isolate', params) === 'honeypot') || (kind === 'clone' && params.network === 'honeypot');
    if (honeypot && !this.config.quarantineBridge) {
      return { code: 'unsupported', message: `This host has no quarantine bridge configured ("quarantineBridge" in ${this.config.source}), so ${vm.name} cannot go to a honeypot network; use cut, or configure one.` };
    }
    return undefined;
  }

  async act(vmId: string, kind: ActionKind, ctx: ActionContext): Promise<ActionOutcome> {
    const e = this.entries.get(vmId);
    if (!e) throw new ActionFailure('unknown_vm', `There is no VM "${vmId}" on this host's qemu driver: check the inventory.`);
    const origin = e.vm.cloneOf ? this.entries.get(e.vm.cloneOf)?.vm : undefined;
    // The agent checked before accepting; the driver's own view is the truth if something changed since.
    const refusal = refuse(e.vm, kind, ctx.params, origin ? { origin } : {}) ?? this.refuse(e.vm, kind, ctx.params);
    if (refusal) throw new ActionFailure(refusal.code, refusal.message);
    if (e.acting) throw new ActionFailure('busy', `${e.vm.name} is busy with another action; wait for its result.`);
    ctx.signal.throwIfAborted();
    e.acting = true;
    try {
      switch (kind) {
        case 'terminate': return await this.terminate(e, ctx);
        case 'freeze': return await this.freezeOrResume(e, ctx, true);
        case 'resume': return await this.freezeOrResume(e, ctx, false);
        case 'isolate': return isRenewal(e.vm, ctx.params) ? await this.renew(e, ctx) : await this.isolate(e, ctx);
        case 'release': return await this.release(e, ctx);
        case 'clone': return await this.cloneVm(e, ctx);
        case 'seize': return await this.seize(e, ctx);
      }
    } finally {
      e.acting = false;
      this.persist();
    }
  }

  // ---- actions ---------------------------------------------------------------------------------------------------

  private async terminate(e: Entry, ctx: ActionContext): Promise<ActionOutcome> {
    const m = this.machineOf(e);
    ctx.progress('quit', `Quitting the QEMU of ${e.vm.name} (QMP quit); it is killed if still there after ${(this.config.quitDeadlineMs / 1000).toFixed(1)} s`);
    e.expectExit = true;
    let forced: boolean;
    try {
      ({ forced } = await m.quit({ deadlineMs: this.config.quitDeadlineMs }));
    } catch (err) {
      e.expectExit = m.isGone();
      throw err;
    }
    if (!m.isGone()) throw new ActionFailure('not_confirmed', `QEMU pid ${m.pid} of ${e.vm.name} is still there after quit and SIGKILL; check the host.`);
    this.unwatch(e);
    e.machine = undefined;
    // The clone's tap goes once its QEMU is gone, without holding up the result: the VM is confirmed terminated.
    if (e.ownTap && e.tap) void deleteLink(e.tap, { ifMissing: 'ignore' }).catch((err: unknown) => this.note(`could not delete the clone tap ${e.tap}: ${String(err)}`));
    this.settle(e, 'terminate', ctx.params);
    ctx.progress('quit', `The QEMU process of ${e.vm.name} (pid ${m.pid}) is gone${forced ? ': it did not quit in time and was killed' : ''}`, 1);
    return { state: e.vm.state, details: { killed: forced } };
  }

  private async freezeOrResume(e: Entry, ctx: ActionContext, freeze: boolean): Promise<ActionOutcome> {
    const m = this.machineOf(e);
    ctx.progress(freeze ? 'stop' : 'cont', freeze
      ? `Pausing every vCPU of ${e.vm.name} (QMP stop, confirmed by query-status)`
      : `Resuming the vCPUs of ${e.vm.name} (QMP cont, confirmed by query-status)`);
    // Each call checks query-status itself and throws not_confirmed if QEMU says otherwise.
    if (freeze) await m.stop();
    else await m.cont();
    this.settle(e, freeze ? 'freeze' : 'resume', ctx.params);
    return { state: e.vm.state };
  }

  private async isolate(e: Entry, ctx: ActionContext): Promise<ActionOutcome> {
    const m = this.machineOf(e);
    const nic = e.nic!;
    const tap = e.tap!;
    const mode = isolationMode('isolate', ctx.params);
    const net = e.vm.networks?.[0];
    const home = net?.bridge ?? e.homeBridge;
    const production = this.plan(home, nic);
    // A paused guest (a forensic hold freezes first) answers no probe: the probes would only wait out their time.
    const status = await m.status();
    const paused: ProbeOutcome | undefined = status.running ? undefined : {
      ran: false, reached: false, sent: 0, received: 0, ms: 0,
      error: `QEMU reports ${e.vm.name} ${status.status}, so it answers no probe on any network; the link and bridge checks stand alone`,
    };
    const probe = (plan: ProbePlan, want: 'reach' | 'silence') => (paused ? Promise.resolve(paused) : this.probe(plan, want));
    ctx.progress('probe', paused ? `${e.vm.name} is ${status.status}: no probe before isolating it` : `Checking that ${production.bridge} reaches ${e.vm.name} before isolating it`, 0.1);
    const before = await probe(production, 'reach');
    ctx.signal.throwIfAborted();
    let checks: IsolationCheck[];
    if (mode === 'cut') {
      ctx.progress('set-link', `Taking the link of ${e.vm.name} down (QMP set_link); it keeps running`, 0.3);
      await m.setLink(false);
      const ackAt = new Date().toISOString();
      e.linkDownAckAt = ackAt;
      this.setNetwork(e, { link: 'down' });
      ctx.progress('verify', 'Checking the isolation: link state, bridge membership, a probe from the production side', 0.6);
      const [info, after] = await Promise.all([readLink(tap), probe(production, 'silence')]);
      checks = [
        linkCheck(nic.name, e.vm.name, false, ackAt),
        bridgeCheck(nic.name, e.vm.name, tap, info, home ?? null),
        goneFromCheck(`probe-production:${nic.name}`, nic.name, production, before, after),
      ];
    } else {
      const quarantine = this.config.quarantineBridge!;
      ctx.progress('move-tap', `Moving the tap ${tap} of ${e.vm.name} from ${home ?? 'no bridge'} to the quarantine bridge ${quarantine}; it keeps running`, 0.3);
      await attachToBridge(tap, quarantine);
      const honeypot = this.plan(quarantine, nic);
      ctx.progress('verify', 'Checking the isolation: bridge membership, a probe from the production side and one from the honeypot side', 0.6);
      const [info, after, there] = await Promise.all([readLink(tap), probe(production, 'silence'), probe(honeypot, 'reach')]);
      this.setNetwork(e, { bridge: info instanceof Error ? quarantine : info.master ?? undefined });
      if (!(info instanceof Error) && info.master !== quarantine) {
        throw new ActionFailure('not_confirmed', `After moving it, the kernel shows the tap ${tap} of ${e.vm.name} on ${info.master ?? 'no bridge'}, not on ${quarantine}: it is not in the honeypot network. Check the host's bridges.`);
      }
      checks = [
        linkUntouchedCheck(nic.name, e.vm.name, tap, info),
        bridgeCheck(nic.name, e.vm.name, tap, info, quarantine, home),
        goneFromCheck(`probe-production:${nic.name}`, nic.name, production, before, after),
        reachesCheck(`probe-honeypot:${nic.name}`, nic.name, honeypot, there, 'the attacker\'s session goes on, into the quarantine network'),
      ];
    }
    const at = new Date().toISOString();
    const evidence = proof(checks, at);
    this.settle(e, 'isolate', ctx.params, evidence);
    if (!evidence.ok) this.note(`${e.vm.name} isolated (${mode}) but its proof does not hold: ${evidence.checks.filter((c) => !c.ok).map((c) => c.detail).join(' ')}`);
    return { state: e.vm.state, details: { mode, isolation: evidence } };
  }

  /**
   * A renewal: the isolation stays exactly as it is — no set_link, the tap not moved — and is checked again by reading
   * only: QEMU's run state, the tap's bridge in the kernel, probes from the production side (not for a clone: its
   * origin answers there with the same address) and from the quarantine side. There is no "before" probe (the VM was
   * cut off already), so the production side's silence counts only while QEMU runs the vCPUs, and a honeypot probe
   * that reaches the guest shows that it still answers. A tap the kernel shows elsewhere than Cordon left it fails the
   * renewal when the isolation rests on it (the link is up): it is not put back, since a renewal touches nothing.
   */
  private async renew(e: Entry, ctx: ActionContext): Promise<ActionOutcome> {
    const m = this.machineOf(e);
    const nic = e.nic!;
    const tap = e.tap!;
    const isolation = e.vm.isolation!;
    const mode = isolation.mode;
    const net = e.vm.networks?.[0];
    const linkDown = net?.link === 'down';
    const expected = net?.bridge ?? null;
    const quarantine = this.config.quarantineBridge;
    const expiry = ctx.params.expiresAt;
    ctx.progress('renew', `Renewing the isolation (${mode}) of ${e.vm.name} ${expiry !== undefined ? `until ${expiry}` : 'with no expiry'}; its link, tap and bridge are left as they are`, 0.1);
    const status = await m.status();
    ctx.signal.throwIfAborted();
    ctx.progress('verify', 'Checking the isolation again, reading only: link state, bridge membership, probes from outside', 0.4);
    const production = !e.vm.cloneOf && e.homeBridge !== undefined ? this.plan(e.homeBridge, nic) : undefined;
    const honeypot = quarantine !== undefined && expected === quarantine ? this.plan(quarantine, nic) : undefined;
    const [info, away, there] = await Promise.all([
      readLink(tap),
      status.running && production ? this.probe(production, 'silence') : undefined,
      status.running && honeypot ? this.probe(honeypot, linkDown ? 'silence' : 'reach') : undefined,
    ]);
    if (!(info instanceof Error) && info.master !== expected) {
      this.setNetwork(e, { bridge: info.master ?? undefined });
      this.sink?.vmChanged(e.vm);
      this.threat(e, 'high', 'suspicious', `The tap of ${e.vm.name} was moved outside Cordon`,
        `Renewing its isolation, Cordon found the host tap ${tap} of ${e.vm.name} on ${info.master ?? 'no bridge'}, where it had left it on ${expected ?? 'no bridge'}. Check who changed the host's bridges; the inventory now shows where it is.`);
      if (!linkDown) {
        throw new ActionFailure('not_confirmed', `The kernel shows the tap ${tap} of ${e.vm.name} on ${info.master ?? 'no bridge'}, not on ${expected ?? 'no bridge'} where its isolation left it: the isolation does not hold, so it was not renewed. A renewal moves nothing: release ${e.vm.name} and isolate it again, or check the host's bridges.`);
      }
    }
    const checks: IsolationCheck[] = [
      linkDown ? linkHeldDownCheck(nic.name, e.vm.name, e.linkDownAckAt ?? isolation.since) : linkUntouchedCheck(nic.name, e.vm.name, tap, info),
      bridgeCheck(nic.name, e.vm.name, tap, info, expected, e.homeBridge !== expected ? e.homeBridge : undefined),
    ];
    // Silence means something only from a guest whose vCPUs run.
    const notRun = (name: string, plan: ProbePlan) => check(name, false,
      `Not run: QEMU reports ${e.vm.name} ${status.status}, so it answers no probe on any network and its silence from ${plan.bridge} would prove nothing; rely on the other checks.`);
    if (production) {
      const name = `probe-production:${nic.name}`;
      checks.push(status.running
        ? silentCheck(name, nic.name, production, away, `${e.vm.name} is still cut off from ${production.bridge} (a renewal has no "before" to compare with; QEMU runs its vCPUs, so this is not a paused guest's silence)`)
        : notRun(name, production));
    }
    if (honeypot) {
      const name = `probe-honeypot:${nic.name}`;
      checks.push(!status.running ? notRun(name, honeypot)
        : linkDown ? silentCheck(name, nic.name, honeypot, there, `the link of ${e.vm.name} is down, so even the quarantine network does not reach it`)
          : reachesCheck(name, nic.name, honeypot, there, 'the attacker\'s session goes on, into the quarantine network'));
    }
    const evidence = proof(checks);
    this.settle(e, 'isolate', ctx.params, evidence);
    if (!evidence.ok) this.note(`${e.vm.name}: isolation (${mode}) renewed, but its proof does not hold: ${evidence.checks.filter((c) => !c.ok).map((c) => c.detail).join(' ')}`);
    return { state: e.vm.state, details: { mode, isolation: evidence } };
  }

  private async release(e: Entry, ctx: ActionContext): Promise<ActionOutcome> {
    const m = this.machineOf(e);
    const nic = e.nic!;
    const tap = e.tap!;
    const mode = e.vm.isolation?.mode ?? 'cut';
    const net = e.vm.networks?.[0];
    const target = e.homeBridge;
    if (!target) throw new ActionFailure('not_confirmed', `Cordon does not know which bridge ${e.vm.name} came from, so it cannot put it back; attach its tap ${tap} by hand.`);
    const checks: IsolationCheck[] = [];
    if (net?.bridge !== target) {
      ctx.progress('move-tap', `Putting the tap ${tap} of ${e.vm.name} back on ${target}`, 0.2);
      await attachToBridge(tap, target);
    }
    this.setNetwork(e, { bridge: target });
    if (net?.link === 'down') {
      ctx.progress('set-link', `Bringing the link of ${e.vm.name} back up (QMP set_link)`, 0.4);
      await m.setLink(true);
      delete e.linkDownAckAt;
      this.setNetwork(e, { link: 'up' });
      checks.push(linkCheck(nic.name, e.vm.name, true, new Date().toISOString()));
    }
    ctx.progress('verify', `Checking that ${e.vm.name} is back on ${target}: bridge membership, a probe from that side`, 0.6);
    const production = this.plan(target, nic);
    const [info, back] = await Promise.all([readLink(tap), production.netns && production.ip ? pingUntilReached(production.netns, production.ip, RELEASE_REACH_MS) : Promise.resolve(undefined)]);
    if (net?.link !== 'down') checks.push(linkUntouchedCheck(nic.name, e.vm.name, tap, info));
    checks.push(bridgeCheck(nic.name, e.vm.name, tap, info, target));
    checks.push(reachesCheck(`probe-production:${nic.name}`, nic.name, production, back, `${e.vm.name} is reachable on ${target} again`));
    if (!(info instanceof Error) && info.master !== target) {
      throw new ActionFailure('not_confirmed', `After moving it back, the kernel shows the tap ${tap} of ${e.vm.name} on ${info.master ?? 'no bridge'}, not on ${target}. Check the host's bridges.`);
    }
    const evidence = proof(checks);
    this.settle(e, 'release', ctx.params);
    return { state: e.vm.state, details: { mode, isolation: evidence } };
  }

  private async cloneVm(e: Entry, ctx: ActionContext): Promise<ActionOutcome> {
    const m = this.machineOf(e);
    const network = ctx.params.network ?? 'none';
    const mode = isolationMode('clone', ctx.params);
    const { id, n } = this.newCloneId(e.id);
    const name = `${e.vm.name.slice(0, 110)} (clone ${n})`;
    const runDir = join(this.workDir, 'run', id);
    const statePath = join(this.workDir, 'states', `${id}.state`);
    const disk = m.config.disk ? { path: join(this.workDir, 'disks', `${id}.${m.config.disk.format}`), format: m.config.disk.format } : undefined;
    const quarantine = this.config.quarantineBridge;
    let tap: string | undefined;
    let clone: QemuMachine | undefined;
    try {
      if (m.config.nic) {
        // A tap of its own: on no bridge (network none) or on the quarantine bridge. Never the origin's bridge: the
        // clone has the origin's MAC and IP address.
        tap = newTapName();
        await createTap(tap, network === 'honeypot' ? { bridge: quarantine! } : {});
      }
      ctx.progress('save-state', `Pausing ${e.vm.name} briefly to save its memory and device state${disk ? ' and copy its disk' : ''} (migrate to a file)`, 0.05);
      const saved = await m.saveState(statePath, disk ? { diskTo: disk.path } : {});
      ctx.progress('start', `Starting ${name} from the saved state (${mib(saved.bytes)} MiB; ${e.vm.name} was paused ${saved.pausedMs.toFixed(0)} ms): same devices, its NIC ${tap ? `on the tap ${tap}${network === 'honeypot' ? ` on ${quarantine}` : ' on no bridge'}` : 'absent'}, link down before it runs`, 0.5);
      const started = await m.startClone(statePath, {
        id, name, runDir, ...(disk ? { disk } : {}), nicBackend: tap ? { kind: 'tap', ifname: tap } : { kind: 'user' },
      }, { note: this.note });
      clone = started.machine;
      const ackAt = new Date().toISOString();
      rmSync(statePath, { force: true });
      ctx.progress('verify', `Checking ${name}: link down, its tap's bridge, and that ${e.vm.name} runs as before`, 0.85);
      const checks: IsolationCheck[] = [];
      const nic = e.nic;
      if (nic && tap) {
        checks.push(linkCheck(nic.name, name, false, ackAt, ', before its first instruction ran'));
        const info = await readLink(tap);
        const expected = network === 'honeypot' ? quarantine! : null;
        // Never the origin's production bridge, whatever bridge the origin is on now (it may be in the honeypot).
        const production = e.homeBridge !== expected ? e.homeBridge : undefined;
        checks.push(bridgeCheck(nic.name, name, tap, info, expected, production));
        if (network === 'honeypot') {
          const there = this.plan(quarantine!, nic);
          checks.push(silentCheck(`probe-honeypot:${nic.name}`, nic.name, there, await this.probe(there, 'silence'), 'the clone\'s link is down, so even the quarantine network does not reach it'));
        }
      }
      const originStatus = await m.status();
      if (isRunning(e.vm.state) !== originStatus.running) {
        this.note(`${e.vm.name} is ${originStatus.status} after the clone, though it was ${e.vm.state}.`);
      }
      const at = new Date().toISOString();
      const evidence = checks.length > 0 ? proof(checks, at) : undefined;
      const condition = cloneCondition(ctx.params, at, evidence);
      const { busy: _busy, isolation: _isolation, ...base } = e.vm;
      const vm: Vm = {
        ...base,
        id,
        name,
        state: condition.state,
        cloneOf: e.id,
        networks: nic ? [vmNetwork(nic, network === 'honeypot' ? quarantine : undefined, 'down')] : [],
        tags: [...(e.vm.tags ?? []).filter((t) => t !== 'clone').slice(0, 63), 'clone'],
        since: at,
      };
      if (condition.isolation) vm.isolation = condition.isolation;
      const entry: Entry = {
        id, vm, machine: clone, ownTap: tap !== undefined, acting: false, expectExit: false, shutdownSaid: false, unwatch: [],
        ...(nic ? { nic } : {}), ...(tap ? { tap, linkDownAckAt: ackAt } : {}), ...(e.homeBridge ? { homeBridge: e.homeBridge } : {}),
      };
      this.entries.set(id, entry);
      this.watch(entry);
      this.persist();
      this.sink?.vmChanged(vm);
      this.settle(e, 'clone', ctx.params);
      ctx.progress('done', `${name} runs, cut off (${mode}); ${e.vm.name} carries on as it was`, 1);
      return { state: e.vm.state, details: { cloneVmId: id, mode, ...(evidence ? { isolation: evidence } : {}) } };
    } catch (err) {
      if (!this.entries.has(id)) {
        await clone?.kill().catch(() => {});
        if (tap) await deleteLink(tap, { ifMissing: 'ignore' }).catch(() => {});
        if (disk) rmSync(disk.path, { force: true });
        rmSync(runDir, { recursive: true, force: true });
      }
      rmSync(statePath, { force: true });
      throw err;
    }
  }

  private async seize(e: Entry, ctx: ActionContext): Promise<ActionOutcome> {
    const m = this.machineOf(e);
    const startedAt = new Date().toISOString();
    const before = await m.status();
    const staging = join(this.workDir, 'staging', `${ctx.requestId.replace(/[^A-Za-z0-9._-]/g, '_')}-${randomBytes(3).toString('hex')}`);
    this.apply(e, during(e.vm, 'seize')!);
    try {
      if (before.running) {
        ctx.progress('freeze', `Freezing ${e.vm.name} (QMP stop, confirmed by query-status) so its memory and disk hold still`, 0.02);
        await m.stop();
      } else {
        ctx.progress('freeze', `${e.vm.name} is paused already (${before.status})`, 0.02);
      }
      ctx.signal.throwIfAborted();
      mkdirSync(staging, { mode: 0o700 });
      const { files } = await captureVm({
        machine: m, vm: e.vm, configSource: this.config.source, agentId: this.agentId, qemuVersion: this.qemuVersion,
        stagingDir: staging, statusBefore: before.status, startedAt, ctx, ...(e.spec ? { spec: e.spec } : {}),
      });
      this.settle(e, 'seize', ctx.params);
      return { state: e.vm.state, details: { captureId: ctx.requestId, files } };
    } catch (err) {
      rmSync(staging, { recursive: true, force: true });
      // Frozen by the first step, it stays so: a half-made capture must not let the attacker run on. A QEMU that
      // died meanwhile is terminated (the monitor's close said so already).
      if (e.machine === m && !m.isGone()) this.apply(e, { state: 'frozen', ...(e.vm.isolation ? { isolation: e.vm.isolation } : {}) });
      throw err;
    }
  }

  // ---- bringing VMs up, adopting them --------------------------------------------------------------------------

  private async bringUp(spec: QemuVmSpec, rec: Saved | undefined): Promise<void> {
    const runDir = join(this.workDir, 'run', spec.id);
    const entry: Entry = {
      id: spec.id, spec, vm: rec?.vm ?? this.freshVm(spec), ownTap: false, acting: false, expectExit: false, shutdownSaid: false, unwatch: [],
      ...(spec.nic ? { nic: nicOf(spec.nic), tap: spec.nic.tap, homeBridge: spec.nic.bridge } : {}),
    };
    this.entries.set(spec.id, entry);
    if (rec?.vm.state === 'terminated') {
      this.note(`${spec.name} was terminated by Cordon (${rec.vm.since ?? 'earlier'}) and is not started again; remove its entry from ${join(this.workDir, STATE_FILE)} to bring it back.`);
      return;
    }
    let machine: QemuMachine | undefined;
    try {
      machine = await QemuMachine.adopt(runDir, { note: this.note });
    } catch (err) {
      if (!isQemuError(err, 'qemu_adopt_failed')) {
        throw new AgentError('qemu_adopt_failed', `${spec.name}'s QEMU seems to run (run folder ${runDir}) but Cordon cannot take it over: ${(err as Error).message}`, { cause: err });
      }
    }
    if (machine) {
      entry.machine = machine;
      this.watch(entry);
      await this.reconcile(entry, rec);
      this.note(`adopted ${spec.name} (QEMU pid ${machine.pid}), ${entry.vm.state}.`);
      return;
    }
    if (rec && rec.vm.state !== 'running') {
      // It was frozen, isolated or seized: booting it afresh would put a contained VM back on its network.
      entry.vm = applyCondition(entry.vm, { state: 'terminated' }, new Date().toISOString());
      this.threat(entry, 'high', 'suspicious', `${spec.name} was gone when the agent started`,
        `${spec.name} was ${rec.vm.state} when the agent last ran, and its QEMU is no longer running (it exited or was killed on the host while the agent was down). It is not started again, so a contained VM does not come back on its network; anything only in its memory is lost.`);
      return;
    }
    if (spec.nic) await this.prepareTap(spec);
    const config = this.machineConfig(spec, runDir);
    try {
      machine = await QemuMachine.start(config, { note: this.note });
    } catch (err) {
      entry.vm = applyCondition(entry.vm, { state: 'terminated' }, new Date().toISOString());
      this.threat(entry, 'medium', 'suspicious', `${spec.name} could not be started`, `${spec.name} did not start: ${(err as Error).message}`);
      this.note(`${spec.name} did not start: ${(err as Error).message}`);
      return;
    }
    entry.machine = machine;
    entry.vm = this.freshVm(spec);
    this.watch(entry);
    this.note(`started ${spec.name} (QEMU pid ${machine.pid}, ${spec.memoryMiB} MiB, ${spec.accel}).`);
  }

  private async adoptClone(id: string, rec: Saved): Promise<void> {
    if (rec.vm.state === 'terminated') return; // a clone that ended is not shown again after a restart
    const entry: Entry = {
      id, vm: rec.vm, ownTap: rec.ownTap ?? false, acting: false, expectExit: false, shutdownSaid: false, unwatch: [],
      ...(rec.tap ? { tap: rec.tap } : {}), ...(rec.homeBridge ? { homeBridge: rec.homeBridge } : {}),
    };
    const net = rec.vm.networks?.[0];
    if (net?.mac) entry.nic = { name: net.name, mac: net.mac, ...(net.ip ? { ip: net.ip } : {}) };
    this.entries.set(id, entry);
    try {
      entry.machine = await QemuMachine.adopt(join(this.workDir, 'run', id), { note: this.note });
    } catch (err) {
      entry.vm = applyCondition(entry.vm, { state: 'terminated' }, new Date().toISOString());
      if (entry.ownTap && entry.tap) await deleteLink(entry.tap, { ifMissing: 'ignore' }).catch(() => {});
      this.threat(entry, 'medium', 'suspicious', `${rec.vm.name} was gone when the agent started`,
        `The clone ${rec.vm.name} no longer runs (${(err as Error).message}); it exited or was killed on the host while the agent was down.`);
      return;
    }
    this.watch(entry);
    await this.reconcile(entry, rec);
    this.note(`adopted the clone ${rec.vm.name} (QEMU pid ${entry.machine.pid}), ${entry.vm.state}.`);
  }

  /** After adopting: QEMU's run state and the tap's bridge are the truth; what changed while the agent was away is said. */
  private async reconcile(e: Entry, rec: Saved | undefined): Promise<void> {
    const m = e.machine!;
    if (!rec) {
      // Running, but never recorded (a state file removed by hand): shown as QEMU has it.
      e.vm = this.freshVm(e.spec!);
    }
    if (e.tap) {
      const info = await readLink(e.tap);
      if (!(info instanceof Error)) {
        const was = e.vm.networks?.[0]?.bridge;
        if ((info.master ?? undefined) !== was) {
          this.threat(e, 'high', 'suspicious', `The tap of ${e.vm.name} was moved outside Cordon`,
            `While the agent was down, the host tap ${e.tap} of ${e.vm.name} moved from ${was ?? 'no bridge'} to ${info.master ?? 'no bridge'}. Check who changed the host's bridges; the inventory now shows where it is.`);
          this.setNetwork(e, { bridge: info.master ?? undefined });
        }
      }
    }
    // A cut link is set again: nothing QEMU kept can be trusted more than a fresh acknowledgement.
    if (e.vm.networks?.[0]?.link === 'down') {
      await m.setLink(false);
      e.linkDownAckAt = new Date().toISOString();
    }
    const status = await m.status();
    if (isRunning(e.vm.state) && !status.running) {
      this.apply(e, { state: 'frozen', ...(e.vm.isolation ? { isolation: e.vm.isolation } : {}) });
      this.threat(e, 'medium', 'suspicious', `${e.vm.name} was paused outside Cordon`,
        `When the agent started, QEMU reported ${e.vm.name} ${status.status}, though Cordon had left it running. Someone paused it on the host (QMP, HMP or a signal) while the agent was down.`);
    } else if (!isRunning(e.vm.state) && e.vm.state !== 'terminated' && status.running) {
      const was = e.vm.state;
      this.apply(e, e.vm.isolation ? { state: 'isolated', isolation: e.vm.isolation } : { state: 'running' });
      this.threat(e, was === 'seized' ? 'high' : 'medium', 'suspicious', `${e.vm.name} was resumed outside Cordon`,
        `When the agent started, QEMU reported ${e.vm.name} running, though Cordon had left it ${was}. Someone resumed it on the host while the agent was down${was === 'seized' ? '; it has run since its seizure, so the capture no longer shows its present state' : ''}.`);
    }
  }

  private async prepareTap(spec: QemuVmSpec): Promise<void> {
    const { tap, bridge } = spec.nic!;
    if (!(await linkExists(bridge))) {
      throw new AgentError('host_network_failed', `The bridge ${bridge} of ${spec.name} does not exist: create it (ip link add ${bridge} type bridge) or fix "bridge" in ${this.config.source}.`);
    }
    if (!(await linkExists(tap))) {
      await createTap(tap, { bridge });
      this.createdTaps.add(tap);
      this.note(`created the tap ${tap} on ${bridge} for ${spec.name}.`);
      return;
    }
    const info = await linkInfo(tap);
    if (info.master !== bridge) {
      await attachToBridge(tap, bridge);
      this.note(`the tap ${tap} of ${spec.name} was on ${info.master ?? 'no bridge'}; attached it to ${bridge} as the config says.`);
    }
    if (!info.up) await setLinkUp(tap, true);
  }

  private machineConfig(spec: QemuVmSpec, runDir: string): MachineConfig {
    const c: MachineConfig = {
      id: spec.id, name: spec.name, memoryMiB: spec.memoryMiB, vcpus: spec.vcpus, accel: spec.accel,
      kernel: spec.kernel, initramfs: spec.initramfs, runDir,
      // The window-size line of its console (agent/qemu/winsize.ts); a clone inherits it with the rest of the config.
      consoleControl: true,
      // The inspection line (agent/inspect/guest-shell.ts): the evaluation view without the responder's console.
      inspectLine: true,
    };
    if (spec.append !== undefined) c.append = spec.append;
    if (spec.disk) c.disk = spec.disk;
    if (spec.nic) c.nic = { mac: spec.nic.mac, backend: { kind: 'tap', ifname: spec.nic.tap } };
    if (this.config.qemuBinary) c.qemuBinary = this.config.qemuBinary;
    if (this.config.qemuImgBinary) c.qemuImgBinary = this.config.qemuImgBinary;
    return c;
  }

  private freshVm(spec: QemuVmSpec): Vm {
    const vm: Vm = {
      id: spec.id, name: spec.name, state: 'running',
      networks: spec.nic ? [vmNetwork(nicOf(spec.nic), spec.nic.bridge, 'up')] : [],
      tags: spec.tags ?? [],
      memoryMiB: spec.memoryMiB,
      vcpus: spec.vcpus,
      image: spec.image ?? 'QEMU micro-VM',
      since: new Date().toISOString(),
    };
    return vm;
  }

  // ---- QMP events -----------------------------------------------------------------------------------------------

  private watch(e: Entry): void {
    const m = e.machine!;
    e.unwatch.push(m.onEvent((event) => this.onQmpEvent(e, m, event)));
    e.unwatch.push(m.qmp.onClose(() => void this.onMonitorClosed(e, m)));
    // Its logs into the agent's log store: what the guest printed on its serial console (from boot on, whether or
    // not anyone was connected), and QEMU's own log (-D) and stderr. Stopped with the rest, after a last read.
    const sink = this.sink;
    if (sink?.followLog) {
      e.unwatch.push(sink.followLog({ path: m.paths.serialLog, source: 'serial', vmId: e.id, format: 'plain' }));
      e.unwatch.push(sink.followLog({ path: m.paths.qemuLog, source: 'hypervisor', vmId: e.id, format: 'qemu' }));
      e.unwatch.push(sink.followLog({ path: m.paths.stderrLog, source: 'hypervisor', vmId: e.id, format: 'qemu' }));
    }
  }

  private unwatch(e: Entry): void {
    for (const off of e.unwatch.splice(0)) off();
  }

  private onQmpEvent(e: Entry, m: QemuMachine, event: QmpEvent): void {
    if (this.stopped || e.machine !== m) return;
    switch (event.event) {
      case 'STOP':
        if (!e.acting) void this.afterStop(e, m);
        return;
      case 'RESUME':
        if (e.acting || isRunning(e.vm.state) || e.vm.state === 'terminated') return;
        {
          const was = e.vm.state;
          this.apply(e, e.vm.isolation ? { state: 'isolated', isolation: e.vm.isolation } : { state: 'running' });
          this.threat(e, was === 'seized' || was === 'seizing' ? 'high' : 'medium', 'suspicious', `${e.vm.name} resumed outside Cordon`,
            `QEMU resumed the vCPUs of ${e.vm.name}, which Cordon had left ${was}, without a request from any cockpit: someone ran cont on the host.${was === 'seized' ? ' It has run since its seizure, so the capture no longer shows its present state.' : ''}`);
        }
        return;
      case 'SHUTDOWN': {
        if (e.expectExit) return;
        e.shutdownSaid = true;
        const reason = typeof event.data.reason === 'string' ? event.data.reason : 'unknown';
        const byGuest = event.data.guest === true;
        this.threat(e, byGuest ? 'medium' : 'high', 'suspicious', `${e.vm.name} shut down outside Cordon (${reason})`,
          byGuest
            ? `The guest of ${e.vm.name} shut itself down or rebooted (${reason}); QEMU exits (-no-reboot). Anything only in its memory is gone: an intruder covering tracks does this.`
            : `QEMU shut ${e.vm.name} down (${reason}) without a request from any cockpit: someone acted on the host.`);
        return;
      }
      case 'GUEST_PANICKED': {
        const action = typeof event.data.action === 'string' ? event.data.action : 'unknown';
        this.threat(e, 'high', 'suspicious', `${e.vm.name}: guest panicked`,
          `The guest kernel of ${e.vm.name} panicked (QEMU's action: ${action}). A kernel exploit or a module an intruder loaded can do this; seize it if it is still there.`);
        void this.afterStop(e, m, true);
        return;
      }
      default:
    }
  }

  /** A STOP Cordon did not ask for: what QEMU says the VM is now decides what it was. */
  private async afterStop(e: Entry, m: QemuMachine, panicSaid = false): Promise<void> {
    const s = await m.status().catch(() => undefined);
    if (!s || s.running || e.acting || e.machine !== m || this.stopped) return;
    if (s.status === 'shutdown' || !isRunning(e.vm.state)) return; // exiting (the SHUTDOWN said so), or already frozen
    this.apply(e, { state: 'frozen', ...(e.vm.isolation ? { isolation: e.vm.isolation } : {}) });
    if (panicSaid || s.status === 'guest-panicked') return;
    const why = s.status === 'io-error' ? 'a disk I/O error paused it (QEMU run state io-error)'
      : s.status === 'internal-error' ? 'QEMU hit an internal error and paused it'
        : `someone paused it on the host (QMP stop, HMP or a debugger; QEMU run state ${s.status})`;
    this.threat(e, 'medium', 'suspicious', `${e.vm.name} stopped outside Cordon`, `The vCPUs of ${e.vm.name} stopped without a request from any cockpit: ${why}. It is shown frozen; resume it from the cockpit once understood.`);
  }

  /** The QMP connection closed: QEMU exited (or was killed), unless Cordon itself is ending it. */
  private async onMonitorClosed(e: Entry, m: QemuMachine): Promise<void> {
    if (this.stopped || e.machine !== m || e.expectExit) return;
    const gone = await m.waitGone(3_000);
    if (this.stopped || e.machine !== m || e.expectExit) return;
    this.unwatch(e);
    e.machine = undefined;
    if (!gone) {
      this.threat(e, 'high', 'suspicious', `Cordon lost the monitor of ${e.vm.name}`,
        `The QMP connection to ${e.vm.name}'s QEMU (pid ${m.pid}) closed, yet the process still runs: someone may have taken over its monitor. Cordon cannot act on it until the agent restarts and adopts it again.`);
      this.sink?.vmChanged(e.vm);
      return;
    }
    await m.kill().catch(() => {}); // clears the sockets a dead QEMU leaves behind
    if (e.ownTap && e.tap) await deleteLink(e.tap, { ifMissing: 'ignore' }).catch(() => {});
    const was = e.vm.state;
    this.apply(e, { state: 'terminated' });
    if (!e.shutdownSaid) {
      this.threat(e, 'high', 'suspicious', `The QEMU process of ${e.vm.name} exited unexpectedly`,
        `QEMU pid ${m.pid} of ${e.vm.name} (${was}) is gone without a shutdown or a request from any cockpit: it crashed, or was killed on the host. Its memory is lost; its logs remain in ${m.paths.runDir}.`);
    }
  }

  // ---- helpers ---------------------------------------------------------------------------------------------------

  private machineOf(e: Entry): QemuMachine {
    if (!e.machine) throw new ActionFailure('wrong_state', `Cordon has no running QEMU for ${e.vm.name}: it was terminated, or its monitor was lost.`);
    return e.machine;
  }

  private plan(bridge: string | undefined, nic: Nic): ProbePlan {
    const b = bridge ?? 'no bridge';
    const netns = bridge ? this.config.probes.find((p) => p.bridge === bridge)?.netns : undefined;
    return { bridge: b, ...(netns ? { netns } : {}), ...(nic.ip ? { ip: nic.ip } : {}) };
  }

  /**
   * `reach` tries again for up to REACH_MS (a guest on a loaded TCG host, or one whose neighbours must first answer
   * ARP, can miss a one-second window; a healthy one answers the first echo in milliseconds, so this costs nothing
   * then). `silence` is one window: its three echo requests are the repetition.
   */
  private async probe(plan: ProbePlan, mode: 'reach' | 'silence'): Promise<ProbeOutcome | undefined> {
    if (!plan.netns || !plan.ip) return undefined;
    return mode === 'reach' ? pingUntilReached(plan.netns, plan.ip, REACH_MS) : ping(plan.netns, plan.ip, 'silence');
  }

  private setNetwork(e: Entry, change: Partial<Pick<VmNetwork, 'bridge' | 'link'>>): void {
    const [first, ...rest] = e.vm.networks ?? [];
    if (!first) return;
    const next: VmNetwork = { ...first, ...change };
    if ('bridge' in change && change.bridge === undefined) delete next.bridge;
    e.vm = { ...e.vm, networks: [next, ...rest] };
  }

  private settle(e: Entry, kind: ActionKind, params: ActionParams, evidence?: ReturnType<typeof proof>): void {
    const at = new Date().toISOString();
    this.apply(e, settle(e.vm, kind, evidence ? { at, params, proof: evidence } : { at, params }));
  }

  private apply(e: Entry, condition: Condition): void {
    e.vm = applyCondition(e.vm, condition, new Date().toISOString());
    this.persist();
    this.sink?.vmChanged(e.vm);
  }

  private newCloneId(originId: string): { id: string; n: number } {
    const base = originId.slice(0, 56);
    for (let n = 1; ; n++) {
      const id = `${base}-c${n}`;
      if (!this.entries.has(id) && !existsSync(join(this.workDir, 'run', id))) return { id, n };
    }
  }

  private threat(e: Entry, severity: Severity, verdict: Verdict, title: string, description: string): void {
    const event: ThreatEvent = {
      id: `qemu-${this.runId}-${(this.counter++).toString(36)}`,
      time: new Date().toISOString(),
      agentId: this.agentId,
      vmId: e.id,
      vmName: e.vm.name.slice(0, 256),
      severity,
      verdict,
      category: 'hypervisor',
      title: clip(title, 512),
      description: clip(description, 4096),
      sensor: { id: 'qemu-qmp', kind: 'hypervisor' },
    };
    this.note(`${title}`);
    this.sink?.threats([event]);
  }

  private readState(): SavedState {
    const path = join(this.workDir, STATE_FILE);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if (systemCode(err) === 'ENOENT') return { format: 'cordon-qemu-driver/1', vms: {}, createdTaps: [] };
      throw new AgentError('state_unreadable', `Cannot read ${path} (${systemCode(err)}): check its permissions.`, { cause: err });
    }
    try {
      const parsed = JSON.parse(text) as Partial<SavedState>;
      if (parsed.format !== 'cordon-qemu-driver/1' || typeof parsed.vms !== 'object' || parsed.vms === null) throw new Error('not a Cordon qemu driver state');
      return { format: parsed.format, vms: parsed.vms, createdTaps: Array.isArray(parsed.createdTaps) ? parsed.createdTaps.filter((t) => typeof t === 'string') : [] };
    } catch (err) {
      // Refusing beats guessing: booting afresh could bring back a VM a responder terminated or contained.
      throw new AgentError('state_unreadable', `${path} is damaged (${(err as Error).message}): it records which VMs Cordon terminated or contained. Move it aside and check each VM before starting the agent again.`, { cause: err });
    }
  }

  private persist(): void {
    const vms: Record<string, Saved> = {};
    for (const e of this.entries.values()) {
      const { busy: _busy, ...vm } = e.vm;
      const s: Saved = { vm };
      if (e.tap) s.tap = e.tap;
      if (e.homeBridge) s.homeBridge = e.homeBridge;
      if (e.ownTap) s.ownTap = true;
      vms[e.id] = s;
    }
    this.writeState({ format: 'cordon-qemu-driver/1', vms, createdTaps: [...this.createdTaps] });
  }

  private writeState(state: SavedState): void {
    const path = join(this.workDir, STATE_FILE);
    try {
      writeFileSync(`${path}.tmp`, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
      renameSync(`${path}.tmp`, path);
    } catch (err) {
      this.note(`could not record the VMs' state in ${path} (${systemCode(err)}); a restarted agent may not know what Cordon did.`);
    }
  }
}

/**
 * The registry's factory (`--driver qemu`): needs the config file, which the agent's flags hand over as `configFile`
 * (agent/flags.ts builds the driver itself until DriverConfig carries it).
 */
export function createQemuDriver(options: QemuDriverOptions | (DriverConfig & { configFile?: string })): QemuDriver {
  const o = options as QemuDriverOptions;
  if (o.config) return new QemuDriver(o.config, o.agentId);
  if (!o.configFile) {
    throw new AgentError('config_missing', 'The qemu driver needs its config file: --driver qemu --config FILE (the VMs, bridges and work folder; see agent/README.md).');
  }
  return new QemuDriver(loadQemuConfig(o.configFile), o.agentId);
}

function nicOf(spec: NicSpec): Nic {
  return spec.ip ? { name: spec.name, mac: spec.mac, ip: spec.ip } : { name: spec.name, mac: spec.mac };
}

function vmNetwork(nic: Nic, bridge: string | undefined, link: 'up' | 'down'): VmNetwork {
  const n: VmNetwork = { name: nic.name, mac: nic.mac };
  if (nic.ip) n.ip = nic.ip;
  if (bridge) n.bridge = bridge;
  n.link = link;
  return n;
}

async function readLink(tap: string): Promise<LinkInfo | Error> {
  try {
    return await linkInfo(tap);
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/** `cdn` and six hex digits: a host interface name no config uses (config taps are the operator's). */
function newTapName(): string {
  return `cdn${randomBytes(3).toString('hex')}`;
}

function qemuVersion(binary: string): string {
  const r = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error) {
    throw new AgentError('tool_missing', `${binary} cannot be run (${systemCode(r.error)}): install qemu-system-x86 (scripts/microvm/build.sh does it) or fix "qemuBinary".`, { cause: r.error });
  }
  const m = /version (\d+\.\d+\.\d+)(?: \(([^)]*)\))?/.exec(r.stdout ?? '');
  return m ? `${m[1]}${m[2] ? ` (${m[2]})` : ''}`.slice(0, 64) : 'unknown';
}

function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(0);
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
