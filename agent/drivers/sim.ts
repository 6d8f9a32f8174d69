// The `sim` driver: a simulated hypervisor host with N micro-VMs, benign background activity and scripted attacks
// (sim-stories.ts), at a configurable rate: about 5 events/s for a demo, tens of thousands for load tests; and all
// seven actions, with believable timings and real effects on what the VMs emit (sim-actions.ts, sim-evidence.ts).
// Each VM has a console too: a simulated root shell (sim-shell.ts) whose processes, listeners and files are those the
// VM's scripted threat events name (sim-guest.ts). The default embedded lab of the cockpit, and the source of every
// event in the agent's tests.
import { randomBytes } from 'node:crypto';
import type { ActionKind, ActionParams, IsolationProof, ThreatEvent, Vm, VmInspection, VmNetwork } from '../../protocol/index.ts';
import { AgentError } from '../errors.ts';
import { ActionFailure, type ActionContext, type ActionOutcome, type ConsoleHandlers, type ConsoleSource, type Driver, type DriverConfig, type DriverSink } from './driver.ts';
import {
  ACTION_KINDS, applyCondition, cloneCondition, during, isolationMode, isRenewal, isRunning, refuse, settle, type Condition,
} from '../../protocol/lifecycle.ts';
import { cloneNetworks, isolatedNetworks, pause, QUARANTINE_BRIDGE, shapeEvent, simIsolationProof, SIM_TIMINGS, stepMs } from './sim-actions.ts';
import { backgroundFor, VARIANTS_PER_VM, type EventDraft } from './sim-background.ts';
import { Rng, SimFleet, type SimVm } from './sim-fleet.ts';
import { writeSimCapture } from './sim-evidence.ts';
import { SimGuest } from './sim-guest.ts';
import { inspectSimGuest } from '../inspect/sim-model.ts';
import { SimShell } from './sim-shell.ts';
import { bootLines, linesFor, LOG_EVENTS_PER_TICK } from './sim-logs.ts';
import { STORIES, type StoryStep } from './sim-stories.ts';

export const SIM_VERSION = '1.0.0';

export interface SimScriptOptions {
  agentId: string;
  vms: number;
  seed: number;
  /** Events per second the script will be played at; it spaces attack steps so they stay a minority. */
  rate: number;
  bootTime?: string;
  /** Told when an ephemeral VM is replaced, before any event about the new VM. */
  onRecycle?: (removed: SimVm, added: SimVm) => void;
  /** Whether an ephemeral VM may be replaced now; by default any may. */
  replaceable?: (vm: SimVm) => boolean;
}

/**
 * The deterministic part of the sim: the sequence of events, one next() at a time, independent of the clock.
 * Same options, same sequence (ids and times are stamped by the driver).
 */
export class SimScript {
  readonly fleet: SimFleet;
  private readonly background: EventDraft[][];
  private readonly bgRng: Rng;
  private readonly storyRng: Rng;
  private readonly stepEvery: number;
  private readonly idleEvents: number;
  private readonly recycleEvery: number;
  private storyIndex = 0;
  private steps: StoryStep[] | undefined;
  private stepAt = 0;
  private countdown: number;
  private emitted = 0;
  private recycles = 0;

  constructor(private readonly options: SimScriptOptions) {
    const bootTime = options.bootTime ?? new Date().toISOString();
    this.fleet = new SimFleet(options.vms, options.seed, bootTime);
    this.bgRng = new Rng(options.seed ^ 0x0bac_0001);
    this.storyRng = new Rng(options.seed ^ 0x0a77_ac00);
    this.background = this.fleet.vms.map((vm) => backgroundFor(vm, this.bgRng, options.agentId));
    // A step every ~100 ms of wall time at high rates, every few events at demo rates: attacks stay a small share
    // of a load test yet play out within seconds in a demo.
    this.stepEvery = Math.max(3, Math.round(options.rate / 10));
    this.idleEvents = this.stepEvery * 8;
    // Ephemeral CI runners are replaced about once a minute (never more than every 1,500 events), which exercises
    // the cockpit's vm / vm.removed handling without flooding it.
    this.recycleEvery = Math.max(1500, Math.round(options.rate * 60));
    this.countdown = 3;
  }

