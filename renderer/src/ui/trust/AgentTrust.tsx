// An agent's trust, under its name in the sidebar: who this cockpit is to it (principal and role, and whether its
// two-person rule holds), whether its TLS certificate is pinned, and, when it is not trusted, the fingerprint to
// compare and the one way forward. A first certificate is trusted only after the responder says they compared it; a
// changed one is a warning with no button that connects anyway: only removing the pin (Settings) lets it be judged
// again.
import { useState } from 'react';
import type { AgentStatus } from '../../../../protocol/index.ts';
import { cellText } from '../../text/visible.ts';
import { Visible } from '../Visible.tsx';
import { useCockpitCall } from '../cockpit-context.tsx';

export function AgentTrust({ status }: { status: AgentStatus }) {
  const access = status.access;
  return (
    <>
      {access !== undefined ? (
        <div className="agent-access" data-testid="agent-access">
          <span title="Who this cockpit is to the agent, and what that role may do">
            you: <Visible text={access.principal.name} max={60} /> ({access.principal.role})
          </span>
          <span title={access.distinct ? 'Seize and sanitise wait for a second person\'s approval' : 'The agent has one shared token: it cannot tell two people apart'}>
            {access.twoPerson.length > 0 ? `two-person: ${access.twoPerson.join(', ')}` : 'two-person rule off'}
          </span>
        </div>
      ) : null}
      {status.link === 'untrusted' ? <Untrusted status={status} /> : status.tls?.pinned !== undefined ? (
        <div className="agent-tls" title={`TLS certificate pinned, SHA-256 ${status.tls.pinned}`}>TLS pinned</div>
      ) : null}
    </>
  );
}

function Untrusted({ status }: { status: AgentStatus }) {
  const call = useCockpitCall();
  const [compared, setCompared] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [settingsOpen, setSettingsOpen] = useState(false);
  const presented = status.tls?.presented;
  const pinned = status.tls?.pinned;
  const run = (p: Promise<unknown>) => {
    setBusy(true);
    setError(null);
    p.catch((err: unknown) => setError(err instanceof Error ? err.message : String(err))).finally(() => setBusy(false));
  };

  if (pinned !== undefined && presented !== undefined) {
    return (
      <div className="trust trust-changed" role="alert" data-testid="trust-changed">
        <strong>Certificate changed: not connecting.</strong>
        <p>{cellText(status.lastError ?? '', 600)}</p>
        <dl className="fingerprints">
          <dt>Trusted</dt><dd className="fingerprint">{pinned}</dd>
          <dt>Presented</dt><dd className="fingerprint">{presented}</dd>
        </dl>
        <details open={settingsOpen} onToggle={(e) => setSettingsOpen((e.target as HTMLDetailsElement).open)}>
          <summary>Settings: this agent&apos;s pin</summary>
          <p className="hint">Remove the pin only when the agent&apos;s operator confirms its key was replaced. The agent will then be shown as not trusted, with its new fingerprint to compare.</p>
          <button type="button" disabled={busy} data-testid="trust-forget" onClick={() => run(call('agent.forgetPin', { agentId: status.agentId }))}>Remove the pin</button>
        </details>
        {error !== null ? <p className="error" role="status">{cellText(error, 400)}</p> : null}
      </div>
    );
  }
  return (
    <div className="trust trust-new" role="region" aria-label={`Trust ${status.label}?`} data-testid="trust-new">
      <strong>Not trusted yet</strong>
      {presented !== undefined ? (
        <>
          <p>Its TLS certificate&apos;s SHA-256 fingerprint:</p>
          <p className="fingerprint" data-testid="trust-presented">{presented}</p>
          <p className="hint">Compare it with the fingerprint the agent printed on its host (its ready line, or its log at start). Nothing was sent to the agent.</p>
          <label>
            <input type="checkbox" checked={compared} data-testid="trust-compared" onChange={(e) => setCompared(e.target.checked)} />
            {' '}I compared it, and it is the same
          </label>
          <button type="button" disabled={!compared || busy} data-testid="trust-accept" onClick={() => run(call('agent.trust', { agentId: status.agentId, fingerprint: presented }))}>
            Trust this certificate
          </button>
        </>
      ) : <p>{cellText(status.lastError ?? 'The agent presented no certificate.', 600)}</p>}
      {error !== null ? <p className="error" role="status">{cellText(error, 400)}</p> : null}
    </div>
  );
}
