// The consoles the views have open: each a stream on an agent's link, recorded from its first byte, its output
// pushed to the views in small batches, and flow-controlled end to end — the renderer acknowledges what its terminal
// has drawn (console.ack); while more than HIGH_WATER bytes are pushed and not yet drawn, the agent is asked to pause
// (it stops reading the guest's console), and to resume below LOW_WATER. A guest that floods cannot grow memory here
// or freeze a view.
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { Actor, CockpitConsoleOpen, CockpitPush, ConsoleSession } from '../../protocol/index.ts';
import type { FleetHub } from '../fleet/hub.ts';
import type { AgentLink } from '../fleet/agent-link.ts';
import { AsciicastRecorder, listRecordings, readRecording, type RecordingMeta } from './recording.ts';

/**
 * Pushed and not yet drawn, per session: above HIGH the agent pauses, below LOW it resumes. Small enough that a
 * keystroke typed during a flood is drawn soon (the echo waits behind what is held), large enough to keep the
 * terminal busy between two acknowledgements.
 */
export const HIGH_WATER = 512 * 1024;
export const LOW_WATER = 128 * 1024;
/**
 * Output is pushed at most this often per session (a frame), or at once above FLUSH_BYTES; the first bytes after a
 * quiet spell (a keystroke's echo) go at once.
 */
const FLUSH_MS = 16;
const FLUSH_BYTES = 256 * 1024;
/** Sessions open at once in this cockpit. */
const MAX_SESSIONS = 64;

export class ConsoleError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

export interface ConsoleRecorder {
  opened(session: ConsoleSession, actor: Actor): void;
  closed(session: ConsoleSession, actor: Actor, recording: RecordingMeta, reason: string): void;
}

interface Session {
  info: ConsoleSession;
  /** The view (a browser-shell socket, an Electron page) that opened it: its sessions close when it goes. */
  owner: object | undefined;
  actor: Actor;
  link: AgentLink;
  stream: number;
  recorder: AsciicastRecorder;
  pending: Buffer[];
  pendingBytes: number;
  timer: NodeJS.Timeout | undefined;
  pushed: number;
  acked: number;
  paused: boolean;
  lastFlush: number;
}

export interface ConsoleHubEvents {
  push: [push: CockpitPush];
}

export class ConsoleHub extends EventEmitter<ConsoleHubEvents> {
  private readonly sessions = new Map<string, Session>();
  private readonly watched = new WeakSet<AgentLink>();

  constructor(private readonly hub: FleetHub, private readonly recordingsDir: string, private readonly record?: ConsoleRecorder) {
    super();
  }

  async open(p: CockpitConsoleOpen, actor: Actor, owner?: object): Promise<ConsoleSession> {
    if (this.sessions.size >= MAX_SESSIONS) throw new ConsoleError('busy', `${MAX_SESSIONS} consoles are open in this cockpit; close one first.`);
    const link = this.hub.linkOf(p.agentId);
    if (!link) throw new ConsoleError('unknown_agent', `No agent "${p.agentId}" is configured in this cockpit.`);
    this.watch(link);
    const opened = await link.openConsole({ vmId: p.vmId, cols: p.cols, rows: p.rows, ...(p.readOnly ? { readOnly: true } : {}), actor });
    const sessionId = `con-${randomUUID()}`;
    const info: ConsoleSession = {
      sessionId, agentId: p.agentId, vmId: p.vmId, readOnly: opened.readOnly, kind: opened.kind ?? 'serial',
      recordingId: sessionId, openedAt: new Date().toISOString(), ...(opened.reason ? { reason: opened.reason } : {}),
    };
    let recorder: AsciicastRecorder;
    try {
      const vmName = this.hub.vmName(p.agentId, p.vmId);
      recorder = new AsciicastRecorder(this.recordingsDir, {
        recordingId: sessionId, agentId: p.agentId, vmId: p.vmId, actor, startedAt: info.openedAt, readOnly: opened.readOnly, ...(vmName ? { vmName } : {}),
      }, p);
    } catch (err) {
      // Not recorded, not opened: a console nobody could account for afterwards is not kept.
      link.consoleControl({ type: 'console.close', stream: opened.stream });
      throw new ConsoleError('not_recorded', `The console could not be recorded (${(err as Error).message}), so it was closed.`);
    }
    const session: Session = { info, owner, actor, link, stream: opened.stream, recorder, pending: [], pendingBytes: 0, timer: undefined, pushed: 0, acked: 0, paused: false, lastFlush: 0 };
    this.sessions.set(sessionId, session);
    this.record?.opened(info, actor);
    // The agent's backlog (recent output) arrives right behind its answer: the first bytes of the session.
    for (const bytes of opened.early) this.output(session, bytes);
    return info;
  }

