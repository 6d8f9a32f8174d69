// The fleet hub: one AgentLink per configured agent, merged into one exactly-once stream of FeedEvents that
// reaches the views in batches of about one frame, plus inventories and per-agent health.
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { ActionRecord, ActRequest, Actor, AgentStatus, ApprovalDecidedMessage, ApprovalPendingMessage, CockpitPush, CockpitSnapshot, FeedEvent, LogsResultMessage, PolicyInForce, SignedPolicy, ThreatEvent, Vm, VmInspection } from '../../protocol/index.ts';
import { AgentLink, LogQueryError, type ActionUpdate, type AgentEndpoint, type AgentLinkOptions, type LogsQuery } from './agent-link.ts';
import { RecentWindow } from './event-window.ts';

/** Finished actions kept in memory for the views' history (the journal keeps every one). */
const FINISHED_ACTIONS_KEPT = 5_000;

export class HubError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

/**
 * Where the hub records what passes through it (the journal, main/journal/host.ts). The hub calls it in the order
 * things happen; `actionAsked` must resolve only once the record is durable: the action is sent after that.
 */
export interface HubRecorder {
  events(batch: readonly FeedEvent[]): void;
  actionAsked(rec: ActionRecord): Promise<void>;
  actionStep(step: 'accepted' | 'progress' | 'rejected' | 'result', rec: ActionRecord): void;
  /** An agent told which signed policy it enforces (after each hello, and whenever it changes). */
  policySeen?(agentId: string, policy: SignedPolicy): void;
  /** A request waits for a second person on an agent, or was decided (the two-person rule). */
  approvalSeen?(agentId: string, message: ApprovalPendingMessage | ApprovalDecidedMessage): void;
  /** This cockpit decided on a waiting request: recorded durably before the decision is sent. */
  approvalDecided?(agentId: string, decision: { approvalId: string; approve: boolean; reason: string; actor: Actor }): Promise<void>;
  /** The responder pinned an agent's certificate, or removed its pin. */
  pinChanged?(agentId: string, change: { from?: string; to?: string }, actor: Actor): void;
}

export interface FleetHubOptions {
  /** Events kept in memory for a view that (re)loads; the agents and, later, the journal keep the rest. */
  windowSize: number;
  /** Batch period towards the views: about one frame. */
  batchMs: number;
  /** Largest batch sent at once (the schema allows 100,000). */
  maxBatch: number;
  /** Minimum period between agent-health pushes. */
  statusMs: number;
  link: AgentLinkOptions;
  /** Records every event and every action step; none in tests that do not need one. */
  recorder?: HubRecorder;
  /** Keeps a changed certificate pin (the settings store); none in tests. */
  savePin?: (agentId: string, fingerprint: string | undefined) => void;
}

export const DEFAULT_HUB_OPTIONS: FleetHubOptions = {
  windowSize: 20_000,
  batchMs: 16,
  maxBatch: 5_000,
  statusMs: 250,
  link: { backfill: 5_000 },
};

export interface FleetHubEvents {
  push: [push: CockpitPush];
}

/** One agent's auto-response policy as this cockpit knows it. */
export interface AgentPolicy {
  agentId: string;
  label: string;
  link: AgentStatus['link'];
  hostGroups: string[];
  /** What its hello (or its last policy.current) says it enforces. */
  inForce?: PolicyInForce;
  /** The whole signed policy, once the agent sent it. */
  policy?: SignedPolicy;
}

/** How a policy push went on one agent. */
export type PolicyPushOutcome = { agentId: string; ok: true; inForce: PolicyInForce } | { agentId: string; ok: false; code: string; message: string };

