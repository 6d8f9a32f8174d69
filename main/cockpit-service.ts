// The cockpit API's implementation in main: both shells (Electron IPC, the browser shell's WebSocket) hand
// every call here, already checked for sender, and forward the pushes. Plain Node, no electron.
import type { CockpitPush, ErrorMessage } from '../protocol/index.ts';
import { isCockpitMethod, type CockpitCalls, type CockpitMethod } from '../protocol/cockpit-api.ts';
import type { FleetHub } from './fleet/hub.ts';

export class CockpitCallError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }

  toMessage(): ErrorMessage {
    return { type: 'error', code: this.code, message: this.message.slice(0, 2048) };
  }
}

type Handlers = { [M in CockpitMethod]: (params: CockpitCalls[M]['params']) => Promise<CockpitCalls[M]['result']> | CockpitCalls[M]['result'] };

/** Checks each call's parameters before a handler sees them (they come from a renderer we do not trust). */
const paramCheckers: { [M in CockpitMethod]: (params: unknown) => params is CockpitCalls[M]['params'] } = {
  snapshot: (p): p is Record<string, never> => isPlainObject(p) && Object.keys(p).length === 0,
};

export class CockpitService {
  private readonly handlers: Handlers;

  constructor(private readonly hub: FleetHub) {
    this.handlers = {
      snapshot: () => this.hub.snapshot(),
    };
  }

  /** Runs one call from a view. Throws CockpitCallError with a sentence on a bad call. */
  async call(method: unknown, params: unknown): Promise<unknown> {
    if (!isCockpitMethod(method)) {
      throw new CockpitCallError('unknown_method', `The cockpit has no call named "${String(method).slice(0, 64)}".`);
    }
    const check = paramCheckers[method];
    if (!check(params)) throw new CockpitCallError('bad_params', `The parameters of "${method}" are not valid.`);
    return this.handlers[method](params as never);
  }

  onPush(listener: (push: CockpitPush) => void): () => void {
    this.hub.on('push', listener);
    return () => this.hub.off('push', listener);
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}
