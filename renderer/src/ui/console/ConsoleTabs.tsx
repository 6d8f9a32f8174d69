// The console tabs, beside the views in the header: one per open console ("web-1 @ hv-01", and the title the guest
// set, as text), each closable, all reachable by Tab and by Alt+4 (which cycles through them).
import { Visible } from '../Visible.tsx';
import { useView } from '../view-context.tsx';
import { useConsoles, useConsolesState } from './ConsoleProvider.tsx';
import type { ConsoleTab } from './sessions.ts';

const KIND_PREFIX: Record<ConsoleTab['kind'], string> = { live: '', replay: 'Replay: ', recordings: 'Recordings: ' };

export function ConsoleTabs() {
  const tabs = useConsolesState((s) => s.tabs);
  const active = useConsolesState((s) => s.active);
  const sessions = useConsoles();
  const { view, showConsoles } = useView();
  if (tabs.length === 0) return null;
  return (
    <div className="console-tabs" role="group" aria-label="Consoles (Alt+4)" data-testid="console-tabs">
      {tabs.map((t) => {
        const shown = view.kind === 'console' && t.key === active;
        return (
          <span key={t.key} className={`console-tab phase-${t.phase}`} data-testid="console-tab" data-key={t.key} data-kind={t.kind} data-phase={t.phase}>
            <button
              type="button"
              className="console-tab-open"
              aria-pressed={shown}
              title={`${KIND_PREFIX[t.kind]}${t.label}${t.readOnly && t.kind === 'live' ? ' (read-only)' : ''} (Alt+4)`}
              onClick={() => {
                sessions.activate(t.key);
                showConsoles();
              }}
            >
              <span className="console-tab-label">{KIND_PREFIX[t.kind]}<Visible text={t.label} max={48} /></span>
              {t.title !== null && t.title !== '' ? <span className="console-tab-title" data-testid="console-tab-title"><Visible text={t.title} max={40} /></span> : null}
              {t.kind === 'live' && t.readOnly && t.phase === 'open' ? <span className="console-tab-flag">read-only</span> : null}
              {t.phase === 'closed' ? <span className="console-tab-flag">closed</span> : null}
            </button>
            <button type="button" className="console-tab-close" aria-label={`Close ${KIND_PREFIX[t.kind]}${t.label}`} title="Close this console" data-testid="console-tab-close" onClick={() => sessions.close(t.key)}>
              <span aria-hidden="true">×</span>
            </button>
          </span>
        );
      })}
    </div>
  );
}