export class FleetHub extends EventEmitter<FleetHubEvents> {
  private readonly links = new Map<string, AgentLink>();
  private readonly inventories = new Map<string, Map<string, Vm>>();
  /** Every action asked in this run, by request id, in the order asked, and those other cockpits asked (seen). */
  private readonly actions = new Map<string, ActionRecord>();
  /** Request ids another cockpit asked: followed and recorded here, never re-sent from here. */
  private readonly foreign = new Set<string>();
  private readonly window: RecentWindow<FeedEvent>;
  private pending: FeedEvent[] = [];
  private batchTimer: NodeJS.Timeout | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private statusDirty = false;
  private lastStatusAt = 0;
  private readonly heartbeat: NodeJS.Timeout;
  readonly options: FleetHubOptions;

  constructor(options: Partial<FleetHubOptions> = {}) {
    super();
    this.options = { ...DEFAULT_HUB_OPTIONS, ...options, link: { ...DEFAULT_HUB_OPTIONS.link, ...options.link } };
    this.window = new RecentWindow(this.options.windowSize);
    // Round-trip times and seqs move without link events: refresh the health view once a second.
    this.heartbeat = setInterval(() => this.links.size > 0 && this.scheduleStatus(), 1000);
    this.heartbeat.unref();
  }

  /** Connects to an agent; the id must be unique in this hub. */
  addAgent(endpoint: AgentEndpoint, linkOptions: Partial<AgentLinkOptions> = {}): AgentLink {
    if (this.links.has(endpoint.agentId)) throw new Error(`Agent "${endpoint.agentId}" is already configured.`);
    const link = new AgentLink(endpoint, { ...this.options.link, ...linkOptions });
    const agentId = endpoint.agentId;
    link.on('event', (seq, event) => {
      const fe: FeedEvent = { agentId, seq, event, receivedAt: Date.now() };
      this.window.push(fe);
      this.pending.push(fe);
      this.scheduleBatch();
      if (event.response) this.onAutomaticRecord(agentId, event);
    });
    link.on('inventory', (vms) => {
      this.inventories.set(agentId, new Map(vms.map((vm) => [vm.id, vm])));
      this.flushEvents();
      this.emit('push', { type: 'vms', agentId, full: true, vms, removed: [] });
    });
    link.on('vm', (vm) => {
      this.inventoryOf(agentId).set(vm.id, vm);
      this.flushEvents();
      this.emit('push', { type: 'vms', agentId, full: false, vms: [vm], removed: [] });
    });
    link.on('vm.removed', (vmId) => {
      this.inventoryOf(agentId).delete(vmId);
      this.flushEvents();
      this.emit('push', { type: 'vms', agentId, full: false, vms: [], removed: [vmId] });
    });
    link.on('status', () => this.scheduleStatus());
    link.on('policy', (policy) => {
      try {
        this.options.recorder?.policySeen?.(agentId, policy);
      } catch {
        // The recorder says its own failure (the journal's 'failed').
      }
    });
    link.on('action', (update) => this.onActionUpdate(agentId, update));
    link.on('approval', (m) => {
      if (m.type === 'approval.pending') {
        const rec = m.approval.requestId ? this.actions.get(m.approval.requestId) : undefined;
        if (rec && rec.agentId === agentId && rec.phase === 'sending') {
          rec.approval = { approvalId: m.approval.approvalId, expiresAt: m.approval.expiresAt };
          this.pushAction(rec);
        }
      }
      if (m.type === 'approval.decided') {
        const held = [...this.actions.values()].find((r) => r.agentId === agentId && r.approval?.approvalId === m.approvalId);
        if (held && m.outcome === 'approved' && m.by) {
          held.approval = { ...held.approval!, approvedBy: m.by };
          this.pushAction(held);
        }
      }
      try {
        this.flushEvents();
        this.options.recorder?.approvalSeen?.(agentId, m);
      } catch {
        // The recorder says its own failure (the journal's 'failed').
      }
      this.scheduleStatus();
    });
    // After a reconnect, what was asked but not finished goes again under the same request id: the agent
    // answers with what it has (accepted, or the first result) and never runs it twice.
    link.on('ready', () => {
      for (const rec of this.actions.values()) {
        if (rec.agentId === agentId && !this.foreign.has(rec.requestId) && (rec.phase === 'sending' || rec.phase === 'accepted')) link.sendAction(this.toWire(rec));
      }
    });
    this.links.set(agentId, link);
    link.start();
    this.scheduleStatus();
    return link;
  }

