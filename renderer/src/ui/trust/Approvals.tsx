// Requests waiting for a second person (the two-person rule), across every agent, at the top of the sidebar: what,
// on which VM, asked by whom and why, until when. A second responder approves or refuses with a reason, in their own
// cockpit; the one who asked can only withdraw; a viewer sees them and is told which role decides.
import { useState } from 'react';
import type { AgentStatus, Approval } from '../../../../protocol/index.ts';
import { cellText } from '../../text/visible.ts';
import { Visible } from '../Visible.tsx';
import { atLeast } from '../../../../protocol/roles.ts';
import { useCockpit, useCockpitCall } from '../cockpit-context.tsx';

export function Approvals() {
  const agents = useCockpit((s) => s.agents);
  const waiting = agents.flatMap((a) => (a.approvals ?? []).map((approval) => ({ agent: a, approval })));
  if (waiting.length === 0) return null;
  return (
    <section className="approvals" aria-label="Waiting for a second person" data-testid="approvals">
      <h2 className="pane-title">Waiting for a second person <span className="count">{waiting.length}</span></h2>
      <ul>
        {waiting.map(({ agent, approval }) => <ApprovalItem key={`${agent.agentId}/${approval.approvalId}`} agent={agent} approval={approval} />)}
      </ul>
    </section>
  );
}

function ApprovalItem({ agent, approval }: { agent: AgentStatus; approval: Approval }) {
  const call = useCockpitCall();
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const me = agent.access?.principal;
  const mine = me !== undefined && me.name === approval.requestedBy.name;
  const mayDecide = me !== undefined && atLeast(me.role, 'responder');
  const decide = (approve: boolean) => {
    setBusy(true);
    setError(null);
    call('approval.decide', { agentId: agent.agentId, approvalId: approval.approvalId, approve, reason: reason.trim() || (approve ? 'approved' : 'refused') })
      .catch((err: unknown) => setError(err instanceof Error ? err.message : String(err)))
      .finally(() => setBusy(false));
  };
  return (
    <li className="approval" data-testid="approval" data-approval={approval.approvalId}>
      <div>
        <strong>{approval.operation === 'seize' ? 'Seize' : 'Sanitise'}</strong> <Visible text={approval.vmId} max={80} /> on <Visible text={agent.label} max={60} />
      </div>
      <div className="hint">
        asked by <Visible text={approval.requestedBy.name} max={60} /> ({approval.requestedBy.role}) at {approval.requestedAt.slice(11, 19)}, expires {approval.expiresAt.slice(11, 19)}
      </div>
      <blockquote>{cellText(approval.reason, 400)}</blockquote>
      {mine ? (
        <div>
          <span className="hint">You asked: another responder must approve.</span>{' '}
          <button type="button" disabled={busy} data-testid="approval-withdraw" onClick={() => decide(false)}>Withdraw</button>
        </div>
      ) : mayDecide ? (
        <div className="approval-decide">
          <label>
            Reason{' '}
            <input type="text" value={reason} maxLength={2048} data-testid="approval-reason" onChange={(e) => setReason(e.target.value)} />
          </label>
          <button type="button" disabled={busy || reason.trim() === ''} data-testid="approval-approve" title={reason.trim() === '' ? 'Say why first' : 'Approve: the agent acts now'} onClick={() => decide(true)}>Approve</button>
          <button type="button" disabled={busy || reason.trim() === ''} data-testid="approval-refuse" onClick={() => decide(false)}>Refuse</button>
        </div>
      ) : (
        <p className="hint" data-testid="approval-no-role">
          {me === undefined ? 'This agent did not say who you are to it.' : `Deciding needs the responder or lead role; you are ${me.name} (${me.role}).`}
        </p>
      )}
      {error !== null ? <p className="error" role="status">{cellText(error, 400)}</p> : null}
    </li>
  );
}
