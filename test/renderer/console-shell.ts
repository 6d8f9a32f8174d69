// A scripted browser shell that also answers the console calls, for the console's tests in Chromium: serves a
// built renderer under the hosts' strict CSP, answers `snapshot` and console.* as the test says, records every call,
// and plays main's side of console flow control (it sends output while fewer than `window` bytes are
// unacknowledged, as main pauses the agent's stream). No hub, no agent: only the renderer is under test.
import { createServer, type Server } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import type { CockpitConsoleRecordings, CockpitPush, CockpitSnapshot, ConsoleSession } from '../../protocol/index.ts';
import { serveRenderer } from './scripted-shell.ts';

export interface ShellCallRecord {
  method: string;
  params: Record<string, unknown>;
}

export interface ConsoleShell {
  readonly url: string;
  readonly calls: ShellCallRecord[];
  snapshot: CockpitSnapshot;
  /** How console.open answers: a session, or an error (code, message). */
  openAnswer: (params: { agentId: string; vmId: string; cols: number; rows: number }) => ConsoleSession | { code: string; message: string };
  /** Sends output to the page before replying to console.open (main may push first). */
  pushBeforeOpenReply: string | null;
  recordings: CockpitConsoleRecordings;
  casts: Map<string, string>;
  /** Bytes sent per session and not yet acknowledged. */
  unacked(sessionId: string): number;
  acked(sessionId: string): number;
  push(push: CockpitPush): void;
  /** Sends raw output bytes as one console push. */
  output(sessionId: string, data: Uint8Array | string): void;
  /** Sends `total` bytes made by `make(i)` in `chunk`-sized pushes; with `window`, only while fewer than that many
   *  are unacknowledged (main's flow control), else as fast as the socket takes them. Resolves when all were sent. */
  stream(sessionId: string, options: { total: number; chunk: number; window?: number; make?: (offset: number, size: number) => Uint8Array; timeoutMs?: number }): Promise<{ sent: number; maxUnacked: number }>;
  close(): Promise<void>;
}

export async function startConsoleShell(rendererDir: string, snapshot: CockpitSnapshot): Promise<ConsoleShell> {
  const sockets = new Set<WebSocket>();
  const calls: ShellCallRecord[] = [];
  const sentBytes = new Map<string, number>();
  const ackedBytes = new Map<string, number>();
  const ackWaiters = new Set<() => void>();
  let sessions = 0;
  const state: Pick<ConsoleShell, 'snapshot' | 'openAnswer' | 'pushBeforeOpenReply' | 'recordings' | 'casts'> = {
    snapshot,
    openAnswer: ({ agentId, vmId }) => ({
      sessionId: `sess-${String(++sessions).padStart(4, '0')}`, agentId, vmId, readOnly: false, kind: 'sim-shell',
      recordingId: `rec-${String(sessions).padStart(4, '0')}`, openedAt: new Date().toISOString(),
    }),
    pushBeforeOpenReply: null,
    recordings: { recordings: [] },
    casts: new Map(),
  };

  const server: Server = createServer((req, res) => {
    serveRenderer(rendererDir, req, res);
  });
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const sendAll = (text: string) => {
    for (const ws of sockets) if (ws.readyState === ws.OPEN) ws.send(text);
  };
  const push = (p: CockpitPush) => sendAll(JSON.stringify({ type: 'push', push: p }));
  const output = (sessionId: string, data: Uint8Array | string) => {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    sentBytes.set(sessionId, (sentBytes.get(sessionId) ?? 0) + bytes.length);
    push({ type: 'console', sessionId, data: bytes.toString('base64') });
  };

  server.on('upgrade', (req, socket, head) => {
    if (new URL(req.url ?? '/', 'http://x').pathname !== '/api') {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
      ws.on('message', (data) => {
        const msg = JSON.parse(String(data)) as { id: number; method: string; params: Record<string, unknown> };
        calls.push({ method: msg.method, params: msg.params });
        const reply = (result: unknown) => ws.send(JSON.stringify({ type: 'reply', id: msg.id, ok: true, result }));
        const refuse = (code: string, message: string) => ws.send(JSON.stringify({ type: 'reply', id: msg.id, ok: false, error: { type: 'error', code, message } }));
        switch (msg.method) {
          case 'snapshot':
            return reply(state.snapshot);
          case 'console.open': {
            const answer = state.openAnswer(msg.params as { agentId: string; vmId: string; cols: number; rows: number });
            if ('code' in answer) return refuse(answer.code, answer.message);
            if (state.pushBeforeOpenReply !== null) output(answer.sessionId, state.pushBeforeOpenReply);
            return reply(answer);
          }
          case 'console.ack': {
            const id = msg.params.sessionId as string;
            ackedBytes.set(id, (ackedBytes.get(id) ?? 0) + (msg.params.bytes as number));
            for (const w of [...ackWaiters]) w();
            return reply({});
          }
          case 'console.input':
          case 'console.resize':
          case 'console.close':
            return reply({});
          case 'console.recordings':
            return reply(state.recordings);
          case 'console.recording': {
            const cast = state.casts.get(msg.params.recordingId as string);
            return cast === undefined ? refuse('not_found', 'No such recording.') : reply({ recordingId: msg.params.recordingId, cast });
          }
          default:
            return refuse('unknown', `The console shell does not answer ${msg.method}.`);
        }
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const unacked = (id: string) => (sentBytes.get(id) ?? 0) - (ackedBytes.get(id) ?? 0);

  return {
    url: `http://127.0.0.1:${port}/`,
    calls,
    get snapshot() { return state.snapshot; },
    set snapshot(s) { state.snapshot = s; },
    get openAnswer() { return state.openAnswer; },
    set openAnswer(f) { state.openAnswer = f; },
    get pushBeforeOpenReply() { return state.pushBeforeOpenReply; },
    set pushBeforeOpenReply(t) { state.pushBeforeOpenReply = t; },
    get recordings() { return state.recordings; },
    set recordings(r) { state.recordings = r; },
    casts: state.casts,
    unacked,
    acked: (id) => ackedBytes.get(id) ?? 0,
    push,
    output,
    async stream(sessionId, { total, chunk, window, make = (_o, size) => new Uint8Array(size).fill(0x41), timeoutMs = 60_000 }) {
      let sent = 0;
      let maxUnacked = 0;
      const deadline = Date.now() + timeoutMs;
      while (sent < total) {
        if (Date.now() > deadline) throw new Error(`The stream stalled: ${sent} of ${total} bytes sent, ${unacked(sessionId)} unacknowledged.`);
        if (window !== undefined && unacked(sessionId) >= window) {
          await new Promise<void>((resolve) => {
            const done = () => { ackWaiters.delete(done); clearTimeout(t); resolve(); };
            const t = setTimeout(done, 200);
            ackWaiters.add(done);
          });
          continue;
        }
        const size = Math.min(chunk, total - sent);
        output(sessionId, make(sent, size));
        sent += size;
        maxUnacked = Math.max(maxUnacked, unacked(sessionId));
        // Let the socket drain now and then, as a real main's writes would.
        if (window === undefined) await new Promise((r) => setImmediate(r));
      }
      return { sent, maxUnacked };
    },
    close: () => new Promise<void>((resolve) => {
      for (const ws of sockets) ws.terminate();
      wss.close();
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
