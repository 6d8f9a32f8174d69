// The journal view's logic, apart from React: the filter form turned into a journal.query, a record told in one
// line, and the per-VM timeline laid out on one time axis. Pure functions, tested in test/renderer/journal-model.

import type { ActionRecord, JournalKind, JournalQueryParams, JournalRecord, LogRecord, Severity } from '../../../../protocol/index.ts';

export const JOURNAL_KINDS: readonly JournalKind[] = ['event', 'action', 'console', 'log', 'custody', 'settings', 'policy', 'journal'];
export const SEVERITIES: readonly Severity[] = ['info', 'low', 'medium', 'high', 'critical'];

/** What the responder typed or picked; empty strings mean "any". */
export interface JournalForm {
  /** `datetime-local` values, read as UTC (the cockpit shows every time in UTC). */
  from: string;
  to: string;
  agentId: string;
  vmId: string;
  kinds: readonly JournalKind[];
  actor: string;
  minSeverity: Severity | '';
  text: string;
}

export const EMPTY_FORM: JournalForm = { from: '', to: '', agentId: '', vmId: '', kinds: [], actor: '', minSeverity: '', text: '' };

const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** The query for a form, or the sentence that says which field is wrong. */
export function queryOf(form: JournalForm, limit = 100): { ok: true; query: JournalQueryParams } | { ok: false; field: keyof JournalForm; message: string } {
  const q: JournalQueryParams = { limit };
  const from = form.from.trim() === '' ? undefined : utcOfLocalInput(form.from);
  const to = form.to.trim() === '' ? undefined : utcOfLocalInput(form.to);
  if (from === null) return { ok: false, field: 'from', message: 'The start is not a date and time (YYYY-MM-DDTHH:MM, UTC).' };
  if (to === null) return { ok: false, field: 'to', message: 'The end is not a date and time (YYYY-MM-DDTHH:MM, UTC).' };
  if (from !== undefined && to !== undefined && to <= from) return { ok: false, field: 'to', message: 'The end must come after the start.' };
  if (from !== undefined) q.from = from;
  if (to !== undefined) q.to = to;
  const agentId = form.agentId.trim();
  if (agentId !== '') {
    if (!ID.test(agentId)) return { ok: false, field: 'agentId', message: 'An agent id is letters, digits and . _ : - (at most 128).' };
    q.agentId = [agentId];
  }
  const vmId = form.vmId.trim();
  if (vmId !== '') {
    if (!ID.test(vmId)) return { ok: false, field: 'vmId', message: 'A VM id is letters, digits and . _ : - (at most 128).' };
    q.vmId = [vmId];
  }
  if (form.kinds.length > 0) q.kind = [...form.kinds] as [JournalKind, ...JournalKind[]];
  const actor = form.actor.trim();
  if (actor !== '') {
    if (actor.length > 128) return { ok: false, field: 'actor', message: 'A responder\'s name is at most 128 characters.' };
    q.actor = [actor];
  }
  if (form.minSeverity !== '') q.minSeverity = form.minSeverity;
  const text = form.text.trim();
  if (text !== '') {
    if (text.length > 512) return { ok: false, field: 'text', message: 'The search text is at most 512 characters.' };
    q.text = text;
  }
  return { ok: true, query: q };
}

/** A `datetime-local` value ("2026-11-23T05:40" or with seconds) as UTC milliseconds; null when it is not one. */
export function utcOfLocalInput(value: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/.exec(value.trim());
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map((x) => (x === undefined ? 0 : Number(x))) as number[];
  const ms = m[7] === undefined ? 0 : Number(m[7].padEnd(3, '0'));
  const t = Date.UTC(y!, mo! - 1, d!, h!, mi!, s!, ms);
  const back = new Date(t);
  // Date.UTC rolls 2026-02-31 over to March: refuse it rather than search the wrong day.
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo! - 1 || back.getUTCDate() !== d || h! > 23 || mi! > 59 || s! > 59) return null;
  return t;
}

