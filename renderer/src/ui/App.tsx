// The cockpit's one screen: fleet on the left, the live feed in the middle, the VM and the selected event on the
// right, link health along the bottom. Owns the keyboard (keymap.ts says which key does what); the action desk
// (ActionDesk.tsx) turns an action button or key into an action, through its dialog when it asks first.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { ActionKind } from '../../../protocol/index.ts';
import { focusedVm } from '../store/cockpit.ts';
import { isRunning } from '../../../protocol/lifecycle.ts';
import { ActionDesk, useActionDesk, useDialogOpen } from './ActionDesk.tsx';
import { EventDetail } from './EventDetail.tsx';
import { FilterBar } from './FilterBar.tsx';
import { FleetSidebar } from './FleetSidebar.tsx';
import { StatusBar } from './StatusBar.tsx';
import { ROW_HEIGHT, ThreatFeed } from './ThreatFeed.tsx';
import { useActions, useCockpit, useCockpitStore } from './cockpit-context.tsx';
import { commandForKey, type FeedCommand, type KeyTarget } from './keymap.ts';
import { cellText } from '../text/visible.ts';
import { JournalView } from './journal/JournalView.tsx';
import type { JournalForm } from './journal/journal-model.ts';
import { ViewContext, type MainView, type ViewControls } from './view-context.tsx';
import { PolicyView } from './policy/PolicyView.tsx';
import { AutomaticAlert } from './policy/AutomaticAlert.tsx';
import { ConsoleDeck } from './console/ConsoleDeck.tsx';
import { EvaluationView } from './inspect/EvaluationView.tsx';
import { EvidenceView } from './evidence/EvidenceView.tsx';
import { consoleLabel, ConsoleProvider, useConsoles } from './console/ConsoleProvider.tsx';
import { ConsoleTabs } from './console/ConsoleTabs.tsx';

/** Feed commands that move in or act on the live feed: off while another view fills the middle. */
const FEED_ONLY = new Set<FeedCommand>(['up', 'down', 'page-up', 'page-down', 'newest', 'oldest', 'open-detail', 'focus-search', 'toggle-follow', 'clear-search', 'leave-search', 'back-to-list']);

export function App() {
  return (
    <ActionDesk>
      <ConsoleProvider>
        <Screen />
      </ConsoleProvider>
    </ActionDesk>
  );
}

