// Which view fills the middle of the screen: the live feed, the journal (opened for a VM, from its pane), the
// auto-response policy, the evidence desk, the consoles (which tab, ui/console/sessions.ts says), or one VM's evaluation.
import { createContext, useContext } from 'react';
import type { JournalForm } from './journal/journal-model.ts';

export type MainView = { kind: 'feed' } | { kind: 'journal'; initial?: Partial<JournalForm>; opened: number } | { kind: 'policy' } | { kind: 'evidence' } | { kind: 'console' } | { kind: 'inspect'; agentId: string; vmId: string };

export interface ViewControls {
  view: MainView;
  showFeed(): void;
  /** Opens the journal, searching what `initial` says (e.g. one VM). */
  showJournal(initial?: Partial<JournalForm>): void;
  showPolicy(): void;
  /** The evidence desk: captures, pulls, packages, custody, export, sanitisation; the responder's identity. */
  showEvidence(): void;
  /** Shows the consoles (the active tab). */
  showConsoles(): void;
  /** The evaluation view of one VM: its processes, sockets, services and resources. */
  showInspect(agentId: string, vmId: string): void;
}

export const ViewContext = createContext<ViewControls>({ view: { kind: 'feed' }, showFeed: () => {}, showJournal: () => {}, showPolicy: () => {}, showEvidence: () => {}, showConsoles: () => {}, showInspect: () => {} });

export function useView(): ViewControls {
  return useContext(ViewContext);
}
