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

function emptyTally(): VerdictTally {
  return { benign: 0, suspicious: 0, malicious: 0, worst: -1 };
}

export class ThreatCounts {
  private readonly agents = new Map<string, AgentTally>();

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
