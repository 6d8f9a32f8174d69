// The cockpit's one screen: fleet on the left, the live feed in the middle, the selected event on the right,
// link health along the bottom. Owns the keyboard (keymap.ts says which key does what).
import { useCallback, useEffect, useRef } from 'react';
import { EventDetail } from './EventDetail.tsx';
import { FilterBar } from './FilterBar.tsx';
import { FleetSidebar } from './FleetSidebar.tsx';
import { StatusBar } from './StatusBar.tsx';
import { ROW_HEIGHT, ThreatFeed } from './ThreatFeed.tsx';
import { useActions, useCockpit } from './cockpit-context.tsx';
import { commandForKey, type FeedCommand, type KeyTarget } from './keymap.ts';
import { cellText } from '../text/visible.ts';

export function App() {
  const actions = useActions();
  const gridRef = useRef<HTMLDivElement>(null);
  const searchRef = useRef<HTMLInputElement>(null);
  const detailRef = useRef<HTMLElement>(null);

  const openDetail = useCallback(() => {
    detailRef.current?.focus();
    detailRef.current?.scrollTo({ top: 0 });
  }, []);

  useEffect(() => {
    const targetOf = (el: EventTarget | null): KeyTarget => {
      if (!(el instanceof HTMLElement)) return 'other';
      if (el === searchRef.current) return 'search';
      if (el instanceof HTMLButtonElement || el.tagName === 'SUMMARY') return 'button';
      if (el instanceof HTMLInputElement || el instanceof HTMLSelectElement || el instanceof HTMLTextAreaElement || el.isContentEditable) return 'control';
      if (detailRef.current?.contains(el)) return 'detail';
      return 'other';
    };
    const focusList = () => gridRef.current?.focus({ preventScroll: true });
    const pageRows = () => Math.max(1, Math.floor((gridRef.current?.clientHeight ?? ROW_HEIGHT * 20) / ROW_HEIGHT) - 2);
    const run = (command: FeedCommand): void => {
      switch (command) {
        case 'up': actions.moveSelection(-1); focusList(); return;
        case 'down': actions.moveSelection(1); focusList(); return;
        case 'page-up': actions.moveSelection(-pageRows()); focusList(); return;
        case 'page-down': actions.moveSelection(pageRows()); focusList(); return;
        case 'newest': actions.selectEdge('newest'); focusList(); return;
        case 'oldest': actions.selectEdge('oldest'); focusList(); return;
        case 'open-detail': openDetail(); return;
        case 'focus-search': searchRef.current?.focus(); searchRef.current?.select(); return;
        case 'toggle-follow': actions.toggleFollowing(); return;
        case 'clear-selection': actions.clearSelection(); return;
        case 'clear-search': focusList(); return; // the box itself empties on the first Esc (FilterBar)
        case 'leave-search': focusList(); return;
        case 'back-to-list': focusList(); return;
      }
    };
    const onKeyDown = (e: KeyboardEvent) => {
      if (e.defaultPrevented || e.isComposing) return;
      const command = commandForKey(e, targetOf(e.target));
      if (command === null) return;
      e.preventDefault();
      run(command);
    };
    document.addEventListener('keydown', onKeyDown);
    return () => document.removeEventListener('keydown', onKeyDown);
  }, [actions, openDetail]);

  return (
    <div className="app">
      <header className="top">
        <h1 className="brand">Cordon</h1>
        <span className="subtitle">live threat events</span>
        <LinkBanner />
      </header>
      <FleetSidebar />
      <main className="feed" aria-label="Threat feed" data-testid="threat-feed">
        <FilterBar searchRef={searchRef} />
        <ThreatFeed gridRef={gridRef} onOpenDetail={openDetail} />
      </main>
      <EventDetail ref={detailRef} />
      <StatusBar />
    </div>
  );
}

/** Says loudly, once, that what is on screen may be stale. */
function LinkBanner() {
  const link = useCockpit((s) => s.link);
  if (link.phase === 'connected' || link.phase === 'connecting') return null;
  const message = link.phase === 'unauthorized'
    ? cellText(link.lastError ?? 'The cockpit refused this page.', 400)
    : link.phase === 'closed'
      ? 'The link to the cockpit is closed.'
      : 'The link to the cockpit dropped: what you see may be stale until it is back.';
  return <div className="banner" role="alert" data-testid="link-banner">{message}</div>;
}