/** One line about a record, from its body; every string in it is the agent's or the responder's (draw as text). */
export function summarize(r: JournalRecord): string {
  const b = r.body as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  switch (r.kind) {
    case 'event': {
      const e = b.event as { title?: unknown; verdict?: unknown } | undefined;
      return `${str(e?.title) ?? 'event'}${str(e?.verdict) ? ` (${str(e?.verdict)})` : ''}`;
    }
    case 'action': {
      const a = b.action as Partial<ActionRecord> | undefined;
      const step = str(b.step) ?? 'step';
      const kind = str(a?.kind) ?? 'action';
      const on = a?.vmName ?? a?.vmId ?? '';
      const what = step === 'asked'
        ? `asked: ${kind} ${on}${a?.reason ? ` — “${a.reason}”` : ''}`
        : step === 'result'
          ? `${kind} ${on}: ${a?.ok ? `done${a.state ? `, now ${a.state}` : ''}` : `failed${a?.error?.message ? `: ${a.error.message}` : ''}`}`
          : step === 'rejected'
            ? `${kind} ${on} refused${a?.rejection?.message ? `: ${a.rejection.message}` : ''}`
            : step === 'progress'
              ? `${kind} ${on}: ${a?.progress?.message ?? 'in progress'}`
              : `${kind} ${on} ${step}`;
      return what.replace(/\s+/g, ' ').trim();
    }
    case 'log': {
      const source = str(b.source) ?? 'log';
      return `[${source}] ${str(b.message) ?? ''}`;
    }
    case 'console':
      return `console session ${str(b.sessionId) ?? ''} ${str(b.step) ?? ''}`.trim();
    case 'custody':
      return `custody: ${str(b.step) ?? ''}${str(b.caseId) ? ` (case ${str(b.caseId)})` : ''}`;
    case 'settings':
    case 'policy':
      return `${r.kind}: ${str(b.key) ?? ''} changed`;
    case 'journal':
      return `journal ${str(b.step) ?? ''}`.trim();
  }
}

/** RFC 5424 severities (0 emergency … 7 debug) as Cordon's, for a log line's mark and badge. */
export function logSeverity(code: number | undefined): Severity | undefined {
  if (code === undefined) return undefined;
  return code <= 2 ? 'critical' : code === 3 ? 'high' : code === 4 ? 'medium' : code === 5 ? 'low' : 'info';
}

/**
 * An agent's log line as a journal-shaped record for the timeline: kind `log`, a negative index (-1 - its position
 * in the page) so it never collides with a journal record's.
 */
export function logAsRecord(l: LogRecord, position: number): JournalRecord {
  const severity = logSeverity(l.severity);
  return {
    index: -1 - position, time: Date.parse(l.time), kind: 'log', agentId: l.agentId, ...(l.vmId ? { vmId: l.vmId } : {}),
    ...(severity ? { severity } : {}), body: { source: l.source, message: l.message },
  };
}

/** A timeline's lanes, top to bottom. */
export const LANES: readonly { kinds: readonly JournalKind[]; label: string }[] = [
  { kinds: ['event'], label: 'Threat events' },
  { kinds: ['action', 'custody'], label: 'Actions and custody' },
  { kinds: ['console'], label: 'Console sessions' },
  { kinds: ['log'], label: 'Logs' },
];

export interface TimelineMark {
  index: number;
  lane: number;
  /** 0..1 along the axis, oldest at 0. */
  x: number;
  kind: JournalKind;
  severity?: Severity;
  time: number;
}

/** Marks for the records on one time axis, from the oldest to the newest shown. Records of no lane are left out. */
export function layoutTimeline(records: readonly JournalRecord[]): { marks: TimelineMark[]; from: number; to: number } {
  const placed = records.filter((r) => LANES.some((l) => l.kinds.includes(r.kind)));
  if (placed.length === 0) return { marks: [], from: 0, to: 0 };
  let from = Infinity;
  let to = -Infinity;
  for (const r of placed) {
    from = Math.min(from, r.time);
    to = Math.max(to, r.time);
  }
  const span = to - from;
  const marks = placed.map((r) => ({
    index: r.index,
    lane: LANES.findIndex((l) => l.kinds.includes(r.kind)),
    x: span === 0 ? 0.5 : (r.time - from) / span,
    kind: r.kind,
    ...(r.severity ? { severity: r.severity } : {}),
    time: r.time,
  }));
  return { marks, from, to };
}
