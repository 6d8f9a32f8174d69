// The fleet sidebar: each agent (link state, host, hypervisor, round trip, last seq, gaps) and its VMs (state,
// threat counts by verdict). Clicking a VM filters the feed to it; clicking an agent filters to the agent.
import { memo, useState } from 'react';
import type { AgentStatus, Vm, VmState } from '../../../protocol/index.ts';
import type { VerdictTally } from '../store/counts.ts';
import type { CountsView } from '../store/cockpit.ts';
import { formatCount } from '../text/format.ts';
import { cellText } from '../text/visible.ts';
import { Badge } from './Badge.tsx';
import { Visible } from './Visible.tsx';
import { useActions, useCockpit } from './cockpit-context.tsx';
import { LINK_LOOK, VM_STATE_LOOK } from './labels.ts';

/** Agents with more VMs than this start folded, so one big host does not push the others off screen. */
const FOLD_ABOVE = 40;
const NO_VMS: readonly Vm[] = [];

export function FleetSidebar() {
  const agents = useCockpit((s) => s.agents);
  const inventories = useCockpit((s) => s.inventories);
  const counts = useCockpit((s) => s.counts);
  const filter = useCockpit((s) => s.filter);
  const ready = useCockpit((s) => s.ready);

  // Agents the hub reports, then any that only have an inventory or only sent events.
  const known = new Set(agents.map((a) => a.agentId));
  const orphans = [...new Set([...inventories.keys(), ...counts.agentIds()])].filter((id) => !known.has(id)).sort();

  return (
    <nav className="sidebar" aria-label="Fleet: agents and their VMs" data-testid="fleet-sidebar">
      <h2 className="pane-title">Fleet</h2>
      {agents.length === 0 && orphans.length === 0 ? (
        <p className="hint">{ready ? 'No agent is configured.' : 'Waiting for the cockpit…'}</p>
      ) : null}
      <ul className="agents">
        {agents.map((a) => (
          <AgentGroup
            key={a.agentId}
            agentId={a.agentId}
            status={a}
            vms={inventories.get(a.agentId) ?? NO_VMS}
            counts={counts}
            agentFiltered={filter.agentId === a.agentId && filter.vm === null}
            vmFiltered={filter.vm !== null && filter.vm.agentId === a.agentId ? filter.vm.vmId : null}
          />
        ))}
        {orphans.map((id) => (
          <AgentGroup
            key={id}
            agentId={id}
            status={undefined}
            vms={inventories.get(id) ?? NO_VMS}
            counts={counts}
            agentFiltered={filter.agentId === id && filter.vm === null}
            vmFiltered={filter.vm !== null && filter.vm.agentId === id ? filter.vm.vmId : null}
          />
        ))}
      </ul>
    </nav>
  );
}

interface AgentGroupProps {
  agentId: string;
  status: AgentStatus | undefined;
  vms: readonly Vm[];
  counts: CountsView;
  agentFiltered: boolean;
  vmFiltered: string | null;
}

