// The journal entries the hub and the shell write, one builder per kind, so every record of a kind has the same
// shape and the same filter fields (agent, VM, actor, severity) wherever it was written.
import type { ActionRecord, Actor, FeedEvent, Severity } from '../../protocol/index.ts';
import type { JournalEntry, JsonObject } from './record.ts';

/** A threat event as the hub received it; the record's time is when the cockpit received it. */
export function eventEntry(fe: FeedEvent): JournalEntry {
  return {
    kind: 'event', time: Math.floor(fe.receivedAt), agentId: fe.agentId, vmId: fe.event.vmId, severity: fe.event.severity,
    body: { event: fe.event as unknown as JsonObject, seq: fe.seq },
  };
}

/** The phases of an action the journal records: asked (durable before it is sent), then what the agent says. */
export type ActionStep = 'asked' | 'accepted' | 'progress' | 'rejected' | 'result';

/** The whole ActionRecord at this step, so each record reads alone in an exported slice. */
export function actionEntry(step: ActionStep, rec: ActionRecord): JournalEntry {
  const severity: Severity | undefined = step === 'rejected' || (step === 'result' && rec.ok === false) ? 'high' : undefined;
  return {
    kind: 'action', agentId: rec.agentId, vmId: rec.vmId, actor: rec.actor, ...(severity ? { severity } : {}),
    body: { action: rec as unknown as JsonObject, requestId: rec.requestId, step },
  };
}

export interface ConsoleSession {
  sessionId: string;
  agentId: string;
  vmId: string;
  actor: Actor;
  /** closed: the SHA-256 (hex) and size of the session's recording, kept outside the journal. */
  recording?: { sha256: string; bytes: number; path?: string };
  reason?: string;
}

export function consoleEntry(step: 'opened' | 'closed', s: ConsoleSession): JournalEntry {
  const body: JsonObject = { step, sessionId: s.sessionId };
  if (s.recording) body.recording = s.recording;
  if (s.reason) body.reason = s.reason;
  return { kind: 'console', agentId: s.agentId, vmId: s.vmId, actor: s.actor, body };
}

/** A setting or a policy changed: what, from what, to what, by whom. */
export function changeEntry(kind: 'settings' | 'policy', actor: Actor, change: { key: string; from?: unknown; to?: unknown; reason?: string; agentId?: string }): JournalEntry {
  const { agentId, ...body } = change;
  return { kind, actor, ...(agentId ? { agentId } : {}), body: body as JsonObject };
}

/** A chain-of-custody step (seized, hashed, copied, handed over) for evidence about a VM. */
export function custodyEntry(actor: Actor, c: { agentId?: string; vmId?: string; caseId?: string; step: string; details?: JsonObject }): JournalEntry {
  return {
    kind: 'custody', actor, ...(c.agentId ? { agentId: c.agentId } : {}), ...(c.vmId ? { vmId: c.vmId } : {}),
    body: { step: c.step, ...(c.caseId ? { caseId: c.caseId } : {}), ...(c.details ? { details: c.details } : {}) },
  };
}

/** A log line (hypervisor, syslog, guest console, agent), next to threat events and not mixed into them. */
export function logEntry(l: { agentId?: string; vmId?: string; source: string; message: string; severity?: Severity; time?: number; fields?: JsonObject }): JournalEntry {
  return {
    kind: 'log', ...(l.time !== undefined ? { time: l.time } : {}), ...(l.agentId ? { agentId: l.agentId } : {}), ...(l.vmId ? { vmId: l.vmId } : {}),
    ...(l.severity ? { severity: l.severity } : {}), body: { source: l.source, message: l.message, ...(l.fields ? { fields: l.fields } : {}) },
  };
}
