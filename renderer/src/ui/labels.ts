// How severities, verdicts, VM states and link states look: a word and a shape as well as a colour, so nothing
// rests on telling red from green (about one responder in twelve cannot), and a grayscale wall still reads.
// Colours come from the Okabe–Ito palette, chosen to stay distinct under the common colour-vision deficiencies.
import type { ActionKind, ActionRecord, AgentStatus, Severity, Verdict, VmState } from '../../../protocol/index.ts';

export interface Look {
  /** Short text shown in the badge. */
  label: string;
  /** A shape that differs per value. */
  glyph: string;
  /** CSS class that carries the colour. */
  tone: string;
  /** Spoken / tooltip description. */
  title: string;
}

export const SEVERITY_LOOK: Readonly<Record<Severity, Look>> = {
  critical: { label: 'CRIT', glyph: '◆', tone: 'sev-critical', title: 'Severity: critical' },
  high: { label: 'HIGH', glyph: '▲', tone: 'sev-high', title: 'Severity: high' },
  medium: { label: 'MED', glyph: '■', tone: 'sev-medium', title: 'Severity: medium' },
  low: { label: 'LOW', glyph: '●', tone: 'sev-low', title: 'Severity: low' },
  info: { label: 'INFO', glyph: '○', tone: 'sev-info', title: 'Severity: info' },
};

export const VERDICT_LOOK: Readonly<Record<Verdict, Look>> = {
  malicious: { label: 'malicious', glyph: '✖', tone: 'ver-malicious', title: 'Verdict: malicious' },
  suspicious: { label: 'suspicious', glyph: '?', tone: 'ver-suspicious', title: 'Verdict: suspicious' },
  benign: { label: 'benign', glyph: '✓', tone: 'ver-benign', title: 'Verdict: benign' },
};

export const VM_STATE_LOOK: Readonly<Record<VmState, Look>> = {
  running: { label: 'running', glyph: '▶', tone: 'vm-running', title: 'Running' },
  frozen: { label: 'frozen', glyph: '❚❚', tone: 'vm-frozen', title: 'Frozen: every vCPU paused' },
  isolated: { label: 'isolated', glyph: '⊘', tone: 'vm-isolated', title: 'Isolated from its network, still running' },
  terminated: { label: 'terminated', glyph: '■', tone: 'vm-terminated', title: 'Terminated' },
  seizing: { label: 'seizing', glyph: '◔', tone: 'vm-seizing', title: 'Evidence being captured' },
  seized: { label: 'seized', glyph: '⚑', tone: 'vm-seized', title: 'Seized: evidence captured' },
};

export const LINK_LOOK: Readonly<Record<AgentStatus['link'], Look>> = {
  connected: { label: 'connected', glyph: '●', tone: 'link-up', title: 'Connected' },
  connecting: { label: 'connecting', glyph: '◌', tone: 'link-pending', title: 'Connecting' },
  disconnected: { label: 'disconnected', glyph: '○', tone: 'link-down', title: 'Disconnected, retrying' },
  unauthorized: { label: 'unauthorized', glyph: '⊘', tone: 'link-bad', title: 'The agent refused the token' },
  untrusted: { label: 'untrusted', glyph: '⚠', tone: 'link-bad', title: 'Its TLS certificate is not the pinned one, or none is pinned yet: nothing is sent until you decide' },
  failed: { label: 'failed', glyph: '✕', tone: 'link-bad', title: 'Failed' },
};

/** The actions, in the order their buttons stand: what holds first, what cannot be undone last. */
export const ACTION_ORDER: readonly ActionKind[] = ['freeze', 'resume', 'isolate', 'release', 'clone', 'seize', 'terminate'];

/** Each action's button: `title` says what it does, in the responder's words. */
export const ACTION_LOOK: Readonly<Record<ActionKind, Look>> = {
  freeze: { label: 'Freeze', glyph: '❚❚', tone: 'act-hold', title: 'Pause every vCPU; memory and devices are kept as they are' },
  resume: { label: 'Resume', glyph: '▶', tone: 'act-undo', title: 'Run its vCPUs again (an isolated VM stays isolated)' },
  isolate: { label: 'Isolate', glyph: '⊘', tone: 'act-hold', title: 'Cut it off its network, or move it to the honeypot; it keeps running' },
  release: { label: 'Release', glyph: '⇄', tone: 'act-undo', title: 'Put it back on its network, as it was before the isolation' },
  clone: { label: 'Clone', glyph: '⊕', tone: 'act-study', title: 'Start a duplicate without its network connections, to study it' },
  seize: { label: 'Seize', glyph: '⚑', tone: 'act-evidence', title: 'Freeze it, then capture memory, disk, configuration and logs, every file hashed' },
  terminate: { label: 'Terminate', glyph: '✕', tone: 'act-end', title: 'Stop it for good: what is only in its memory is lost' },
};

/** How an action record ended, or where it stands. */
export const PHASE_LOOK: Readonly<Record<ActionRecord['phase'], Look>> = {
  sending: { label: 'sending', glyph: '◌', tone: 'phase-pending', title: 'Asked; the agent has not acknowledged it yet (it is sent again after a reconnect)' },
  accepted: { label: 'running', glyph: '◔', tone: 'phase-pending', title: 'The agent accepted it and runs it' },
  done: { label: 'done', glyph: '✓', tone: 'phase-done', title: 'Done, as the hypervisor confirmed' },
  rejected: { label: 'refused', glyph: '⊘', tone: 'phase-bad', title: 'The agent refused it: nothing ran' },
  failed: { label: 'failed', glyph: '✕', tone: 'phase-bad', title: 'It failed' },
};

export const SEVERITY_ORDER: readonly Severity[] = ['critical', 'high', 'medium', 'low', 'info'];
