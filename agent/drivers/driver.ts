// The seam between the agent and a hypervisor: what every driver must do, and nothing the agent's server knows.
// A driver is the only code that talks to a hypervisor (QMP for qemu, nothing for sim). It reports VMs and threat
// events through a sink; the agent numbers, persists and serves them. It carries out actions (terminate, freeze,
// resume, clone, isolate, release, seize) by the shared state machine of lifecycle.ts, and lists the ones it can in
// `actions` so that the hello says so before a responder presses a button that cannot work.
//
// What the agent does around act(), so a driver need not: it checks that the VM exists, that the kind is in
// `actions`, that no other action runs on the VM (one at a time per VM, any number across VMs), and the lifecycle's
// refusal; it persists the request id before calling act() and the outcome after; it marks the VM `busy` on the wire
// and sends accepted, progress and result. A driver re-checks the lifecycle inside act() (its own view is the truth),
// reports every VM change through the sink as it happens (`seizing`, a new clone), and returns the final state.
import type { ActionDetails, ActionKind, ActionParams, Actor, ThreatEvent, Vm, VmState, VmInspection } from '../../protocol/index.ts';
import { AgentError } from '../errors.ts';
import type { FollowLogSpec } from '../logs/collector.ts';
import type { LogEntry } from '../logs/store.ts';
import type { Refusal } from '../../protocol/lifecycle.ts';

/** Where a driver reports what it sees. Calls may come at any time between start() and stop(). */
export interface DriverSink {
  /** A VM appeared or changed (upsert by id). */
  vmChanged(vm: Vm): void;
  /** A VM is gone from the host. */
  vmRemoved(vmId: string): void;
  /**
   * Threat events, oldest first, without a seq: the agent's event log numbers them. A batch is persisted with one
   * write, so a driver that sees many events at once should hand them over together.
   */
  threats(events: ThreatEvent[]): void;
  /** One line for the operator on the agent's stderr; never sent on the wire. */
  note(line: string): void;
  /**
   * Log lines the driver makes itself (the sim's consoles and hypervisor), for the agent's log store: records beside
   * the events, never events. Optional: an agent that keeps no logs leaves it out.
   */
  logs?(entries: LogEntry[]): void;
  /**
   * Asks the agent to follow a log file the hypervisor writes (QEMU's `-D` log and stderr, a serial console's logfile)
   * into its log store, like `tail -F`, resuming where it stood after a restart. Returns what stops it (the lines
   * written until then are read first). Optional, like logs().
   */
  followLog?(spec: FollowLogSpec): () => void;
}

export interface Driver {
  /** The hypervisor kind named in hello (`sim`, `qemu`, ...): lower case, as protocol/schema/wire/hello says. */
  readonly kind: string;
  /** The hypervisor's version as the driver found it. */
  readonly version: string;
  /** The actions this driver can carry out; the agent refuses the others (`unsupported`) without calling act(). */
  readonly actions: readonly ActionKind[];
  /** Begins watching the host. Resolves once listVms() is meaningful. */
  start(sink: DriverSink): Promise<void>;
  /** Stops watching; no sink call happens after it resolves. */
  stop(): Promise<void>;
  /** The VMs on the host now, for the inventory a cockpit gets on connect. */
  listVms(): Vm[];
  /** One VM as listVms() shows it, or undefined if the host has no such VM. */
  getVm(vmId: string): Vm | undefined;
  /**
   * A refusal of this driver's own, asked before the action is accepted, after the lifecycle's checks passed: a mode
   * it cannot do on this host (no quarantine bridge configured), a VM it only watches. Optional.
   */
  refuse?(vm: Vm, kind: ActionKind, params: ActionParams): Refusal | undefined;
  /**
   * Carries out `kind` on the VM and resolves once the hypervisor confirmed the effect, with the VM's state after it.
   * Throws an ActionFailure (or any AgentError: its code and sentence reach the responder) when it could not; the
   * agent then reports the VM's state from getVm(). Honours `ctx.signal`: when it aborts (the agent stops, or a
   * deadline passed), stop at the next safe point and throw.
   */
  act(vmId: string, kind: ActionKind, ctx: ActionContext): Promise<ActionOutcome>;
  /**
   * Attaches to a VM's console (its serial line, or the sim's shell). The agent (agent/consoles.ts) holds at most one
   * attachment per VM and fans its output out to every cockpit stream, so a driver never sees more than one at a time
   * per VM. Rejects with an AgentError (`console_unavailable`, `unknown_vm`) when it cannot attach. Optional: a driver
   * without it offers no `console` capability.
   */
  openConsole?(vmId: string, handlers: ConsoleHandlers): Promise<ConsoleSource>;
  /**
   * Reads what runs in the VM now (processes, sockets, services, resources), without the responder's console: the sim
   * from its model, a real guest on a line of its own. Rejects with an AgentError (`unknown_vm`, `not_running`,
   * `inspect_unavailable`, `timed_out`) it can say in a sentence. Optional: without it, no `inspect` capability.
   */
  inspect?(vmId: string): Promise<VmInspection>;
  /**
   * The files on this host that hold a VM's data outside the evidence store: its disk image, its saved state. For
   * sanitisation once the VM is terminated and its package handed over; only files the driver itself knows of.
   * Optional: a driver without files (the sim) leaves it out.
   */
  vmFiles?(vmId: string): Array<{ path: string; what: string }>;
}

