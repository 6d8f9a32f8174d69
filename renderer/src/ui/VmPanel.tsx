// The VM pane, above the event detail: the VM picked in the fleet or the contained list, else the selected event's
// VM. Its state, what runs on it and how far, its action buttons, the agent's isolation proof, and its action
// history (who, why, when, how it ended, and what it produced: a clone, an isolation proof, seized files with their
// hashes). Every string from a guest, an agent or a responder is drawn as text (Visible).
import { useCallback } from 'react';
import type { ActionKind, ActionRecord, CapturedFile, IsolationProof } from '../../../protocol/index.ts';
import { vmKey } from '../store/action-history.ts';
import { agentOffer, lastEnded, lastUnderway, principalKeyOf, reasonsFor, whyNotRenew, type ActTarget } from '../store/action-rules.ts';
import { focusedVm } from '../store/cockpit.ts';
import { formatBytes, formatCount, formatCountdown, utcClock, utcTimestamp } from '../text/format.ts';
import { ActionBar, Activity, RenewButton } from './ActionButtons.tsx';
import { useActionDesk } from './ActionDesk.tsx';
import { Badge } from './Badge.tsx';
import { Visible } from './Visible.tsx';
import { useActions, useCockpit } from './cockpit-context.tsx';
import { ACTION_LOOK, PHASE_LOOK, VM_STATE_LOOK } from './labels.ts';
import { useNow } from './use-now.ts';
import { useView } from './view-context.tsx';
import { useOpenConsole } from './console/ConsoleProvider.tsx';
import { InspectButtons } from './inspect/SafeInspect.tsx';
import { isRunning } from '../../../protocol/lifecycle.ts';

const NO_RECORDS: readonly ActionRecord[] = [];

export function VmPanel() {
  // A string, so that the pane is drawn again only when another VM is shown.
  const key = useCockpit((s) => {
    const ref = focusedVm(s);
    return ref === null ? null : vmKey(ref.agentId, ref.vmId);
  });
  if (key === null) return null;
  const slash = key.indexOf('/');
  return <VmPane key={key} agentId={key.slice(0, slash)} vmId={key.slice(slash + 1)} />;
}

