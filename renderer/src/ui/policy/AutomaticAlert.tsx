// The prominent alert of an automatic response: an agent's policy terminated a VM (or put it on forensic hold) on
// its own. It says what was detected and what was done, stays until the responder dismisses it, and opens the VM's
// journal. Text only: VM names and event ids come from agents.
import { useMemo, useState } from 'react';
import { useCockpit } from '../cockpit-context.tsx';
import { useView } from '../view-context.tsx';
import { Visible } from '../Visible.tsx';
import { automaticNotices, noticeText } from './policy-model.ts';
import './policy.css';

export function AutomaticAlert() {
  const byVm = useCockpit((s) => s.actionsByVm);
  const [dismissed, setDismissed] = useState<ReadonlySet<string>>(() => new Set());
  const notices = useMemo(() => automaticNotices(byVm, dismissed), [byVm, dismissed]);
  const { showJournal } = useView();
  if (notices.length === 0) return null;
  return (
    <div className="auto-alert" role="alert" aria-label="Automatic responses" data-testid="auto-alert">
      {notices.map((n) => {
        const first = n.records[0]!;
        return (
          <p key={n.key} data-testid="auto-notice" data-vm={first.vmId}>
            <strong>Automatic response</strong>
            <span><Visible text={noticeText(n)} max={600} /></span>
            <button type="button" onClick={() => showJournal({ agentId: first.agentId, vmId: first.vmId })}>Journal</button>
            <button type="button" onClick={() => setDismissed((d) => new Set([...d, n.key]))} data-testid="auto-dismiss">Dismiss</button>
          </p>
        );
      })}
    </div>
  );
}