/** What is on the other end of a console, as console.opened says it (protocol/schema/wire/console-opened). */
export type ConsoleKind = 'serial' | 'sim-shell';

/** Where a console attachment delivers what the guest does; no call comes after close() or end(). */
export interface ConsoleHandlers {
  /** Output the guest wrote, in order. Never called while the attachment is paused. */
  data(chunk: Buffer): void;
  /** The console went away (QEMU exited, its socket closed): a sentence for console.closed. */
  end(reason: string): void;
  /** The guest confirmed it now uses this window size (the lab guest acknowledges each resize). */
  resized?(rows: number, cols: number): void;
}

/**
 * One attachment to a VM's console. Flow control is by not reading: pause() stops taking output from the guest (QEMU
 * then holds its UART, and the guest's writes block), resume() takes it again; nothing is dropped or reordered.
 */
export interface ConsoleSource {
  readonly kind: ConsoleKind;
  /** What the console printed before this attachment, oldest first: at most the size asked, starting at a line. */
  readonly backlog: Buffer;
  /** Passes keystrokes to the guest; false (and nothing passed) when the guest is not taking input in. */
  write(bytes: Uint8Array): boolean;
  /** Tells the guest its terminal is now cols × rows, where it can be told (a serial line cannot: agent/qemu/winsize.ts). */
  resize(cols: number, rows: number): void;
  pause(): void;
  resume(): void;
  /** Bytes taken from the guest and not yet handed to data(): what this attachment holds in the agent's memory. */
  readonly held: number;
  /** Detaches; the guest runs on. */
  close(): void;
}

/** What an action carries into the driver, and how the driver speaks back while it runs. */
export interface ActionContext {
  /** The cockpit's request id: unique per action, safe as a file name (`^[A-Za-z0-9._:-]{8,128}$`). */
  requestId: string;
  params: ActionParams;
  actor: Actor;
  /** Why, as the responder wrote it (non-empty for terminate and seize). Attacker-free, but free text. */
  reason: string;
  /**
   * A folder of this action's own (created, empty, mode 0700, under the agent's data dir): a seize writes its capture
   * here. Removed after the action if the driver left it empty.
   */
  workDir: string;
  /** Reports a step (`^[a-z][a-z0-9_.-]{0,63}$`, e.g. `memory`), a sentence, and how far along (0–1) if known. */
  progress(step: string, message: string, fraction?: number): void;
  /** Aborts when the agent shuts down or the action's deadline passes. */
  signal: AbortSignal;
}

/** How an action ended well: the VM's state after it, and what it produced (a clone's id, a proof, files). */
export interface ActionOutcome {
  state: VmState;
  details?: ActionDetails;
}

/**
 * An action that did not happen, or not fully: a code (`^[a-z][a-z0-9_.]{0,63}$`, e.g. `wrong_state`,
 * `not_confirmed`, `aborted`) and a sentence a responder can act on ("web-01 did not stop within 5 s: it was killed").
 */
export class ActionFailure extends AgentError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ActionFailure';
  }
}

/** What the agent's command line hands a driver; each driver reads the settings that concern it. */
export interface DriverConfig {
  agentId: string;
  /** The agent's data dir (locked to this agent): a driver may keep its own state in `<dataDir>/<kind>/`. */
  dataDir?: string;
  /** Number of VMs to simulate (sim only). */
  vms: number;
  /** Target threat events per second (sim only). */
  rate: number;
  /** Seed of the simulated scenarios (sim only). */
  seed: number;
}

export type DriverFactory = (config: DriverConfig) => Driver;
