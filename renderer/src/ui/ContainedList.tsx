// The contained list, at the top of the sidebar: every VM frozen, isolated, seized (or being seized) or cloned,
// across every agent, with the one click that lets it go again (release, resume). An isolation with an expiry counts
// down, and once past it asks the responder to renew it (or release it): isolations must not be forgotten.
import { memo, useCallback, useMemo } from 'react';
import type { ActionKind, Vm } from '../../../protocol/index.ts';
import { vmKey } from '../store/action-history.ts';
import { agentOffer, containedVms, whyNot, whyNotRenew, type ActTarget } from '../store/action-rules.ts';
import type { ActionPlan } from '../store/action-plans.ts';
import { ActionButton, RenewButton } from './ActionButtons.tsx';
import { useActionDesk } from './ActionDesk.tsx';
import { Badge } from './Badge.tsx';
import { IsolationChip } from './VmPanel.tsx';
import { Visible } from './Visible.tsx';
import { useActions, useCockpit } from './cockpit-context.tsx';
import { VM_STATE_LOOK } from './labels.ts';
import { visible } from '../text/visible.ts';
import { useNow } from './use-now.ts';

const RESUMABLE = new Set(['frozen', 'seizing', 'seized']);

// Memoised: the sidebar around it is drawn again with every count; this list only when what it reads changes.
export const ContainedList = memo(function ContainedList() {
  const inventories = useCockpit((s) => s.inventories);
  const actionsByVm = useCockpit((s) => s.actionsByVm);
  const plans = useCockpit((s) => s.plans);
  // What the rules read of each agent, as one string: their status objects change four times a second.
  const offersKey = useCockpit((s) => s.agents.map((a) => [a.agentId, a.label, a.hypervisor ?? '', a.actions?.join(',') ?? '\u0000', a.access?.principal.role ?? '', a.access?.principal.name ?? ''].join('\t')).join('\n'));
  const offers = useMemo(() => {
    const out = new Map<string, ActTarget['agent']>();
    if (offersKey === '') return out;
    for (const line of offersKey.split('\n')) {
      const [id, label, hypervisor, actions, role, ...name] = line.split('\t') as [string, string, string, string, string, ...string[]];
      out.set(id, agentOffer(label, hypervisor === '' ? undefined : hypervisor, actions === '\u0000' ? undefined : actions, role === '' ? undefined : `${role}\t${name.join('\t')}`));
    }
    return out;
  }, [offersKey]);
  const hasExpiry = useMemo(() => [...inventories.values()].some((vms) => vms.some((v) => v.isolation?.expiresAt !== undefined)), [inventories]);
  const now = useNow(hasExpiry ? 1000 : null);
  const contained = useMemo(() => containedVms(inventories, now), [inventories, now]);
  const due = contained.filter((c) => c.expiresIn !== null && c.expiresIn <= 0).length;

  return (
    <section className="contained" aria-labelledby="contained-title" data-testid="contained-list">
      <h2 className="pane-title" id="contained-title">Contained <span className="count">({contained.length})</span></h2>
      {due > 0 ? (
        <p className="expired-note" role="alert" data-testid="contained-due">
          <span aria-hidden="true">⚠</span> {due === 1 ? 'One isolation is' : `${due} isolations are`} past {due === 1 ? 'its' : 'their'} expiry: renew or release {due === 1 ? 'it' : 'them'}.
        </p>
      ) : null}
      {contained.length === 0 ? <p className="hint">No VM is frozen, isolated, seized or cloned.</p> : (
        <ul className="contained-vms">
          {contained.map(({ agentId, vm, expiresIn }) => {
            const key = vmKey(agentId, vm.id);
            const origin = vm.cloneOf === undefined ? undefined : inventories.get(agentId)?.find((v) => v.id === vm.cloneOf);
            return (
              <ContainedRow
                key={key}
                agentId={agentId}
                vm={vm}
                origin={origin}
                agent={offers.get(agentId)}
                history={actionsByVm.get(key)}
                plan={plans.get(key)}
                due={expiresIn !== null && expiresIn <= 0}
              />
            );
          })}
        </ul>
      )}
    </section>
  );
});

interface RowProps {
  agentId: string;
  vm: Vm;
  origin: Vm | undefined;
  agent: ActTarget['agent'];
  history: ActTarget['history'] | undefined;
  plan: ActionPlan | undefined;
  due: boolean;
}

function ContainedRow({ agentId, vm, origin, agent, history, plan, due }: RowProps) {
  const actions = useActions();
  const desk = useActionDesk();
  const onAct = useCallback((kind: ActionKind) => desk.request(kind, { agentId, vmId: vm.id }), [desk, agentId, vm.id]);
  const target: ActTarget = { agentId, vmId: vm.id, vm, agent, history: history ?? [], plan };
  if (origin !== undefined) target.origin = origin;
  return (
    <li className={due ? 'contained-vm due' : 'contained-vm'} data-testid="contained-vm" data-agent={agentId} data-vm={vm.id} data-state={vm.state}>
      <div className="contained-head">
        <button type="button" className="contained-name" title="Show this VM in the detail pane" onClick={() => actions.pickVm(agentId, vm.id)}>
          <Visible text={vm.name} max={64} />
        </button>
        <span data-testid="vm-state" data-state={vm.state}><Badge look={VM_STATE_LOOK[vm.state]} /></span>
      </div>
      <div className="contained-meta">
        <span className="mono">{agentId}</span>
        {vm.isolation !== undefined ? <IsolationChip mode={vm.isolation.mode} since={vm.isolation.since} expiresAt={vm.isolation.expiresAt} /> : null}
        {vm.cloneOf !== undefined ? <span className="chip">clone of <Visible text={origin?.name ?? vm.cloneOf} max={48} /></span> : null}
      </div>
      <div className="act-bar" role="group" aria-label={`Let ${visible(vm.name)} go`}>
        {vm.isolation !== undefined ? <ActionButton kind="release" reason={whyNot('release', target)} vmName={vm.name} onAct={onAct} /> : null}
        {RESUMABLE.has(vm.state) ? <ActionButton kind="resume" reason={whyNot('resume', target)} vmName={vm.name} onAct={onAct} /> : null}
        {vm.isolation !== undefined
          ? <RenewButton vmName={vm.name} why={whyNotRenew(target)} expiresAt={vm.isolation.expiresAt} onRenew={() => desk.renew({ agentId, vmId: vm.id })} />
          : null}
      </div>
    </li>
  );
}
