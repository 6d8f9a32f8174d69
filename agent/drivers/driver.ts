// The seam between the agent and a hypervisor: what every driver must do, and nothing the agent's server knows.
// A driver is the only code that talks to a hypervisor (QMP for qemu, nothing for sim). It reports VMs and threat
// events through a sink; the agent numbers, persists and serves them. Actions (terminate, freeze, resume, clone,
// isolate, release, seize) arrive in a later issue as methods here, and a driver lists which ones it supports in
// `actions` so the hello can say so before a responder presses a button that cannot work.
import type { ActionKind, ThreatEvent, Vm } from '../../protocol/index.ts';

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
}

export interface Driver {
  /** The hypervisor kind named in hello (`sim`, `qemu`, ...): lower case, as protocol/schema/wire/hello says. */
  readonly kind: string;
  /** The hypervisor's version as the driver found it. */
  readonly version: string;
  /** The actions this driver can carry out; empty until the actions issue lands. */
  readonly actions: readonly ActionKind[];
  /** Begins watching the host. Resolves once listVms() is meaningful. */
  start(sink: DriverSink): Promise<void>;
  /** Stops watching; no sink call happens after it resolves. */
  stop(): Promise<void>;
  /** The VMs on the host now, for the inventory a cockpit gets on connect. */
  listVms(): Vm[];
}

/** What the agent's command line hands a driver; each driver reads the settings that concern it. */
export interface DriverConfig {
  agentId: string;
  /** Number of VMs to simulate (sim only). */
  vms: number;
  /** Target threat events per second (sim only). */
  rate: number;
  /** Seed of the simulated scenarios (sim only). */
  seed: number;
}

export type DriverFactory = (config: DriverConfig) => Driver;
