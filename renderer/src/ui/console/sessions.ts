// The consoles of this page: one tab per console (a live session, a recording's replay, a VM's list of recordings),
// what each shows (zustand, for React), and what moves beneath it, outside React: each live session's terminal, its
// flow control (flow.ts) and its typing (input.ts). Console output comes by its own path (Cockpit.onConsole, beside
// the event feed) and is routed here by session id; output that arrives before console.open answered (main may push
// first) waits, briefly and bounded, for its session. Several consoles on several agents run at once.
//
// DOM-free at the type level (a screen is anything that can be attached, written and fitted), so the orchestration is
// tested in Node; ConsoleProvider.tsx gives it xterm (terminal.ts), loaded when the first console opens.
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { CockpitApi } from '../../../../protocol/cockpit-api.ts';
import type { ConsoleRecordingInfo, ConsoleSession } from '../../../../protocol/index.ts';
import type { ConsoleFeed } from '../../store/console-feed.ts';
import type { Timers } from '../../store/timers.ts';
import { clip, visible } from '../../text/visible.ts';
import { CastPlayer, parseCast, type Cast, type PlayerState } from './asciicast.ts';
import { ConsoleFlow, FLOW_DEFAULTS, type FlowOptions, type FlowStats } from './flow.ts';
import { clipboardSentence, TITLE_KEEP, type ClipboardAttempt, type LinkVerdict } from './guard.ts';
import { ConsoleInput } from './input.ts';

export type RendererKind = 'webgl' | 'dom';

/** What a terminal does for a session (terminal.ts's ConsoleTerminal, or a test's fake). */
export interface Screen<C = unknown> {
  attach(container: C): void;
  fit(): boolean;
  resize(cols: number, rows: number): void;
  write(data: Uint8Array | string, drawn?: () => void): void;
  setReadOnly(on: boolean): void;
  focus(): void;
  find(text: string, backwards: boolean): boolean;
  serialize(): Promise<string>;
  dispose(): void;
  readonly cols: number;
  readonly rows: number;
  readonly renderer: RendererKind | null;
}

export interface ScreenEvents {
  input(data: string): void;
  title(raw: string): void;
  clipboard(attempt: ClipboardAttempt): void;
  palette(): void;
  link(uri: string, verdict: LinkVerdict): void;
  hover(uri: string | null): void;
  renderer(kind: RendererKind, note: string | null): void;
  resize(cols: number, rows: number): void;
}

export type ScreenFactory<C = unknown> = (options: { readOnly: boolean; size?: { cols: number; rows: number }; events: ScreenEvents }) => Screen<C>;

export type TabPhase = 'opening' | 'open' | 'closed' | 'failed' | 'loading' | 'ready';

export interface Notice {
  text: string;
  count: number;
}

/** A link the guest offered and the responder clicked, that passed the allowlist: waiting for their confirmation. */
export interface LinkAsk {
  href: string;
  host: string;
}

export interface ConsoleTab {
  key: string;
  kind: 'live' | 'replay' | 'recordings';
  agentId: string;
  vmId: string;
  /** "web-1 @ hv-01", from the inventory when it opened (guest- and agent-chosen text: drawn as text). */
  label: string;
  phase: TabPhase;
  session: ConsoleSession | null;
  readOnly: boolean;
  /** Why it is read-only (main's words). */
  reason: string | null;
  closedReason: string | null;
  error: string | null;
  /** The guest's window title, raw (clipped to TITLE_KEEP): drawn as text, control characters visible. */
  title: string | null;
  renderer: RendererKind | null;
  rendererNote: string | null;
  /** What was refused (clipboard, palette, links), newest last, each with how often. */
  notices: Notice[];
  hover: string | null;
  linkAsk: LinkAsk | null;
  /** Output bytes dropped because main sent past its window. */
  dropped: number;
  recordingId?: string;
  recordings?: ConsoleRecordingInfo[];
  player?: PlayerState;
  cast?: { duration: number; width: number; height: number; title?: string; skipped: number };
}

export interface ConsolesState {
  tabs: ConsoleTab[];
  /** The tab shown when the consoles are. */
  active: string | null;
}

export interface ConsoleDeps<C = unknown> {
  call: CockpitApi['call'];
  onConsole(listener: (feed: ConsoleFeed) => void): () => void;
  loadScreens(): Promise<ScreenFactory<C>>;
  timers: Timers;
  flow?: FlowOptions;
}