  next(): EventDraft {
    this.emitted++;
    if (this.emitted % this.recycleEvery === 0) this.recycle();
    if (--this.countdown <= 0) {
      if (!this.steps) {
        const story = STORIES[this.storyIndex % STORIES.length]!;
        this.storyIndex++;
        this.steps = story.build({ agentId: this.options.agentId, rng: this.storyRng, fleet: this.fleet });
        this.stepAt = 0;
      }
      const step = this.steps[this.stepAt++];
      if (step) {
        if (this.stepAt >= this.steps.length) {
          this.steps = undefined;
          this.countdown = this.idleEvents;
        } else {
          this.countdown = this.stepEvery * (step.wait ?? 1);
        }
        return step.draft;
      }
      this.steps = undefined;
      this.countdown = this.idleEvents;
    }
    const slot = Math.floor(this.bgRng.next() * this.background.length);
    return this.background[slot]![Math.floor(this.bgRng.next() * VARIANTS_PER_VM)]!;
  }

  /** Gives a VM that is not in the fleet's slots (a clone) its share of background activity. */
  addBackground(vm: SimVm): void {
    this.background.push(backgroundFor(vm, this.bgRng, this.options.agentId));
  }

  private recycle(): void {
    const time = new Date().toISOString();
    const change = this.fleet.recycle(this.recycles++, time, this.options.replaceable);
    if (!change) return;
    this.background[change.added.slot] = backgroundFor(change.added, this.bgRng, this.options.agentId);
    this.options.onRecycle?.(change.removed, change.added);
  }
}

/** Events kept for a seizure's `events.jsonl` (across the fleet; a seized VM's share is filtered from it). */
const RECENT_EVENTS = 8192;
/** Hypervisor-log lines kept per VM. */
const LOG_LINES = 200;

/** What the sim keeps about a VM beyond its wire view. */
interface SimVmExtra {
  /** Networks to restore on release: where the VM was before it was isolated (a clone: its origin's). */
  home?: VmNetwork[];
  /** The VM's hypervisor log, oldest first. */
  log: string[];
  /** Clones made of it, in order. */
  clones: SimVm[];
}

/**
 * Plays a SimScript in real time: ticks that emit rate × elapsed events as one batch each. Acts on its VMs by the
 * shared lifecycle (lifecycle.ts), with believable timings and real effects on what the VMs emit (sim-actions.ts),
 * and writes real capture files on seize (sim-evidence.ts).
 */
class SimDriver implements Driver {
  readonly kind = 'sim';
  readonly version = SIM_VERSION;
  readonly actions = ACTION_KINDS;
  private script: SimScript | undefined;
  private sink: DriverSink | undefined;
  private timer: NodeJS.Timeout | undefined;
  private interval = 10;
  private last = 0;
  private carry = 0;
  private counter = 0;
  private pending: ThreatEvent[] = [];
  // Event ids must stay unique across restarts of the same seed, so a per-run prefix is part of them.
  private readonly runId = randomBytes(4).toString('hex');
  private behindNoted = false;
  /** Every VM by id, the fleet's and the clones. */
  private readonly byId = new Map<string, SimVm>();
  private readonly extra = new Map<string, SimVmExtra>();
  private readonly clones: SimVm[] = [];
  /** VMs an action runs on now (never recycled under it). */
  private readonly acting = new Set<string>();
  /** True once any VM is not plainly running or has a clone: only then does each event need a look-up. */
  private shaping = false;
  private readonly recent: ThreatEvent[] = [];
  private recentAt = 0;
  private cloneCounter = 0;
  /** Each VM's guest as its console shows it: made when a scripted event or a console first concerns it. */
  private readonly guests = new Map<string, SimGuest>();
  /** Each VM's console shell, made when a console is first opened on it; it lives on between attachments. */
  private readonly shells = new Map<string, SimShell>();

