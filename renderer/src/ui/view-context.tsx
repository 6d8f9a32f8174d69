// Which view fills the middle of the screen: the live feed, the journal (opened for a VM, from its pane), or the
// auto-response policy.
import { createContext, useContext } from 'react';
import type { JournalForm } from './journal/journal-model.ts';

export type MainView = { kind: 'feed' } | { kind: 'journal'; initial?: Partial<JournalForm>; opened: number } | { kind: 'policy' };

export interface ViewControls {
  view: MainView;
  showFeed(): void;
  /** Opens the journal, searching what `initial` says (e.g. one VM). */
  showJournal(initial?: Partial<JournalForm>): void;
  showPolicy(): void;
}

export const ViewContext = createContext<ViewControls>({ view: { kind: 'feed' }, showFeed: () => {}, showJournal: () => {}, showPolicy: () => {} });

export function useView(): ViewControls {
  return useContext(ViewContext);
}
