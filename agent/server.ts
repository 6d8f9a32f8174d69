// The agent's network face: an HTTP server that only upgrades to WebSocket `cordon.v1`, after a bearer token
// compared in constant time. Unauthenticated peers get a bare 401 and nothing else; plain HTTP gets 426 or 404.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { PROTOCOL, type AgentMessage } from '../protocol/index.ts';
import { AgentError, systemCode } from './errors.ts';
import { MAX_INBOUND_BYTES, Session, type SessionContext } from './session.ts';

/** How often each connection is pinged; a peer that misses a whole interval is dropped. */
const HEARTBEAT_MS = 30_000;

export interface AgentServerOptions {
  host: string;
  port: number;
  token: string;
  session: SessionContext;
}

export class AgentServer {
  private readonly sessions = new Set<Session>();
  private readonly openSockets = new Set<WebSocket>();
  private readonly alive = new WeakMap<WebSocket, boolean>();
  private readonly heartbeat: NodeJS.Timeout;

  private constructor(
    private readonly http: Server,
    private readonly wss: WebSocketServer,
    private readonly ctx: SessionContext,
    readonly url: string,
    readonly port: number,
  ) {
    this.heartbeat = setInterval(() => this.beat(), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** Listens on host:port (port 0: any free one). Refuses anything but loopback until TLS lands. */
  static async listen(options: AgentServerOptions): Promise<AgentServer> {
    if (!isLoopback(options.host)) {
      throw new AgentError('tls_required', `Refusing to serve plain ws:// on ${options.host}: TLS (wss://) for other addresses than loopback comes in a later version.`);
    }
    const expected = digest(options.token);
    const http = createServer((req, res) => {
      // Not a WebSocket upgrade: say only that one is required (at /), and nothing about who we are.
      const root = (req.url ?? '/').split('?')[0] === '/';
      res.writeHead(root ? 426 : 404, root ? { Upgrade: 'websocket', Connection: 'close' } : { Connection: 'close' });
      res.end();
    });
    const wss = new WebSocketServer({
      noServer: true,
      maxPayload: MAX_INBOUND_BYTES,
      perMessageDeflate: false,
      clientTracking: false,
      handleProtocols: (offered) => (offered.has(PROTOCOL) ? PROTOCOL : false),
    });

    await new Promise<void>((resolve, reject) => {
      const failed = (err: Error) => reject(new AgentError('listen_failed', `Cannot listen on ${options.host}:${options.port} (${systemCode(err)}): pick another --listen address or port.`, { cause: err }));
      http.once('error', failed);
      http.listen(options.port, options.host, () => {
        http.off('error', failed);
        resolve();
      });
    });
    const address = http.address() as AddressInfo;
    const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const server = new AgentServer(http, wss, options.session, `ws://${hostPart}:${address.port}`, address.port);
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => server.upgrade(req, socket, head, expected));
    return server;
  }

  /** Pushes newly appended events to every subscribed session. */
  eventsAppended(): void {
    for (const s of this.sessions) s.pump();
  }

  /** Sends an inventory change (vm, vm.removed) to every connected cockpit. */
  broadcast(message: AgentMessage): void {
    for (const s of this.sessions) s.send(message);
  }

  get connections(): number {
    return this.sessions.size;
  }

  /** Stops listening and closes every connection (1001, going away); resolves when the port is free. */
  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    const closing = new Promise<void>((resolve) => this.http.close(() => resolve()));
    const sockets = [...this.openSockets];
    const closed = Promise.all(sockets.map((ws) => new Promise((resolve) => ws.once('close', resolve))));
    for (const ws of sockets) ws.close(1001, 'agent shutting down');
    // Peers get a moment to answer the close; then the sockets go regardless, so shutdown is bounded.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise((resolve) => (timer = setTimeout(resolve, 500)))]);
    clearTimeout(timer);
    for (const ws of sockets) ws.terminate();
    this.http.closeAllConnections();
    await closing;
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, expected: Buffer): void {
    socket.on('error', () => socket.destroy());
    if (!authorized(req.headers.authorization, expected)) {
      reject(socket, 401, 'Unauthorized', ['WWW-Authenticate: Bearer']);
      return;
    }
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    if (!offered.includes(PROTOCOL)) {
      reject(socket, 400, 'Bad Request', ['Content-Type: text/plain; charset=utf-8'], `This agent speaks only the WebSocket subprotocol ${PROTOCOL}: offer it in Sec-WebSocket-Protocol.\n`);
      return;
    }
    const peer = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const session = new Session(ws, socket, this.ctx, peer);
      this.sessions.add(session);
      this.openSockets.add(ws);
      this.alive.set(ws, true);
      ws.on('pong', () => this.alive.set(ws, true));
      ws.on('error', (err) => this.ctx.note(`cockpit ${peer}: ${err.message}`));
      ws.on('close', () => {
        this.sessions.delete(session);
        this.openSockets.delete(ws);
      });
      session.start();
    });
  }

  private beat(): void {
    for (const ws of this.openSockets) {
      if (this.alive.get(ws) === false) {
        ws.terminate();
        continue;
      }
      this.alive.set(ws, false);
      ws.ping();
    }
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * Checks `Authorization: Bearer <token>`. Both sides are hashed first so that timingSafeEqual compares equal
 * lengths: neither the token's content nor its length leaks through response timing.
 */
function authorized(header: string | undefined, expected: Buffer): boolean {
  const match = /^Bearer[ \t]+(.+?)[ \t]*$/i.exec(header ?? '');
  const given = digest(match?.[1] ?? '');
  // Still compare when the header is absent or malformed, so every rejection takes the same path.
  return timingSafeEqual(given, expected) && match !== null;
}

function reject(socket: Duplex, status: number, text: string, headers: string[], body = ''): void {
  const lines = [`HTTP/1.1 ${status} ${text}`, 'Connection: close', ...headers, `Content-Length: ${Buffer.byteLength(body)}`];
  socket.once('finish', () => socket.destroy());
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1' || /^::ffff:127\./i.test(host);
  return false;
}
