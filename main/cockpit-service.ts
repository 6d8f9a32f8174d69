// The cockpit API's implementation in main: both shells (Electron IPC, the browser shell's WebSocket) hand
// every call here, already checked for sender, and forward the pushes. Plain Node, no electron.
import { checkActRequest, checkCockpitLogsQuery, checkJournalQuery, type Actor, type CockpitPush, type ErrorMessage, type JournalHealth, type JournalPage } from '../protocol/index.ts';
import { isCockpitMethod, type CockpitCalls, type CockpitMethod } from '../protocol/cockpit-api.ts';
import { LogQueryError } from './fleet/agent-link.ts';
import { HubError, type FleetHub } from './fleet/hub.ts';
import type { JournalHost } from './journal/host.ts';
import { JournalError } from './journal/errors.ts';

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
  snapshot: noParams,
  'journal.status': noParams,
  'journal.verify': noParams,
  'logs.query': (p) => {
    const checked = checkCockpitLogsQuery(p);
    return checked.ok ? undefined : checked.error.message;
  },
  'journal.query': (p) => {
    const checked = checkJournalQuery(p);
    return checked.ok ? undefined : checked.error.message;
  },
  act: (p) => {
    const checked = checkActRequest(p);
    return checked.ok ? undefined : checked.error.message;
  },
};

export class CockpitService {
  private readonly handlers: Handlers;

  /** actor: who this cockpit acts as (the responder from settings, on this device). */
  /** journal: the cockpit's journal; without one (some tests), the journal calls answer `no_journal`. */
  constructor(private readonly hub: FleetHub, private readonly actor: Actor = { name: 'responder' }, private readonly journal?: JournalHost) {
    this.handlers = {
      snapshot: () => this.hub.snapshot(),
      act: async (req) => ({ requestId: (await this.hub.act(req, this.actor)).requestId }),
      'journal.query': async (q) => (await this.journalOf().query(q)) as JournalPage,
      'logs.query': async ({ agentId, ...query }) => {
        const { type: _type, ref: _ref, ...page } = await this.hub.queryLogs(agentId, query);
        return { agentId, ...page };
      },
      'journal.status': () => this.journalOf().status() as Promise<JournalHealth>,
      'journal.verify': async () => {
        const j = this.journalOf();
        await j.verify();
        return (await j.status()) as JournalHealth;
      },
    };
  }

  private journalOf(): JournalHost {
    if (!this.journal) throw new CockpitCallError('no_journal', 'This cockpit runs without a journal.');
    return this.journal;
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
      if (err instanceof HubError || err instanceof JournalError || err instanceof LogQueryError) throw new CockpitCallError(err.code, err.message);
      throw err;
    }
  }

  onPush(listener: (push: CockpitPush) => void): () => void {
    this.hub.on('push', listener);
    return () => this.hub.off('push', listener);
  }
}

function noParams(p: unknown): string | undefined {
  return isPlainObject(p) && Object.keys(p).length === 0 ? undefined : 'It takes no parameters.';
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}