function VmPane({ agentId, vmId }: { agentId: string; vmId: string }) {
  const key = vmKey(agentId, vmId);
  const vm = useCockpit((s) => s.inventories.get(agentId)?.find((v) => v.id === vmId));
  const history = useCockpit((s) => s.actionsByVm.get(key)) ?? NO_RECORDS;
  const plan = useCockpit((s) => s.plans.get(key));
  const picked = useCockpit((s) => s.pickedVm !== null);
  const { showJournal } = useView();
  const openConsole = useOpenConsole();
  // The agent's status object is republished four times a second: only what is drawn from it.
  const agentLabel = useCockpit((s) => s.agents.find((a) => a.agentId === agentId)?.label);
  const hypervisor = useCockpit((s) => s.agents.find((a) => a.agentId === agentId)?.hypervisor);
  const actionsKey = useCockpit((s) => s.agents.find((a) => a.agentId === agentId)?.actions?.join(','));
  const principalKey = useCockpit((s) => principalKeyOf(s.agents.find((a) => a.agentId === agentId)));
  const agentLink = useCockpit((s) => s.agents.find((a) => a.agentId === agentId)?.link);
  const originId = vm?.cloneOf;
  const origin = useCockpit((s) => (originId === undefined ? undefined : s.inventories.get(agentId)?.find((v) => v.id === originId)));
  const desk = useActionDesk();
  const actions = useActions();
  const onAct = useCallback((kind: ActionKind) => desk.request(kind, { agentId, vmId }), [desk, agentId, vmId]);

  const target: ActTarget = { agentId, vmId, vm, agent: agentLabel === undefined ? undefined : agentOffer(agentLabel, hypervisor, actionsKey, principalKey), history, plan };
  if (origin !== undefined) target.origin = origin;
  const reasons = reasonsFor(target);
  const name = vm?.name ?? vmId;
  const underway = lastUnderway(history);
  const proof = vm?.isolation?.proof ?? (vm?.isolation !== undefined ? latestProof(history) : undefined);
  const titleId = `vm-pane-${key}`;

  return (
    <section className="vm-pane" aria-labelledby={titleId} data-testid="vm-detail" data-agent={agentId} data-vm={vmId} data-state={vm?.state ?? 'unknown'}>
      <div className="vm-pane-head">
        <h2 id={titleId} className="detail-title"><span className="muted">VM</span> <Visible text={name} /></h2>
        <button type="button" className="quiet" onClick={() => showJournal({ vmId, agentId })} title="Everything the journal holds about this VM, on a timeline with its logs" data-testid="vm-journal">Journal</button>
        <InspectButtons agentId={agentId} vmId={vmId} running={vm !== undefined && isRunning(vm.state)} />
        <button type="button" className="quiet" onClick={() => openConsole.recordings(agentId, vmId)} title="The recorded console sessions of this VM, to replay" data-testid="vm-recordings">Recordings</button>
        {picked ? (
          <button type="button" className="quiet close" aria-label="Stop showing this VM" title="Stop showing this VM (the selected event's VM is shown instead)" onClick={actions.unpickVm}>
            <span aria-hidden="true">×</span>
          </button>
        ) : null}
      </div>
      <p className="detail-badges">
        {vm !== undefined
          ? <span data-testid="vm-detail-state" data-state={vm.state}><Badge look={VM_STATE_LOOK[vm.state]} /></span>
          : <span className="badge vm-unknown">not in inventory</span>}
        {vm?.isolation !== undefined ? <IsolationChip mode={vm.isolation.mode} since={vm.isolation.since} expiresAt={vm.isolation.expiresAt} /> : null}
        {vm?.cloneOf !== undefined ? <span className="chip">clone of <Visible text={origin?.name ?? vm.cloneOf} max={64} /></span> : null}
      </p>
      <dl className="vm-facts">
        <Fact label="VM id" mono>{vmId}</Fact>
        <Fact label="Agent" mono>{agentLabel !== undefined && agentLabel !== agentId ? `${agentId} (${agentLabel})` : agentId}</Fact>
        {vm?.memoryMiB !== undefined ? <Fact label="Memory">{`${formatCount(vm.memoryMiB)} MiB${vm.vcpus !== undefined ? `, ${vm.vcpus} vCPU` : ''}`}</Fact> : null}
        {vm?.image !== undefined ? <Fact label="Image">{vm.image}</Fact> : null}
        {vm?.networks !== undefined && vm.networks.length > 0 ? (
          <Fact label="Networks" mono>
            {vm.networks.map((n) => `${n.name}${n.ip !== undefined ? ` ${n.ip}` : ''}${n.bridge !== undefined ? ` on ${n.bridge}` : ''}${n.link === 'down' ? ' (link down)' : ''}`).join(' · ')}
          </Fact>
        ) : null}
        {vm?.since !== undefined ? <Fact label="State since" mono>{utcTimestamp(Date.parse(vm.since))}</Fact> : null}
      </dl>
      {agentLink !== undefined && agentLink !== 'connected' ? (
        <p className="activity bad" role="note">
          Its agent is {agentLink}: what you ask is sent when the link is back, and the state shown may be out of date.
        </p>
      ) : null}
      {/* Read out when an action ends (not each progress step): a responder who acted by keyboard hears how it went. */}
      <div aria-live="polite" aria-busy={underway !== undefined || vm?.busy !== undefined}>
        <Activity busy={vm?.busy} underway={underway} ended={lastEnded(history)} plan={plan} max={400} />
      </div>
      {plan !== undefined && plan.status === 'stopped' ? (
        <button type="button" className="quiet" data-testid="plan-dismiss" onClick={() => actions.dismissPlan(agentId, vmId)}>Dismiss</button>
      ) : null}
      <ActionBar vmName={name} reasons={reasons} onAct={onAct} />
      {vm?.isolation !== undefined ? (
        <RenewButton vmName={name} why={whyNotRenew(target)} expiresAt={vm.isolation.expiresAt} onRenew={() => desk.renew({ agentId, vmId })} />
      ) : null}
      {proof !== undefined ? <ProofView proof={proof} /> : null}
      <History history={history} />
    </section>
  );
}

