// The journal view: search everything the cockpit recorded (events, actions, console sessions, logs, custody,
// settings) by time, agent, VM, kind, actor, severity and text; page back through it; see one VM on a timeline;
// and see whether the journal verifies. Every value shown is text (Visible), never markup: records carry what
// agents and guests chose to write.
import { useCallback, useEffect, useId, useMemo, useRef, useState, type FormEvent } from 'react';
import type { CockpitLogsPage, JournalCursor, JournalHealth, JournalKind, JournalRecord, JournalStoredRecord, Severity } from '../../../../protocol/index.ts';
import { formatCount, utcTimestamp } from '../../text/format.ts';
import { Badge } from '../Badge.tsx';
import { Visible } from '../Visible.tsx';
import { useCockpitCall } from '../cockpit-context.tsx';
import { SEVERITY_LOOK } from '../labels.ts';
import './journal.css';
import { EMPTY_FORM, JOURNAL_KINDS, LANES, layoutTimeline, logAsRecord, logSeverity, queryOf, SEVERITIES, summarize, type JournalForm } from './journal-model.ts';

/** Records kept on screen at most (ten pages); older ones are a new search away. */
const MAX_SHOWN = 1000;

export function JournalView({ initial }: { initial?: Partial<JournalForm> }) {
  const call = useCockpitCall();
  const [form, setForm] = useState<JournalForm>({ ...EMPTY_FORM, ...initial });
  const [records, setRecords] = useState<JournalStoredRecord[]>([]);
  const [next, setNext] = useState<JournalCursor | undefined>();
  const [searched, setSearched] = useState<JournalForm | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ field?: keyof JournalForm; message: string } | null>(null);
  const [open, setOpen] = useState<number | null>(null);
  /** The searched VM's log lines, pulled from its agent (the agent keeps them; see logs.query). */
  const [logs, setLogs] = useState<{ page: CockpitLogsPage | null; error: string | null } | null>(null);
  const generation = useRef(0);

  const search = useCallback(async (f: JournalForm, before?: JournalCursor) => {
    const q = queryOf(f);
    if (!q.ok) {
      setError({ field: q.field, message: q.message });
      return;
    }
    const mine = ++generation.current;
    setBusy(true);
    setError(null);
    try {
      const page = await call('journal.query', before ? { ...q.query, before } : q.query);
      if (mine !== generation.current) return;
      setRecords((shown) => (before ? [...shown, ...page.records].slice(0, MAX_SHOWN) : page.records));
      setNext(page.next);
      setSearched(f);
      if (!before) {
        setOpen(null);
        setLogs(null);
        // One VM searched: its agent's logs for the same span go beside the records (and on the timeline).
        const vmId = f.vmId.trim();
        const agentId = f.agentId.trim() || page.records.find((r) => r.record.vmId === vmId && r.record.agentId)?.record.agentId;
        if (vmId !== '' && agentId) {
          const span = { ...(q.query.from !== undefined ? { from: new Date(q.query.from).toISOString() } : {}), ...(q.query.to !== undefined ? { to: new Date(q.query.to).toISOString() } : {}) };
          call('logs.query', { agentId, vmId, limit: 200, ...span }).then(
            (p) => { if (mine === generation.current) setLogs({ page: p, error: null }); },
            (e: Error) => { if (mine === generation.current) setLogs({ page: null, error: e.message }); },
          );
        }
      }
    } catch (err) {
      if (mine === generation.current) setError({ message: (err as Error).message });
    } finally {
      if (mine === generation.current) setBusy(false);
    }
  }, [call]);

  // The first search runs on opening: the newest records of all kinds (or of the VM the view was opened for).
  useEffect(() => { void search({ ...EMPTY_FORM, ...initial }); }, [search, initial]);

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    void search(form);
  };
  const set = <K extends keyof JournalForm>(key: K, value: JournalForm[K]) => setForm((f) => ({ ...f, [key]: value }));
  const toggleKind = (k: JournalKind) => set('kinds', form.kinds.includes(k) ? form.kinds.filter((x) => x !== k) : [...form.kinds, k]);
  const ids = useId();
  const errorId = `${ids}-error`;
  const invalid = (field: keyof JournalForm) => (error?.field === field ? { 'aria-invalid': true, 'aria-describedby': errorId } : {});

  return (
    <section className="journal" aria-label="Journal" data-testid="journal-view">
      <JournalHealthBar />
      <form className="journal-filters" onSubmit={onSubmit} aria-label="Search the journal" data-testid="journal-filters">
        <label>From (UTC) <input type="datetime-local" step="1" value={form.from} onChange={(e) => set('from', e.target.value)} data-testid="journal-from" {...invalid('from')} /></label>
        <label>To (UTC) <input type="datetime-local" step="1" value={form.to} onChange={(e) => set('to', e.target.value)} data-testid="journal-to" {...invalid('to')} /></label>
        <label>Agent <input value={form.agentId} onChange={(e) => set('agentId', e.target.value)} placeholder="any" spellCheck={false} data-testid="journal-agent" {...invalid('agentId')} /></label>
        <label>VM <input value={form.vmId} onChange={(e) => set('vmId', e.target.value)} placeholder="any" spellCheck={false} data-testid="journal-vm" {...invalid('vmId')} /></label>
        <label>Actor <input value={form.actor} onChange={(e) => set('actor', e.target.value)} placeholder="anyone" data-testid="journal-actor" {...invalid('actor')} /></label>
        <label>Severity at least
          <select value={form.minSeverity} onChange={(e) => set('minSeverity', e.target.value as Severity | '')} data-testid="journal-severity">
            <option value="">any</option>
            {SEVERITIES.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
        <label className="journal-text">Text <input type="search" value={form.text} onChange={(e) => set('text', e.target.value)} placeholder='words, "a phrase"' data-testid="journal-text" {...invalid('text')} /></label>
        <fieldset className="journal-kinds">
          <legend>Kinds</legend>
          {JOURNAL_KINDS.map((k) => (
            <label key={k}><input type="checkbox" checked={form.kinds.includes(k)} onChange={() => toggleKind(k)} data-testid={`journal-kind-${k}`} /> {k}</label>
          ))}
        </fieldset>
        <button type="submit" disabled={busy} data-testid="journal-search">{busy ? 'Searching…' : 'Search'}</button>
        <button type="button" onClick={() => { setForm(EMPTY_FORM); void search(EMPTY_FORM); }}>Clear</button>
      </form>
      {error ? <p className="journal-error" role="alert" id={errorId} data-testid="journal-error"><Visible text={error.message} max={400} /></p> : null}

      {searched && searched.vmId.trim() !== '' && (records.length > 0 || (logs?.page?.records.length ?? 0) > 0) ? (
        <Timeline records={[...records.map((r) => r.record), ...(logs?.page?.records ?? []).map(logAsRecord)]} vmId={searched.vmId.trim()} onPick={setOpen} picked={open} />
      ) : null}
      {logs ? <VmLogs logs={logs} picked={open} /> : null}

      <p className="journal-count" aria-live="polite" data-testid="journal-count">
        {busy && records.length === 0 ? 'Searching…' : `${formatCount(records.length)} record${records.length === 1 ? '' : 's'} shown, newest first${next ? '; older ones below' : ''}.`}
      </p>
      <ol className="journal-records" data-testid="journal-records">
        {records.map(({ record: r, hash }) => (
          <li key={r.index} className={`journal-record kind-${r.kind}`} data-testid="journal-record" data-kind={r.kind} data-index={r.index} data-vm={r.vmId ?? ''}>
            <button type="button" className="journal-row" aria-expanded={open === r.index} onClick={() => setOpen(open === r.index ? null : r.index)}>
              <span className="mono when">{utcTimestamp(r.time)}</span>
              <span className="chip">{r.kind}</span>
              {r.severity ? <Badge look={SEVERITY_LOOK[r.severity]} compact /> : <span className="badge-none" />}
              <span className="mono where"><Visible text={[r.agentId, r.vmId].filter(Boolean).join(' / ') || '—'} max={80} /></span>
              <span className="what"><Visible text={summarize(r)} max={300} /></span>
              {r.actor ? <span className="who"><Visible text={r.actor.name} max={64} /></span> : null}
              {r.origin ? <span className="chip" title={`Imported from device ${r.origin.device}, record ${r.origin.record}`}>imported</span> : null}
            </button>
            {open === r.index ? (
              <div className="journal-detail" data-testid="journal-detail">
                <p className="mono">Record #{r.index} · chain hash {hash}</p>
                {r.origin ? <p className="mono">From device <Visible text={r.origin.device} /> (record {r.origin.record}{r.origin.key ? `, key ${r.origin.key}` : ''})</p> : null}
                <pre className="mono"><Visible text={JSON.stringify(r.body, null, 2)} max={100_000} /></pre>
              </div>
            ) : null}
          </li>
        ))}
      </ol>
      {next && records.length < MAX_SHOWN ? (
        <button type="button" onClick={() => searched && void search(searched, next)} disabled={busy} data-testid="journal-older">Older records</button>
      ) : null}
      {next && records.length >= MAX_SHOWN ? <p className="hint">{formatCount(MAX_SHOWN)} records shown: narrow the search (a time range, a VM, a kind) to see older ones.</p> : null}
    </section>
  );
}

