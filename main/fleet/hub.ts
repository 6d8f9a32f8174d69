// The fleet hub: one AgentLink per configured agent, merged into one exactly-once stream of FeedEvents that
// reaches the views in batches of about one frame, plus inventories and per-agent health.
import { EventEmitter } from 'node:events';
import type { AgentStatus, CockpitPush, CockpitSnapshot, FeedEvent, Vm } from '../../protocol/index.ts';
import { AgentLink, type AgentEndpoint, type AgentLinkOptions } from './agent-link.ts';
import { RecentWindow } from './event-window.ts';

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

export class FleetHub extends EventEmitter<FleetHubEvents> {
  private readonly links = new Map<string, AgentLink>();
  private readonly inventories = new Map<string, Map<string, Vm>>();
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
    this.links.set(agentId, link);
    link.start();
    this.scheduleStatus();
    return link;
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

  agentStatuses(): AgentStatus[] {
    return [...this.links.values()].map((l) => l.snapshotStatus());
  }

  snapshot(): CockpitSnapshot {
    this.flushEvents();
    return {
      agents: this.agentStatuses(),
      inventories: [...this.inventories].map(([agentId, vms]) => ({ agentId, vms: [...vms.values()] })),
      events: this.window.toArray(),
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