function Fact({ label, mono = false, children }: { label: string; mono?: boolean; children: string }) {
  return (
    <div className="field">
      <dt>{label}</dt>
      <dd className={mono ? 'mono' : undefined}><Visible text={children} /></dd>
    </div>
  );
}

/** The isolation's mode, and its expiry counting down (or past, asking to renew). */
export function IsolationChip({ mode, since, expiresAt }: { mode: 'cut' | 'honeypot'; since: string; expiresAt: string | undefined }) {
  return (
    <span className="chip" data-testid="isolation-chip" data-mode={mode} title={`Isolated (${mode}) since ${utcTimestamp(Date.parse(since))}`}>
      {mode === 'cut' ? 'cut off' : 'in the honeypot'}
      {expiresAt !== undefined ? <> · <ExpiryCountdown expiresAt={expiresAt} /></> : null}
    </span>
  );
}

/** "renew in 4 min 12 s", then "expired 1 min 03 s ago": one clock per countdown shown, ticking once a second. */
export function ExpiryCountdown({ expiresAt }: { expiresAt: string }) {
  const now = useNow(1000);
  const at = Date.parse(expiresAt);
  if (!Number.isFinite(at)) return null;
  const left = at - now;
  return left > 0
    ? <span className="expiry" data-testid="expiry" data-expired="false" title={`Renew by ${utcTimestamp(at)}`}>renew in {formatCountdown(left)}</span>
    : <span className="expiry expired" data-testid="expiry" data-expired="true" title={`Was to be renewed by ${utcTimestamp(at)}`}>expired {formatCountdown(-left)} ago</span>;
}

function latestProof(history: readonly ActionRecord[]): IsolationProof | undefined {
  for (let i = history.length - 1; i >= 0; i--) {
    const r = history[i]!;
    if (r.kind === 'isolate' && r.phase === 'done' && r.details?.isolation !== undefined) return r.details.isolation;
  }
  return undefined;
}