  /**
   * Takes over an action asked before this cockpit restarted and never seen to end (read back from the journal): it
   * is re-sent under its request id when its agent says hello, and the agent answers with what it has.
   */
  adopt(rec: ActionRecord): void {
    if (this.actions.has(rec.requestId)) return;
    const { approval: _approval, ...kept } = rec;
    this.actions.set(rec.requestId, { ...kept, phase: rec.phase === 'accepted' ? 'accepted' : 'sending' });
  }

  removeAgent(agentId: string): void {
    const link = this.links.get(agentId);
    if (!link) return;
    link.stop();
    link.removeAllListeners();
    this.links.delete(agentId);
    this.inventories.delete(agentId);
    this.emit('push', { type: 'vms', agentId, full: true, vms: [], removed: [] });
    this.scheduleStatus();
  }

  /**
   * Asks an agent to act on a VM. The record is pushed now and on every change; it is sent to the agent once the
   * recorder has it on disk (an action nobody could account for afterwards is not run). The agent confirms.
   */
  async act(req: ActRequest, actor: Actor): Promise<ActionRecord> {
    const link = this.links.get(req.agentId);
    if (!link) throw new HubError('unknown_agent', `No agent "${req.agentId}" is configured in this cockpit.`);
    const vm = this.inventories.get(req.agentId)?.get(req.vmId);
    const rec: ActionRecord = {
      requestId: `${actor.cockpit ?? 'cockpit'}-${randomUUID()}`.replace(/[^A-Za-z0-9._:-]/g, '-').slice(0, 128),
      agentId: req.agentId,
      vmId: req.vmId,
      kind: req.kind,
      params: req.params,
      actor,
      reason: req.reason,
      requestedAt: new Date().toISOString(),
      phase: 'sending',
    };
    if (vm) rec.vmName = vm.name;
    this.actions.set(rec.requestId, rec);
    this.pushAction(rec);
    const recorder = this.options.recorder;
    if (recorder) {
      try {
        // Events received before the ask go to the recorder first, so the journal keeps the order things happened.
        this.flushEvents();
        await recorder.actionAsked(rec);
      } catch (err) {
        rec.phase = 'failed';
        rec.ok = false;
        rec.error = { code: 'not_journaled', message: `Not sent: the journal could not record the request (${(err as Error).message}).`.slice(0, 2048) };
        this.pushAction(rec);
        throw new HubError('not_journaled', rec.error.message);
      }
    }
    link.sendAction(this.toWire(rec));
    return rec;
  }

  /**
   * Pins an agent's certificate: `fingerprint` must be the one it presents now (what the responder compared with the
   * agent's own), so a certificate that changed in between is never pinned unseen. The link then connects.
   */
  trust(agentId: string, fingerprint: string, actor: Actor): void {
    const link = this.configuredLink(agentId);
    const status = link.snapshotStatus();
    const presented = status.tls?.presented;
    if (!presented) {
      throw new HubError('nothing_to_trust', status.tls?.pinned
        ? `Agent "${agentId}" is pinned already and presents its pinned certificate.`
        : `Agent "${agentId}" has not presented a certificate yet (is it reachable over wss://?); wait for its fingerprint.`);
    }
    if (status.tls?.pinned) {
      // A changed certificate is never re-pinned in one step: the old pin is removed first (its own decision, recorded).
      throw new HubError('pinned_changed', `Agent "${agentId}" is pinned to ${status.tls.pinned} but presents ${presented}. Cordon does not replace a pin: remove it first (Settings: this agent's pin), then compare the new fingerprint.`);
    }
    if (presented !== fingerprint) {
      throw new HubError('fingerprint_changed', `Agent "${agentId}" now presents ${presented}, not the fingerprint you confirmed (${fingerprint}). Compare again before trusting it.`);
    }
    const from = status.tls?.pinned;
    this.options.savePin?.(agentId, fingerprint);
    this.options.recorder?.pinChanged?.(agentId, { ...(from ? { from } : {}), to: fingerprint }, actor);
    link.repin(fingerprint);
    this.scheduleStatus();
  }

