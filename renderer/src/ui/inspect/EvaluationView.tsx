// The evaluation view (the talk's first phase): what runs in one VM — its processes, listening sockets, connections,
// services and resources — read by its agent on demand, sortable and filterable. Rows that the selected threat event
// names are marked; the last inspections can be compared (what appeared, what vanished); a connection row isolates the
// VM in one click (through the action desk, as every action). All of it is the guest's text: drawn as text only.
import { useCallback, useEffect, useMemo, useState } from 'react';
import type { InspectedProcess, InspectedSocket, VmInspection } from '../../../../protocol/index.ts';
import { formatBytes } from '../../text/format.ts';
import { useActionDesk } from '../ActionDesk.tsx';
import { useCockpit, useCockpitCall } from '../cockpit-context.tsx';
import { Visible } from '../Visible.tsx';
import { visible } from '../../text/visible.ts';
import {
  diffInspections, endpointText, filterRows, processMatches, socketMatches, sortRows, splitSockets,
  type ProcessKey, type Sort, type SocketKey,
} from './inspect-model.ts';
import './inspect.css';

/** Inspections kept to compare with (newest first). */
const KEPT = 5;

export function EvaluationView({ agentId, vmId }: { agentId: string; vmId: string }) {
  const call = useCockpitCall();
  const desk = useActionDesk();
  const selected = useCockpit((s) => (s.selected && s.selected.event.agentId === agentId && s.selected.event.event.vmId === vmId ? s.selected.event.event : null));
  const vmName = useCockpit((s) => s.inventories.get(agentId)?.find((v) => v.id === vmId)?.name);
  const [history, setHistory] = useState<VmInspection[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [filter, setFilter] = useState('');
  const [compareWith, setCompareWith] = useState<number | null>(null);
  const [procSort, setProcSort] = useState<Sort<ProcessKey>>({ key: 'pid', dir: 'asc' });
  const [sockSort, setSockSort] = useState<Sort<SocketKey>>({ key: 'localPort', dir: 'asc' });

  const refresh = useCallback(async () => {
    setBusy(true);
    setError(null);
    try {
      const { inspection } = await call('vm.inspect', { agentId, vmId });
      setHistory((h) => [inspection, ...h].slice(0, KEPT));
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }, [call, agentId, vmId]);
  useEffect(() => { setHistory([]); setCompareWith(null); void refresh(); }, [refresh]);

  const now = history[0];
  const processes = useMemo(() => (now ? sortRows(filterRows(now.processes, filter), procSort) : []), [now, filter, procSort]);
  const sockets = useMemo(() => splitSockets(now ? sortRows(filterRows(now.sockets, filter), sockSort) : []), [now, filter, sockSort]);
  const before = compareWith !== null ? history[compareWith] : undefined;
  const diff = useMemo(() => (now && before ? diffInspections(before, now) : null), [now, before]);

  return (
    <section className="inspect" aria-label={`Evaluation of ${visible(vmName ?? vmId)}`} data-testid="evaluation-view" data-vm={vmId}>
      <header className="inspect-head">
        <h2>Evaluation: <Visible text={vmName ?? vmId} max={128} /> <span className="muted mono">on <Visible text={agentId} max={128} /></span></h2>
        <button type="button" onClick={() => void refresh()} disabled={busy} data-testid="inspect-refresh">{busy ? 'Reading…' : 'Refresh'}</button>
        <label>Filter <input type="search" value={filter} onChange={(e) => setFilter(e.target.value)} placeholder="pid, user, command, port…" data-testid="inspect-filter" /></label>
        {history.length > 1 ? (
          <label>Compare with
            <select value={compareWith ?? ''} onChange={(e) => setCompareWith(e.target.value === '' ? null : Number(e.target.value))} data-testid="inspect-compare">
              <option value="">—</option>
              {history.slice(1).map((h, i) => <option key={h.at} value={i + 1}>{h.at}</option>)}
            </select>
          </label>
        ) : null}
      </header>
      {error ? <p className="inspect-error" role="alert" data-testid="inspect-error"><Visible text={error} max={600} /></p> : null}
      {now ? (
        <>
          <p className="inspect-meta" data-testid="inspect-meta">
            Read {now.at} ({now.source === 'sim-model' ? 'the simulation' : 'the guest\'s shell'}) · {now.resources.processCount} processes
            {now.resources.cpuPercent !== undefined ? ` · CPU ${now.resources.cpuPercent}%` : ''}
            {now.resources.memTotalKiB !== undefined ? ` · memory ${formatBytes(((now.resources.memTotalKiB - (now.resources.memAvailableKiB ?? 0)) * 1024))} used of ${formatBytes(now.resources.memTotalKiB * 1024)}` : ''}
            {now.resources.load1 !== undefined ? ` · load ${now.resources.load1}` : ''}
            {now.resources.uptimeS !== undefined ? ` · up ${Math.round(now.resources.uptimeS)} s` : ''}
            {selected ? <> · marked: what event <span className="mono"><Visible text={selected.id} max={64} /></span> names</> : null}
          </p>
          {(now.warnings ?? []).map((w, i) => <p key={i} className="inspect-warning"><Visible text={w} max={512} /></p>)}
          {diff ? <DiffBlock diff={diff} /> : null}
          <h3>Processes</h3>
          <table className="inspect-table" data-testid="inspect-processes">
            <thead><tr>
              <SortHead label="PID" k="pid" sort={procSort} set={setProcSort} />
              <SortHead label="PPID" k="ppid" sort={procSort} set={setProcSort} />
              <SortHead label="User" k="user" sort={procSort} set={setProcSort} />
              <SortHead label="Name" k="name" sort={procSort} set={setProcSort} />
              <SortHead label="RSS" k="rssKiB" sort={procSort} set={setProcSort} />
              <SortHead label="Command line" k="command" sort={procSort} set={setProcSort} />
            </tr></thead>
            <tbody>{processes.map((p) => <ProcessRow key={`${p.pid}/${p.command}`} p={p} marked={processMatches(p, selected)} />)}</tbody>
          </table>
          <h3>Listening</h3>
          <SocketTable rows={sockets.listening} sort={sockSort} setSort={setSockSort} marked={(s) => socketMatches(s, selected)} testid="inspect-listening" />
          <h3>Connections</h3>
          <SocketTable rows={sockets.connections} sort={sockSort} setSort={setSockSort} marked={(s) => socketMatches(s, selected)} testid="inspect-connections"
            onIsolate={() => desk.request('isolate', { agentId, vmId })} />
          <h3>Services</h3>
          <ul className="inspect-services" data-testid="inspect-services">
            {now.services.length === 0 ? <li className="muted">None seen.</li> : now.services.map((s, i) => (
              <li key={i}><Visible text={s.name} max={256} /> — <Visible text={s.state} max={32} />{s.pid !== undefined ? ` (pid ${s.pid})` : ''}</li>
            ))}
          </ul>
        </>
      ) : busy ? <p className="muted">Asking the agent…</p> : null}
    </section>
  );
}

function SortHead<K extends string>({ label, k, sort, set }: { label: string; k: K; sort: Sort<K>; set(s: Sort<K>): void }) {
  const active = sort.key === k;
  return (
    <th scope="col" aria-sort={active ? (sort.dir === 'asc' ? 'ascending' : 'descending') : 'none'}>
      <button type="button" onClick={() => set({ key: k, dir: active && sort.dir === 'asc' ? 'desc' : 'asc' })} data-testid={`sort-${k}`}>
        {label}{active ? (sort.dir === 'asc' ? ' ▲' : ' ▼') : ''}
      </button>
    </th>
  );
}

function ProcessRow({ p, marked }: { p: InspectedProcess; marked: boolean }) {
  return (
    <tr className={marked ? 'marked' : ''} data-testid="inspect-process" data-pid={p.pid} data-marked={marked}>
      <td className="mono">{p.pid}</td>
      <td className="mono">{p.ppid}</td>
      <td><Visible text={p.user} max={64} /></td>
      <td className="mono"><Visible text={p.name ?? ''} max={64} /></td>
      <td className="mono">{p.rssKiB !== undefined ? formatBytes(p.rssKiB * 1024) : ''}</td>
      <td className="mono cmd"><Visible text={p.command} max={2000} /></td>
    </tr>
  );
}

function SocketTable({ rows, sort, setSort, marked, testid, onIsolate }: {
  rows: InspectedSocket[]; sort: Sort<SocketKey>; setSort(s: Sort<SocketKey>): void; marked(s: InspectedSocket): boolean; testid: string; onIsolate?: () => void;
}) {
  if (rows.length === 0) return <p className="muted" data-testid={testid}>None.</p>;
  return (
    <table className="inspect-table" data-testid={testid}>
      <thead><tr>
        <SortHead label="Proto" k="protocol" sort={sort} set={setSort} />
        <SortHead label="Local" k="localPort" sort={sort} set={setSort} />
        <SortHead label="Remote" k="remoteAddress" sort={sort} set={setSort} />
        <SortHead label="State" k="state" sort={sort} set={setSort} />
        <SortHead label="PID" k="pid" sort={sort} set={setSort} />
        <SortHead label="Program" k="program" sort={sort} set={setSort} />
        {onIsolate ? <th scope="col"><span className="sr-only">Act</span></th> : null}
      </tr></thead>
      <tbody>
        {rows.map((s, i) => {
          const m = marked(s);
          return (
            <tr key={i} className={m ? 'marked' : ''} data-testid="inspect-socket" data-port={s.localPort} data-marked={m}>
              <td>{s.protocol}</td>
              <td className="mono"><Visible text={endpointText(s.localAddress, s.localPort)} max={80} /></td>
              <td className="mono"><Visible text={s.remoteAddress !== undefined ? endpointText(s.remoteAddress, s.remotePort) : ''} max={80} /></td>
              <td><Visible text={s.state} max={32} /></td>
              <td className="mono">{s.pid ?? ''}</td>
              <td className="mono"><Visible text={s.program ?? ''} max={64} /></td>
              {onIsolate ? <td><button type="button" onClick={onIsolate} data-testid="inspect-isolate" title="Isolate this VM (cut its link, or move it to the honeypot): the action dialog asks how">Isolate VM</button></td> : null}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function DiffBlock({ diff }: { diff: ReturnType<typeof diffInspections> }) {
  const none = diff.processes.appeared.length + diff.processes.vanished.length + diff.sockets.appeared.length + diff.sockets.vanished.length === 0;
  return (
    <section className="inspect-diff" aria-label="Changes" data-testid="inspect-diff">
      <h3>Since then</h3>
      {none ? <p className="muted">Nothing appeared or vanished.</p> : (
        <ul>
          {diff.processes.appeared.map((p) => <li key={`pa${p.pid}`} className="appeared" data-testid="diff-appeared">+ process {p.pid} <Visible text={p.command} max={300} /></li>)}
          {diff.processes.vanished.map((p) => <li key={`pv${p.pid}`} className="vanished" data-testid="diff-vanished">− process {p.pid} <Visible text={p.command} max={300} /></li>)}
          {diff.sockets.appeared.map((s, i) => <li key={`sa${i}`} className="appeared" data-testid="diff-appeared">+ {s.protocol} {endpointText(s.localAddress, s.localPort)} {s.state} <Visible text={s.program ?? ''} max={64} /></li>)}
          {diff.sockets.vanished.map((s, i) => <li key={`sv${i}`} className="vanished" data-testid="diff-vanished">− {s.protocol} {endpointText(s.localAddress, s.localPort)} {s.state} <Visible text={s.program ?? ''} max={64} /></li>)}
        </ul>
      )}
    </section>
  );
}
