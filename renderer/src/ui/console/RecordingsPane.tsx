// A VM's recorded console sessions (console.recordings), newest first: who, when, how long, how big, the hash the
// journal holds; each replays in a tab of its own.
import { formatBytes, utcTimestamp } from '../../text/format.ts';
import { Visible } from '../Visible.tsx';
import { useConsoles, useOpenConsole } from './ConsoleProvider.tsx';
import type { ConsoleTab } from './sessions.ts';

export function RecordingsPane({ tab, visible }: { tab: ConsoleTab; visible: boolean }) {
  const sessions = useConsoles();
  const open = useOpenConsole();
  const recordings = tab.recordings ?? [];
  return (
    <section className="console-pane recordings" hidden={!visible} aria-label="Console recordings" data-testid="recordings-pane" data-key={tab.key} data-phase={tab.phase}>
      <header className="console-head">
        <h2 className="console-name">Recordings <span className="muted">of</span> <Visible text={tab.label} max={80} /></h2>
        <button type="button" className="quiet" onClick={() => sessions.refreshRecordings(tab.key)}>Refresh</button>
        <button type="button" className="quiet" onClick={() => open.live(tab.agentId, tab.vmId)}>Console</button>
        <button type="button" className="quiet" onClick={() => sessions.close(tab.key)}>Close</button>
      </header>
      {tab.phase === 'failed' ? <p className="console-banner bad" role="alert">The recordings could not be listed: <Visible text={tab.error ?? ''} max={600} /></p> : null}
      {tab.phase === 'loading' ? <p className="muted">Loading…</p> : null}
      {tab.phase === 'ready' && recordings.length === 0 ? <p className="muted">No console session of this VM was recorded.</p> : null}
      {recordings.length > 0 ? (
        <table className="files recordings-table" data-testid="recordings">
          <thead>
            <tr><th scope="col">Started</th><th scope="col">Ended</th><th scope="col">By</th><th scope="col">Size</th><th scope="col">SHA-256</th><th scope="col"><span className="sr-only">Replay</span></th></tr>
          </thead>
          <tbody>
            {recordings.map((r) => (
              <tr key={r.recordingId} data-testid="recording" data-recording={r.recordingId}>
                <td className="mono">{utcTimestamp(Date.parse(r.startedAt))}</td>
                <td className="mono">{r.endedAt !== undefined ? utcTimestamp(Date.parse(r.endedAt)) : 'still open'}</td>
                <td><Visible text={r.actor.name} max={64} /></td>
                <td>{formatBytes(r.bytes)}</td>
                <td className="mono hash">{r.sha256 ?? '—'}</td>
                <td><button type="button" className="quiet" onClick={() => open.replay(r.recordingId, r.agentId, r.vmId)} data-testid="recording-replay">Replay</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
