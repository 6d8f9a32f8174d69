// The fleet sidebar: the contained VMs first (ContainedList), then each agent (link state, host, hypervisor, round
// trip, last seq, gaps) and its VMs (state, what runs on it, threat counts by verdict, its action buttons). Clicking
// a VM filters the feed to it and shows it in the detail pane; clicking an agent filters to the agent.
import { memo, useCallback, useState } from 'react';
import type { ActionKind, ActionRecord, AgentStatus, Vm } from '../../../protocol/index.ts';
import { vmKey } from '../store/action-history.ts';
import type { ActionPlan } from '../store/action-plans.ts';
import { agentOffer, lastEnded, lastUnderway, principalKeyOf, reasonsFor, type ActTarget } from '../store/action-rules.ts';
import type { VerdictTally } from '../store/counts.ts';
import type { CountsView } from '../store/cockpit.ts';
import { formatCount } from '../text/format.ts';
import { cellText } from '../text/visible.ts';
import { ActionBar, Activity } from './ActionButtons.tsx';
import { useActionDesk } from './ActionDesk.tsx';
import { Badge } from './Badge.tsx';
import { ContainedList } from './ContainedList.tsx';
import { AgentTrust } from './trust/AgentTrust.tsx';
import { Approvals } from './trust/Approvals.tsx';
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
  const actionsByVm = useCockpit((s) => s.actionsByVm);
  const plans = useCockpit((s) => s.plans);

  // Agents the hub reports, then any that only have an inventory or only sent events.
  const known = new Set(agents.map((a) => a.agentId));
  const orphans = [...new Set([...inventories.keys(), ...counts.agentIds()])].filter((id) => !known.has(id)).sort();

  return (
    <nav className="sidebar" aria-label="Fleet: agents and their VMs" data-testid="fleet-sidebar">
      <Approvals />
      <ContainedList />
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
            actionsByVm={actionsByVm}
            plans={plans}
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
            actionsByVm={actionsByVm}
            plans={plans}
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
  actionsByVm: ReadonlyMap<string, readonly ActionRecord[]>;
  plans: ReadonlyMap<string, ActionPlan>;
}