/** How long, and how much, output for a session not known yet is kept. */
const PENDING_MS = 10_000;
const PENDING_BYTES = 2 * 1024 * 1024;
const MAX_NOTICES = 6;
/** A console.open without a pane to fit waits this long, then opens at 80×24. */
const ATTACH_WAIT_MS = 1500;
const RESIZE_DEBOUNCE_MS = 120;

interface Runtime<C> {
  screen: Screen<C> | null;
  container: C | null;
  attached: (() => void) | null;
  flow: ConsoleFlow | null;
  input: ConsoleInput | null;
  sessionId: string | null;
  player: CastPlayer | null;
  resizeTimer: unknown;
  /** A replay's output handed to the terminal and not yet parsed. */
  replayUnparsed: number;
  gone: boolean;
}

interface Pending {
  feeds: ConsoleFeed[];
  bytes: number;
  since: number;
}

export class ConsoleSessions<C = unknown> {
  readonly store: StoreApi<ConsolesState> = createStore<ConsolesState>()(() => ({ tabs: [], active: null }));
  private readonly runtimes = new Map<string, Runtime<C>>();
  private readonly bySession = new Map<string, string>();
  private readonly pending = new Map<string, Pending>();
  private pendingBytes = 0;
  private nextKey = 1;
  private screens: Promise<ScreenFactory<C>> | null = null;
  private readonly offFeed: () => void;
  /** Sessions dropped with the link: main is asked to close them once it is back. */
  private readonly orphans = new Set<string>();

  constructor(private readonly deps: ConsoleDeps<C>) {
    this.offFeed = deps.onConsole((feed) => this.route(feed));
  }

  dispose(): void {
    this.offFeed();
    for (const key of [...this.runtimes.keys()]) this.close(key);
  }

  tab(key: string): ConsoleTab | undefined {
    return this.store.getState().tabs.find((t) => t.key === key);
  }

  activate(key: string): void {
    if (this.tab(key) !== undefined && this.store.getState().active !== key) this.store.setState({ active: key });
  }

  /** The next tab after the active one (Alt+4 again), or the active one. */
  cycle(): string | null {
    const { tabs, active } = this.store.getState();
    if (tabs.length === 0) return null;
    const at = tabs.findIndex((t) => t.key === active);
    const next = at < 0 ? tabs[0]! : tabs[(at + 1) % tabs.length]!;
    this.activate(next.key);
    return next.key;
  }

  // ── live consoles ────────────────────────────────────────────────────────────────────────────────────────

  /** Opens a console on the VM, or shows the one already open on it. */
  openLive(agentId: string, vmId: string, label: string): string {
    const existing = this.store.getState().tabs.find((t) => t.kind === 'live' && t.agentId === agentId && t.vmId === vmId && (t.phase === 'opening' || t.phase === 'open'));
    if (existing !== undefined) {
      this.activate(existing.key);
      return existing.key;
    }
    const key = this.addTab('live', agentId, vmId, label, 'opening', { readOnly: true });
    void this.startLive(key, agentId, vmId);
    return key;
  }

  private async startLive(key: string, agentId: string, vmId: string): Promise<void> {
    const rt = this.runtimes.get(key)!;
    let screen: Screen<C>;
    try {
      screen = await this.makeScreen(key, { readOnly: true });
    } catch (err) {
      this.update(key, { phase: 'failed', error: `The terminal could not start: ${message(err)}` });
      return;
    }
    if (rt.gone) return;
    await this.attachedOrTimeout(rt);
    if (rt.gone) return;
    let session: ConsoleSession;
    try {
      session = await this.deps.call('console.open', { agentId, vmId, cols: screen.cols, rows: screen.rows });
    } catch (err) {
      this.update(key, { phase: 'failed', error: message(err) });
      return;
    }
    if (rt.gone) {
      // Closed while it was opening: tell main at once.
      this.deps.call('console.close', { sessionId: session.sessionId }).catch(() => {});
      return;
    }
    const sessionId = session.sessionId;
    rt.sessionId = sessionId;
    this.bySession.set(sessionId, key);
    rt.flow = new ConsoleFlow({
      write: (bytes, drawn) => screen.write(bytes, drawn),
      ack: (bytes) => {
        this.deps.call('console.ack', { sessionId, bytes }).catch(() => {
          // The session ended or the link dropped: the closing says so.
        });
      },
    }, this.deps.timers, this.deps.flow);
    if (!session.readOnly) {
      rt.input = new ConsoleInput(
        (data) => this.deps.call('console.input', { sessionId, data }),
        (err) => this.notice(key, `What you typed was refused: ${clip(message(err), 200)}`),
      );
    }
    screen.setReadOnly(session.readOnly);
    this.update(key, { phase: 'open', session, readOnly: session.readOnly, reason: session.reason ?? null });
    // The size may have changed while the call was out.
    if (screen.cols !== 0) this.scheduleResize(key);
    const waiting = this.pending.get(sessionId);
    if (waiting !== undefined) {
      this.pending.delete(sessionId);
      this.pendingBytes -= waiting.bytes;
      for (const feed of waiting.feeds) this.route(feed);
    }
  }

