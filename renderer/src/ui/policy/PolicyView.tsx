// The policy view: for each agent, the auto-response policy it enforces and whether that satisfies STIG SV-95141r1
// (terminate a micro-VM on malicious activity; no delta supersedes it without a documented, unexpired exception);
// the exceptions in force with their justification and expiry; a .cklb checklist per agent for DISA STIG Viewer;
// and the editor that signs a new version with the responder's key and pushes it. Every value an agent or a policy
// author wrote is drawn as text (Visible), never as markup.
import { useCallback, useEffect, useId, useMemo, useState } from 'react';
import type { AgentPolicy, CockpitPolicyPushResult, CockpitPolicyStatus, Policy } from '../../../../protocol/index.ts';
import { describeScope, type StigVerdict } from '../../../../protocol/compliance.ts';
import { cklbFileName, toCklb } from '../../../../protocol/cklb.ts';
import { useCockpit, useCockpitCall } from '../cockpit-context.tsx';
import { Visible } from '../Visible.tsx';
import { atLeast, LEAD } from '../../../../protocol/roles.ts';
import { nextVersion, parsePolicy, policyText, stigBaseline, verdictOf } from './policy-model.ts';
import './policy.css';

const STATUS_WORD: Record<StigVerdict['status'], string> = { not_a_finding: 'Compliant', open: 'Open finding', not_reviewed: 'Not reviewed' };

export function PolicyView() {
  const call = useCockpitCall();
  const [status, setStatus] = useState<CockpitPolicyStatus | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [now, setNow] = useState(() => Date.now());
  // What the agents' hellos say they enforce: when it changes (a push, another cockpit), ask again for the whole.
  const inForce = useCockpit((s) => s.agents.map((a) => `${a.agentId}:${a.link}:${a.policy ? `${a.policy.id}@${a.policy.version}` : '-'}`).join('|'));

  const refresh = useCallback(async () => {
    try {
      setStatus(await call('policy.status', {}));
      setNow(Date.now());
      setError(null);
    } catch (err) {
      setError((err as Error).message);
    }
  }, [call]);
  useEffect(() => { void refresh(); }, [refresh, inForce]);

  const verdicts = useMemo(() => (status?.agents ?? []).map((a) => ({ agent: a, verdict: verdictOf(a, now) })), [status, now]);

  return (
    <section className="policy" aria-label="Auto-response policy" data-testid="policy-view">
      <header className="policy-head">
        <h2>Auto-response policy · STIG SV-95141r1</h2>
        <button type="button" onClick={() => void refresh()} data-testid="policy-refresh">Refresh</button>
        {status ? <SignerKey signer={status.signer} /> : null}
      </header>
      {error ? <p className="policy-error" role="alert" data-testid="policy-error"><Visible text={error} max={400} /></p> : null}
      <Compliance verdicts={verdicts} />
      <Exceptions verdicts={verdicts} />
      {status ? <Editor agents={status.agents} onPushed={() => void refresh()} /> : null}
    </section>
  );
}

function SignerKey({ signer }: { signer: CockpitPolicyStatus['signer'] }) {
  return (
    <details className="policy-signer" data-testid="policy-signer">
      <summary>Signs with key <span className="mono">{signer.keyId.slice(0, 16)}…</span></summary>
      <p>Agents accept the policies this cockpit pushes when they trust this key: save it as a file and start the agent with <span className="mono">--policy-key FILE</span>. The built-in lab trusts it already.</p>
      <pre className="mono">{signer.publicKeyPem}</pre>
      <p className="mono">SHA-256 {signer.keyId}</p>
    </details>
  );
}