function AgentGroup({ agentId, status, vms, counts, agentFiltered, vmFiltered }: AgentGroupProps) {
  const actions = useActions();
  const [open, setOpen] = useState<boolean | null>(null);
  const expanded = open ?? vms.length <= FOLD_ABOVE;
  const tally = counts.ofAgent(agentId);
  const link = status === undefined ? undefined : LINK_LOOK[status.link];
  const lostEvents = status === undefined ? 0 : status.gaps.reduce((n, g) => n + (g.to - g.from + 1), 0);
  // VMs that raised events but are not in the inventory (removed, or not reported yet) still get their counts.
  const listed = new Set(vms.map((v) => v.id));
  const unlisted = counts.vmIdsOf(agentId).filter((id) => !listed.has(id)).sort();

  return (
    <li className="agent" data-testid="fleet-agent" data-agent={agentId}>
      <div className="agent-head">
        <button
          type="button"
          className="fold"
          aria-expanded={expanded}
          aria-label={`${expanded ? 'Fold' : 'Unfold'} the VMs of ${agentId}`}
          onClick={() => setOpen(!expanded)}
        >
          <span aria-hidden="true">{expanded ? '▾' : '▸'}</span>
        </button>
        <button
          type="button"
          className={agentFiltered ? 'agent-name pressed' : 'agent-name'}
          aria-pressed={agentFiltered}
          title="Show only this agent's events"
          onClick={() => actions.toggleAgentFilter(agentId)}
        >
          <Visible text={status?.label ?? agentId} max={80} />
        </button>
        {link !== undefined ? (
          <span className={`link-state ${link.tone}`} title={status?.lastError !== undefined ? cellText(status.lastError, 300) : link.title}>
            <span aria-hidden="true">{link.glyph}</span> {link.label}
          </span>
        ) : <span className="link-state link-pending">no status</span>}
      </div>
      {status !== undefined ? (
        <div className="agent-meta">
          {status.host !== undefined ? <span title="Host"><Visible text={status.host} max={80} /></span> : null}
          {status.hypervisor !== undefined ? <span title="Hypervisor"><Visible text={status.hypervisor} max={60} /></span> : null}
          <span title="Round-trip time">{status.rttMs !== undefined ? `${Math.round(status.rttMs)} ms` : '– ms'}</span>
          <span title="Last event seq received">seq {formatCount(status.lastSeq)}</span>
          {status.agentLatestSeq !== undefined && status.agentLatestSeq > status.lastSeq ? (
            <span title="Events the agent has that the cockpit has not received yet">
              {formatCount(status.agentLatestSeq - status.lastSeq)} behind
            </span>
          ) : null}
        </div>
      ) : null}
      {lostEvents > 0 ? (
        <div className="gap-warning" role="note" data-testid="gap-warning">
          <span aria-hidden="true">⚠</span> {formatCount(lostEvents)} events lost in {status!.gaps.length} gap{status!.gaps.length === 1 ? '' : 's'}
          {' '}(seq {status!.gaps[status!.gaps.length - 1]!.from}–{status!.gaps[status!.gaps.length - 1]!.to})
        </div>
      ) : null}
      {tally !== undefined ? <Tally tally={tally} /> : null}
      {expanded ? (
        <ul className="vms" aria-label={`VMs on ${agentId}`}>
          {vms.map((vm) => {
            const t = counts.ofVm(agentId, vm.id);
            return (
              <VmRow
                key={vm.id}
                agentId={agentId}
                vmId={vm.id}
                name={vm.name}
                state={vm.state}
                malicious={t?.malicious ?? 0}
                suspicious={t?.suspicious ?? 0}
                benign={t?.benign ?? 0}
                pressed={vmFiltered === vm.id}
              />
            );
          })}
          {unlisted.map((vmId) => {
            const t = counts.ofVm(agentId, vmId);
            return (
              <VmRow
                key={`unlisted:${vmId}`}
                agentId={agentId}
                vmId={vmId}
                name={vmId}
                state={null}
                malicious={t?.malicious ?? 0}
                suspicious={t?.suspicious ?? 0}
                benign={t?.benign ?? 0}
                pressed={vmFiltered === vmId}
              />
            );
          })}
        </ul>
      ) : (
        <p className="folded">{formatCount(vms.length)} VMs folded</p>
      )}
    </li>
  );
}

function Tally({ tally }: { tally: Readonly<VerdictTally> }) {
  return (
    <div className="tally" aria-label="Threat events by verdict">
      <Count n={tally.malicious} tone="ver-malicious" glyph="✖" word="malicious" />
      <Count n={tally.suspicious} tone="ver-suspicious" glyph="?" word="suspicious" />
      <Count n={tally.benign} tone="ver-benign" glyph="✓" word="benign" />
    </div>
  );
}

function Count({ n, tone, glyph, word }: { n: number; tone: string; glyph: string; word: string }) {
  return (
    <span className={`count ${tone} ${n === 0 ? 'zero' : ''}`} title={`${formatCount(n)} ${word}`}>
      <span aria-hidden="true">{glyph}</span> {formatCount(n)}<span className="sr-only"> {word}</span>
    </span>
  );
}

interface VmRowProps {
  agentId: string;
  vmId: string;
  name: string;
  state: VmState | null;
  malicious: number;
  suspicious: number;
  benign: number;
  pressed: boolean;
}

const VmRow = memo(function VmRow({ agentId, vmId, name, state, malicious, suspicious, benign, pressed }: VmRowProps) {
  const actions = useActions();
  return (
    <li>
      <button
        type="button"
        className={pressed ? 'vm pressed' : 'vm'}
        aria-pressed={pressed}
        data-testid="fleet-vm"
        data-agent={agentId}
        data-vm={vmId}
        title="Show only this VM's events"
        onClick={() => actions.toggleVmFilter(agentId, vmId)}
      >
        <span className="vm-name"><Visible text={name} max={80} /></span>
        {state !== null ? <Badge look={VM_STATE_LOOK[state]} /> : <span className="badge vm-unknown">not in inventory</span>}
        <span className="vm-counts">
          <Count n={malicious} tone="ver-malicious" glyph="✖" word="malicious" />
          <Count n={suspicious} tone="ver-suspicious" glyph="?" word="suspicious" />
          <Count n={benign} tone="ver-benign" glyph="✓" word="benign" />
        </span>
      </button>
    </li>
  );
});
