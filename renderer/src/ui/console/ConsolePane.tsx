// One console's pane: what it is (VM, agent, serial or the simulation's shell, which renderer draws it), why it is
// read-only or closed, what the guest tried and was refused, a search box, a replay's controls, and the terminal.
// Every string from the guest, the agent or main is drawn as React text (Visible), never as markup.
import { useEffect, useId, useRef, useState, type KeyboardEvent } from 'react';
import { formatBytes } from '../../text/format.ts';
import { Visible } from '../Visible.tsx';
import { SPEEDS } from './asciicast.ts';
import { useConsoles, useOpenConsole } from './ConsoleProvider.tsx';
import { LinkConfirm } from './LinkConfirm.tsx';
import type { ConsoleTab } from './sessions.ts';

export function ConsolePane({ tab, visible }: { tab: ConsoleTab; visible: boolean }) {
  const sessions = useConsoles();
  const open = useOpenConsole();
  const screenRef = useRef<HTMLDivElement>(null);
  const { key } = tab;
  const headId = useId();

  useEffect(() => {
    const el = screenRef.current;
    if (el === null) return;
    sessions.attach(key, el);
    const ro = new ResizeObserver(() => sessions.fit(key));
    ro.observe(el);
    return () => ro.disconnect();
  }, [sessions, key]);

  // Shown (or its terminal just started): fit it to the pane and put the keyboard in it.
  const started = tab.renderer !== null;
  useEffect(() => {
    if (!visible || !started) return;
    sessions.fit(key);
    sessions.focus(key);
  }, [sessions, key, visible, started]);

  const live = tab.kind === 'live';
  return (
    <section
      className="console-pane"
      hidden={!visible}
      aria-labelledby={headId}
      data-testid="console-pane"
      data-key={key}
      data-kind={tab.kind}
      data-phase={tab.phase}
      data-renderer={tab.renderer ?? ''}
      data-read-only={tab.readOnly ? 'true' : 'false'}
      data-session={tab.session?.sessionId ?? ''}
      data-agent={tab.agentId}
      data-vm={tab.vmId}
    >
      <header className="console-head">
        <h2 id={headId} className="console-name">
          {live ? 'Console' : 'Replay'} <span className="muted">of</span> <Visible text={tab.label} max={80} />
        </h2>
        <span className="chip console-state" data-testid="console-state">{stateText(tab)}</span>
        {tab.session !== null ? <span className="chip">{tab.session.kind === 'serial' ? 'serial console' : 'simulated shell'}</span> : null}
        {tab.renderer !== null ? (
          <span className="chip" data-testid="console-renderer" title={tab.rendererNote ?? 'Drawn on the GPU'}>
            {tab.renderer === 'webgl' ? 'WebGL' : 'DOM renderer'}
          </span>
        ) : null}
        <FindBox onFind={(text, back) => sessions.find(key, text, back)} />
        <button type="button" className="quiet" onClick={() => open.recordings(tab.agentId, tab.vmId)} title="The recorded console sessions of this VM" data-testid="console-recordings">Recordings</button>
        <button type="button" className="quiet" onClick={() => sessions.close(key)} data-testid="console-close">Close</button>
      </header>
      {tab.title !== null && tab.title !== '' ? (
        <p className="console-title" data-testid="console-title"><span className="muted">Title set by the guest:</span> <Visible text={tab.title} max={200} /></p>
      ) : null}
      <Banner tab={tab} />
      {tab.kind === 'replay' ? <ReplayControls tab={tab} /> : null}
      {tab.notices.length > 0 || tab.dropped > 0 ? (
        <ul className="console-notices" aria-label="Refused by the console" data-testid="console-notices">
          {tab.notices.map((n) => (
            <li key={n.text} data-testid="console-notice"><Visible text={n.text} max={400} />{n.count > 1 ? <span className="muted"> ×{n.count}</span> : null}</li>
          ))}
          {tab.dropped > 0 ? <li data-testid="console-dropped">{formatBytes(tab.dropped)} of output dropped: the cockpit sent more than the terminal could draw.</li> : null}
        </ul>
      ) : null}
      <div className="console-screen" ref={screenRef} data-testid="console-screen" />
      <p className="console-hover" aria-live="polite" data-testid="console-hover">
        {tab.hover !== null ? <><span className="muted">Link:</span> <Visible text={tab.hover} max={300} /> <span className="muted">(click to see it whole before opening)</span></> : null}
      </p>
      {tab.linkAsk !== null ? <LinkConfirm ask={tab.linkAsk} onDone={() => sessions.settleLink(key)} /> : null}
    </section>
  );
}

