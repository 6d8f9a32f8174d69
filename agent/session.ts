// One cockpit connection, after authentication: hello and inventory, then the event subscription with its cursor,
// replay from the log, flow control, answers to malformed frames, its actions handed to agent/actions.ts and its
// console streams (text messages and binary frames) to agent/consoles.ts.
//
// The rule that keeps every event exactly once: a session holds only a cursor (the last seq sent), and always sends
// cursor + 1 next, read from the event log (its in-memory tail when live, its files when behind). Nothing is queued
// per connection, so a client that stops reading costs the agent at most one high-water mark of socket buffer; it
// catches up from the log when it drains, and hears of a `gap` if retention deleted what it missed.
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { decodeFrame, FRAME_KIND } from '../protocol/binary-frames.ts';
import type { EvidenceStore } from './evidence/store.ts';
import {
  decodeClientMessage,
  type ActionMessage,
  type AgentMessage,
  type ErrorMessage,
  type HelloMessage,
  type InspectMessage,
  type LogsQueryMessage,
  type LogsResultMessage,
  type PolicySetMessage,
  type SignedPolicy,
  type SubscribeMessage,
  type Vm,
} from '../protocol/index.ts';
import { atLeast } from '../protocol/roles.ts';
import { describeOperation, roleNeeded, type AccessPolicy, type Principal } from './access.ts';
import type { ApprovalDesk } from './approvals.ts';
import type { ConsoleClient, ConsoleHub } from './consoles.ts';
import type { EventLog } from './event-log.ts';

/** Above this many bytes waiting in the socket, events stop being pushed until it drains. */
export const HIGH_WATER_MARK = 4 * 1024 * 1024;
/** A peer that lets this much pile up (control messages it never reads) is cut off. */
export const HARD_LIMIT = 32 * 1024 * 1024;
/** Largest inbound frame; a cockpit's messages are small. */
export const MAX_INBOUND_BYTES = 1024 * 1024;
/**
 * Inbound messages (text and binary frames) per connection: a token bucket that refills RATE_PER_SECOND a second up
 * to RATE_BURST. A cockpit sends a few a second (a typing responder, acks, actions; a reconnect re-sends what was
 * unfinished); a flood past it is answered, not served, and the connection goes on.
 */
export const RATE_PER_SECOND = 500;
export const RATE_BURST = 2000;
/** Records read from the log per step of a catch-up. */
const READ_BATCH = 1024;
const TEXT_FRAME = { binary: false } as const;
const BINARY_FRAME = { binary: true } as const;

export interface SessionContext {
  log: EventLog;
  retain: number;
  hello(): HelloMessage;
  inventory(): Vm[];
  /** The signed policy in force, sent after the inventory (policy.current). */
  policy?(): SignedPolicy | undefined;
  /** An `action` from this cockpit: `reply` reaches only it (agent/actions.ts answers and broadcasts). */
  act(message: ActionMessage, reply: (m: AgentMessage) => void, peer: string, requestedBy: Principal): void;
  /** Who may do what (roles), and what waits for a second person. */
  access: AccessPolicy;
  /** The two-person rule's waiting requests; absent when no operation needs a second person. */
  approvals?: ApprovalDesk;
  /** A `logs.query`: its page or an error (ref = its id). Absent when the agent keeps no logs. */
  queryLogs?(message: LogsQueryMessage): LogsResultMessage | ErrorMessage;
  /** An `inspect`: what runs in the VM now, or an error (ref = its id). Absent when the driver cannot inspect. */
  inspect?(message: InspectMessage): Promise<AgentMessage>;
  /** A `policy.set`: policy.accepted, or an error (ref = its id) when the policy is refused. */
  setPolicy(message: PolicySetMessage): AgentMessage;
  /** Console streams (console.* and binary frames). Absent, or without `available`, when the driver has no consoles. */
  consoles?: ConsoleHub;
  /** The evidence store (evidence.*): captures listed, pulled as binary streams, sanitised. */
  evidence?: EvidenceStore;
  note(line: string): void;
}

