// The agent's network face: an HTTP(S) server that only upgrades to WebSocket `cordon.v1`, after the peer's
// credentials (a bearer token compared in constant time, a client certificate, or both) named a principal of the
// access policy. Unauthenticated peers get a bare 401 and nothing else; plain HTTP gets 426 or 404. TLS is served
// with the agent's own certificate, which cockpits pin by fingerprint; plain ws:// only on loopback.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { isIP, type AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { PROTOCOL, type AgentMessage } from '../protocol/index.ts';
import type { AccessPolicy, Principal } from './access.ts';
import { AgentError, systemCode } from './errors.ts';
import { MAX_INBOUND_BYTES, Session, type SessionContext } from './session.ts';

/** How often each connection is pinged; a peer that misses a whole interval is dropped. */
const HEARTBEAT_MS = 30_000;

export interface AgentServerOptions {
  host: string;
  port: number;
  access: AccessPolicy;
  /** The agent's certificate and key (PEM): serves wss://. Without it, plain ws:// and only on loopback. */
  tls?: { cert: string; key: string };
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

  /** Listens on host:port (port 0: any free one). Plain ws:// only on loopback. */
  static async listen(options: AgentServerOptions): Promise<AgentServer> {
    if (!options.tls && !isLoopback(options.host)) {
      throw new AgentError('tls_required', `Refusing to serve plain ws:// on ${options.host}: tokens and events would cross the network unencrypted. Serve TLS (the default off loopback) or listen on 127.0.0.1.`);
    }
    const access = options.access;
    const onRequest = (req: IncomingMessage, res: import('node:http').ServerResponse) => {
      // Not a WebSocket upgrade: say only that one is required (at /), and nothing about who we are.
      const root = (req.url ?? '/').split('?')[0] === '/';
      res.writeHead(root ? 426 : 404, root ? { Upgrade: 'websocket', Connection: 'close' } : { Connection: 'close' });
      res.end();
    };
    // A client certificate is asked for but not required by TLS itself: the access policy decides who it names.
    const http: Server = options.tls
      ? createTlsServer({ cert: options.tls.cert, key: options.tls.key, minVersion: 'TLSv1.2', requestCert: true, rejectUnauthorized: false }, onRequest)
      : createServer(onRequest);
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
    const scheme = options.tls ? 'wss' : 'ws';
    const server = new AgentServer(http, wss, options.session, `${scheme}://${hostPart}:${address.port}`, address.port);
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => server.upgrade(req, socket, head, access));
    if (options.tls) {
      // A TLS handshake that fails (a port scanner, a client refusing our certificate) is not an agent error.
      http.on('tlsClientError', () => {});
    }
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

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, access: AccessPolicy): void {
    socket.on('error', () => socket.destroy());
    const principal = authenticate(req, access);
    if (!principal) {
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
      const session = new Session(ws, socket, this.ctx, peer, principal);
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

/**
 * The principal `Authorization: Bearer <token>` and the TLS client certificate name, or undefined. The token is
 * hashed and compared in constant time against every principal (agent/access.ts): neither its content nor its
 * length leaks through response timing, and a missing or malformed header takes the same path.
 */
function authenticate(req: IncomingMessage, access: AccessPolicy): Principal | undefined {
  const match = /^Bearer[ \t]+(.+?)[ \t]*$/i.exec(req.headers.authorization ?? '');
  const tls = req.socket as Partial<TLSSocket>;
  const cert = typeof tls.getPeerCertificate === 'function' ? tls.getPeerCertificate() : undefined;
  const fingerprint = cert && 'fingerprint256' in cert && typeof cert.fingerprint256 === 'string' ? cert.fingerprint256 : undefined;
  if (access.requireClientCert && !fingerprint) return undefined;
  return access.identify(match?.[1], fingerprint);
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
