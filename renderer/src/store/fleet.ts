// The fleet as the hub reports it: each configured agent's link health, and each agent's VM inventory.
import type { AgentStatus, CockpitSnapshot, Vm, VmsPush } from '../../../protocol/index.ts';

export class Fleet {
  private readonly agents = new Map<string, AgentStatus>();
  private readonly inventories = new Map<string, Map<string, Vm>>();
  /** Bumped on every change, so the store republishes only what changed. */
  agentsVersion = 0;
  vmsVersion = 0;

  /** A snapshot replaces everything. */
  applySnapshot(s: CockpitSnapshot): void {
    this.agents.clear();
    for (const a of s.agents) this.agents.set(a.agentId, a);
    this.inventories.clear();
    for (const inv of s.inventories) this.inventories.set(inv.agentId, new Map(inv.vms.map((vm) => [vm.id, vm])));
    this.agentsVersion += 1;
    this.vmsVersion += 1;
  }

  /** An agents push carries every configured agent: it replaces the list (an agent removed in settings goes). */
  applyAgents(agents: readonly AgentStatus[]): void {
    this.agents.clear();
    for (const a of agents) this.agents.set(a.agentId, a);
    this.agentsVersion += 1;
  }

  applyVms(push: VmsPush): void {
    let inv = this.inventories.get(push.agentId);
    if (inv === undefined || push.full) {
      inv = new Map();
      this.inventories.set(push.agentId, inv);
    }
    for (const vm of push.vms) inv.set(vm.id, vm);
    for (const id of push.removed) inv.delete(id);
    this.vmsVersion += 1;
  }

  agent(agentId: string): AgentStatus | undefined {
    return this.agents.get(agentId);
  }

  vm(agentId: string, vmId: string): Vm | undefined {
    return this.inventories.get(agentId)?.get(vmId);
  }

  /** Agents in a stable order for the sidebar: by label, then id. */
  sortedAgents(): AgentStatus[] {
    return [...this.agents.values()].sort((a, b) => compareText(a.label, b.label) || compareText(a.agentId, b.agentId));
  }

  /** Each agent's VMs by name, then id. Agents with an inventory but no status still appear. */
  sortedInventories(): Map<string, Vm[]> {
    const out = new Map<string, Vm[]>();
    for (const [agentId, inv] of this.inventories) {
      out.set(agentId, [...inv.values()].sort((a, b) => compareText(a.name, b.name) || compareText(a.id, b.id)));
    }
    return out;
  }
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