  /** Removes an agent's pin: the link reconnects, reads the certificate it finds, and reports it untrusted. */
  forgetPin(agentId: string, actor: Actor): void {
    const link = this.configuredLink(agentId);
    const from = link.endpoint.fingerprint;
    if (!from) throw new HubError('not_pinned', `Agent "${agentId}" has no pinned certificate to remove.`);
    this.options.savePin?.(agentId, undefined);
    this.options.recorder?.pinChanged?.(agentId, { from }, actor);
    link.repin(undefined);
    this.scheduleStatus();
  }

  /** Approves or refuses a request waiting on an agent for a second person; recorded before it is sent. */
  async decideApproval(agentId: string, decision: { approvalId: string; approve: boolean; reason: string }, actor: Actor): Promise<void> {
    const link = this.configuredLink(agentId);
    if (!link.snapshotStatus().approvals?.some((a) => a.approvalId === decision.approvalId)) {
      throw new HubError('unknown_approval', `Nothing waits under ${decision.approvalId} on agent "${agentId}": it was decided already, expired, or the agent restarted.`);
    }
    await this.options.recorder?.approvalDecided?.(agentId, { ...decision, actor });
    if (!link.decideApproval({ id: `apd-${randomUUID()}`, approvalId: decision.approvalId, approve: decision.approve, actor, reason: decision.reason })) {
      throw new HubError('unavailable', `Agent "${agentId}" is not connected: the decision was not sent. Decide again once it is back.`);
    }
  }

  private configuredLink(agentId: string): AgentLink {
    const link = this.links.get(agentId);
    if (!link) throw new HubError('unknown_agent', `No agent "${agentId}" is configured in this cockpit.`);
    return link;
  }

  /** A page of one agent's logs, asked of the agent (it keeps them; the cockpit pulls what a responder looks at). */
  async queryLogs(agentId: string, query: LogsQuery): Promise<LogsResultMessage> {
    const link = this.links.get(agentId);
    if (!link) throw new HubError('unknown_agent', `No agent "${agentId}" is configured in this cockpit.`);
    return link.queryLogs(query);
  }

  async inspect(agentId: string, vmId: string): Promise<VmInspection> {
    const link = this.links.get(agentId);
    if (!link) throw new HubError('unknown_agent', `No agent "${agentId}" is configured in this cockpit.`);
    return link.inspect(vmId);
  }

  /** The link to an agent (the console hub opens its streams on it). */
  linkOf(agentId: string): AgentLink | undefined {
    return this.links.get(agentId);
  }

  vmName(agentId: string, vmId: string): string | undefined {
    return this.inventories.get(agentId)?.get(vmId)?.name;
  }

  actionRecords(): ActionRecord[] {
    return [...this.actions.values()];
  }

  /** Every configured agent's policy, as far as its hello and policy.current told. */
  policies(): AgentPolicy[] {
    return [...this.links.values()].map((link) => {
      const st = link.snapshotStatus();
      const policy = link.currentPolicy();
      return {
        agentId: st.agentId, label: st.label, link: st.link, hostGroups: st.hostGroups ?? [],
        ...(st.policy ? { inForce: st.policy } : {}), ...(policy ? { policy } : {}),
      };
    });
  }