/** What the agent checked after isolating, check by check: not just "done". */
export function ProofView({ proof }: { proof: IsolationProof }) {
  return (
    <section className="proof" data-testid="isolation-proof" data-ok={proof.ok ? 'true' : 'false'}>
      <h3>
        Isolation proof: {proof.ok ? <span className="phase-done">✓ every check passed</span> : <span className="phase-bad">✕ a check failed</span>}
        {' '}<span className="muted">checked {utcClock(proof.checkedAt)}</span>
      </h3>
      {proof.checks.length === 0 ? <p className="muted">The agent reported no check.</p> : (
        <ul className="checks">
          {proof.checks.map((c, i) => (
            <li key={i} data-testid="proof-check" data-ok={c.ok ? 'true' : 'false'}>
              <span className={c.ok ? 'phase-done' : 'phase-bad'} aria-label={c.ok ? 'passed' : 'failed'}>{c.ok ? '✓' : '✕'}</span>{' '}
              <span className="mono check-name"><Visible text={c.name} max={128} /></span>: <Visible text={c.detail} />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** The VM's actions, newest first. */
function History({ history }: { history: readonly ActionRecord[] }) {
  return (
    <section className="history" aria-label="Action history">
      <h3>Action history</h3>
      {history.length === 0 ? <p className="muted">No action asked of this VM since the cockpit started.</p> : (
        <ol className="history-list" data-testid="vm-history" reversed>
          {[...history].reverse().map((r) => <HistoryEntry key={r.requestId} rec={r} />)}
        </ol>
      )}
    </section>
  );
}

function HistoryEntry({ rec }: { rec: ActionRecord }) {
  const phase = PHASE_LOOK[rec.phase];
  const problem = rec.phase === 'rejected' ? rec.rejection : rec.phase === 'failed' ? rec.error : undefined;
  const d = rec.details;
  return (
    <li className="history-entry" data-testid="history-entry" data-kind={rec.kind} data-phase={rec.phase} data-request={rec.requestId}>
      <div className="history-line">
        <span className="mono muted" title={utcTimestamp(Date.parse(rec.requestedAt))}>{utcClock(rec.requestedAt)}</span>{' '}
        <strong>{ACTION_LOOK[rec.kind].label}</strong>{' '}
        <Badge look={phase} />{' '}
        <span className="muted">by</span> <span data-testid="history-actor"><Visible text={rec.actor.name} max={128} />{rec.actor.role !== undefined ? <> (<Visible text={rec.actor.role} max={64} />)</> : null}</span>
      </div>
      {rec.reason !== '' ? <p className="history-reason" data-testid="history-reason"><Visible text={rec.reason} /></p> : null}
      {problem !== undefined ? <p className="history-problem" data-testid="history-problem"><Visible text={problem.message} /> <span className="mono muted">({problem.code})</span></p> : null}
      <details className="history-details">
        <summary>Details</summary>
        <dl>
          <Fact label="Request id" mono>{rec.requestId}</Fact>
          <Fact label="Asked" mono>{utcTimestamp(Date.parse(rec.requestedAt))}</Fact>
          {rec.startedAt !== undefined ? <Fact label="Started" mono>{utcTimestamp(Date.parse(rec.startedAt))}</Fact> : null}
          {rec.finishedAt !== undefined ? <Fact label="Ended" mono>{utcTimestamp(Date.parse(rec.finishedAt))}</Fact> : null}
          {rec.actor.cockpit !== undefined ? <Fact label="From cockpit">{rec.actor.cockpit}</Fact> : null}
          {Object.keys(rec.params).length > 0 ? <Fact label="Parameters" mono>{paramsText(rec.params)}</Fact> : null}
          {rec.progress !== undefined ? <Fact label="Last step">{`${rec.progress.step}: ${rec.progress.message}`}</Fact> : null}
          {rec.state !== undefined ? <Fact label="State after">{rec.state}</Fact> : null}
          {d?.cloneVmId !== undefined ? <Fact label="Clone" mono>{d.cloneVmId}</Fact> : null}
          {d?.mode !== undefined ? <Fact label="Isolation mode">{d.mode}</Fact> : null}
          {d?.killed !== undefined ? <Fact label="Killed">{d.killed ? 'yes: it had to be killed after the deadline' : 'no: it quit'}</Fact> : null}
          {d?.captureId !== undefined ? <Fact label="Capture" mono>{d.captureId}</Fact> : null}
        </dl>
        {d?.isolation !== undefined ? <ProofView proof={d.isolation} /> : null}
        {d?.files !== undefined && d.files.length > 0 ? <Files files={d.files} /> : null}
      </details>
    </li>
  );
}

function paramsText(params: ActionRecord['params']): string {
  return Object.entries(params).map(([k, v]) => `${k}: ${String(v)}`).join(', ');
}

/** Seized files: each with its size and SHA-256 (the evidentiary hash), and the SHA-1 older forms ask for. */
function Files({ files }: { files: readonly CapturedFile[] }) {
  return (
    <table className="files" data-testid="seized-files">
      <caption>Seized files ({formatCount(files.length)}), hashed as written</caption>
      <thead>
        <tr><th scope="col">File</th><th scope="col">Size</th><th scope="col">SHA-256</th></tr>
      </thead>
      <tbody>
        {files.map((f) => (
          <tr key={f.path} data-testid="seized-file">
            <td className="mono"><Visible text={f.path} />{f.role !== undefined ? <span className="muted"> ({f.role})</span> : null}</td>
            <td>{formatBytes(f.size)}</td>
            <td className="mono hash" title={`SHA-1 ${f.sha1}`}>{f.sha256}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