  /** What the responder typed: to main, unless read-only or closed. */
  private typed(key: string, data: string): void {
    const t = this.tab(key);
    const rt = this.runtimes.get(key);
    if (t === undefined || rt === undefined || t.phase !== 'open' || t.readOnly) return;
    rt.input?.type(data);
  }

  private route(feed: ConsoleFeed): void {
    const key = this.bySession.get(feed.sessionId);
    const rt = key === undefined ? undefined : this.runtimes.get(key);
    if (key === undefined || rt === undefined || rt.flow === null) {
      this.hold(feed);
      return;
    }
    if (feed.type === 'output') {
      const before = rt.flow.stats().dropped;
      rt.flow.receive(feed.bytes);
      const dropped = rt.flow.stats().dropped;
      if (dropped !== before) this.update(key, { dropped });
      return;
    }
    rt.flow.stopAcks();
    rt.input?.close();
    rt.input = null;
    rt.screen?.setReadOnly(true);
    this.update(key, { phase: 'closed', closedReason: feed.reason });
  }

  private hold(feed: ConsoleFeed): void {
    const now = this.deps.timers.now();
    for (const [id, p] of this.pending) {
      if (now - p.since > PENDING_MS) {
        this.pending.delete(id);
        this.pendingBytes -= p.bytes;
      }
    }
    const size = feed.type === 'output' ? feed.bytes.length : 0;
    if (this.pendingBytes + size > PENDING_BYTES) return; // no session here will claim this much: another page's
    let p = this.pending.get(feed.sessionId);
    if (p === undefined) {
      p = { feeds: [], bytes: 0, since: now };
      this.pending.set(feed.sessionId, p);
    }
    p.feeds.push(feed);
    p.bytes += size;
    this.pendingBytes += size;
  }

  private scheduleResize(key: string): void {
    const rt = this.runtimes.get(key);
    if (rt === undefined) return;
    if (rt.resizeTimer !== null) this.deps.timers.clearTimeout(rt.resizeTimer);
    rt.resizeTimer = this.deps.timers.setTimeout(() => {
      rt.resizeTimer = null;
      const t = this.tab(key);
      if (t?.kind !== 'live' || t.phase !== 'open' || rt.sessionId === null || rt.screen === null) return;
      this.deps.call('console.resize', { sessionId: rt.sessionId, cols: rt.screen.cols, rows: rt.screen.rows }).catch(() => {});
    }, RESIZE_DEBOUNCE_MS);
  }

  /** The link to the cockpit dropped: a live session's output and acks are lost with it, so it is over here. */
  linkLost(): void {
    for (const t of this.store.getState().tabs) {
      if (t.kind !== 'live' || (t.phase !== 'open' && t.phase !== 'opening')) continue;
      const rt = this.runtimes.get(t.key);
      if (rt === undefined) continue;
      rt.flow?.stopAcks();
      rt.input?.close();
      rt.input = null;
      rt.screen?.setReadOnly(true);
      if (rt.sessionId !== null) {
        this.bySession.delete(rt.sessionId);
        this.orphans.add(rt.sessionId);
      }
      this.update(t.key, { phase: 'closed', closedReason: 'The link to the cockpit dropped, and this console with it. Its output up to then is kept here; open the console again to go on.' });
    }
  }

  linkBack(): void {
    for (const id of this.orphans) this.deps.call('console.close', { sessionId: id }).catch(() => {});
    this.orphans.clear();
  }

  /** The page is going away (reload, window closed): main is asked to close its open sessions, best effort (main
   *  does not tie a session to the page that opened it, so one left open would stay paused until the cockpit stops). */
  pageGone(): void {
    for (const [key, rt] of this.runtimes) {
      if (rt.sessionId !== null && this.tab(key)?.phase === 'open') this.deps.call('console.close', { sessionId: rt.sessionId }).catch(() => {});
    }
  }

  // ── recordings ───────────────────────────────────────────────────────────────────────────────────────────

  /** Lists the VM's recorded sessions in a tab of their own. */
  openRecordings(agentId: string, vmId: string, label: string): string {
    const existing = this.store.getState().tabs.find((t) => t.kind === 'recordings' && t.agentId === agentId && t.vmId === vmId);
    if (existing !== undefined) {
      this.activate(existing.key);
      this.refreshRecordings(existing.key);
      return existing.key;
    }
    const key = this.addTab('recordings', agentId, vmId, label, 'loading', {});
    this.refreshRecordings(key);
    return key;
  }