function AgentGroup({ agentId, status, vms, counts, agentFiltered, vmFiltered, actionsByVm, plans }: AgentGroupProps) {
  const actions = useActions();
  const [open, setOpen] = useState<boolean | null>(null);
  const expanded = open ?? vms.length <= FOLD_ABOVE;
  const tally = counts.ofAgent(agentId);
  const link = status === undefined ? undefined : LINK_LOOK[status.link];
  const lostEvents = status === undefined ? 0 : status.gaps.reduce((n, g) => n + (g.to - g.from + 1), 0);
  // VMs that raised events but are not in the inventory (removed, or not reported yet) still get their counts.
  const listed = new Set(vms.map((v) => v.id));
  const unlisted = counts.vmIdsOf(agentId).filter((id) => !listed.has(id)).sort();
  // Primitives of the agent's status for the rows: the status object itself changes four times a second.
  const offer = { label: status?.label, hypervisor: status?.hypervisor, actionsKey: status?.actions?.join(','), principalKey: principalKeyOf(status) };
  // A clone's row checks its origin (release); the index is made only when the agent has a clone.
  let byId: Map<string, Vm> | null = null;
  const originOf = (vm: Vm) => (vm.cloneOf === undefined ? undefined : (byId ??= new Map(vms.map((v) => [v.id, v]))).get(vm.cloneOf));

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
      {status !== undefined ? <AgentTrust status={status} /> : null}
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
            return (
              <VmRow
                key={vm.id}
                agentId={agentId}
                vmId={vm.id}
                vm={vm}
                origin={originOf(vm)}
                agentLabel={offer.label}
                hypervisor={offer.hypervisor}
                actionsKey={offer.actionsKey}
                principalKey={offer.principalKey}
                history={actionsByVm.get(vmKey(agentId, vm.id))}
                plan={plans.get(vmKey(agentId, vm.id))}
                pressed={vmFiltered === vm.id}
              />
            );
          })}
          {unlisted.map((vmId) => {
            return (
              <VmRow
                key={`unlisted:${vmId}`}
                agentId={agentId}
                vmId={vmId}
                vm={undefined}
                origin={undefined}
                agentLabel={offer.label}
                hypervisor={offer.hypervisor}
                actionsKey={offer.actionsKey}
                principalKey={offer.principalKey}
                history={actionsByVm.get(vmKey(agentId, vmId))}
                plan={plans.get(vmKey(agentId, vmId))}
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
  /** Undefined for a VM seen only in events (not in the inventory). */
  vm: Vm | undefined;
  /** For a clone: its origin, when listed. */
  origin: Vm | undefined;
  agentLabel: string | undefined;
  hypervisor: string | undefined;
  /** The agent's driver's actions, joined by commas; undefined when the agent has not said. */
  actionsKey: string | undefined;
  /** Who this cockpit is to the agent (principalKeyOf); undefined when the agent did not say. */
  principalKey: string | undefined;
  history: readonly ActionRecord[] | undefined;
  plan: ActionPlan | undefined;
  pressed: boolean;
}

const NO_RECORDS: readonly ActionRecord[] = [];

const VmRow = memo(function VmRow(props: VmRowProps) {
  const { agentId, vmId, vm, origin, agentLabel, hypervisor, actionsKey, principalKey, history = NO_RECORDS, plan, pressed } = props;
  const actions = useActions();
  const desk = useActionDesk();
  const onAct = useCallback((kind: ActionKind) => desk.request(kind, { agentId, vmId }), [desk, agentId, vmId]);
  const name = vm?.name ?? vmId;
  const target: ActTarget = { agentId, vmId, vm, agent: agentLabel === undefined ? undefined : agentOffer(agentLabel, hypervisor, actionsKey, principalKey), history, plan };
  if (origin !== undefined) target.origin = origin;
  return (
    <li className="vm-item" data-testid="fleet-vm-item" data-agent={agentId} data-vm={vmId} data-state={vm?.state ?? 'unknown'}>
      <button
        type="button"
        className={pressed ? 'vm pressed' : 'vm'}
        aria-pressed={pressed}
        data-testid="fleet-vm"
        data-agent={agentId}
        data-vm={vmId}
        title="Show only this VM's events, and the VM in the detail pane"
        onClick={() => {
          actions.toggleVmFilter(agentId, vmId);
          actions.pickVm(agentId, vmId);
        }}
      >
        <span className="vm-name"><Visible text={name} max={80} /></span>
        {vm !== undefined
          ? <span data-testid="vm-state" data-state={vm.state}><Badge look={VM_STATE_LOOK[vm.state]} /></span>
          : <span className="badge vm-unknown">not in inventory</span>}
        <VmCounts agentId={agentId} vmId={vmId} />
      </button>
      <Activity busy={vm?.busy} underway={lastUnderway(history)} ended={lastEnded(history)} plan={plan} max={120} />
      <ActionBar vmName={name} reasons={reasonsFor(target)} compact onAct={onAct} />
    </li>
  );
}, (a, b) => a.agentId === b.agentId && a.vmId === b.vmId && sameVm(a.vm, b.vm) && sameVm(a.origin, b.origin)
  && a.agentLabel === b.agentLabel && a.hypervisor === b.hypervisor && a.actionsKey === b.actionsKey && a.history === b.history
  && a.plan === b.plan && a.pressed === b.pressed);

/**
 * A VM's threat counts, subscribed on their own: they move four times a second under load, and redrawing only these
 * three numbers (not the row, its activity line and its seven buttons) keeps the main thread free (bench:events).
 */
const VmCounts = memo(function VmCounts({ agentId, vmId }: { agentId: string; vmId: string }) {
  const key = useCockpit((s) => {
    const t = s.counts.ofVm(agentId, vmId);
    return t === undefined ? '0|0|0' : `${t.malicious}|${t.suspicious}|${t.benign}`;
  });
  const [malicious, suspicious, benign] = key.split('|').map(Number) as [number, number, number];
  return (
    <span className="vm-counts">
      <Count n={malicious} tone="ver-malicious" glyph="✖" word="malicious" />
      <Count n={suspicious} tone="ver-suspicious" glyph="?" word="suspicious" />
      <Count n={benign} tone="ver-benign" glyph="✓" word="benign" />
    </span>
  );
});

/** Whether two copies of a VM draw the same row: an inventory that crossed from the worker is a fresh copy of every
 *  VM, changed or not. */
function sameVm(a: Vm | undefined, b: Vm | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return a.id === b.id && a.name === b.name && a.state === b.state && a.busy === b.busy && a.cloneOf === b.cloneOf
    && a.isolation?.mode === b.isolation?.mode && a.isolation?.since === b.isolation?.since && a.isolation?.expiresAt === b.isolation?.expiresAt;
}
