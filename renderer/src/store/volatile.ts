// What terminating a VM would lose, as far as the cockpit can tell (the order of volatility, RFC 3227: memory and
// network state go first): the processes and connections its recent threat events showed. Only what the events
// the engine holds show: the trace says how far back they reach, so the terminate dialog can say "seen in the last
// 4 min of events", never "running now".
import type { FeedEvent } from '../../../protocol/index.ts';
import { connectionSummary } from '../text/format.ts';

/** Processes or connections listed at most; the count says how many more. */
export const TRACE_LIMIT = 20;

export interface TracedProcess {
  name: string;
  pid: number;
  user?: string;
  commandLine?: string;
  /** Events that showed it. */
  seen: number;
  /** Event time (the sensor's) it was last seen at. */
  lastAt: string;
}

export interface TracedConnection {
  /** "→ 203.0.113.7:4444/tcp", "listen *:22/tcp". */
  summary: string;
  /** The socket state the last event reported (ESTABLISHED, LISTEN, BLOCKED …), if any. */
  state?: string;
  process?: string;
  seen: number;
  lastAt: string;
}

export interface VmTrace {
  /** The request this answers (the page asks again when the dialog opens). */
  id: number;
  agentId: string;
  vmId: string;
  /** Events of this VM in the window. */
  events: number;
  /** Every event the window holds, of any VM. */
  windowEvents: number;
  /** When the cockpit received the oldest event it still holds (ms since the epoch), or null with none: nothing
   *  older is known here, whatever the VM did then. */
  since: number | null;
  /** When the trace was made (ms since the epoch). */
  at: number;
  processes: TracedProcess[];
  processesMore: number;
  connections: TracedConnection[];
  connectionsMore: number;
}

/** Traces a VM through events given newest first. */
export function traceVm(
  id: number,
  agentId: string,
  vmId: string,
  newestFirst: Iterable<FeedEvent>,
  at: number,
): VmTrace {
  const processes = new Map<string, TracedProcess>();
  const connections = new Map<string, TracedConnection>();
  let events = 0;
  let windowEvents = 0;
  let oldest: number | null = null;
  for (const fe of newestFirst) {
    windowEvents += 1;
    oldest = fe.receivedAt;
    if (fe.agentId !== agentId || fe.event.vmId !== vmId) continue;
    events += 1;
    const e = fe.event;
    if (e.process !== undefined) {
      const key = `${e.process.pid}\n${e.process.name}`;
      const p = processes.get(key);
      if (p === undefined) {
        const traced: TracedProcess = { name: e.process.name, pid: e.process.pid, seen: 1, lastAt: e.time };
        if (e.process.user !== undefined) traced.user = e.process.user;
        if (e.process.commandLine !== undefined) traced.commandLine = e.process.commandLine;
        processes.set(key, traced);
      } else {
        p.seen += 1;
      }
    }
    if (e.connection !== undefined) {
      const summary = connectionSummary(e.connection);
      const c = connections.get(summary);
      if (c === undefined) {
        const traced: TracedConnection = { summary, seen: 1, lastAt: e.time };
        if (e.connection.state !== undefined) traced.state = e.connection.state;
        if (e.process !== undefined) traced.process = `${e.process.name} [${e.process.pid}]`;
        connections.set(summary, traced);
      } else {
        c.seen += 1;
      }
    }
  }
  // Newest first, as seen: the first time a key is met is its latest sighting.
  const procs = [...processes.values()];
  const conns = [...connections.values()];
  return {
    id,
    agentId,
    vmId,
    events,
    windowEvents,
    since: oldest,
    at,
    processes: procs.slice(0, TRACE_LIMIT),
    processesMore: Math.max(0, procs.length - TRACE_LIMIT),
    connections: conns.slice(0, TRACE_LIMIT),
    connectionsMore: Math.max(0, conns.length - TRACE_LIMIT),
  };
}
