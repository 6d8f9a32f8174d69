// Evidence-safe inspection (issue 4, item 5): typing into a VM, or running anything in it, alters what a seizure will
// capture. For a VM with a malicious event the pane therefore offers its clones first — a clone's network is cut, and
// whatever is typed there leaves the original untouched — and asks before a console or an evaluation opens on the
// VM itself. The clone is made by the ordinary clone action (its dialog asks why and where its NIC goes).
import { useState } from 'react';
import { isRunning } from '../../../../protocol/lifecycle.ts';
import { useActionDesk } from '../ActionDesk.tsx';
import { useCockpit } from '../cockpit-context.tsx';
import { useOpenConsole } from '../console/ConsoleProvider.tsx';
import { useView } from '../view-context.tsx';
import { Visible } from '../Visible.tsx';
import './inspect.css';

/** The clones of a VM that still run, newest first, as "id|name" keys (a stable selector result). */
function useLiveClones(agentId: string, vmId: string): { id: string; name: string }[] {
  const key = useCockpit((s) => (s.inventories.get(agentId) ?? [])
    .filter((v) => v.cloneOf === vmId && isRunning(v.state))
    .map((v) => `${v.id}\u0000${v.name}`).reverse().join('\u0001'));
  return key === '' ? [] : key.split('\u0001').map((k) => { const [id, name] = k.split('\u0000') as [string, string]; return { id, name }; });
}

export function useMalicious(agentId: string, vmId: string): boolean {
  return useCockpit((s) => (s.counts.ofVm(agentId, vmId)?.malicious ?? 0) > 0);
}

/** The pane's Console and Evaluate buttons: straight to the VM, or (malicious) clones first and a question. */
export function InspectButtons({ agentId, vmId, running }: { agentId: string; vmId: string; running: boolean }) {
  const malicious = useMalicious(agentId, vmId);
  const clones = useLiveClones(agentId, vmId);
  const openConsole = useOpenConsole();
  const { showInspect } = useView();
  const desk = useActionDesk();
  const [asking, setAsking] = useState<'console' | 'inspect' | null>(null);
  const direct = (what: 'console' | 'inspect') => (what === 'console' ? openConsole.live(agentId, vmId) : showInspect(agentId, vmId));
  const onVm = (what: 'console' | 'inspect') => () => {
    if (malicious && running) setAsking(what);
    else direct(what);
  };
  return (
    <>
      <button type="button" className="quiet" onClick={onVm('console')} title="A console on this VM, recorded from its first byte (o)" data-testid="vm-console">Console</button>
      <button type="button" className="quiet" onClick={onVm('inspect')} title="Its processes, listening sockets, connections, services and resources" data-testid="vm-evaluate">Evaluate</button>
      {malicious && running ? (
        <div className="safe-inspect" role="note" data-testid="safe-inspect">
          <p>Evidence first: typing into this VM, or reading it from inside, changes what a seizure would capture. Inspect a clone (its network cut) instead.</p>
          {clones.length === 0 ? (
            <button type="button" className="primary" onClick={() => desk.request('clone', { agentId, vmId })} data-testid="safe-clone">Clone it to inspect</button>
          ) : clones.map((c) => (
            <span key={c.id} className="safe-clone" data-testid="safe-clone-row" data-vm={c.id}>
              <Visible text={c.name} max={64} />:
              <button type="button" className="primary" onClick={() => openConsole.live(agentId, c.id)} data-testid="safe-console">Console on the clone</button>
              <button type="button" onClick={() => showInspect(agentId, c.id)} data-testid="safe-evaluate">Evaluate the clone</button>
            </span>
          ))}
          {asking ? (
            <p className="safe-ask" role="alert" data-testid="safe-ask">
              {asking === 'console' ? 'A console on the VM itself' : 'An evaluation of the VM itself'} runs in the evidence.{' '}
              <button type="button" onClick={() => { direct(asking); setAsking(null); }} data-testid="safe-anyway">Open on the VM anyway</button>{' '}
              <button type="button" onClick={() => setAsking(null)}>Cancel</button>
            </p>
          ) : null}
        </div>
      ) : null}
    </>
  );
}
