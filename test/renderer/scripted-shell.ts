// A scripted stand-in for the browser shell, for the renderer's tests in Chromium: serves a built renderer
// under the shell's strict CSP and speaks the shell's WebSocket protocol (ShellMessages on /api), with the
// cockpit's answers and pushes chosen by the test: a snapshot, pushes, hostile strings, dropped links, and a
// synthetic stream at a set rate. No hub, no agent: only the renderer is under test.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import type { CockpitPush, CockpitSnapshot } from '../../protocol/index.ts';

/** The policy the hosts set (issue 2, and main/browser-shell/server.ts): no inline script or style, same origin. */
export const STRICT_CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "font-src 'self'",
  "connect-src 'self'", "worker-src 'self'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'", "object-src 'none'",
].join('; ');

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css' };

export interface ScriptedShell {
  readonly url: string;
  readonly calls: { method: string }[];
  /** What the next snapshot call answers. */
  snapshot: CockpitSnapshot;
  /** Refuse every request and upgrade with 401 (as the shell does for a page without a session) while true. */
  refuse: boolean;
  push(push: CockpitPush): void;
  /** Sends raw text as a frame (to check that malformed frames are dropped). */
  sendRaw(text: string): void;
  /** Drops every open socket, as a restarting shell would. */
  dropAll(): void;
  readonly connections: number;
  /** Streams synthetic events: `rate` per second in `batchesPerSecond` pushes, over `agents` agents. */
  stream(options: { rate: number; seconds: number; agents?: number; batchesPerSecond?: number }): Promise<number>;
  close(): Promise<void>;
}

/** The built renderer's files under the strict CSP, as the hosts serve them (no traversal out of the folder). */
export function serveRenderer(rendererDir: string, req: IncomingMessage, res: ServerResponse): void {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  const rel = normalize(path === '/' ? 'index.html' : path.slice(1));
  if (rel.startsWith('..')) {
    res.writeHead(404).end();
    return;
  }
  readFile(join(rendererDir, rel)).then(
    (body) => res.writeHead(200, { 'Content-Type': TYPES[extname(rel)] ?? 'application/octet-stream', 'Content-Security-Policy': STRICT_CSP, 'Cache-Control': 'no-store' }).end(body),
    () => res.writeHead(404, { 'Content-Security-Policy': STRICT_CSP }).end(),
  );
}

export async function startScriptedShell(rendererDir: string, snapshot: CockpitSnapshot): Promise<ScriptedShell> {
  const sockets = new Set<WebSocket>();
  const calls: { method: string }[] = [];
  const seqs = new Map<string, number>();
  const state = { snapshot, refuse: false };

  const server: Server = createServer((req, res) => {
    if (state.refuse) {
      res.writeHead(401, { 'Content-Security-Policy': STRICT_CSP }).end();
      return;
    }
    serveRenderer(rendererDir, req, res);
  });
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  server.on('upgrade', (req, socket, head) => {
    if (state.refuse || new URL(req.url ?? '/', 'http://x').pathname !== '/api') {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
      ws.on('message', (data) => {
        const msg = JSON.parse(String(data)) as { type: string; id: number; method: string };
        calls.push({ method: msg.method });
        ws.send(JSON.stringify({ type: 'reply', id: msg.id, ok: true, result: state.snapshot }));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;

  const sendAll = (text: string) => {
    for (const ws of sockets) if (ws.readyState === ws.OPEN) ws.send(text);
  };

  return {
    url: `http://127.0.0.1:${port}/`,
    calls,
    get snapshot() { return state.snapshot; },
    set snapshot(s) { state.snapshot = s; },
    get refuse() { return state.refuse; },
    set refuse(r) { state.refuse = r; },
    get connections() { return sockets.size; },
    push: (push) => sendAll(JSON.stringify({ type: 'push', push })),
    sendRaw: sendAll,
    dropAll: () => { for (const ws of sockets) ws.terminate(); },
    async stream({ rate, seconds, agents = 10, batchesPerSecond = 60 }) {
      const started = Date.now();
      const names = Array.from({ length: agents }, (_, i) => `hv-${String(i + 1).padStart(2, '0')}`);
      let sent = 0;
      let n = 0;
      while (Date.now() - started < seconds * 1000) {
        const due = Math.floor(((Date.now() - started) / 1000) * rate) - sent;
        if (due > 0) {
          const now = Date.now();
          const iso = new Date(now).toISOString();
          const parts: string[] = [];
          for (let i = 0; i < due; i++) {
            const agent = names[n++ % agents]!;
            const seq = (seqs.get(agent) ?? 0) + 1;
            seqs.set(agent, seq);
            parts.push(syntheticEvent(agent, seq, iso, now, n));
          }
          sendAll(`{"type":"push","push":{"type":"events","events":[${parts.join(',')}]}}`);
          sent += due;
        }
        await new Promise((r) => setTimeout(r, 1000 / batchesPerSecond));
      }
      return sent;
    },
    close: () => new Promise<void>((resolve) => {
      for (const ws of sockets) ws.terminate();
      wss.close();
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

const SEVERITY = ['info', 'info', 'info', 'low', 'low', 'medium', 'high', 'critical'];

/** One FeedEvent as JSON text, made by concatenation: the stream must cost the test little CPU. */
function syntheticEvent(agent: string, seq: number, iso: string, now: number, n: number): string {
  const vm = n % 12;
  const sev = SEVERITY[n % 8]!;
  const verdict = sev === 'critical' ? 'malicious' : sev === 'high' ? 'suspicious' : 'benign';
  const pid = 1000 + (n % 30000);
  return `{"agentId":"${agent}","seq":${seq},"receivedAt":${now},"event":{"id":"${agent}-${seq}","time":"${iso}","agentId":"${agent}",`
    + `"vmId":"vm-${vm}","vmName":"web-${vm}","severity":"${sev}","verdict":"${verdict}","category":"network",`
    + `"title":"Outbound connection from php-fpm worker ${n % 97}","process":{"pid":${pid},"ppid":1,"name":"php-fpm","commandLine":"php-fpm: pool www --fpm-config /etc/php/8.2/fpm/php-fpm.conf","user":"www-data"},`
    + `"connection":{"protocol":"tcp","direction":"outbound","localAddress":"10.0.${vm}.5","localPort":${40000 + (n % 20000)},"remoteAddress":"203.0.113.${n % 250}","remotePort":443,"bytesOut":${n % 5000}},`
    + `"sensor":{"id":"guest-netmon","kind":"guest"}}}`;
}