  refreshRecordings(key: string): void {
    const t = this.tab(key);
    if (t === undefined || t.kind !== 'recordings') return;
    this.update(key, { phase: 'loading', error: null });
    this.deps.call('console.recordings', { agentId: t.agentId, vmId: t.vmId }).then(
      (r) => this.update(key, { phase: 'ready', recordings: r.recordings }),
      (err: unknown) => this.update(key, { phase: 'failed', error: message(err) }),
    );
  }

  /** Replays a recording, read-only, in a tab of its own. */
  openReplay(recordingId: string, agentId: string, vmId: string, label: string): string {
    const existing = this.store.getState().tabs.find((t) => t.kind === 'replay' && t.recordingId === recordingId);
    if (existing !== undefined) {
      this.activate(existing.key);
      return existing.key;
    }
    const key = this.addTab('replay', agentId, vmId, label, 'loading', { recordingId, readOnly: true, reason: 'A recording: it replays what the guest printed, and takes no keystrokes.' });
    void this.startReplay(key, recordingId);
    return key;
  }

  private async startReplay(key: string, recordingId: string): Promise<void> {
    const rt = this.runtimes.get(key)!;
    let cast: Cast;
    try {
      const rec = await this.deps.call('console.recording', { recordingId });
      const parsed = parseCast(rec.cast);
      if (!parsed.ok) throw new Error(parsed.error);
      cast = parsed.cast;
    } catch (err) {
      this.update(key, { phase: 'failed', error: message(err) });
      return;
    }
    if (rt.gone) return;
    let screen: Screen<C>;
    try {
      screen = await this.makeScreen(key, { readOnly: true, size: { cols: cast.width, rows: cast.height } });
    } catch (err) {
      this.update(key, { phase: 'failed', error: `The terminal could not start: ${message(err)}` });
      return;
    }
    if (rt.gone) return;
    const castInfo: ConsoleTab['cast'] = { duration: cast.duration, width: cast.width, height: cast.height, skipped: cast.skipped };
    if (cast.title !== undefined) castInfo.title = clip(cast.title, TITLE_KEEP);
    let lastDrawn = 0;
    rt.player = new CastPlayer(cast, {
      output: (data) => {
        rt.replayUnparsed += data.length;
        screen.write(data, () => {
          rt.replayUnparsed -= data.length;
        });
      },
      resize: (cols, rows) => screen.resize(cols, rows),
      ready: () => rt.replayUnparsed < (this.deps.flow?.highWater ?? FLOW_DEFAULTS.highWater),
    }, this.deps.timers, (state) => {
      // The position moves every step: drawn at most four times a second, the rest at once.
      const now = this.deps.timers.now();
      const prev = this.tab(key)?.player;
      if (prev !== undefined && prev.phase === state.phase && prev.speed === state.speed && now - lastDrawn < 250) return;
      lastDrawn = now;
      this.update(key, { player: state });
    });
    this.update(key, { phase: 'ready', cast: castInfo, player: rt.player.state() });
    rt.player.play();
  }

  player(key: string): CastPlayer | null {
    return this.runtimes.get(key)?.player ?? null;
  }

  // ── every tab ─────────────────────────────────────────────────────────────────────────────────────────────

  /** The pane shows the tab's terminal in `container`. */
  attach(key: string, container: C): void {
    const rt = this.runtimes.get(key);
    if (rt === undefined) return;
    rt.container = container;
    if (rt.screen !== null) {
      rt.screen.attach(container);
      const done = rt.attached;
      rt.attached = null;
      done?.();
    }
  }

  /** The pane changed size (or was shown). */
  fit(key: string): void {
    this.runtimes.get(key)?.screen?.fit();
  }

  focus(key: string): void {
    this.runtimes.get(key)?.screen?.focus();
  }

  find(key: string, text: string, backwards = false): boolean {
    return this.runtimes.get(key)?.screen?.find(text, backwards) ?? false;
  }

  /** The tab's screen as VT text (tests, and a responder who wants the screen as text). */
  async serialize(key: string): Promise<string | null> {
    return (await this.runtimes.get(key)?.screen?.serialize()) ?? null;
  }

  flowStats(key: string): FlowStats | null {
    return this.runtimes.get(key)?.flow?.stats() ?? null;
  }

  /** The responder answered the link confirmation (the pane opens it, if they said so). */
  settleLink(key: string): void {
    this.update(key, { linkAsk: null });
  }