/** One VM's records on one time axis, a lane per kind; a mark opens its record in the list. */
function Timeline({ records, vmId, onPick, picked }: { records: JournalRecord[]; vmId: string; onPick(index: number): void; picked: number | null }) {
  const { marks, from, to } = useMemo(() => layoutTimeline(records), [records]);
  if (marks.length === 0) return null;
  const W = 1000;
  const laneH = 22;
  const left = 150;
  return (
    <figure className="journal-timeline" data-testid="journal-timeline">
      <figcaption>Timeline of <Visible text={vmId} max={128} />: {utcTimestamp(from)} to {utcTimestamp(to)} (the records shown)</figcaption>
      <svg viewBox={`0 0 ${W + left + 10} ${LANES.length * laneH + 8}`} role="img" aria-label={`${marks.length} records of ${vmId} on a time axis`} preserveAspectRatio="none">
        {LANES.map((l, i) => (
          <g key={l.label}>
            <text x={4} y={i * laneH + 16} className="lane-label">{l.label}</text>
            <line x1={left} x2={left + W} y1={i * laneH + 12} y2={i * laneH + 12} className="lane-line" />
          </g>
        ))}
        {marks.map((m) => (
          <circle
            key={m.index}
            cx={left + m.x * W}
            cy={m.lane * laneH + 12}
            r={picked === m.index ? 7 : 5}
            className={`mark kind-${m.kind}${m.severity ? ` sev-${m.severity}` : ''}`}
            data-testid="timeline-mark"
            data-kind={m.kind}
            data-index={m.index}
            onClick={() => onPick(m.index)}
          >
            <title>{`${m.kind} #${m.index} at ${utcTimestamp(m.time)}`}</title>
          </circle>
        ))}
      </svg>
    </figure>
  );
}