  input(sessionId: string, data: string): void {
    const s = this.sessionOf(sessionId);
    if (s.info.readOnly) throw new ConsoleError('read_only', `This console is read-only${s.info.reason ? `: ${s.info.reason}` : '.'}`);
    this.flush(s); // the recording keeps output and input in the order they happened
    s.recorder.input(data);
    if (!s.link.consoleInput(s.stream, Buffer.from(data, 'utf8'))) throw new ConsoleError('closed', 'This console has closed; open it again.');
  }

  resize(sessionId: string, cols: number, rows: number): void {
    const s = this.sessionOf(sessionId);
    this.flush(s);
    s.recorder.resize(cols, rows);
    s.link.consoleControl({ type: 'console.resize', stream: s.stream, cols, rows });
  }

  ack(sessionId: string, bytes: number): void {
    const s = this.sessions.get(sessionId);
    if (!s) return; // an acknowledgement racing the close
    s.acked = Math.min(s.pushed, s.acked + bytes);
    this.flow(s);
  }

  close(sessionId: string, reason = 'Closed by the responder.'): void {
    const s = this.sessions.get(sessionId);
    if (!s) return;
    s.link.consoleControl({ type: 'console.close', stream: s.stream });
    this.end(s, reason);
  }

  recordings(filter: { agentId?: string; vmId?: string }): RecordingMeta[] {
    return listRecordings(this.recordingsDir, filter);
  }

  recording(recordingId: string): string {
    try {
      return readRecording(this.recordingsDir, recordingId);
    } catch {
      throw new ConsoleError('unknown_recording', `There is no recording "${recordingId.slice(0, 128)}".`);
    }
  }

  /** Closes the sessions a view opened, when it goes (closed, reloaded): none is left paused with nobody to draw it. */
  closeOwnedBy(owner: object, reason: string): void {
    for (const s of [...this.sessions.values()]) if (s.owner === owner) this.close(s.info.sessionId, reason);
  }

  /** Closes every session (the cockpit is stopping): each recording is synced and journaled. */
  closeAll(reason: string): void {
    for (const s of [...this.sessions.values()]) this.close(s.info.sessionId, reason);
  }

  /** Bytes pushed and not yet acknowledged, and whether the agent is paused: for tests and the bench. */
  flowOf(sessionId: string): { unacked: number; paused: boolean } | undefined {
    const s = this.sessions.get(sessionId);
    return s ? { unacked: s.pushed - s.acked + s.pendingBytes, paused: s.paused } : undefined;
  }

  private sessionOf(sessionId: string): Session {
    const s = this.sessions.get(sessionId);
    if (!s) throw new ConsoleError('unknown_session', 'This console is not open (it closed, or the cockpit restarted); open it again.');
    return s;
  }

  private watch(link: AgentLink): void {
    if (this.watched.has(link)) return;
    this.watched.add(link);
    link.on('console.data', (stream, bytes) => {
      const s = this.byStream(link, stream);
      if (s) this.output(s, bytes);
    });
    link.on('console.closed', (stream, reason) => {
      const s = this.byStream(link, stream);
      if (s) this.end(s, reason);
    });
  }

  private output(s: Session, bytes: Buffer): void {
    s.pending.push(bytes);
    s.pendingBytes += bytes.byteLength;
    // A keystroke's echo after a quiet spell goes at once; a stream of output is batched per frame.
    if (s.pendingBytes >= FLUSH_BYTES || (s.timer === undefined && performance.now() - s.lastFlush >= FLUSH_MS)) this.flush(s);
    else s.timer ??= setTimeout(() => this.flush(s), FLUSH_MS);
    this.flow(s);
  }

  private byStream(link: AgentLink, stream: number): Session | undefined {
    for (const s of this.sessions.values()) if (s.link === link && s.stream === stream) return s;
    return undefined;
  }

  private flush(s: Session): void {
    clearTimeout(s.timer);
    s.timer = undefined;
    if (s.pendingBytes === 0) return;
    const data = s.pending.length === 1 ? s.pending[0]! : Buffer.concat(s.pending);
    s.pending = [];
    s.lastFlush = performance.now();
    // Recorded once per push (not once per read from the agent): one line per frame of output in the cast.
    s.recorder.output(data);
    s.pushed += s.pendingBytes;
    s.pendingBytes = 0;
    this.emit('push', { type: 'console', sessionId: s.info.sessionId, data: data.toString('base64') });
  }

  private flow(s: Session): void {
    const unacked = s.pushed - s.acked + s.pendingBytes;
    if (!s.paused && unacked > HIGH_WATER) {
      s.paused = s.link.consoleControl({ type: 'console.pause', stream: s.stream });
    } else if (s.paused && unacked < LOW_WATER) {
      s.link.consoleControl({ type: 'console.resume', stream: s.stream });
      s.paused = false;
    }
  }

  private end(s: Session, reason: string): void {
    if (!this.sessions.delete(s.info.sessionId)) return;
    this.flush(s);
    const meta = s.recorder.close();
    this.record?.closed(s.info, s.actor, meta, reason);
    this.emit('push', { type: 'console.closed', sessionId: s.info.sessionId, reason: reason.slice(0, 512) });
  }
}
