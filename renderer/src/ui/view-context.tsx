// Which view fills the middle of the screen: the live feed, or the journal (opened for a VM, from its pane).
import { createContext, useContext } from 'react';
import type { JournalForm } from './journal/journal-model.ts';

export type MainView = { kind: 'feed' } | { kind: 'journal'; initial?: Partial<JournalForm>; opened: number };

export interface ViewControls {
  view: MainView;
  showFeed(): void;
  /** Opens the journal, searching what `initial` says (e.g. one VM). */
  showJournal(initial?: Partial<JournalForm>): void;
}

export const ViewContext = createContext<ViewControls>({ view: { kind: 'feed' }, showFeed: () => {}, showJournal: () => {} });

export function useView(): ViewControls {
  return useContext(ViewContext);
}