  constructor(private readonly config: DriverConfig) {}

  async start(sink: DriverSink): Promise<void> {
    this.sink = sink;
    this.script = new SimScript({
      agentId: this.config.agentId,
      vms: this.config.vms,
      seed: this.config.seed,
      rate: this.config.rate,
      onRecycle: (removed, added) => {
        // Whatever this tick produced so far concerns the old fleet: deliver it before the fleet changes.
        this.flush();
        this.byId.delete(removed.vm.id);
        this.extra.delete(removed.vm.id);
        this.guests.delete(removed.vm.id);
        this.shells.get(removed.vm.id)?.stop();
        this.shells.delete(removed.vm.id);
        this.byId.set(added.vm.id, added);
        sink.vmRemoved(removed.vm.id);
        sink.vmChanged(added.vm);
        sink.logs?.(bootLines(added.vm, Date.now()));
      },
      // A CI runner a responder froze, isolated, cloned or acts on stays: it is under investigation.
      replaceable: (v) => v.vm.state === 'running' && !this.acting.has(v.vm.id) && (this.extra.get(v.vm.id)?.clones.length ?? 0) === 0,
    });
    for (const v of this.script.fleet.vms) this.byId.set(v.vm.id, v);
    // The lab has logs too: each VM's boot on its console, then lines beside the events (sim-logs.ts).
    if (sink.logs) for (const v of this.script.fleet.vms) sink.logs(bootLines(v.vm, Date.now()));
    if (this.config.rate <= 0) return;
    // 10 ms ticks at load-test rates (batches of rate/100); at demo rates a tick per event or so.
    this.interval = Math.min(250, Math.max(10, Math.floor(1000 / this.config.rate)));
    this.last = performance.now();
    this.timer = setInterval(() => this.tick(), this.interval);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const shell of this.shells.values()) shell.stop();
    this.shells.clear();
    this.sink = undefined;
  }

  /** The VM's console: its simulated shell, the same one across attachments (as a guest's shell runs on). */
  async openConsole(vmId: string, handlers: ConsoleHandlers): Promise<ConsoleSource> {
    const sv = this.byId.get(vmId);
    if (!sv || !this.sink) throw new AgentError('unknown_vm', `There is no VM "${vmId}" on this simulated host.`);
    let shell = this.shells.get(vmId);
    if (!shell) {
      shell = new SimShell(this.guestOf(sv), { running: () => isRunning(this.byId.get(vmId)?.vm.state ?? 'terminated') });
      this.shells.set(vmId, shell);
    }
    return shell.attach(handlers);
  }

  /** What runs in the VM, from its guest model; a VM that runs nothing (frozen, seized, terminated) cannot answer. */
  async inspect(vmId: string): Promise<VmInspection> {
    const sv = this.byId.get(vmId);
    if (!sv || !this.sink) throw new AgentError('unknown_vm', `There is no VM "${vmId}" on this simulated host.`);
    if (!isRunning(sv.vm.state)) {
      throw new AgentError('not_running', `${sv.vm.name} is ${sv.vm.state}: its guest runs nothing that could answer. Inspect a clone of it (the clone action) to look without touching it${sv.vm.state === 'frozen' ? ', or resume it' : ''}.`);
    }
    return inspectSimGuest(this.guestOf(sv), sv.vm, sv.ip, new Date().toISOString());
  }

  private guestOf(sv: SimVm): SimGuest {
    let guest = this.guests.get(sv.vm.id);
    if (!guest) {
      guest = new SimGuest(sv);
      this.guests.set(sv.vm.id, guest);
    }
    return guest;
  }

  listVms(): Vm[] {
    return [...(this.script?.fleet.vms ?? []), ...this.clones].map((v) => v.vm);
  }

  getVm(vmId: string): Vm | undefined {
    return this.byId.get(vmId)?.vm;
  }

  async act(vmId: string, kind: ActionKind, ctx: ActionContext): Promise<ActionOutcome> {
    const sv = this.byId.get(vmId);
    if (!sv || !this.sink) throw new ActionFailure('unknown_vm', `There is no VM "${vmId}" on this simulated host.`);
    const origin = sv.vm.cloneOf ? this.byId.get(sv.vm.cloneOf)?.vm : undefined;
    // The agent checked this before accepting; the sim's own view is the truth if anything changed since.
    const refusal = refuse(sv.vm, kind, ctx.params, origin ? { origin } : {});
    if (refusal) throw new ActionFailure(refusal.code, refusal.message);
    if (this.acting.has(vmId)) throw new ActionFailure('busy', `${sv.vm.name} is busy with another action.`);
    this.acting.add(vmId);
    try {
      this.logLine(sv, `${kind} asked by ${ctx.actor.name}${ctx.reason ? `: ${ctx.reason}` : ''} (request ${ctx.requestId})`);
      const outcome = await this.carryOut(sv, kind, ctx);
      this.logLine(sv, `${kind} done: ${outcome.state}`);
      return outcome;
    } catch (err) {
      this.logLine(sv, `${kind} failed: ${err instanceof Error ? err.message : String(err)}`);
      throw err;
    } finally {
      this.acting.delete(vmId);
    }
  }

  private async carryOut(sv: SimVm, kind: ActionKind, ctx: ActionContext): Promise<ActionOutcome> {
    const { signal, progress, params } = ctx;
    const name = sv.vm.name;
    switch (kind) {
      case 'terminate':
        progress('quit', `Stopping ${name} for good (simulated quit)`);
        await pause(stepMs(SIM_TIMINGS.quit), signal);
        // The process is gone, and its NICs with it.
        sv.vm = { ...sv.vm, networks: (sv.vm.networks ?? []).map((n) => ({ ...n, link: 'down' as const })) };
        this.settle(sv, kind, params);
        return { state: sv.vm.state, details: { killed: false } };
      case 'freeze':
      case 'resume':
        progress(kind === 'freeze' ? 'stop' : 'cont', `${kind === 'freeze' ? 'Pausing' : 'Resuming'} every vCPU of ${name} (simulated ${kind === 'freeze' ? 'stop' : 'cont'})`);
        await pause(stepMs(SIM_TIMINGS.stopOrCont), signal);
        this.settle(sv, kind, params);
        return { state: sv.vm.state };
      case 'isolate':
        return isRenewal(sv.vm, params) ? this.renew(sv, ctx) : this.isolate(sv, ctx);
      case 'release': {
        const home = this.extraOf(sv).home ?? (sv.vm.networks ?? []).map((n) => ({ ...n, link: 'up' as const }));
        progress('release', `Restoring ${name}'s network attachment (simulated)`);
        await pause(stepMs(SIM_TIMINGS.setLink), signal);
        sv.vm = { ...sv.vm, networks: home.map((n) => ({ ...n })) };
        delete this.extraOf(sv).home;
        this.settle(sv, kind, params);
        return { state: sv.vm.state };
      }
      case 'clone':
        return this.cloneVm(sv, ctx);
      case 'seize':
        return this.seize(sv, ctx);
    }
  }

  private async isolate(sv: SimVm, ctx: ActionContext): Promise<ActionOutcome> {
    const { signal, progress, params } = ctx;
    const mode = isolationMode('isolate', params);
    const home = (sv.vm.networks ?? []).map((n) => ({ ...n }));
    progress(mode === 'cut' ? 'set-link' : 'move-tap', mode === 'cut'
      ? `Taking the links of ${sv.vm.name} down (simulated set_link); it keeps running`
      : `Moving the taps of ${sv.vm.name} to the quarantine bridge ${QUARANTINE_BRIDGE} (simulated); it keeps running`);
    await pause(stepMs(mode === 'cut' ? SIM_TIMINGS.setLink : SIM_TIMINGS.moveTap), signal);
    const networks = isolatedNetworks(home, mode);
    sv.vm = { ...sv.vm, networks };
    this.extraOf(sv).home = home;
    progress('verify', 'Checking the isolation: link state, bridge membership, a probe from outside (modelled)');
    await pause(stepMs(SIM_TIMINGS.verify), signal);
    const at = new Date().toISOString();
    const proof = simIsolationProof(sv.vm, networks, home, mode, at);
    this.settle(sv, 'isolate', params, proof);
    return { state: sv.vm.state, details: { mode, isolation: proof } };
  }

  /**
   * A renewal: the new expiry (or none), the isolation's `since` kept, its proof made again from the model, and the
   * modelled links and taps left exactly as they are: the VM is never back on its network, not even for a moment.
   */
  private async renew(sv: SimVm, ctx: ActionContext): Promise<ActionOutcome> {
    const { signal, progress, params } = ctx;
    const mode = sv.vm.isolation!.mode;
    progress('renew', `Renewing the isolation (${mode}) of ${sv.vm.name} ${params.expiresAt !== undefined ? `until ${params.expiresAt}` : 'with no expiry'}; its links and taps stay as they are (simulated)`);
    await pause(stepMs(SIM_TIMINGS.small), signal);
    progress('verify', 'Checking the isolation again: link state, bridge membership, a probe from outside (modelled)');
    await pause(stepMs(SIM_TIMINGS.verify), signal);
    const networks = sv.vm.networks ?? [];
    const proof = simIsolationProof(sv.vm, networks, this.extraOf(sv).home ?? networks, mode, new Date().toISOString());
    this.settle(sv, 'isolate', params, proof);
    return { state: sv.vm.state, details: { mode, isolation: proof } };
  }

  private async cloneVm(origin: SimVm, ctx: ActionContext): Promise<ActionOutcome> {
    const { signal, progress, params } = ctx;
    const network = params.network ?? 'none';
    const name = origin.vm.name;
    progress('save-state', `Pausing ${name} briefly and saving its memory and device state (simulated migrate to a file)`, 0.1);
    await pause(stepMs(SIM_TIMINGS.cloneSave), signal);
    progress('disk', `Copying the disk of ${name} for the clone (simulated)`, 0.5);
    await pause(stepMs(SIM_TIMINGS.cloneDisk), signal);
    progress('start', `Starting the clone from the saved state, its NIC ${network === 'honeypot' ? `on ${QUARANTINE_BRIDGE}` : 'on no network'} with its link down`, 0.7);
    await pause(stepMs(SIM_TIMINGS.cloneStart), signal);
    const n = ++this.cloneCounter;
    const at = new Date().toISOString();
    const home = this.extraOf(origin).home ?? (origin.vm.networks ?? []);
    const networks = cloneNetworks(origin.vm.networks ?? [], network);
    const proof = simIsolationProof({ name: `${name}-clone-${n}` }, networks, home, network === 'honeypot' ? 'honeypot' : 'cut', at);
    const condition = cloneCondition(params, at, proof);
    const { busy: _busy, isolation: _isolation, ...base } = origin.vm;
    const vm: Vm = {
      ...base,
      id: `${origin.vm.id.slice(0, 100)}-c${n}`,
      name: `${name.slice(0, 230)}-clone-${n}`,
      cloneOf: origin.vm.id,
      networks,
      tags: [...(origin.vm.tags ?? []).filter((t) => t !== 'clone').slice(0, 63), 'clone'],
      since: at,
      state: condition.state,
    };
    if (condition.isolation) vm.isolation = condition.isolation;
    const clone: SimVm = { vm, role: origin.role, ip: origin.ip, net: origin.net, slot: -1 };
    this.byId.set(vm.id, clone);
    this.extra.set(vm.id, { home: home.map((h) => ({ ...h, link: 'up' as const })), log: [...this.extraOf(origin).log], clones: [] });
    this.logLine(clone, `started as a clone of ${name} (${origin.vm.id}), isolated (${condition.isolation?.mode}), link down`);
    this.clones.push(clone);
    this.extraOf(origin).clones.push(clone);
    // The clone is the origin's memory and disk: the same processes, sockets and files on its console.
    this.guests.set(vm.id, this.guestOf(origin).cloneAs(clone));
    this.script?.addBackground(clone);
    this.shaping = true;
    this.sink?.vmChanged(vm);
    progress('resume-origin', `${name} carries on as it was`, 1);
    return { state: origin.vm.state, details: { cloneVmId: vm.id, mode: condition.isolation?.mode ?? 'cut', isolation: proof } };
  }

  private async seize(sv: SimVm, ctx: ActionContext): Promise<ActionOutcome> {
    const { signal, progress, params } = ctx;
    const startedAt = new Date().toISOString();
    const seizing = during(sv.vm, 'seize')!;
    const wasFrozen = !isRunning(sv.vm.state);
    this.apply(sv, seizing);
    try {
      progress('freeze', wasFrozen ? `${sv.vm.name} is frozen already` : `Freezing ${sv.vm.name} (simulated stop) so memory and disk hold still`, 0.02);
      if (!wasFrozen) await pause(stepMs(SIM_TIMINGS.stopOrCont), signal);
      const files = await writeSimCapture({
        dir: ctx.workDir, vm: sv.vm, agentId: this.config.agentId, hypervisorVersion: SIM_VERSION, requestId: ctx.requestId,
        actor: ctx.actor, reason: ctx.reason, params, startedAt, events: this.recentOf(sv.vm.id), log: this.extraOf(sv).log,
        signal, progress,
      });
      this.settle(sv, 'seize', params);
      return { state: sv.vm.state, details: { captureId: ctx.requestId, files } };
    } catch (err) {
      // The VM was frozen by the first step and stays so: a half-made capture must not let the attacker run on.
      this.apply(sv, { state: 'frozen', ...(sv.vm.isolation ? { isolation: sv.vm.isolation } : {}) });
      throw err;
    }
  }

  /** Applies the lifecycle's condition after `kind` and tells the sink. */
  private settle(sv: SimVm, kind: ActionKind, params: ActionParams, proof?: IsolationProof): void {
    const at = new Date().toISOString();
    this.apply(sv, settle(sv.vm, kind, proof ? { at, params, proof } : { at, params }));
  }

  private apply(sv: SimVm, condition: Condition): void {
    const at = new Date().toISOString();
    sv.vm = applyCondition(sv.vm, condition, at);
    this.shaping = this.clones.length > 0 || [...this.byId.values()].some((v) => v.vm.state !== 'running');
    this.sink?.vmChanged(sv.vm);
    // A resumed guest's shell carries on (a frozen `yes` floods again); a terminated one is gone for good.
    const shell = this.shells.get(sv.vm.id);
    if (sv.vm.state === 'terminated') shell?.stop();
    else shell?.wake();
  }

  private extraOf(sv: SimVm): SimVmExtra {
    let e = this.extra.get(sv.vm.id);
    if (!e) {
      e = { log: [`${sv.vm.since ?? new Date().toISOString()} sim: ${sv.vm.name} (${sv.vm.id}) started: ${sv.vm.image ?? 'unknown image'}, ${sv.vm.memoryMiB ?? '?'} MiB, ${sv.vm.vcpus ?? '?'} vCPU(s)`], clones: [] };
      this.extra.set(sv.vm.id, e);
    }
    return e;
  }

  private logLine(sv: SimVm, line: string): void {
    const log = this.extraOf(sv).log;
    log.push(`${new Date().toISOString()} sim: ${line}`);
    this.sink?.logs?.([{ source: 'hypervisor', vmId: sv.vm.id, severity: 5, app: 'cordon-sim', origin: 'sim hypervisor', message: line }]);
    if (log.length > LOG_LINES) log.splice(1, log.length - LOG_LINES);
  }

  private recentOf(vmId: string): ThreatEvent[] {
    const n = this.recent.length;
    const out: ThreatEvent[] = [];
    for (let i = 0; i < n; i++) {
      const e = this.recent[(this.recentAt + i) % n]!;
      if (e.vmId === vmId) out.push(e);
    }
    return out;
  }

  private tick(): void {
    const script = this.script;
    if (!script || !this.sink) return;
    const now = performance.now();
    let due = this.carry + ((now - this.last) * this.config.rate) / 1000;
    this.last = now;
    // A late tick (GC pause, a busy CPU) is made up over the next few ticks, at most four ticks' worth at a time:
    // one big burst would block the event loop and starve the sockets that carry the events out. A backlog of more
    // than a second (a suspended laptop, or a rate beyond what this CPU can make) is dropped, said once.
    if (due > this.config.rate) {
      if (!this.behindNoted) this.sink.note(`sim: more than a second behind the target rate of ${this.config.rate}/s; dropping the backlog rather than bursting (said once).`);
      this.behindNoted = true;
      due = this.config.rate;
    }
    const count = Math.min(Math.floor(due), Math.ceil((this.config.rate * 4 * this.interval) / 1000));
    this.carry = due - count;
    if (count === 0) return;
    // One timestamp per tick: every event of the batch is produced in this millisecond.
    const time = new Date().toISOString();
    for (let i = 0; i < count; i++) {
      const event: ThreatEvent = { id: `${this.runId}-${(this.counter++).toString(36)}`, time, ...script.next() };
      if (this.shaping) this.shape(event, 0);
      else this.emit(event);
    }
    this.flush();
  }

  /** Emits the event as its VM's condition lets it be seen, and the attacker's story on in each clone of the VM. */
  private shape(event: ThreatEvent, depth: number): void {
    const sv = this.byId.get(event.vmId);
    if (!sv) {
      this.emit(event);
      return;
    }
    const seen = shapeEvent(event, sv.vm);
    if (seen) this.emit(seen);
    // The clone holds the attacker's processes too: a scripted step in the origin happens in every copy, contained.
    if (event.scenario === 'background' || depth > 8) return;
    const clones = this.extra.get(sv.vm.id)?.clones;
    if (!clones) return;
    for (const [i, c] of clones.entries()) {
      this.shape({ ...event, id: `${event.id}.c${i + 1}`, vmId: c.vm.id, vmName: c.vm.name }, depth + 1);
    }
  }

  private emit(event: ThreatEvent): void {
    this.pending.push(event);
    // What a scripted step did stays in its VM for the console to show (background noise is the role's daemons).
    if (event.scenario !== 'background') {
      const sv = this.byId.get(event.vmId);
      if (sv) this.guestOf(sv).record(event);
    }
    if (this.recent.length < RECENT_EVENTS) this.recent.push(event);
    else {
      this.recent[this.recentAt] = event;
      this.recentAt = (this.recentAt + 1) % RECENT_EVENTS;
    }
  }

  private flush(): void {
    if (this.pending.length === 0 || !this.sink) return;
    const batch = this.pending;
    this.pending = [];
    this.sink.threats(batch);
    if (this.sink.logs) {
      // A few of the batch's events get the lines a real guest would have logged (load tests stay cheap).
      const step = Math.max(1, Math.ceil(batch.length / LOG_EVENTS_PER_TICK));
      const lines = [];
      // Every scripted attack step, and a sample of the background.
      for (let i = 0; i < batch.length; i++) if (i % step === 0 || batch[i]!.scenario !== 'background') lines.push(...linesFor(batch[i]!));
      if (lines.length > 0) this.sink.logs(lines);
    }
  }
}

export function createSimDriver(config: DriverConfig): Driver {
  return new SimDriver(config);
}