  /** Closes the tab; a live session is closed on main too. */
  close(key: string): void {
    const rt = this.runtimes.get(key);
    const t = this.tab(key);
    if (rt !== undefined) {
      rt.gone = true;
      rt.input?.close();
      rt.flow?.dispose();
      rt.player?.dispose();
      if (rt.resizeTimer !== null) this.deps.timers.clearTimeout(rt.resizeTimer);
      if (rt.sessionId !== null) {
        this.bySession.delete(rt.sessionId);
        if (t?.phase === 'open') this.deps.call('console.close', { sessionId: rt.sessionId }).catch(() => {});
      }
      rt.screen?.dispose();
      rt.attached?.();
      this.runtimes.delete(key);
    }
    const { tabs, active } = this.store.getState();
    const at = tabs.findIndex((x) => x.key === key);
    if (at < 0) return;
    const rest = tabs.filter((x) => x.key !== key);
    const nextActive = active !== key ? active : (rest[Math.min(at, rest.length - 1)]?.key ?? null);
    this.store.setState({ tabs: rest, active: nextActive });
  }

  // ── inside ────────────────────────────────────────────────────────────────────────────────────────────────

  private addTab(kind: ConsoleTab['kind'], agentId: string, vmId: string, label: string, phase: TabPhase, extra: Partial<ConsoleTab>): string {
    const key = `${kind}-${this.nextKey++}`;
    const tab: ConsoleTab = {
      key, kind, agentId, vmId, label, phase, session: null, readOnly: false, reason: null, closedReason: null, error: null, title: null,
      renderer: null, rendererNote: null, notices: [], hover: null, linkAsk: null, dropped: 0, ...extra,
    };
    this.runtimes.set(key, { screen: null, container: null, attached: null, flow: null, input: null, sessionId: null, player: null, resizeTimer: null, replayUnparsed: 0, gone: false });
    this.store.setState((s) => ({ tabs: [...s.tabs, tab], active: key }));
    return key;
  }

  private async makeScreen(key: string, options: { readOnly: boolean; size?: { cols: number; rows: number } }): Promise<Screen<C>> {
    this.screens ??= this.deps.loadScreens();
    const create = await this.screens;
    const rt = this.runtimes.get(key);
    if (rt === undefined || rt.gone) throw new Error('The console was closed.');
    const screen = create({
      ...options,
      events: {
        input: (data) => this.typed(key, data),
        title: (raw) => this.update(key, { title: clip(raw, TITLE_KEEP) }),
        clipboard: (attempt) => this.notice(key, clipboardSentence(attempt)),
        palette: () => this.notice(key, 'The guest tried to change the terminal\'s colours (OSC 4/10/11/12): refused, so no text can be hidden in the background colour.'),
        link: (uri, verdict) => {
          if (verdict.ok) this.update(key, { linkAsk: { href: verdict.href, host: verdict.host } });
          else this.notice(key, `A link was refused: ${verdict.why} (${visible(clip(uri, 120))})`);
        },
        hover: (uri) => this.update(key, { hover: uri === null ? null : clip(uri, 2048) }),
        renderer: (kind, note) => this.update(key, { renderer: kind, rendererNote: note }),
        resize: () => this.scheduleResize(key),
      },
    });
    rt.screen = screen;
    if (rt.container !== null) {
      screen.attach(rt.container);
      const done = rt.attached;
      rt.attached = null;
      done?.();
    }
    return screen;
  }

  private attachedOrTimeout(rt: Runtime<C>): Promise<void> {
    if (rt.container !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = this.deps.timers.setTimeout(() => {
        rt.attached = null;
        resolve();
      }, ATTACH_WAIT_MS);
      rt.attached = () => {
        this.deps.timers.clearTimeout(timer);
        resolve();
      };
    });
  }

  private notice(key: string, text: string): void {
    const t = this.tab(key);
    if (t === undefined) return;
    const notices = t.notices.filter((n) => n.text !== text);
    const same = t.notices.find((n) => n.text === text);
    notices.push({ text, count: (same?.count ?? 0) + 1 });
    this.update(key, { notices: notices.slice(-MAX_NOTICES) });
  }

  private update(key: string, patch: Partial<ConsoleTab>): void {
    this.store.setState((s) => {
      const at = s.tabs.findIndex((t) => t.key === key);
      if (at < 0) return s;
      const tabs = s.tabs.slice();
      tabs[at] = { ...tabs[at]!, ...patch };
      return { tabs };
    });
  }
}

function message(err: unknown): string {
  return (err as Error)?.message ?? String(err);
}