  /** Pushes a signed policy to each agent named; each answers for itself (a refusal on one does not stop the others). */
  async pushPolicy(signed: SignedPolicy, agentIds: readonly string[]): Promise<PolicyPushOutcome[]> {
    return Promise.all(agentIds.map(async (agentId): Promise<PolicyPushOutcome> => {
      const link = this.links.get(agentId);
      if (!link) return { agentId, ok: false, code: 'unknown_agent', message: `No agent "${agentId}" is configured in this cockpit.` };
      try {
        return { agentId, ok: true, inForce: await link.setPolicy(signed) };
      } catch (err) {
        if (err instanceof LogQueryError) return { agentId, ok: false, code: err.code, message: err.message };
        throw err;
      }
    }));
  }

  /**
   * The agent's record of what its policy did (a threat event with a `response`): each step this hub did not follow
   * live (it was not connected then) becomes an action record, seen in the VM's history and journaled like any other.
   * Nothing is invented: every field comes from the agent's record.
   */
  private onAutomaticRecord(agentId: string, event: ThreatEvent): void {
    const response = event.response!;
    for (const step of response.actions) {
      if (this.actions.has(step.requestId)) continue;
      const at = step.acceptedAt ?? step.startedAt ?? event.time;
      const rec: ActionRecord = {
        requestId: step.requestId, agentId, vmId: event.vmId, kind: step.kind, params: step.params,
        actor: { name: 'policy', role: 'automatic' }, reason: (event.description ?? event.title).slice(0, 2048), policy: response.provenance,
        requestedAt: at, phase: step.rejection ? 'rejected' : step.ok ? 'done' : 'failed', ok: step.ok,
        ...(event.vmName !== undefined ? { vmName: event.vmName } : {}),
        ...(step.state ? { state: step.state } : {}),
        ...(step.rejection ? { rejection: step.rejection } : {}),
        ...(step.error ? { error: step.error } : {}),
        ...(step.details ? { details: step.details } : {}),
        ...(step.startedAt ? { startedAt: step.startedAt } : {}),
        ...(step.finishedAt ? { finishedAt: step.finishedAt } : {}),
      };
      if (step.rejection) delete rec.ok;
      this.actions.set(rec.requestId, rec);
      this.foreign.add(rec.requestId);
      this.pushAction(rec);
      this.record(step.rejection ? 'rejected' : 'result', rec);
    }
    this.trimActions();
  }

  private toWire(rec: ActionRecord) {
    return { type: 'action' as const, requestId: rec.requestId, vmId: rec.vmId, kind: rec.kind, params: rec.params, actor: rec.actor, reason: rec.reason };
  }

  private onActionUpdate(agentId: string, u: ActionUpdate): void {
    let rec = this.actions.get(u.requestId);
    if (!rec && u.type === 'action.accepted' && u.actor && !u.replayed) {
      // Another cockpit's action (the agent tells every cockpit who asked and why): this responder sees it in the
      // VM's history, and this cockpit's journal records it, from its acceptance on.
      const vm = this.inventories.get(agentId)?.get(u.vmId);
      rec = {
        requestId: u.requestId, agentId, vmId: u.vmId, kind: u.kind, params: u.params ?? {}, actor: u.actor, reason: u.reason ?? '',
        requestedAt: u.at, phase: 'sending', ...(vm ? { vmName: vm.name } : {}), ...(u.policy ? { policy: u.policy } : {}),
      };
      this.actions.set(rec.requestId, rec);
      this.foreign.add(rec.requestId);
    }
    if (!rec || rec.agentId !== agentId) return;
    const finished = rec.phase === 'done' || rec.phase === 'failed' || rec.phase === 'rejected';
    switch (u.type) {
      case 'action.accepted':
        if (!finished) rec.phase = 'accepted';
        rec.startedAt ??= u.at;
        break;
      case 'action.rejected':
        rec.phase = 'rejected';
        rec.rejection = { code: u.code, message: u.message };
        if (u.state) rec.state = u.state;
        break;
      case 'action.progress':
        if (finished) return;
        rec.phase = 'accepted';
        rec.progress = { step: u.step, message: u.message, at: u.at, ...(u.fraction !== undefined ? { fraction: u.fraction } : {}) };
        break;
      case 'action.result':
        rec.phase = u.ok ? 'done' : 'failed';
        rec.ok = u.ok;
        rec.startedAt = u.startedAt;
        rec.finishedAt = u.finishedAt;
        if (u.state) rec.state = u.state;
        if (u.error) rec.error = u.error;
        if (u.details) rec.details = u.details;
        break;
    }
    this.pushAction(rec);
    this.record(u.type === 'action.accepted' ? 'accepted' : u.type === 'action.progress' ? 'progress' : u.type === 'action.rejected' ? 'rejected' : 'result', rec);
    this.trimActions();
  }

