// The browser shell: serves the built renderer on 127.0.0.1 only and carries the cockpit API over one
// same-origin WebSocket. A random per-run token, exchanged once for an HttpOnly cookie, guards every request;
// Host and Origin checks stop DNS rebinding and cross-site WebSockets.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { decodeShellMessage, type CockpitPush, type FeedEvent, type ShellMessage } from '../../protocol/index.ts';
import { CockpitCallError, type CockpitService } from '../cockpit-service.ts';

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  // The renderer takes the event stream in on a Web Worker of its own origin (renderer/src/worker/).
  "worker-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=(), usb=(), serial=(), hid=()',
  'Cache-Control': 'no-store',
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

const COOKIE = 'cordon_session';
/** Above this many bytes queued to a browser, the shell holds events back instead of buffering without bound. */
const HIGH_WATER_BYTES = 8 * 1024 * 1024;
/** Events per push: small enough that the renderer parses one in well under a frame's budget. */
const MAX_EVENTS_PER_PUSH = 5_000;

export interface BrowserShellOptions {
  service: CockpitService;
  rendererDir: string;
  port?: number;
  /** For tests: a fixed token instead of a random one. */
  token?: string;
  /** Events a lagging browser may have queued before the oldest are skipped (and the view told so). */
  maxQueuedEvents?: number;
}

export interface BrowserShell {
  url: string;
  /** The one-time address with the token; open it to get the session cookie. */
  loginUrl: string;
  port: number;
  close(): Promise<void>;
}

