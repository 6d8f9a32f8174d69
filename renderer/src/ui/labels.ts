// How severities, verdicts, VM states and link states look: a word and a shape as well as a colour, so nothing
// rests on telling red from green (about one responder in twelve cannot), and a grayscale wall still reads.
// Colours come from the Okabe–Ito palette, chosen to stay distinct under the common colour-vision deficiencies.
import type { AgentStatus, Severity, Verdict, VmState } from '../../../protocol/index.ts';

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
  seizing: { label: 'seizing', glyph: '⧗', tone: 'vm-seizing', title: 'Evidence being captured' },
  seized: { label: 'seized', glyph: '⚑', tone: 'vm-seized', title: 'Seized: evidence captured' },
};

export const LINK_LOOK: Readonly<Record<AgentStatus['link'], Look>> = {
  connected: { label: 'connected', glyph: '●', tone: 'link-up', title: 'Connected' },
  connecting: { label: 'connecting', glyph: '◌', tone: 'link-pending', title: 'Connecting' },
  disconnected: { label: 'disconnected', glyph: '○', tone: 'link-down', title: 'Disconnected, retrying' },
  unauthorized: { label: 'unauthorized', glyph: '⊘', tone: 'link-bad', title: 'The agent refused the token' },
  failed: { label: 'failed', glyph: '✕', tone: 'link-bad', title: 'Failed' },
};

export const SEVERITY_ORDER: readonly Severity[] = ['critical', 'high', 'medium', 'low', 'info'];