  private record(step: 'accepted' | 'progress' | 'rejected' | 'result', rec: ActionRecord): void {
    const recorder = this.options.recorder;
    if (!recorder) return;
    try {
      this.flushEvents();
      recorder.actionStep(step, rec);
    } catch {
      // The recorder says its own failure (the journal's 'failed'); the action's outcome still reaches the views.
    }
  }

  private pushAction(rec: ActionRecord): void {
    this.flushEvents();
    this.emit('push', { type: 'action', action: structuredClone(rec) });
  }

  private trimActions(): void {
    let finished = 0;
    for (const r of this.actions.values()) if (r.phase !== 'sending' && r.phase !== 'accepted') finished++;
    for (const [id, r] of this.actions) {
      if (finished <= FINISHED_ACTIONS_KEPT) break;
      if (r.phase !== 'sending' && r.phase !== 'accepted') {
        this.actions.delete(id);
        this.foreign.delete(id);
        finished--;
      }
    }
  }

  agentStatuses(): AgentStatus[] {
    return [...this.links.values()].map((l) => l.snapshotStatus());
  }

  snapshot(): CockpitSnapshot {
    this.flushEvents();
    return {
      agents: this.agentStatuses(),
      inventories: [...this.inventories].map(([agentId, vms]) => ({ agentId, vms: [...vms.values()] })),
      events: this.window.toArray(),
      actions: this.actionRecords(),
      windowSize: this.options.windowSize,
    };
  }

  close(): void {
    for (const id of [...this.links.keys()]) this.removeAgent(id);
    clearTimeout(this.batchTimer);
    clearTimeout(this.statusTimer);
    clearInterval(this.heartbeat);
  }

  private inventoryOf(agentId: string): Map<string, Vm> {
    let inv = this.inventories.get(agentId);
    if (!inv) this.inventories.set(agentId, (inv = new Map()));
    return inv;
  }

  private scheduleBatch(): void {
    if (this.pending.length >= this.options.maxBatch) return this.flushEvents();
    this.batchTimer ??= setTimeout(() => this.flushEvents(), this.options.batchMs);
  }

  /** Sends what is pending now: also called before an inventory change, so views see events and VMs in order. */
  private flushEvents(): void {
    clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    if (this.pending.length === 0) return;
    const events = this.pending;
    this.pending = [];
    try {
      this.options.recorder?.events(events);
    } catch {
      // As above: a failed journal is said by the journal, and the live view goes on.
    }
    this.emit('push', { type: 'events', events });
  }

  private scheduleStatus(): void {
    this.statusDirty = true;
    if (this.statusTimer) return;
    const wait = Math.max(0, this.lastStatusAt + this.options.statusMs - Date.now());
    this.statusTimer = setTimeout(() => {
      this.statusTimer = undefined;
      if (!this.statusDirty) return;
      this.statusDirty = false;
      this.lastStatusAt = Date.now();
      this.emit('push', { type: 'agents', agents: this.agentStatuses() });
    }, wait);
  }
}
