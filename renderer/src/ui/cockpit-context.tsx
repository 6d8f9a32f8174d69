// Hands the cockpit store to the components, and the hooks they read it with.
import { createContext, useContext, type ReactNode } from 'react';
import { useStore } from 'zustand';
import type { Cockpit, CockpitActions, CockpitState } from '../store/cockpit.ts';

const CockpitContext = createContext<Cockpit | null>(null);

export function CockpitProvider({ cockpit, children }: { cockpit: Cockpit; children: ReactNode }) {
  return <CockpitContext.Provider value={cockpit}>{children}</CockpitContext.Provider>;
}

function useCockpitInstance(): Cockpit {
  const cockpit = useContext(CockpitContext);
  if (cockpit === null) throw new Error('A cockpit component was rendered outside <CockpitProvider>.');
  return cockpit;
}

/** Reads a slice of the store; the component renders again only when that slice changes (by identity). */
export function useCockpit<T>(selector: (state: CockpitState) => T): T {
  return useStore(useCockpitInstance().store, selector);
}

/** The store itself, for a handler that reads the state at the moment it runs (a key, a click). */
export function useCockpitStore(): Cockpit['store'] {
  return useCockpitInstance().store;
}

export function useActions(): CockpitActions {
  return useStore(useCockpitInstance().store, (s) => s.actions);
}

/** The cockpit's calls (journal.query, act…), answered by main and checked against the schema on the way in. */
export function useCockpitCall(): Cockpit['call'] {
  return useCockpitInstance().call;
}

/** Subscribes to console output and closings: the console panes' own path beside the store (ui/console/). */
export function useConsoleFeed(): Cockpit['onConsole'] {
  return useCockpitInstance().onConsole;
}