function stateText(tab: ConsoleTab): string {
  switch (tab.phase) {
    case 'opening': return 'opening…';
    case 'open': return tab.readOnly ? 'open, read-only' : 'open';
    case 'closed': return 'closed';
    case 'failed': return 'failed';
    case 'loading': return 'loading…';
    case 'ready': return tab.player?.phase === 'ended' ? 'replayed' : tab.player?.phase === 'playing' ? 'playing' : 'paused';
  }
}

function Banner({ tab }: { tab: ConsoleTab }) {
  if (tab.phase === 'failed') {
    return <p className="console-banner bad" role="alert" data-testid="console-banner" data-why="failed">{tab.kind === 'live' ? 'The console could not open' : 'The recording could not be replayed'}: <Visible text={tab.error ?? 'no reason given.'} max={600} /></p>;
  }
  if (tab.phase === 'closed') {
    return (
      <p className="console-banner" role="status" data-testid="console-banner" data-why="closed">
        Closed: <Visible text={tab.closedReason ?? 'no reason given.'} max={600} /> <span className="muted">What it printed is kept below.</span>
      </p>
    );
  }
  if (tab.kind === 'live' && tab.phase === 'open' && tab.readOnly) {
    return (
      <p className="console-banner warn" role="note" data-testid="console-banner" data-why="read-only">
        Read-only: <Visible text={tab.reason ?? 'the cockpit opened this console read-only.'} max={600} /> <span className="muted">Keystrokes are not sent.</span>
      </p>
    );
  }
  return null;
}

function ReplayControls({ tab }: { tab: ConsoleTab }) {
  const sessions = useConsoles();
  const player = tab.player;
  const cast = tab.cast;
  if (player === undefined || cast === undefined) return null;
  const p = () => sessions.player(tab.key);
  return (
    <div className="console-replay" data-testid="replay-controls" data-phase={player.phase}>
      <button type="button" className="quiet" disabled={player.phase === 'ended'} onClick={() => (player.phase === 'playing' ? p()?.pause() : p()?.play())} data-testid="replay-play">
        {player.phase === 'playing' ? 'Pause' : 'Play'}
      </button>
      <label>
        <span className="muted">Speed </span>
        <select value={String(player.speed)} onChange={(e) => p()?.setSpeed(Number(e.currentTarget.value))} data-testid="replay-speed">
          {SPEEDS.map((s) => <option key={s} value={String(s)}>{s}×</option>)}
        </select>
      </label>
      <button type="button" className="quiet" disabled={player.phase === 'ended'} onClick={() => p()?.jumpToEnd()} data-testid="replay-end">Jump to end</button>
      <span className="mono" data-testid="replay-position">{player.position.toFixed(1)} s of {cast.duration.toFixed(1)} s</span>
      <span className="muted">{cast.width}×{cast.height}</span>
      {cast.title !== undefined ? <span className="muted">recorded as <Visible text={cast.title} max={80} /></span> : null}
      {cast.skipped > 0 ? <span className="activity bad">{cast.skipped} unreadable line{cast.skipped === 1 ? '' : 's'} skipped</span> : null}
    </div>
  );
}

function FindBox({ onFind }: { onFind: (text: string, backwards: boolean) => boolean }) {
  const [text, setText] = useState('');
  const [missed, setMissed] = useState(false);
  const onKeyDown = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key !== 'Enter') return;
    e.preventDefault();
    setMissed(text !== '' && !onFind(text, e.shiftKey));
  };
  return (
    <input
      type="search"
      className={missed ? 'console-find missed' : 'console-find'}
      placeholder="Find in scrollback (Enter, Shift+Enter)"
      aria-label="Find in this console's scrollback"
      value={text}
      onChange={(e) => {
        setText(e.currentTarget.value);
        setMissed(false);
        if (e.currentTarget.value === '') onFind('', false);
      }}
      onKeyDown={onKeyDown}
      data-testid="console-find"
    />
  );
}