export class Session implements ConsoleClient {
  /** The last seq sent to this cockpit; meaningful once subscribed. */
  private cursor = 0;
  private subscribed = false;
  private waitingForDrain = false;
  private closed = false;
  private readonly onDrain = () => {
    this.waitingForDrain = false;
    this.pump();
  };
  /** The inbound rate limit's bucket, and when it was last refilled. */
  private tokens = RATE_BURST;
  private refilledAt = performance.now();
  /** Messages refused for the rate since the last rate_limited answer (one answer a second at most). */
  private refusedSinceNotice = 0;
  private lastNoticeAt = -Infinity;
  /** Console streams waiting for this socket to drain (consoles.ts pauses their VM meanwhile). */
  private drainWaiters: (() => void)[] = [];
  private readonly onConsoleDrain = () => {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const fn of waiters) fn();
  };

  constructor(
    private readonly ws: WebSocket,
    private readonly socket: Duplex,
    private readonly ctx: SessionContext,
    /** Who is on the other end, for stderr notes. */
    readonly peer: string,
    /** Who the agent authenticated on this connection (agent/access.ts). */
    readonly principal: Principal,
  ) {
    ws.on('message', (data, isBinary) => this.receive(data, isBinary));
    ws.on('close', () => {
      this.closed = true;
      socket.off('drain', this.onDrain);
      socket.off('drain', this.onConsoleDrain);
      this.drainWaiters = [];
      this.ctx.consoles?.detach(this);
      this.ctx.evidence?.detach(this);
    });
  }

  /** Open for sending: not closed by either side (ConsoleClient). */
  get open(): boolean {
    return !this.closed && this.ws.readyState === this.ws.OPEN;
  }

  /** Bytes queued on this connection and not yet handed to the network (ConsoleClient). */
  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  /** Calls `fn` once the socket has drained; dropped if the connection closes first (ConsoleClient). */
  onceDrained(fn: () => void): void {
    if (this.closed) return;
    if (this.drainWaiters.length === 0) this.socket.once('drain', this.onConsoleDrain);
    this.drainWaiters.push(fn);
  }

  /** Sends one binary frame (console output), under the same hard limit as text (ConsoleClient). */
  sendFrame(frame: Uint8Array): void {
    if (!this.writable()) return;
    this.ws.send(frame, BINARY_FRAME);
  }

  /** Greets the cockpit: hello first, then the full inventory (protocol/README.md, "The conversation"). */
  start(): void {
    const { access } = this.ctx;
    this.send({ ...this.ctx.hello(), access: { principal: this.principal, twoPerson: [...(this.ctx.approvals ? access.twoPerson : [])], distinct: access.distinct } });
    this.send({ type: 'inventory', vms: this.ctx.inventory() });
    const policy = this.ctx.policy?.();
    if (policy) this.send({ type: 'policy.current', policy });
    for (const approval of this.ctx.approvals?.pending() ?? []) this.send({ type: 'approval.pending', approval });
  }

  /** Sends a small message now, outside the event stream (vm upserts, answers, errors). */
  send(message: AgentMessage): void {
    if (!this.writable()) return;
    this.ws.send(JSON.stringify(message), TEXT_FRAME);
  }

  /** Open, and not holding more than HARD_LIMIT unread: a peer that lets that much pile up is cut off. */
  private writable(): boolean {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return false;
    if (this.ws.bufferedAmount > HARD_LIMIT) {
      this.ctx.note(`cockpit ${this.peer} has not read ${this.ws.bufferedAmount} bytes; closing its connection.`);
      this.ws.close(1008, 'not reading: too much unread data');
      this.closed = true;
      this.ctx.consoles?.detach(this);
      return false;
    }
    return true;
  }

  /**
   * Sends what the cursor has not sent yet, until caught up or the socket is above the high-water mark (then again
   * on 'drain'). Called after every append to the log, so live events go out in the tick that made them.
   */
  pump(): void {
    if (!this.subscribed || this.closed || this.waitingForDrain) return;
    const { log } = this.ctx;
    if (this.cursor >= log.latestSeq) return;
    // Corked, the frames of a whole batch leave in one writev instead of two syscalls per event.
    this.socket.cork();
    try {
      while (this.cursor < log.latestSeq && this.ws.bufferedAmount < HIGH_WATER_MARK) {
        if (this.closed || this.ws.readyState !== this.ws.OPEN) return;
        const records = log.readFrom(this.cursor + 1, READ_BATCH);
        if (records.length === 0) {
          // Nothing at or after cursor + 1 is stored, yet the log has numbered up to latestSeq: those are gone.
          this.gap(this.cursor + 1, log.latestSeq);
          this.cursor = log.latestSeq;
          break;
        }
        const before = this.cursor;
        for (const record of records) {
          if (record.seq <= this.cursor) continue;
          if (record.seq > this.cursor + 1) this.gap(this.cursor + 1, record.seq - 1);
          this.ws.send(record.data, TEXT_FRAME);
          this.cursor = record.seq;
          if (this.ws.bufferedAmount >= HIGH_WATER_MARK) break;
        }
        if (this.cursor === before) {
          // The log returned only what was already sent: it cannot serve cursor + 1, so say so rather than spin.
          this.ctx.note(`event log could not serve seq ${this.cursor + 1} to cockpit ${this.peer}; told it of a gap.`);
          this.gap(this.cursor + 1, log.latestSeq);
          this.cursor = log.latestSeq;
          break;
        }
      }
    } finally {
      this.socket.uncork();
    }
    if (this.cursor < log.latestSeq && !this.closed) {
      this.waitingForDrain = true;
      this.socket.once('drain', this.onDrain);
    }
  }

  /** Takes one token from the bucket; false (and, at most once a second, a rate_limited answer) when it is empty. */
  private admit(): boolean {
    const now = performance.now();
    this.tokens = Math.min(RATE_BURST, this.tokens + ((now - this.refilledAt) / 1000) * RATE_PER_SECOND);
    this.refilledAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    this.refusedSinceNotice++;
    if (now - this.lastNoticeAt >= 1000) {
      this.lastNoticeAt = now;
      this.ctx.note(`cockpit ${this.peer} sends more than ${RATE_PER_SECOND} messages a second; ${this.refusedSinceNotice} refused so far this second.`);
      this.send(error('rate_limited', `This connection sent more than ${RATE_PER_SECOND} messages a second (${RATE_BURST} at once): ${this.refusedSinceNotice} message(s) were refused, not run. Slow down; the connection stays open.`));
      this.refusedSinceNotice = 0;
    }
    return false;
  }

  private receive(data: unknown, isBinary: boolean): void {
    if (!this.admit()) return;
    const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data as Buffer[]) : Buffer.from(data as ArrayBuffer);
    if (isBinary) {
      this.receiveFrame(bytes);
      return;
    }
    const text = bytes.toString('utf8');
    const decoded = decodeClientMessage(text, MAX_INBOUND_BYTES);
    if (!decoded.ok) {
      this.send(decoded.error);
      return;
    }
    const message = decoded.value;
    const needed = roleNeeded(message);
    if (needed && !atLeast(this.principal.role, needed)) {
      const sentence = `You need the ${needed} role ${describeOperation(message)} on this agent; you are ${this.principal.name} (${this.principal.role}). Ask its operator for a ${needed}'s token or certificate.`;
      this.ctx.note(`cockpit ${this.peer} (${printable(this.principal.name)}, ${this.principal.role}) was refused ${message.type}: it needs ${needed}.`);
      if (message.type === 'action') {
        this.send({ type: 'action.rejected', requestId: message.requestId, vmId: message.vmId, kind: message.kind, code: 'forbidden', message: sentence, at: new Date().toISOString() });
      } else {
        this.send(error('forbidden', sentence, 'id' in message ? message.id : undefined));
      }
      return;
    }
    const desk = this.ctx.approvals;
    switch (message.type) {
      case 'subscribe':
        this.subscribe(message);
        return;
      case 'action':
        if (message.kind === 'seize' && desk?.applies('seize')) desk.hold('seize', message, this);
        else this.ctx.act(message, (m) => this.send(m), this.peer, this.principal);
        return;
      case 'approval.decide':
        if (desk) desk.decide(message, this);
        else this.send(error('unsupported', 'Nothing on this agent waits for a second person (its two-person rule is off).', message.id));
        return;
      case 'logs.query':
        this.queryLogs(message);
        return;
      case 'policy.set':
        this.send(this.ctx.setPolicy(message));
        return;
      case 'inspect':
        if (!this.ctx.inspect) this.send(error('unsupported', 'This agent cannot inspect its VMs (it does not announce the "inspect" capability).', message.id));
        else void this.ctx.inspect(message).then((answer) => { if (!this.closed) this.send(answer); });
        return;
      case 'console.open':
      case 'console.resize':
      case 'console.pause':
      case 'console.resume':
      case 'console.close':
        if (this.ctx.consoles?.available) this.ctx.consoles.handle(this, message);
        else this.send(error('unsupported', 'This agent has no consoles (its hello does not announce the "console" capability).', message.type === 'console.open' ? message.id : undefined));
        return;
      case 'evidence.list':
      case 'evidence.pull':
      case 'evidence.ack':
      case 'evidence.cancel':
      case 'evidence.sanitise':
        if (this.ctx.evidence && message.type === 'evidence.sanitise' && desk?.applies('sanitise')) desk.hold('sanitise', message, this);
        else if (this.ctx.evidence) this.ctx.evidence.handle(this, message);
        else this.send(error('unsupported', 'This agent keeps no evidence store (it does not announce the "evidence" capability).', 'id' in message ? message.id : undefined));
        return;
      case 'error':
        // The cockpit objects to something we sent: worth a line for the operator, never an answer (no error loops).
        this.ctx.note(`cockpit ${this.peer} reported ${message.code}${message.ref ? ` about ${printable(message.ref)}` : ''}: ${printable(message.message)}`);
        return;
    }
  }

  /**
   * A binary frame: console input for one of this connection's streams. A malformed one (short header, unknown kind,
   * stream 0, over the size limit) is answered with an error and dropped; the connection goes on.
   */
  private receiveFrame(bytes: Buffer): void {
    const decoded = decodeFrame(bytes);
    if (!decoded.ok) {
      this.send(error(decoded.code, `${decoded.message} The frame was dropped.`));
      return;
    }
    if (decoded.frame.kind === FRAME_KIND.evidenceChunk) {
      this.send(error('unsupported', 'Evidence chunks (binary frames of kind 0x03) flow from agent to cockpit only; the frame was dropped.'));
      return;
    }
    if (!this.ctx.consoles?.available) {
      this.send(error('unsupported', 'This agent has no consoles (its hello does not announce the "console" capability), so it takes no binary frames; the frame was dropped.'));
      return;
    }
    this.ctx.consoles.input(this, decoded.frame);
  }

  /** Answers a log query to this cockpit only; a store fault is an `internal` error, never a dropped connection. */
  private queryLogs(message: LogsQueryMessage): void {
    if (!this.ctx.queryLogs) {
      this.send(error('unsupported', 'This agent keeps no logs (it does not announce the "logs" capability).', message.id));
      return;
    }
    try {
      this.send(this.ctx.queryLogs(message));
    } catch (err) {
      this.ctx.note(`log query from cockpit ${this.peer} failed: ${err instanceof Error ? err.message : String(err)}`);
      this.send(error('internal', 'The agent could not read its log store; see its stderr, and try again.', message.id));
    }
  }

  /** (Re)starts the event stream after `since`; a second subscribe on the same connection restarts from its own. */
  private subscribe(message: SubscribeMessage): void {
    const { log } = this.ctx;
    const latest = log.latestSeq;
    if (message.since > latest) {
      this.send(error('since_ahead', `You hold events up to seq ${message.since}, but this agent has numbered only up to ${latest}: its event log was reset or this is another agent. Subscribe again with since 0 to receive everything it holds.`, message.id));
      return;
    }
    this.cursor = message.since;
    this.subscribed = true;
    const answer: AgentMessage = { type: 'subscribed', since: message.since, latestSeq: latest };
    if (message.id !== undefined) answer.ref = message.id;
    this.send(answer);
    const firstKept = log.firstKeptSeq;
    if (this.cursor + 1 < firstKept && this.cursor < latest) {
      const to = Math.min(firstKept - 1, latest);
      this.gap(this.cursor + 1, to);
      this.cursor = to;
    }
    this.pump();
  }

  /** Says once that [from, to] cannot be replayed, instead of skipping it silently. */
  private gap(from: number, to: number): void {
    const expired = to < this.ctx.log.firstKeptSeq;
    const reason = expired
      ? `Events ${from}–${to} are past this agent's retention (the newest ${this.ctx.retain} are kept) and were deleted before they could be sent.`
      : `Events ${from}–${to} could not be read back from this agent's event log (damaged on disk); see the agent's stderr.`;
    this.ws.send(JSON.stringify({ type: 'gap', from, to, reason }), TEXT_FRAME);
  }
}

function error(code: string, message: string, ref?: string): ErrorMessage {
  const e: ErrorMessage = { type: 'error', code, message };
  if (ref !== undefined) e.ref = ref;
  return e;
}

/** Text from a peer, made safe for a terminal: control characters shown as escapes, length bounded. */
function printable(text: string): string {
  return JSON.stringify(text.slice(0, 300)).slice(1, -1).replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
