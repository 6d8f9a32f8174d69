// What the responder narrows the feed to (severity, verdict, agent, VM, free text), compiled once into one
// predicate per filter change so a batch of 1,000 events is matched without re-reading the filter.
import type { FeedEvent, Severity, Verdict, ThreatEvent } from '../../../protocol/index.ts';

export const SEVERITIES: readonly Severity[] = ['info', 'low', 'medium', 'high', 'critical'];
export const VERDICTS: readonly Verdict[] = ['benign', 'suspicious', 'malicious'];

export const SEVERITY_RANK: Readonly<Record<Severity, number>> = { info: 0, low: 1, medium: 2, high: 3, critical: 4 };

/** A verdict, or 'not-benign' for "suspicious or malicious", what a responder triaging usually wants. */
export type VerdictFilter = Verdict | 'not-benign';

export interface VmRef {
  agentId: string;
  vmId: string;
}

export interface FeedFilter {
  /** Show events at least this severe; null for all. */
  minSeverity: Severity | null;
  verdict: VerdictFilter | null;
  agentId: string | null;
  vm: VmRef | null;
  /** Free text: every word must appear (case-insensitive) in the title, process name, executable, command line,
   *  local or remote address, or file path. */
  text: string;
}

export const NO_FILTER: FeedFilter = Object.freeze({ minSeverity: null, verdict: null, agentId: null, vm: null, text: '' });

export type FeedPredicate = (e: FeedEvent) => boolean;

export function isFilterEmpty(f: FeedFilter): boolean {
  return f.minSeverity === null && f.verdict === null && f.agentId === null && f.vm === null && f.text.trim() === '';
}

export function sameFilter(a: FeedFilter, b: FeedFilter): boolean {
  return a.minSeverity === b.minSeverity && a.verdict === b.verdict && a.agentId === b.agentId
    && a.vm?.agentId === b.vm?.agentId && a.vm?.vmId === b.vm?.vmId && a.text.trim() === b.text.trim();
}

/** The predicate for a filter, or null when it lets everything through (so the feed needs no index). */
export function compileFilter(f: FeedFilter): FeedPredicate | null {
  if (isFilterEmpty(f)) return null;
  const minRank = f.minSeverity === null ? 0 : SEVERITY_RANK[f.minSeverity];
  const verdict = f.verdict;
  const agentId = f.agentId;
  const vm = f.vm;
  const text = compileText(f.text);
  return (fe) => {
    const e = fe.event;
    if (minRank > 0 && SEVERITY_RANK[e.severity] < minRank) return false;
    if (verdict !== null) {
      if (verdict === 'not-benign' ? e.verdict === 'benign' : e.verdict !== verdict) return false;
    }
    if (agentId !== null && fe.agentId !== agentId) return false;
    if (vm !== null && (fe.agentId !== vm.agentId || e.vmId !== vm.vmId)) return false;
    return text === null || text(e);
  };
}

/** Free text as a matcher: each whitespace-separated word must occur in at least one searched field. */
export function compileText(text: string): ((e: ThreatEvent) => boolean) | null {
  const words = text.trim().split(/\s+/).filter((w) => w.length > 0).slice(0, 16);
  if (words.length === 0) return null;
  // A literal, case-insensitive RegExp per word: no lower-casing (and so no copy) of attacker strings that may be
  // 8 KiB long, and linear time whatever the word holds since every metacharacter is escaped.
  const patterns = words.map((w) => new RegExp(escapeRegExp(w), 'i'));
  return (e) => {
    for (const re of patterns) if (!matchesAnyField(e, re)) return false;
    return true;
  };
}

function matchesAnyField(e: ThreatEvent, re: RegExp): boolean {
  if (re.test(e.title)) return true;
  const p = e.process;
  if (p !== undefined) {
    if (re.test(p.name)) return true;
    if (p.commandLine !== undefined && re.test(p.commandLine)) return true;
    if (p.executable !== undefined && re.test(p.executable)) return true;
  }
  const c = e.connection;
  if (c !== undefined) {
    if (c.remoteAddress !== undefined && re.test(c.remoteAddress)) return true;
    if (c.localAddress !== undefined && re.test(c.localAddress)) return true;
  }
  const f = e.file;
  if (f !== undefined && re.test(f.path)) return true;
  return false;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}