function Screen() {
  const actions = useActions();
  const store = useCockpitStore();
  const desk = useActionDesk();
  const dialogOpen = useDialogOpen();
  const gridRef = useRef<HTMLDivElement>(null);
  const searchRef = useRef<HTMLInputElement>(null);
  const detailRef = useRef<HTMLElement>(null);
  const consoles = useConsoles();
  const [view, setView] = useState<MainView>({ kind: 'feed' });
  const controls = useMemo<ViewControls>(() => ({
    view,
    showFeed: () => setView({ kind: 'feed' }),
    showJournal: (initial?: Partial<JournalForm>) => setView({ kind: 'journal', ...(initial ? { initial } : {}), opened: Date.now() }),
    showPolicy: () => setView({ kind: 'policy' }),
    showEvidence: () => setView({ kind: 'evidence' }),
    showConsoles: () => setView({ kind: 'console' }),
    showInspect: (agentId: string, vmId: string) => setView({ kind: 'inspect', agentId, vmId }),
  }), [view]);
  const viewRef = useRef(view);
  viewRef.current = view;

  const openDetail = useCallback(() => {
    detailRef.current?.focus();
    detailRef.current?.scrollTo({ top: 0 });
  }, []);

  useEffect(() => {
    const openConsole = (): void => {
      const ref = focusedVm(store.getState());
      const st = store.getState();
      const vm = ref === null ? undefined : st.inventories.get(ref.agentId)?.find((v) => v.id === ref.vmId);
      if (ref === null) desk.announce('Select an event or a VM first: o opens a console on the VM in the detail pane.');
      else if (vm !== undefined && isRunning(vm.state) && (st.counts.ofVm(ref.agentId, ref.vmId)?.malicious ?? 0) > 0) {
        // Evidence first (ui/inspect/SafeInspect.tsx): a key never opens a console inside a VM with a malicious event.
        desk.announce('This VM has a malicious event: typing into it changes the evidence. Open a console on a clone from its pane, or open it on the VM itself from there.');
      } else {
        consoles.openLive(ref.agentId, ref.vmId, consoleLabel(store.getState(), ref.agentId, ref.vmId));
        setView({ kind: 'console' });
      }
    };
    const targetOf = (el: EventTarget | null): KeyTarget => {
      if (!(el instanceof HTMLElement)) return 'other';
      if (el.closest('[role="dialog"]') !== null) return 'dialog';
      if (el === searchRef.current) return 'search';
      if (el instanceof HTMLButtonElement || el.tagName === 'SUMMARY') return 'button';
      if (el instanceof HTMLInputElement || el instanceof HTMLSelectElement || el instanceof HTMLTextAreaElement || el.isContentEditable) return 'control';
      if (detailRef.current?.contains(el)) return 'detail';
      return 'other';
    };
    const focusList = () => gridRef.current?.focus({ preventScroll: true });
    const pageRows = () => Math.max(1, Math.floor((gridRef.current?.clientHeight ?? ROW_HEIGHT * 20) / ROW_HEIGHT) - 2);
    const act = (kind: ActionKind): void => {
      const ref = focusedVm(store.getState());
      if (ref === null) desk.announce('Select an event or a VM first: the action keys act on the VM in the detail pane.');
      else desk.request(kind, ref);
    };
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
        case 'act-terminate': act('terminate'); return;
        case 'act-freeze': act('freeze'); return;
        case 'act-resume': act('resume'); return;
        case 'act-clone': act('clone'); return;
        case 'act-isolate': act('isolate'); return;
        case 'act-release': act('release'); return;
        case 'act-seize': act('seize'); return;
        case 'open-console': openConsole(); return;
      }
    };
    const onKeyDown = (e: KeyboardEvent) => {
      if (e.defaultPrevented || e.isComposing) return;
      // Alt+1 the live feed, Alt+2 the journal, Alt+3 the policy, Alt+4 the consoles (again: the next one), Alt+5 the
      // evidence; a dialog
      // keeps every key. A terminal lets these through (console/terminal.ts).
      if (e.altKey && !e.ctrlKey && !e.metaKey && (e.key === '1' || e.key === '2' || e.key === '3' || e.key === '4' || e.key === '5') && targetOf(e.target) !== 'dialog') {
        e.preventDefault();
        if (e.key === '1') setView({ kind: 'feed' });
        else if (e.key === '3') setView({ kind: 'policy' });
        else if (e.key === '5') setView({ kind: 'evidence' });
        else if (e.key === '4') {
          if (consoles.store.getState().tabs.length === 0) desk.announce('No console is open: press o on a VM, or its Console button.');
          else if (viewRef.current.kind === 'console') consoles.cycle();
          else setView({ kind: 'console' });
        }
        else if (viewRef.current.kind !== 'journal') setView({ kind: 'journal', opened: Date.now() });
        return;
      }
      const command = commandForKey(e, targetOf(e.target));
      if (command === null) return;
      if (viewRef.current.kind !== 'feed' && FEED_ONLY.has(command)) return;
      e.preventDefault();
      run(command);
    };
    document.addEventListener('keydown', onKeyDown);
    return () => document.removeEventListener('keydown', onKeyDown);
  }, [actions, openDetail, store, desk, consoles]);

  return (
    <ViewContext.Provider value={controls}>
      <div className="app" inert={dialogOpen}>
        <header className="top">
          <h1 className="brand">Cordon</h1>
          <nav className="views" aria-label="Views">
            <button type="button" aria-pressed={view.kind === 'feed'} onClick={controls.showFeed} title="The live threat feed (Alt+1)" data-testid="view-feed">Live feed</button>
            <button type="button" aria-pressed={view.kind === 'journal'} onClick={() => controls.showJournal()} title="Everything recorded: search, timeline, verification (Alt+2)" data-testid="view-journal">Journal</button>
            <button type="button" aria-pressed={view.kind === 'policy'} onClick={controls.showPolicy} title="Auto-response policy: STIG SV-95141r1 compliance, exceptions, editor (Alt+3)" data-testid="view-policy">Policy</button>
            <button type="button" aria-pressed={view.kind === 'evidence'} onClick={controls.showEvidence} title="Seizure packages: pull, seal, custody, export, verify, sanitise; your signing key (Alt+5)" data-testid="view-evidence">Evidence</button>
          </nav>
          <ConsoleTabs />
          <LinkBanner />
          <AutomaticAlert />
        </header>
        <FleetSidebar />
        {view.kind === 'feed' ? (
          <main className="feed" aria-label="Threat feed" data-testid="threat-feed">
            <FilterBar searchRef={searchRef} />
            <ThreatFeed gridRef={gridRef} onOpenDetail={openDetail} />
          </main>
        ) : view.kind === 'journal' ? (
          <main className="feed" aria-label="Journal">
            <JournalView key={view.opened} {...(view.initial ? { initial: view.initial } : {})} />
          </main>
        ) : view.kind === 'policy' ? (
          <main className="feed" aria-label="Policy">
            <PolicyView />
          </main>
        ) : view.kind === 'evidence' ? (
          <main className="feed" aria-label="Evidence">
            <EvidenceView />
          </main>
        ) : view.kind === 'inspect' ? (
          <main className="feed" aria-label="Evaluation">
            <EvaluationView key={`${view.agentId}/${view.vmId}`} agentId={view.agentId} vmId={view.vmId} />
          </main>
        ) : null}
        <ConsoleDeck />
        <EventDetail ref={detailRef} />
        <StatusBar />
      </div>
    </ViewContext.Provider>
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
