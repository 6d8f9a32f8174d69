// Threat counts per agent and per VM, by verdict, kept as events arrive: they cover every event received, not
// just the bounded window, so a VM that raised 40,000 benign events an hour ago still shows them.
import type { Severity, Verdict } from '../../../protocol/index.ts';
import { SEVERITY_RANK } from './filter.ts';

export interface VerdictTally {
  benign: number;
  suspicious: number;
  malicious: number;
  /** The most severe event seen, as a rank in SEVERITIES; -1 for none. */
  worst: number;
}

interface AgentTally {
  total: VerdictTally;
  vms: Map<string, VerdictTally>;
}

/** One tally as it stands now: the agent's total (vmId null) or one VM's. A copy, safe to hand to another thread. */
export interface TallyChange {
  agentId: string;
  vmId: string | null;
  tally: VerdictTally;
}

function emptyTally(): VerdictTally {
  return { benign: 0, suspicious: 0, malicious: 0, worst: -1 };
}

export class ThreatCounts {
  private readonly agents = new Map<string, AgentTally>();
  /** Tallies changed since the last takeChanges(), with where they belong: the view is sent only those. */
  private readonly changed = new Map<VerdictTally, { agentId: string; vmId: string | null }>();

  /** O(1): two map look-ups and three increments. */
  add(agentId: string, vmId: string, verdict: Verdict, severity: Severity): void {
    let agent = this.agents.get(agentId);
    if (agent === undefined) {
      agent = { total: emptyTally(), vms: new Map() };
      this.agents.set(agentId, agent);
    }
    let vm = agent.vms.get(vmId);
    if (vm === undefined) {
      vm = emptyTally();
      agent.vms.set(vmId, vm);
    }
    const rank = SEVERITY_RANK[severity];
    agent.total[verdict] += 1;
    vm[verdict] += 1;
    if (rank > agent.total.worst) agent.total.worst = rank;
    if (rank > vm.worst) vm.worst = rank;
    if (!this.changed.has(vm)) this.changed.set(vm, { agentId, vmId });
    if (!this.changed.has(agent.total)) this.changed.set(agent.total, { agentId, vmId: null });
  }

  /** Sets tallies as another ThreatCounts reported them (the page's copy of the engine's counts). */
  apply(changes: readonly TallyChange[]): void {
    for (const { agentId, vmId, tally } of changes) {
      let agent = this.agents.get(agentId);
      if (agent === undefined) {
        agent = { total: emptyTally(), vms: new Map() };
        this.agents.set(agentId, agent);
      }
      if (vmId === null) agent.total = { ...tally };
      else agent.vms.set(vmId, { ...tally });
    }
  }

  /** Copies of the tallies that changed since the last call (every tally, the first time). */
  takeChanges(): TallyChange[] {
    const out: TallyChange[] = [];
    for (const [tally, where] of this.changed) out.push({ agentId: where.agentId, vmId: where.vmId, tally: { ...tally } });
    this.changed.clear();
    return out;
  }

  ofAgent(agentId: string): Readonly<VerdictTally> | undefined {
    return this.agents.get(agentId)?.total;
  }

  ofVm(agentId: string, vmId: string): Readonly<VerdictTally> | undefined {
    return this.agents.get(agentId)?.vms.get(vmId);
  }

  /** Agents that raised at least one event. */
  agentIds(): string[] {
    return [...this.agents.keys()];
  }

  /** The VMs of an agent that raised at least one event. */
  vmIdsOf(agentId: string): string[] {
    const agent = this.agents.get(agentId);
    return agent === undefined ? [] : [...agent.vms.keys()];
  }
}