/** The searched VM's log lines from its agent: hypervisor, guest console, syslog. Text only. */
function VmLogs({ logs, picked }: { logs: { page: CockpitLogsPage | null; error: string | null }; picked: number | null }) {
  if (logs.error !== null) return <p className="hint" data-testid="vm-logs-error">Logs: <Visible text={logs.error} max={300} /></p>;
  const page = logs.page!;
  return (
    <details className="vm-logs" open data-testid="vm-logs">
      <summary>{formatCount(page.records.length)} log line{page.records.length === 1 ? '' : 's'} from agent <Visible text={page.agentId} max={128} />{page.truncated ? ' (the newest; older ones on the agent)' : ''}</summary>
      <ol className="journal-records">
        {page.records.map((l, i) => {
          const severity = logSeverity(l.severity);
          return (
            <li key={l.seq} className={`vm-log${picked === -1 - i ? ' picked' : ''}`} data-testid="vm-log" data-source={l.source}>
              <span className="mono when">{utcTimestamp(Date.parse(l.time))}</span>
              <span className="chip">{l.source}</span>
              {severity ? <Badge look={SEVERITY_LOOK[severity]} compact /> : <span className="badge-none" />}
              <span className="mono what"><Visible text={l.message} max={2000} /></span>
            </li>
          );
        })}
      </ol>
    </details>
  );
}

