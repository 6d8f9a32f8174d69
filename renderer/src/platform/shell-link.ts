// The browser shell's transport of the cockpit API: one WebSocket to `/api` on the page's own origin, carrying
// ShellMessages (calls from here; replies and pushes from main). The shell authenticated the page with an
// HttpOnly cookie when it served it, so nothing extra is sent. Every inbound frame is decoded and checked; a
// malformed one is reported and dropped, and the stream goes on. When the socket drops, it reconnects with
// exponential backoff and jitter; the cockpit re-fetches the snapshot on each reconnect.
import type { CockpitApi, CockpitCalls, CockpitMethod } from '../../../protocol/cockpit-api.ts';
import { decodeShellMessage, type CockpitPush, type ErrorMessage, type ShellCall, type ShellReply } from '../../../protocol/index.ts';
import { realTimers, type Timers } from '../store/timers.ts';
import { checkResult, CockpitCallError, Listeners, type CockpitLink, type LinkState } from './link.ts';

export interface SocketHandlers {
  open(): void;
  message(data: unknown): void;
  close(code: number, reason: string): void;
}

export interface SocketHandle {
  send(text: string): void;
  close(code?: number, reason?: string): void;
}

/** Opens a WebSocket and reports to the handlers (a real WebSocket in the page; a fake in the tests). */
export type SocketFactory = (url: string, handlers: SocketHandlers) => SocketHandle;

export interface ShellLinkOptions {
  url: string;
  connect: SocketFactory;
  timers?: Timers;
  random?: () => number;
  /** A call with no reply within this is failed (the socket may be half-dead). */
  callTimeoutMs?: number;
  backoff?: { initialMs: number; maxMs: number };
  /** Asked when an attempt fails before the socket opened: does the shell still know this page's session? A
   *  browser cannot see why an upgrade failed (the shell answers 401 to a page without a valid cookie, e.g.
   *  after it restarted with a new token), so this asks over plain HTTP. 'refused' stops the retries. */
  checkSession?: () => Promise<'ok' | 'refused' | 'unknown'>;
}

/** Close codes with which the shell says this page is not (or no longer) authorised: retrying cannot help. */
export const UNAUTHORIZED_CLOSE_CODES: readonly number[] = [1008, 4401, 4403];

const UNAUTHORIZED_SENTENCE =
  'The browser shell does not know this page (it may have restarted with a new token). Open the address `npm run serve` printed, then reload.';

interface Pending {
  method: CockpitMethod;
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: unknown;
}

