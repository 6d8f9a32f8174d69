// A cockpit that acts: connects to an agent over a real socket, checks every frame with the protocol's decoder,
// keeps them in order, and sends actions and waits for their answers without polling. Used by the driver
// behaviour suite, the action tests and bench/actions-sim.ts.
import { randomUUID } from 'node:crypto';
import { WebSocket } from 'ws';
import {
  decodeAgentMessage,
  type ActionAcceptedMessage,
  type ActionKind,
  type ActionParams,
  type ActionProgressMessage,
  type ActionRejectedMessage,
  type ActionResultMessage,
  type Actor,
  type AgentMessage,
  type ErrorMessage,
  type EventMessage,
  type HelloMessage,
  type Vm,
} from '../../protocol/index.ts';

/** What an action got back, in the order it came. */
export interface ActionAnswer {
  requestId: string;
  /** The first answer: accepted, rejected, a replayed result, or an error about the frame. */
  first: ActionAcceptedMessage | ActionRejectedMessage | ActionResultMessage | ErrorMessage;
  accepted?: ActionAcceptedMessage;
  rejected?: ActionRejectedMessage;
  result?: ActionResultMessage;
  error?: ErrorMessage;
  progress: ActionProgressMessage[];
  /** Milliseconds from send to the last answer waited for. */
  ms: number;
}

export interface ActOptions {
  params?: ActionParams;
  requestId?: string;
  reason?: string;
  actor?: Actor;
  timeoutMs?: number;
  /** Wait for the result after an acceptance (default true). */
  waitResult?: boolean;
}

type Waiter = { test: (m: AgentMessage, i: number) => boolean; resolve: (i: number) => void };

export function newRequestId(prefix = 'req'): string {
  return `${prefix}-${randomUUID()}`;
}

