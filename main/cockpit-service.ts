// The cockpit API's implementation in main: both shells (Electron IPC, the browser shell's WebSocket) hand
// every call here, already checked for sender, and forward the pushes. Plain Node, no electron.
import { checkActRequest, type Actor, type CockpitPush, type ErrorMessage } from '../protocol/index.ts';
import { isCockpitMethod, type CockpitCalls, type CockpitMethod } from '../protocol/cockpit-api.ts';
import { HubError, type FleetHub } from './fleet/hub.ts';

export class CockpitCallError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }

  toMessage(): ErrorMessage {
    return { type: 'error', code: this.code, message: this.message.slice(0, 2048) };
  }
}

type Handlers = { [M in CockpitMethod]: (params: CockpitCalls[M]['params']) => Promise<CockpitCalls[M]['result']> | CockpitCalls[M]['result'] };

/** What is wrong with a call's parameters (they come from a renderer we do not trust), or undefined. */
const paramProblems: { [M in CockpitMethod]: (params: unknown) => string | undefined } = {
  snapshot: (p) => (isPlainObject(p) && Object.keys(p).length === 0 ? undefined : 'It takes no parameters.'),
  act: (p) => {
    const checked = checkActRequest(p);
    return checked.ok ? undefined : checked.error.message;
  },
};

export class CockpitService {
  private readonly handlers: Handlers;

  /** actor: who this cockpit acts as (the responder from settings, on this device). */
  constructor(private readonly hub: FleetHub, private readonly actor: Actor = { name: 'responder' }) {
    this.handlers = {
      snapshot: () => this.hub.snapshot(),
      act: (req) => ({ requestId: this.hub.act(req, this.actor).requestId }),
    };
  }

  /** Runs one call from a view. Throws CockpitCallError with a sentence on a bad call. */
  async call(method: unknown, params: unknown): Promise<unknown> {
    if (!isCockpitMethod(method)) {
      throw new CockpitCallError('unknown_method', `The cockpit has no call named "${String(method).slice(0, 64)}".`);
    }
    const problem = paramProblems[method](params);
    if (problem) throw new CockpitCallError('bad_params', `The parameters of "${method}" are not valid. ${problem}`);
    try {
      return await this.handlers[method](params as never);
    } catch (err) {
      if (err instanceof HubError) throw new CockpitCallError(err.code, err.message);
      throw err;
    }
  }

  onPush(listener: (push: CockpitPush) => void): () => void {
    this.hub.on('push', listener);
    return () => this.hub.off('push', listener);
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}
