// Hands the page's consoles (sessions.ts) to the components: made once per page over the cockpit's calls and its
// console path, told when the cockpit link drops and comes back, and given xterm (terminal.ts, its own chunk)
// when the first console opens. Also the hooks that open a console from a button or a key.
import { createContext, useContext, useEffect, useMemo, useRef, type ReactNode } from 'react';
import { useStore } from 'zustand';
import type { CockpitState } from '../../store/cockpit.ts';
import { realTimers } from '../../store/timers.ts';
import { useCockpit, useCockpitCall, useCockpitStore, useConsoleFeed } from '../cockpit-context.tsx';
import { useView } from '../view-context.tsx';
import { ConsoleSessions, type ConsolesState, type ScreenFactory } from './sessions.ts';

export type PageConsoles = ConsoleSessions<HTMLElement>;

const ConsolesContext = createContext<PageConsoles | null>(null);

declare global {
  interface Window {
    /** The tests' view of the consoles: a tab's screen as VT text (@xterm/addon-serialize), its flow counters. */
    __cordonConsoles?: Pick<PageConsoles, 'serialize' | 'flowStats'> & { tabs(): ConsolesState['tabs'] };
  }
}

const loadScreens = (): Promise<ScreenFactory<HTMLElement>> => import('./terminal.ts').then((m) => m.createScreen);

export function ConsoleProvider({ children }: { children: ReactNode }) {
  const call = useCockpitCall();
  const onConsole = useConsoleFeed();
  const ref = useRef<PageConsoles | null>(null);
  ref.current ??= new ConsoleSessions<HTMLElement>({ call, onConsole, loadScreens, timers: realTimers });
  const sessions = ref.current;

  useEffect(() => {
    window.__cordonConsoles = {
      serialize: (key) => sessions.serialize(key),
      flowStats: (key) => sessions.flowStats(key),
      tabs: () => sessions.store.getState().tabs,
    };
    const gone = () => sessions.pageGone();
    window.addEventListener('pagehide', gone);
    return () => {
      window.removeEventListener('pagehide', gone);
      delete window.__cordonConsoles;
    };
  }, [sessions]);

  // A live console does not outlive the link it came over (its output and acks are lost with it).
  const phase = useCockpit((s) => s.link.phase);
  const wasUp = useRef(phase === 'connected');
  useEffect(() => {
    const up = phase === 'connected';
    if (wasUp.current && !up) sessions.linkLost();
    if (!wasUp.current && up) sessions.linkBack();
    wasUp.current = up;
  }, [phase, sessions]);

  return <ConsolesContext.Provider value={sessions}>{children}</ConsolesContext.Provider>;
}

export function useConsoles(): PageConsoles {
  const c = useContext(ConsolesContext);
  if (c === null) throw new Error('A console component was rendered outside <ConsoleProvider>.');
  return c;
}

export function useConsolesState<T>(selector: (s: ConsolesState) => T): T {
  return useStore(useConsoles().store, selector);
}

/** "web-1 @ hv-01": the VM's name (the inventory's, when it has the VM) at its agent. */
export function consoleLabel(s: Pick<CockpitState, 'inventories'>, agentId: string, vmId: string): string {
  const vm = s.inventories.get(agentId)?.find((v) => v.id === vmId);
  return `${vm?.name ?? vmId} @ ${agentId}`;
}

export interface ConsoleOpeners {
  /** Opens (or shows) a console on the VM, and shows the consoles. */
  live(agentId: string, vmId: string): void;
  /** Lists the VM's recordings, and shows the consoles. */
  recordings(agentId: string, vmId: string): void;
  replay(recordingId: string, agentId: string, vmId: string): void;
}

export function useOpenConsole(): ConsoleOpeners {
  const sessions = useConsoles();
  const store = useCockpitStore();
  const { showConsoles } = useView();
  return useMemo<ConsoleOpeners>(() => {
    const label = (agentId: string, vmId: string) => consoleLabel(store.getState(), agentId, vmId);
    return {
      live: (agentId, vmId) => {
        sessions.openLive(agentId, vmId, label(agentId, vmId));
        showConsoles();
      },
      recordings: (agentId, vmId) => {
        sessions.openRecordings(agentId, vmId, label(agentId, vmId));
        showConsoles();
      },
      replay: (recordingId, agentId, vmId) => {
        sessions.openReplay(recordingId, agentId, vmId, label(agentId, vmId));
        showConsoles();
      },
    };
  }, [sessions, store, showConsoles]);
}
