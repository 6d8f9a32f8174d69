// The connection status bar: the renderer's own link to the cockpit core, the agents' links summarised
// (connected n/m, gaps), the event rate, how many arrived while paused, and the window.
import type { LinkState } from '../platform/link.ts';
import { formatCount, formatDuration, formatRate } from '../text/format.ts';
import { cellText } from '../text/visible.ts';
import { useCockpit } from './cockpit-context.tsx';
import { useNow } from './use-now.ts';

export function StatusBar() {
  const link = useCockpit((s) => s.link);
  const resyncing = useCockpit((s) => s.resyncing);
  const agents = useCockpit((s) => s.agents);
  const stats = useCockpit((s) => s.stats);
  const following = useCockpit((s) => s.following);
  const newWhilePaused = useCockpit((s) => s.newWhilePaused);
  const windowSize = useCockpit((s) => s.windowSize);
  const snapshotError = useCockpit((s) => s.snapshotError);

  const connected = agents.filter((a) => a.link === 'connected').length;
  const withGaps = agents.filter((a) => a.gaps.length > 0);
  const lost = withGaps.reduce((n, a) => n + a.gaps.reduce((m, g) => m + (g.to - g.from + 1), 0), 0);

  return (
    <footer className="status-bar" aria-label="Connection status" data-testid="status-bar">
      <LinkSummary link={link} resyncing={resyncing} snapshotError={snapshotError} />
      <span className={agents.length > 0 && connected < agents.length ? 'stat warn' : 'stat'} data-testid="status-agents">
        Agents <strong>{connected}/{agents.length}</strong> connected
      </span>
      {withGaps.length > 0 ? (
        <span className="stat warn" data-testid="status-gaps">
          <span aria-hidden="true">⚠</span> gaps on {withGaps.length} agent{withGaps.length === 1 ? '' : 's'} ({formatCount(lost)} events lost)
        </span>
      ) : null}
      <span className="stat" data-testid="status-rate" title="Events applied per second">
        <strong>{formatRate(stats.ratePerSec)}</strong> events
      </span>
      <span className={following ? 'stat' : 'stat paused'} data-testid="status-follow">
        {following ? 'Following' : <>Paused · <strong>+{formatCount(newWhilePaused)}</strong> new</>}
      </span>
      <span className="stat" data-testid="status-window" title="Events held in memory (newest first); older ones stay with the agents">
        Window {formatCount(stats.windowLength)} / {formatCount(windowSize)}
      </span>
      <span className="stat" data-testid="status-total">Received {formatCount(stats.total)}</span>
      {stats.skipped > 0 ? (
        <span className="stat warn" data-testid="status-skipped" title="The cockpit held back events this view could not take in time; they are still with the hub and the agents">
          <span aria-hidden="true">⚠</span> {formatCount(stats.skipped)} events not shown (view fell behind)
        </span>
      ) : null}
      {stats.invalid > 0 ? (
        <span className="stat warn" data-testid="status-invalid" title="Messages that did not follow cordon.v1 were dropped; see the console">
          <span aria-hidden="true">⚠</span> {formatCount(stats.invalid)} malformed dropped
        </span>
      ) : null}
    </footer>
  );
}

function LinkSummary({ link, resyncing, snapshotError }: { link: LinkState; resyncing: boolean; snapshotError: string | null }) {
  const now = useNow(link.phase === 'reconnecting' ? 1000 : null);
  const core = link.platform === 'electron' ? 'Cockpit core' : 'Browser shell';
  let text: string;
  let tone: string;
  switch (link.phase) {
    case 'connected':
      text = snapshotError !== null ? `${core}: connected, snapshot failed — retrying` : resyncing ? `${core}: connected, loading…` : `${core}: connected`;
      tone = snapshotError !== null ? 'link-bad' : resyncing ? 'link-pending' : 'link-up';
      break;
    case 'connecting':
      text = `${core}: connecting…`;
      tone = 'link-pending';
      break;
    case 'reconnecting':
      text = `${core}: link lost — retrying in ${formatDuration(Math.max(0, (link.retryAt ?? now) - now))} (attempt ${link.attempt})`;
      tone = 'link-bad';
      break;
    case 'unauthorized':
      text = `${core}: not authorised`;
      tone = 'link-bad';
      break;
    case 'closed':
      text = `${core}: closed`;
      tone = 'link-down';
      break;
  }
  const detail = snapshotError ?? link.lastError;
  return (
    <span className={`stat link ${tone}`} data-testid="status-link" data-phase={link.phase} title={detail !== null ? cellText(detail, 400) : undefined}>
      <span aria-hidden="true">{link.phase === 'connected' ? '●' : link.phase === 'connecting' ? '◌' : '○'}</span> {text}
    </span>
  );
}
