// Where the consoles are drawn, in the middle of the screen when the consoles are shown: every tab's pane stays
// mounted while its tab is open (its terminal keeps its scrollback and its session keeps flowing, whatever view is
// shown); only the active one is visible.
import { useEffect } from 'react';
import { useView } from '../view-context.tsx';
import { ConsolePane } from './ConsolePane.tsx';
import { useConsolesState } from './ConsoleProvider.tsx';
import { RecordingsPane } from './RecordingsPane.tsx';
import './console.css';

export function ConsoleDeck() {
  const tabs = useConsolesState((s) => s.tabs);
  const active = useConsolesState((s) => s.active);
  const { view, showFeed } = useView();
  const shown = view.kind === 'console';
  const none = tabs.length === 0;

  // The last console closed: back to the feed.
  useEffect(() => {
    if (shown && none) showFeed();
  }, [shown, none, showFeed]);

  if (none) return null;
  return (
    <main className="console-deck" aria-label="Consoles" hidden={!shown} data-testid="console-deck">
      {tabs.map((t) => (t.kind === 'recordings'
        ? <RecordingsPane key={t.key} tab={t} visible={shown && t.key === active} />
        : <ConsolePane key={t.key} tab={t} visible={shown && t.key === active} />))}
    </main>
  );
}