/** How big the journal is, how far it is signed, what a crash left, and whether it verifies; verify on demand. */
function JournalHealthBar() {
  const call = useCockpitCall();
  const [health, setHealth] = useState<JournalHealth | null>(null);
  const [verifying, setVerifying] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    const load = () => call('journal.status', {}).then((h) => { if (live) { setHealth(h); setError(null); } }, (e: Error) => { if (live) setError(e.message); });
    void load();
    const t = setInterval(load, 2000);
    return () => { live = false; clearInterval(t); };
  }, [call]);

  const verify = async () => {
    setVerifying(true);
    try {
      setHealth(await call('journal.verify', {}));
      setError(null);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setVerifying(false);
    }
  };

  const v = health?.verification;
  const verdict = health?.failure
    ? { tone: 'bad', text: `Not recording: ${health.failure.message}` }
    : !v
      ? { tone: 'pending', text: 'Not verified in this session' }
      : v.status === 'failed'
        ? { tone: 'bad', text: `Verification FAILED: ${v.problems[0]?.message ?? 'see the report'}${v.problems[0]?.index !== undefined ? ` (record #${v.problems[0].index})` : ''}` }
        : v.status === 'unsigned_tail'
          ? { tone: 'ok', text: `Intact: ${formatCount(v.records)} records, ${formatCount(v.signedRecords)} under a signature (the newest await the next checkpoint) — ${utcTimestamp(v.at)}` }
          : { tone: 'ok', text: `Verified: ${formatCount(v.records)} records, chain, tree and signatures — ${utcTimestamp(v.at)}` };
  return (
    <div className="journal-health" data-testid="journal-health">
      <span className={`journal-verdict ${verdict.tone}`} data-testid="journal-verdict" data-status={health?.failure ? 'failure' : v?.status ?? 'unverified'}>
        <Visible text={verdict.text} max={400} />
      </span>
      {health ? (
        <span className="mono journal-size">
          {formatCount(health.size)} records · {formatCount(health.durableSize)} on disk
          {health.checkpoint ? ` · signed up to ${formatCount(health.checkpoint.size)} at ${utcTimestamp(health.checkpoint.time)}` : ''}
          {health.inFlight > 0 ? ` · ${formatCount(health.inFlight)} being written` : ''}
        </span>
      ) : null}
      {health ? <span className="mono journal-key" title="The responder's signing key (compare it with the one your team registered)">key {health.keyFingerprint}</span> : null}
      {health && health.recovered.length > 0 ? (
        <span className="journal-recovered" role="status" data-testid="journal-recovered">After a crash: <Visible text={health.recovered.map((r) => r.message).join(' ')} max={600} /></span>
      ) : null}
      <button type="button" onClick={() => void verify()} disabled={verifying || !health || health.failure !== undefined} data-testid="journal-verify">
        {verifying ? 'Verifying…' : 'Verify now'}
      </button>
      {error ? <span className="journal-error" role="alert"><Visible text={error} max={300} /></span> : null}
    </div>
  );
}