export function createShellLink(options: ShellLinkOptions): CockpitLink {
  const timers = options.timers ?? realTimers;
  const random = options.random ?? Math.random;
  const callTimeoutMs = options.callTimeoutMs ?? 20_000;
  const backoff = options.backoff ?? { initialMs: 250, maxMs: 10_000 };

  const pushes = new Listeners<CockpitPush>();
  const invalid = new Listeners<ErrorMessage>();
  const stateListeners = new Listeners<LinkState>();
  const pending = new Map<number, Pending>();
  let state: LinkState = { phase: 'connecting', platform: 'browser', attempt: 0, retryAt: null, lastError: null, since: null };
  let socket: SocketHandle | null = null;
  let current: object | null = null; // the attempt whose events count; older sockets' late events are ignored
  let open = false;
  let closed = false;
  let retryTimer: unknown = null;
  let nextId = 1;

  function setState(patch: Partial<LinkState>): void {
    state = { ...state, ...patch };
    stateListeners.emit(state);
  }

  function connect(): void {
    retryTimer = null;
    if (closed) return;
    const token = {};
    current = token;
    const handlers: SocketHandlers = {
      open() {
        if (current !== token) return;
        open = true;
        setState({ phase: 'connected', attempt: 0, retryAt: null, since: timers.now() });
      },
      message(data) {
        if (current !== token) return;
        receive(data);
      },
      close(code, reason) {
        if (current !== token) return;
        current = null;
        socket = null;
        const wasOpen = open;
        open = false;
        failPending('link_lost', 'The cockpit link dropped before the answer came.');
        if (closed) return;
        if (UNAUTHORIZED_CLOSE_CODES.includes(code)) {
          setState({ phase: 'unauthorized', retryAt: null, since: null, lastError: UNAUTHORIZED_SENTENCE });
          return;
        }
        retry(describeClose(code, reason, wasOpen));
        if (!wasOpen && options.checkSession !== undefined) void checkSession(options.checkSession);
      },
    };
    try {
      const handle = options.connect(options.url, handlers);
      if (current === token) socket = handle;
      else handle.close(1000, 'superseded');
    } catch (err) {
      current = null;
      retry(`The cockpit link could not be opened: ${(err as Error)?.message ?? String(err)}`);
    }
  }

  function retry(reason: string): void {
    const attempt = state.attempt + 1;
    const ceiling = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(attempt - 1, 20));
    // "Equal jitter": at least half the ceiling, so a fleet of pages does not reconnect in lockstep.
    const delay = Math.round(ceiling / 2 + (random() * ceiling) / 2);
    setState({ phase: 'reconnecting', attempt, retryAt: timers.now() + delay, lastError: reason, since: null });
    retryTimer = timers.setTimeout(connect, delay);
  }

  async function checkSession(check: () => Promise<'ok' | 'refused' | 'unknown'>): Promise<void> {
    let verdict: 'ok' | 'refused' | 'unknown';
    try {
      verdict = await check();
    } catch {
      verdict = 'unknown';
    }
    if (verdict !== 'refused' || closed || state.phase !== 'reconnecting') return;
    if (retryTimer !== null) timers.clearTimeout(retryTimer);
    retryTimer = null;
    setState({ phase: 'unauthorized', retryAt: null, since: null, lastError: UNAUTHORIZED_SENTENCE });
  }

  function receive(data: unknown): void {
    if (typeof data !== 'string') {
      invalid.emit({ type: 'error', code: 'bad_message', message: 'A browser-shell message must be a text frame; a binary frame was dropped.' });
      return;
    }
    const decoded = decodeShellMessage(data);
    if (!decoded.ok) {
      invalid.emit(decoded.error);
      return;
    }
    const msg = decoded.value;
    switch (msg.type) {
      case 'push':
        pushes.emit(msg.push);
        return;
      case 'reply':
        settle(msg);
        return;
      case 'call':
        invalid.emit({ type: 'error', code: 'unexpected', message: 'The browser shell sent a call; the renderer serves none, so it was dropped.' });
        return;
    }
  }

  function settle(reply: ShellReply): void {
    const p = pending.get(reply.id);
    if (p === undefined) return; // answered after it timed out: the caller has moved on
    pending.delete(reply.id);
    timers.clearTimeout(p.timer);
    if (!reply.ok) {
      const code = reply.error?.code ?? 'failed';
      p.reject(new CockpitCallError(code, reply.error?.message ?? `The cockpit refused "${p.method}".`));
      return;
    }
    const checked = checkResult(p.method, reply.result);
    if (!checked.ok) {
      invalid.emit(checked.error);
      p.reject(new CockpitCallError(checked.error.code, checked.error.message));
      return;
    }
    p.resolve(checked.value);
  }

  function failPending(code: string, message: string): void {
    const all = [...pending.values()];
    pending.clear();
    for (const p of all) {
      timers.clearTimeout(p.timer);
      p.reject(new CockpitCallError(code, message));
    }
  }

  const api: CockpitApi = {
    platform: 'browser',
    call<M extends CockpitMethod>(method: M, params: CockpitCalls[M]['params']): Promise<CockpitCalls[M]['result']> {
      const s = socket;
      if (!open || s === null) {
        return Promise.reject(new CockpitCallError('not_connected', `The cockpit link is down; "${method}" was not sent.`));
      }
      const id = nextId++;
      const call: ShellCall = { type: 'call', id, method, params };
      return new Promise<CockpitCalls[M]['result']>((resolve, reject) => {
        const timer = timers.setTimeout(() => {
          if (pending.delete(id)) reject(new CockpitCallError('timeout', `The cockpit did not answer "${method}" within ${callTimeoutMs / 1000} s.`));
        }, callTimeoutMs);
        pending.set(id, { method, resolve: resolve as (value: unknown) => void, reject, timer });
        try {
          s.send(JSON.stringify(call));
        } catch (err) {
          pending.delete(id);
          timers.clearTimeout(timer);
          reject(new CockpitCallError('link_lost', `"${method}" could not be sent: ${(err as Error)?.message ?? String(err)}`));
        }
      });
    },
    onPush: (listener) => pushes.add(listener),
  };

  connect();

  return {
    api,
    state: () => state,
    onState: (l) => stateListeners.add(l),
    onInvalid: (l) => invalid.add(l),
    close() {
      if (closed) return;
      closed = true;
      if (retryTimer !== null) timers.clearTimeout(retryTimer);
      retryTimer = null;
      const s = socket;
      current = null;
      socket = null;
      open = false;
      failPending('closed', 'The cockpit link was closed.');
      s?.close(1000, 'closing');
      setState({ phase: 'closed', retryAt: null, since: null });
    },
  };
}

function describeClose(code: number, reason: string, wasOpen: boolean): string {
  const why = reason.trim() !== '' ? `: ${reason.slice(0, 200)}` : '';
  if (!wasOpen) return `The cockpit could not be reached (code ${code}${why}).`;
  if (code === 1001) return `The cockpit is going away (restarting or shutting down)${why}.`;
  return `The cockpit link dropped (code ${code}${why}).`;
}