export class ActionCockpit {
  readonly received: AgentMessage[] = [];
  readonly invalid: string[] = [];
  closed = false;
  private readonly waiters = new Set<Waiter>();

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const decoded = decodeAgentMessage(data.toString('utf8'));
      if (!decoded.ok) {
        this.invalid.push(`${decoded.error.message} in ${data.toString('utf8').slice(0, 300)}`);
        return;
      }
      const i = this.received.push(decoded.value) - 1;
      for (const w of this.waiters) {
        if (w.test(decoded.value, i)) {
          this.waiters.delete(w);
          w.resolve(i);
        }
      }
    });
    ws.on('close', () => {
      this.closed = true;
      for (const w of this.waiters) w.resolve(-1);
      this.waiters.clear();
    });
  }

  static open(url: string, token: string): Promise<ActionCockpit> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, ['cordon.v1'], { headers: { Authorization: `Bearer ${token}` } });
      const cockpit = new ActionCockpit(ws);
      const timer = setTimeout(() => reject(new Error('connect timed out')), 5000);
      ws.once('open', () => {
        clearTimeout(timer);
        resolve(cockpit);
      });
      ws.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  /** Index of the next message to arrive: a bookmark for "after this point". */
  get mark(): number {
    return this.received.length;
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** The first message at or after `from` that `test` accepts, waiting up to `timeoutMs` for it. */
  async waitFor<T extends AgentMessage = AgentMessage>(test: (m: AgentMessage) => boolean, timeoutMs: number, what: string, from = 0): Promise<{ message: T; index: number }> {
    for (let i = from; i < this.received.length; i++) if (test(this.received[i]!)) return { message: this.received[i] as T, index: i };
    if (this.closed) throw new Error(`the connection closed before ${what}`);
    let timer: NodeJS.Timeout | undefined;
    let waiter: Waiter | undefined;
    const index = await new Promise<number>((resolve, reject) => {
      waiter = { test: (m, i) => i >= from && test(m), resolve };
      this.waiters.add(waiter);
      timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last received: ${JSON.stringify(this.received.slice(-3).filter((m) => m.type !== 'event')).slice(0, 800)}`)), timeoutMs);
    }).finally(() => {
      clearTimeout(timer);
      if (waiter) this.waiters.delete(waiter);
    });
    if (index < 0) throw new Error(`the connection closed before ${what}`);
    return { message: this.received[index] as T, index };
  }

  hello(timeoutMs = 5000): Promise<HelloMessage> {
    return this.waitFor<HelloMessage>((m) => m.type === 'hello', timeoutMs, 'hello').then((r) => r.message);
  }

  /** The VMs as this cockpit knows them now: the last inventory, then every upsert and removal after it. */
  vms(): Map<string, Vm> {
    const out = new Map<string, Vm>();
    for (const m of this.received) {
      if (m.type === 'inventory') {
        out.clear();
        for (const vm of m.vms) out.set(vm.id, vm);
      } else if (m.type === 'vm') out.set(m.vm.id, m.vm);
      else if (m.type === 'vm.removed') out.delete(m.vmId);
    }
    return out;
  }

  vm(vmId: string): Vm | undefined {
    return this.vms().get(vmId);
  }

  /** Waits for the inventory and returns its VMs. */
  async inventory(timeoutMs = 5000): Promise<Vm[]> {
    await this.waitFor((m) => m.type === 'inventory', timeoutMs, 'the inventory');
    return [...this.vms().values()];
  }

  /** Events about `vmId` received at or after `from`. */
  eventsOf(vmId: string, from = 0): EventMessage[] {
    return this.received.slice(from).filter((m): m is EventMessage => m.type === 'event' && m.event.vmId === vmId);
  }

  /** Messages about one request (accepted, rejected, progress, result), at or after `from`. */
  about(requestId: string, from = 0): AgentMessage[] {
    return this.received.slice(from).filter((m) => 'requestId' in m && m.requestId === requestId);
  }

  /** Sends an action and waits for its answer (and, when accepted, its result). */
  async act(vmId: string, kind: ActionKind, options: ActOptions = {}): Promise<ActionAnswer> {
    const requestId = options.requestId ?? newRequestId(kind);
    const timeoutMs = options.timeoutMs ?? 10_000;
    const from = this.mark;
    const started = performance.now();
    this.send(actionMessage(vmId, kind, { ...options, requestId }));
    const isAnswer = (m: AgentMessage) => (m.type === 'error' && m.ref === requestId)
      || ((m.type === 'action.accepted' || m.type === 'action.rejected' || m.type === 'action.result') && m.requestId === requestId);
    const { message: first, index } = await this.waitFor<ActionAnswer['first']>(isAnswer, timeoutMs, `an answer to ${kind} ${requestId}`, from);
    const answer: ActionAnswer = { requestId, first, progress: [], ms: 0 };
    if (first.type === 'action.accepted') {
      answer.accepted = first;
      if (options.waitResult !== false) {
        answer.result = (await this.waitFor<ActionResultMessage>((m) => m.type === 'action.result' && m.requestId === requestId, timeoutMs, `the result of ${kind} ${requestId}`, index)).message;
      }
    } else if (first.type === 'action.rejected') answer.rejected = first;
    else if (first.type === 'action.result') answer.result = first;
    else answer.error = first;
    answer.ms = performance.now() - started;
    answer.progress = this.about(requestId, from).filter((m): m is ActionProgressMessage => m.type === 'action.progress');
    return answer;
  }

  close(): void {
    this.ws.terminate();
  }
}

/** An `action` frame as a cockpit sends it. */
export function actionMessage(vmId: string, kind: ActionKind, options: ActOptions & { requestId: string }) {
  return {
    type: 'action',
    id: options.requestId,
    requestId: options.requestId,
    vmId,
    kind,
    params: options.params ?? {},
    actor: options.actor ?? { name: 'test-responder', role: 'tier-2', cockpit: 'test-cockpit' },
    reason: options.reason ?? `behaviour test: ${kind}`,
  };
}