function Compliance({ verdicts }: { verdicts: { agent: AgentPolicy; verdict: StigVerdict }[] }) {
  const exportCklb = (agent: AgentPolicy, verdict: StigVerdict) => {
    const cklb = toCklb(verdict, { hostName: agent.label || agent.agentId });
    download(cklbFileName(verdict), `${JSON.stringify(cklb, null, 2)}\n`, 'application/json');
  };
  return (
    <section aria-label="Compliance" className="policy-compliance">
      <h3>Compliance, per agent</h3>
      {verdicts.length === 0 ? <p className="hint">No agent is configured.</p> : null}
      <table className="policy-table" data-testid="policy-compliance">
        <thead><tr><th scope="col">Agent</th><th scope="col">Link</th><th scope="col">Policy in force</th><th scope="col">SV-95141r1</th><th scope="col">Findings</th><th scope="col"><span className="sr-only">Checklist</span></th></tr></thead>
        <tbody>
          {verdicts.map(({ agent, verdict }) => (
            <tr key={agent.agentId} data-testid="policy-agent" data-agent={agent.agentId} data-status={verdict.status}>
              <th scope="row"><Visible text={agent.label || agent.agentId} max={80} /><div className="mono muted"><Visible text={agent.agentId} max={128} /></div></th>
              <td>{agent.link}</td>
              <td className="mono">{agent.inForce ? <>{agent.inForce.id} v{agent.inForce.version}<div className="muted">signer {agent.inForce.signer.slice(0, 12)}…</div></> : 'none'}</td>
              <td><span className={`stig-status ${verdict.status}`} data-testid="policy-status">{STATUS_WORD[verdict.status]}</span></td>
              <td>
                <ul className="policy-findings">
                  {verdict.findings.map((f, i) => (
                    <li key={i} className={f.kind} data-testid="policy-finding" data-code={f.code}><Visible text={f.text} max={1000} /></li>
                  ))}
                </ul>
              </td>
              <td><button type="button" onClick={() => exportCklb(agent, verdict)} data-testid="policy-cklb" title="A DISA STIG Viewer checklist (.cklb) of this agent's verdict">Export .cklb</button></td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function Exceptions({ verdicts }: { verdicts: { agent: AgentPolicy; verdict: StigVerdict }[] }) {
  const rows = verdicts.flatMap(({ agent, verdict }) => verdict.exceptions.map((e) => ({ agent, e })));
  return (
    <section aria-label="Forensic exceptions" className="policy-exceptions">
      <h3>Forensic exceptions</h3>
      {rows.length === 0 ? <p className="hint" data-testid="policy-no-exceptions">No documented exception applies: malicious activity is terminated everywhere a policy is in force.</p> : (
        <table className="policy-table" data-testid="policy-exceptions">
          <thead><tr><th scope="col">Agent</th><th scope="col">Exception</th><th scope="col">Justification</th><th scope="col">Approver</th><th scope="col">Scope</th><th scope="col">Expires</th></tr></thead>
          <tbody>
            {rows.map(({ agent, e }) => (
              <tr key={`${agent.agentId}/${e.id}`} data-testid="policy-exception" data-expired={e.expired}>
                <td className="mono"><Visible text={agent.agentId} max={128} /></td>
                <td className="mono"><Visible text={e.id} max={64} /></td>
                <td><span className="chip">{e.justification.kind}</span> <Visible text={e.justification.text} max={2048} /></td>
                <td><Visible text={e.approver} max={128} /></td>
                <td><Visible text={describeScope(e.scope)} max={400} /></td>
                <td className={e.expired ? 'expired' : ''}>{e.expiresAt}{e.expired ? ' (expired: terminate applies again)' : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function Editor({ agents, onPushed }: { agents: AgentPolicy[]; onPushed(): void }) {
  const call = useCockpitCall();
  const ids = useId();
  const firstPolicy = agents.find((a) => a.policy)?.policy?.policy;
  const [text, setText] = useState(() => policyText(firstPolicy ? nextVersion(firstPolicy, Date.now()) : stigBaseline(Date.now())));
  const [targets, setTargets] = useState<Set<string>>(() => new Set(agents.filter((a) => a.link === 'connected').map((a) => a.agentId)));
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<CockpitPolicyPushResult | null>(null);
  const [pushError, setPushError] = useState<string | null>(null);
  const parsed = useMemo(() => parsePolicy(text, Date.now()), [text]);

  const start = (policy: Policy) => {
    setText(policyText(policy));
    setOutcome(null);
    setPushError(null);
  };
  const toggle = (agentId: string) => setTargets((t) => {
    const n = new Set(t);
    if (n.has(agentId)) n.delete(agentId);
    else n.add(agentId);
    return n;
  });
  // Setting the policy is a lead's (agent/access.ts): an agent where this cockpit is less is named, with its role.
  const rolesKey = useCockpit((s) => s.agents.filter((a) => a.access && !atLeast(a.access.principal.role, LEAD)).map((a) => `${a.agentId}\t${a.access!.principal.role}\t${a.access!.principal.name}`).join('\n'));
  const notLead = rolesKey === '' ? [] : rolesKey.split('\n').map((line) => {
    const [agentId, role, ...name] = line.split('\t') as [string, string, ...string[]];
    return { agentId, role, name: name.join('\t'), label: agents.find((a) => a.agentId === agentId)?.label ?? agentId };
  }).filter((a) => targets.has(a.agentId));
  const canPush = parsed.ok && targets.size > 0 && reason.trim() !== '' && !busy && notLead.length === 0;
  const push = async () => {
    const [first, ...rest] = [...targets];
    if (!parsed.ok || first === undefined) return;
    setBusy(true);
    setPushError(null);
    setOutcome(null);
    try {
      setOutcome(await call('policy.push', { policy: parsed.policy, agentIds: [first, ...rest], reason: reason.trim() }));
      onPushed();
    } catch (err) {
      setPushError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-label="Policy editor" className="policy-editor">
      <h3>Edit and push</h3>
      <div className="policy-start">
        Start from:{' '}
        <button type="button" onClick={() => start(stigBaseline(Date.now()))} data-testid="policy-start-stig">STIG baseline</button>
        {agents.filter((a) => a.policy).map((a) => (
          <button key={a.agentId} type="button" onClick={() => start(nextVersion(a.policy!.policy, Date.now()))} data-testid="policy-start-agent">
            <Visible text={a.agentId} max={64} />&apos;s {a.policy!.policy.id} v{a.policy!.policy.version} (next version)
          </button>
        ))}
      </div>
      <label htmlFor={`${ids}-text`}>The policy (JSON): the base rules, the deltas with their scopes, the documented exceptions</label>
      <textarea
        id={`${ids}-text`} className="mono policy-text" value={text} onChange={(e) => setText(e.target.value)} spellCheck={false} rows={18}
        aria-invalid={!parsed.ok} aria-describedby={`${ids}-check`} data-testid="policy-text"
      />
      <div id={`${ids}-check`} aria-live="polite" data-testid="policy-check" data-ok={parsed.ok}>
        {parsed.ok ? (
          <>
            <p className="ok">Ready to sign: {parsed.policy.id} v{parsed.policy.version}, {parsed.policy.rules.length} base rule{parsed.policy.rules.length === 1 ? '' : 's'}, {parsed.policy.deltas?.length ?? 0} delta{parsed.policy.deltas?.length === 1 ? '' : 's'}, {parsed.policy.exceptions?.length ?? 0} exception{parsed.policy.exceptions?.length === 1 ? '' : 's'}.</p>
            {parsed.warnings.map((w, i) => <p key={i} className="warning" data-testid="policy-warning"><Visible text={w} max={600} /></p>)}
            <PolicySummary policy={parsed.policy} />
          </>
        ) : parsed.errors.map((e, i) => <p key={i} className="policy-error" data-testid="policy-problem"><Visible text={e} max={800} /></p>)}
      </div>
      <fieldset className="policy-targets">
        <legend>Push to</legend>
        {agents.map((a) => (
          <label key={a.agentId}><input type="checkbox" checked={targets.has(a.agentId)} onChange={() => toggle(a.agentId)} data-testid="policy-target" data-agent={a.agentId} /> <Visible text={a.label || a.agentId} max={80} /> ({a.link})</label>
        ))}
      </fieldset>
      <label>Why (journaled with the change) <input value={reason} onChange={(e) => setReason(e.target.value)} maxLength={2048} data-testid="policy-reason" /></label>
      <button type="button" disabled={!canPush} onClick={() => void push()} data-testid="policy-push">{busy ? 'Signing and pushing…' : 'Sign and push'}</button>
      {!canPush && !busy ? <p className="hint" data-testid="policy-push-why-not">{!parsed.ok ? 'Fix the policy first.' : targets.size === 0 ? 'Choose at least one agent.' : reason.trim() === '' ? 'Say why: the journal keeps it with the change.' : notLead.length > 0
        ? <Visible text={`Setting the policy needs the lead role; on ${notLead.map((a) => `${a.label || a.agentId} you are ${a.name} (${a.role})`).join(', ')}.`} max={600} /> : ''}</p> : null}
      {pushError ? <p className="policy-error" role="alert" data-testid="policy-push-error"><Visible text={pushError} max={800} /></p> : null}
      {outcome ? (
        <ul className="policy-outcomes" data-testid="policy-outcomes">
          {outcome.outcomes.map((o) => (
            <li key={o.agentId} className={o.ok ? 'ok' : 'policy-error'} data-testid="policy-outcome" data-agent={o.agentId} data-ok={o.ok}>
              <span className="mono"><Visible text={o.agentId} max={128} /></span>: {o.ok && o.inForce ? `enforces ${o.inForce.id} v${o.inForce.version}` : <>refused [{o.code}] <Visible text={o.message ?? ''} max={800} /></>}
            </li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}

/** The parsed policy, readable: what each layer answers. */
function PolicySummary({ policy }: { policy: Policy }) {
  const rule = (r: Policy['rules'][number]) => {
    const m = r.match;
    const parts = [
      m.verdicts ? m.verdicts.join('/') : 'any verdict',
      m.minSeverity ? `severity ≥ ${m.minSeverity}` : '',
      m.categories ? `category ${m.categories.join('/')}` : '',
      m.sensors ? `sensor ${m.sensors.join('/')}` : '',
      m.techniques ? `technique ${m.techniques.join('/')}` : '',
    ].filter(Boolean).join(', ');
    return `${r.id}: ${parts} → ${r.response}${r.exception ? ` under ${r.exception}` : ''}`;
  };
  return (
    <div className="policy-summary" data-testid="policy-summary">
      <p>Base (first match decides; a malicious event no rule takes is terminated):</p>
      <ol>{policy.rules.map((r) => <li key={r.id}><Visible text={rule(r)} max={600} /></li>)}</ol>
      {(policy.deltas ?? []).map((d) => (
        <div key={d.id}>
          <p>Delta <Visible text={d.id} max={64} />, for <Visible text={describeScope(d.scope)} max={400} />:</p>
          <ol>{d.rules.map((r) => <li key={r.id}><Visible text={rule(r)} max={600} /></li>)}</ol>
        </div>
      ))}
    </div>
  );
}

/** Saves text as a file through the browser's download (Electron asks where). */
function download(name: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.rel = 'noopener';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