export async function startBrowserShell(opts: BrowserShellOptions): Promise<BrowserShell> {
  const token = opts.token ?? randomBytes(32).toString('base64url');
  const tokenDigest = sha256(token);
  const sessions = new Set<string>();
  let origin = '';
  let port = 0;

  const server: Server = createServer((req, res) => {
    void handleHttp(req, res).catch(() => send(res, 500, 'The browser shell failed to serve this request.'));
  });

  async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!hostAllowed(req.headers.host, port)) return send(res, 421, 'This shell answers only on 127.0.0.1.');
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'Method not allowed.');
    const url = new URL(req.url ?? '/', origin);
    const offered = url.searchParams.get('token');
    if (offered !== null) {
      if (!timingSafeEqual(sha256(offered), tokenDigest)) return send(res, 401, 'That token is not this run\'s token.');
      const session = randomBytes(32).toString('base64url');
      sessions.add(session);
      // The token leaves the address bar and history at once; the cookie is not readable by scripts.
      res.writeHead(303, { ...SECURITY_HEADERS, Location: '/', 'Set-Cookie': `${COOKIE}=${session}; HttpOnly; SameSite=Strict; Path=/` });
      return void res.end();
    }
    if (!hasSession(req)) {
      return send(res, 401, 'Open the address that `npm run serve` printed (it carries this run\'s token).');
    }
    const file = resolveStatic(opts.rendererDir, url.pathname);
    if (!file) return send(res, 404, 'Not found.');
    let body: Buffer;
    try {
      body = await readFile(file);
    } catch {
      if (url.pathname === '/' || url.pathname === '/index.html') {
        return send(res, 503, 'The renderer is not built: run `npm run build:renderer` (npm run serve does it).');
      }
      return send(res, 404, 'Not found.');
    }
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Content-Length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  function hasSession(req: IncomingMessage): boolean {
    const cookie = parseCookies(req.headers.cookie)[COOKIE];
    return cookie !== undefined && sessions.has(cookie);
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024, perMessageDeflate: false });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', origin);
    const ok = url.pathname === '/api' && hostAllowed(req.headers.host, port) && req.headers.origin === origin && hasSession(req);
    if (!ok) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => serveView(ws, opts));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  port = typeof addr === 'object' && addr ? addr.port : 0;
  origin = `http://127.0.0.1:${port}`;
  return {
    url: origin + '/',
    loginUrl: `${origin}/?token=${token}`,
    port,
    close: () => new Promise((resolve) => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** A push as the text frame that carries it, made once however many views it goes to (at 50,000 events a second,
 *  serialising is a good part of the shell's work). */
const pushFrames = new WeakMap<CockpitPush, string>();

function pushFrame(push: CockpitPush): string {
  let text = pushFrames.get(push);
  if (text === undefined) {
    const msg: ShellMessage = { type: 'push', push };
    text = JSON.stringify(msg);
    pushFrames.set(push, text);
  }
  return text;
}

/** One renderer over one socket: calls in, replies and pushes out, events held back while the browser lags. */
function serveView(ws: WebSocket, opts: BrowserShellOptions): void {
  const maxQueued = opts.maxQueuedEvents ?? 200_000;
  let queued: FeedEvent[] = [];
  let skipped = 0;
  let flushTimer: NodeJS.Timeout | undefined;
  const sendMsg = (msg: ShellMessage) => ws.send(JSON.stringify(msg));

  const flush = (): void => {
    flushTimer = undefined;
    if (ws.readyState !== ws.OPEN || (queued.length === 0 && skipped === 0)) return;
    if (ws.bufferedAmount > HIGH_WATER_BYTES) {
      flushTimer = setTimeout(flush, 8);
      return;
    }
    const push: CockpitPush = { type: 'events', events: queued.splice(0, MAX_EVENTS_PER_PUSH) };
    if (skipped > 0) push.skipped = skipped;
    skipped = 0;
    sendMsg({ type: 'push', push });
    if (queued.length > 0) flushTimer = setTimeout(flush, 0);
  };

  /** This view, for what it opens (its consoles close with its socket). */
  const client = {};
  const unsubscribe = opts.service.onPush((push) => {
    if (push.type !== 'events') {
      flush();
      return ws.send(pushFrame(push));
    }
    if (queued.length === 0 && ws.bufferedAmount <= HIGH_WATER_BYTES && push.events.length <= MAX_EVENTS_PER_PUSH) {
      return ws.send(pushFrame(push));
    }
    for (const e of push.events) queued.push(e);
    if (queued.length > maxQueued) {
      skipped += queued.length - maxQueued;
      queued = queued.slice(queued.length - maxQueued);
    }
    flushTimer ??= setTimeout(flush, 8);
  });

  ws.on('message', (data, isBinary) => {
    if (isBinary) return sendMsg({ type: 'reply', id: 0, ok: false, error: { type: 'error', code: 'unsupported', message: 'The cockpit API takes text frames only.' } });
    const decoded = decodeShellMessage(data.toString());
    if (!decoded.ok) return sendMsg({ type: 'reply', id: 0, ok: false, error: decoded.error });
    const msg = decoded.value;
    if (msg.type !== 'call') {
      return sendMsg({ type: 'reply', id: 0, ok: false, error: { type: 'error', code: 'bad_message', message: 'A view may only send calls.' } });
    }
    opts.service.call(msg.method, msg.params, client).then(
      (result) => sendMsg({ type: 'reply', id: msg.id, ok: true, result }),
      (err: unknown) => sendMsg({
        type: 'reply', id: msg.id, ok: false,
        error: err instanceof CockpitCallError ? err.toMessage() : { type: 'error', code: 'internal', message: 'The cockpit failed to answer this call.' },
      }),
    );
  });
  ws.on('close', () => {
    unsubscribe();
    clearTimeout(flushTimer);
    opts.service.clientGone(client);
  });
}

/** Maps a URL path to a file inside dir, or undefined: no traversal, no dotfiles, index.html for "/". */
export function resolveStatic(dir: string, pathname: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
  const rel = normalize(decoded === '/' ? '/index.html' : decoded).replace(/^[/\\]+/, '');
  if (rel.split(/[/\\]/).some((part) => part.startsWith('.'))) return undefined;
  const root = normalize(dir + sep);
  const full = normalize(join(root, rel));
  return full.startsWith(root) ? full : undefined;
}

function hostAllowed(host: string | undefined, port: number): boolean {
  return host === `127.0.0.1:${port}` || host === `localhost:${port}`;
}

function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function send(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(text + '\n');
}
