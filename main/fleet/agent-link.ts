// One cockpit-to-agent connection: authenticate, read hello, subscribe from the last seq held, keep the
// stream exactly-once (drop what was already seen, record what the agent says is gone), reconnect with backoff;
// ask the agent for pages of its logs (queryLogs) and push it a signed policy (setPolicy), each answer matched to its
// request by ref; and keep the whole policy the agent says it enforces (policy.current).
import { EventEmitter } from 'node:events';
import type { ClientRequest } from 'node:http';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import WebSocket from 'ws';
import {
  decodeAgentMessage,
  decodeClientMessage,
  type ActionAcceptedMessage,
  type ActionMessage,
  type ActionProgressMessage,
  type ActionRejectedMessage,
  type ActionResultMessage,
  MAX_TEXT_FRAME_BYTES,
  PROTOCOL,
  type AgentStatus,
  type ErrorMessage,
  type HelloMessage,
  type LogsQueryMessage,
  type ConsoleOpenedMessage,
  type InspectResultMessage,
  type VmInspection,
  type ConsoleOpenMessage,
  type PolicyAcceptedMessage,
  type PolicyInForce,
  type SignedPolicy,
  type LogsResultMessage,
  type SeqGap,
  type ThreatEvent,
  type Vm,
  type Actor,
  type EvidenceCapture,
  type EvidenceCapturesMessage,
  type EvidenceSanitisedMessage,
  type EvidenceSendingMessage,
  type SanitisationReport,
  type Approval,
  type ApprovalDecideMessage,
  type ApprovalDecidedMessage,
  type ApprovalPendingMessage,
} from '../../protocol/index.ts';
import { Backoff } from './backoff.ts';
import { decodeFrame, encodeFrame, FRAME_KIND, MAX_BINARY_FRAME_BYTES } from '../../protocol/binary-frames.ts';

export interface AgentEndpoint {
  /** The id the cockpit knows this agent by; the agent's hello must carry the same id. */
  agentId: string;
  label: string;
  url: string;
  token: string;
  /**
   * The SHA-256 fingerprint of the agent's TLS certificate this cockpit trusts (wss://). Without one, the link reads
   * the certificate the agent presents, reports it as `untrusted` and sends nothing until the responder pins it.
   */
  fingerprint?: string;
  /** A client certificate and key (PEM) for mutual TLS. */
  clientCert?: { cert: string; key: string };
}

export interface AgentLinkOptions {
  /** On the first connect of a run, how many of the agent's most recent events to load (the rest stay there). */
  backfill: number;
  /** Seq to resume after, e.g. from a journal; 0 = none held. */
  resumeAfter?: number;
  pingIntervalMs?: number;
  helloTimeoutMs?: number;
  backoff?: { baseMs: number; maxMs: number };
}

export type ActionUpdate = ActionAcceptedMessage | ActionRejectedMessage | ActionProgressMessage | ActionResultMessage;

export interface AgentLinkEvents {
  event: [seq: number, event: ThreatEvent, text: string];
  action: [update: ActionUpdate];
  /** The agent said hello and the stream is subscribed: unfinished actions may be (re)sent. */
  ready: [];
  inventory: [vms: Vm[]];
  vm: [vm: Vm];
  'vm.removed': [vmId: string];
  /** The agent's whole signed policy in force (policy.current), after a hello and whenever it changes. */
  policy: [policy: SignedPolicy];
  /** Bytes of a console stream this link opened (binary frame 0x01), in order. */
  'console.data': [stream: number, bytes: Buffer];
  /** A console stream ended: the agent said so, or the connection dropped (every open stream ends with it). */
  'console.closed': [stream: number, reason: string];
  status: [];
  /** A request waits for a second person, or was decided (the two-person rule). */
  approval: [message: ApprovalPendingMessage | ApprovalDecidedMessage];
}

const MAX_GAPS_KEPT = 1000;
/** Requests (log queries, policy pushes) in flight on one link at most; a view pages one at a time, so this is only a bound. */
const MAX_REQUESTS = 32;
const REQUEST_TIMEOUT_MS = 15_000;

/** The filters and page of a log query, as the cockpit asks it (protocol/README.md, Logs). */
export type LogsQuery = Omit<LogsQueryMessage, 'type' | 'id'>;

/**
 * Why a request got no answer: the agent's error code (`bad_query`, `unsupported`, `policy_untrusted`, …) or the
 * link's (`unavailable`, `busy`, `timed_out`, `link_lost`).
 */
export class LogQueryError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'LogQueryError';
  }
}

/** The answers a request waits for, matched by ref. */
type Answer = LogsResultMessage | PolicyAcceptedMessage | ConsoleOpenedMessage | InspectResultMessage | EvidenceCapturesMessage | EvidenceSendingMessage | EvidenceSanitisedMessage;

/** Where the bytes of an evidence stream go, in order, from the first frame on (registered before the pull is sent). */
export interface EvidenceSink {
  data(bytes: Buffer): void;
  /** The agent sent the stream's last frame; `bytes` is where it ended. */
  sent(bytes: number): void;
  /** The stream ended without evidence.sent: the connection dropped or closed, or the agent stopped it. */
  lost(reason: string): void;
}

interface PendingRequest {
  expects: Answer['type'];
  resolve(answer: Answer): void;
  reject(err: LogQueryError): void;
  timer: NodeJS.Timeout;
}

export class AgentLink extends EventEmitter<AgentLinkEvents> {
  private ws: WebSocket | undefined;
  private readonly backoff: Backoff;
  private retryTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private helloTimer: NodeJS.Timeout | undefined;
  private pingSentAt = 0;
  private stopped = false;
  private hello: HelloMessage | undefined;
  private everConnected = false;
  private readonly status: AgentStatus;
  private readonly requests = new Map<string, PendingRequest>();
  private requestCounter = 0;
  private policy: SignedPolicy | undefined;
  /** Console streams open on the current connection (odd ids: the cockpit picks them). */
  private readonly streams = new Set<number>();
  /** Output of streams whose console.opened is not yet handed over (the agent sends a backlog right behind it). */
  private readonly opening = new Map<number, { chunks: Buffer[]; bytes: number }>();
  private nextStream = 1;
  /** Requests on this agent waiting for a second person (approval.pending until approval.decided). */
  private readonly approvals = new Map<string, Approval>();
  /** Evidence streams (binary frames 0x03) of the current connection, by the id this cockpit picked. */
  private readonly evidenceStreams = new Map<number, EvidenceSink>();
  private nextEvidenceStream = 1;

  constructor(readonly endpoint: AgentEndpoint, private readonly opts: AgentLinkOptions) {
    super();
    this.backoff = new Backoff(opts.backoff ?? { baseMs: 250, maxMs: 30_000 });
    this.status = {
      agentId: endpoint.agentId,
      label: endpoint.label,
      url: endpoint.url,
      link: 'connecting',
      lastSeq: opts.resumeAfter ?? 0,
      gaps: [],
      eventsReceived: 0,
      duplicatesDropped: 0,
      reconnects: 0,
    };
    if (opts.resumeAfter) this.everConnected = true;
  }

  get agentId(): string {
    return this.endpoint.agentId;
  }

  get lastSeq(): number {
    return this.status.lastSeq;
  }

  snapshotStatus(): AgentStatus {
    return { ...this.status, gaps: [...this.status.gaps] };
  }

  /** The whole signed policy the agent last said it enforces; undefined when none (or not told yet). */
  currentPolicy(): SignedPolicy | undefined {
    return this.policy;
  }

  /**
   * Trusts another certificate (or none: the next connection reads the presented one and reports it untrusted), and
   * connects again from scratch.
   */
  repin(fingerprint: string | undefined): void {
    this.stop();
    if (fingerprint) this.endpoint.fingerprint = fingerprint;
    else delete this.endpoint.fingerprint;
    delete this.status.tls;
    delete this.status.lastError;
    this.start();
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.clearTimers();
    this.ws?.terminate();
    this.ws = undefined;
    this.failRequests('link_lost', 'The connection to the agent was closed before it answered.');
    this.closeStreams('The cockpit closed its connection to the agent.');
    this.setLink('disconnected');
  }

  /**
   * One page of the agent's log records that match (newest first), or a LogQueryError: the agent's `error` for this
   * query (`bad_query`, `unsupported`, …), `unavailable` when the link is down or the agent collects no logs,
   * `timed_out`, or `link_lost` when the connection drops first. The answer was validated on entry like every frame.
   */
  queryLogs(query: LogsQuery, options: { timeoutMs?: number } = {}): Promise<LogsResultMessage> {
    if (this.status.link === 'connected' && !this.hello?.capabilities.includes('logs')) {
      return Promise.reject(new LogQueryError('unsupported', `${this.endpoint.label} does not collect logs (its hello does not offer "logs").`));
    }
    return this.request({ ...query, type: 'logs.query' }, 'logs.result', 'the log query', options.timeoutMs) as Promise<LogsResultMessage>;
  }

  /**
   * Pushes a signed policy: resolves with what the agent now enforces (policy.accepted), or a LogQueryError with the
   * agent's refusal (`policy_untrusted`, `policy_bad_signature`, `policy_stale`, `policy_invalid`, …) or the link's.
   */
  async setPolicy(policy: SignedPolicy, options: { timeoutMs?: number } = {}): Promise<PolicyInForce> {
    const answer = await this.request({ type: 'policy.set', policy }, 'policy.accepted', 'the policy', options.timeoutMs) as PolicyAcceptedMessage;
    return answer.policy;
  }

  /**
   * Attaches to a VM's console: resolves once the agent answered console.opened (its bytes then come as
   * 'console.data' with the stream id), or rejects with the agent's error or the link's.
   */
  async openConsole(o: Omit<ConsoleOpenMessage, 'type' | 'id' | 'stream'>): Promise<ConsoleOpenedMessage & { early: Buffer[] }> {
    if (this.status.link === 'connected' && !this.hello?.capabilities.includes('console')) {
      throw new LogQueryError('unsupported', `${this.endpoint.label} offers no console (its hello does not say "console").`);
    }
    const stream = this.nextStream;
    this.nextStream = this.nextStream >= 0xfffffffd ? 1 : this.nextStream + 2;
    this.streams.add(stream);
    this.opening.set(stream, { chunks: [], bytes: 0 });
    try {
      const opened = await this.request({ ...o, type: 'console.open', stream }, 'console.opened', 'the console', 15_000) as ConsoleOpenedMessage;
      // What arrived between the answer and this line is handed over with it, in order; what follows is emitted.
      return { ...opened, early: this.opening.get(stream)?.chunks ?? [] };
    } catch (err) {
      // An answer too late for us may still open it on the agent: say that we do not want it.
      if (err instanceof LogQueryError && err.code === 'timed_out') this.consoleControl({ type: 'console.close', stream });
      this.streams.delete(stream);
      throw err;
    } finally {
      this.opening.delete(stream);
    }
  }

  /** Input for a stream (binary frame 0x02); false when the stream or the link is gone. */
  consoleInput(stream: number, bytes: Uint8Array): boolean {
    if (!this.streams.has(stream) || this.ws?.readyState !== WebSocket.OPEN) return false;
    for (let at = 0; at < bytes.byteLength; at += MAX_BINARY_FRAME_BYTES - 5) {
      this.ws.send(encodeFrame(FRAME_KIND.consoleInput, stream, bytes.subarray(at, at + MAX_BINARY_FRAME_BYTES - 5)), { binary: true });
    }
    return true;
  }

  /** resize, pause, resume or close of a stream this link opened; false when it is gone. */
  consoleControl(message: { type: 'console.resize'; stream: number; cols: number; rows: number } | { type: 'console.pause' | 'console.resume' | 'console.close'; stream: number }): boolean {
    if (!this.streams.has(message.stream) || this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  /** Ends every stream of a connection that is gone: the agent forgets them with it. */
  private closeStreams(reason: string): void {
    const open = [...this.streams];
    this.streams.clear();
    for (const stream of open) this.emit('console.closed', stream, reason);
    const evidence = [...this.evidenceStreams.values()];
    this.evidenceStreams.clear();
    for (const sink of evidence) sink.lost(reason);
  }

  /** The captures in the agent's evidence store (evidence.list → evidence.captures), or a LogQueryError. */
  async listEvidence(vmId?: string): Promise<EvidenceCapture[]> {
    this.needs('evidence', 'keeps no evidence store');
    const answer = await this.request({ type: 'evidence.list', ...(vmId !== undefined ? { vmId } : {}) }, 'evidence.captures', 'the evidence list') as EvidenceCapturesMessage;
    return answer.captures;
  }

  /**
   * Pulls one file of a capture from `offset`: `sink` gets its bytes in order from the first frame, then sent() or
   * lost(). Resolves with the agent's evidence.sending (size and hashes), or rejects with the agent's error.
   */
  async pullEvidence(p: { captureId: string; path: string; offset: number; window?: number }, sink: EvidenceSink): Promise<{ stream: number; sending: EvidenceSendingMessage }> {
    this.needs('evidence', 'keeps no evidence store');
    const stream = this.nextEvidenceStream;
    this.nextEvidenceStream = this.nextEvidenceStream >= 0xfffffffe ? 1 : this.nextEvidenceStream + 1;
    this.evidenceStreams.set(stream, sink);
    try {
      const sending = await this.request({ type: 'evidence.pull', stream, ...p }, 'evidence.sending', 'the evidence pull', 30_000) as EvidenceSendingMessage;
      return { stream, sending };
    } catch (err) {
      if (this.evidenceStreams.get(stream) === sink) this.evidenceStreams.delete(stream);
      if (err instanceof LogQueryError && err.code === 'timed_out') this.send({ type: 'evidence.cancel', stream });
      throw err;
    }
  }

  /** Every byte of `stream` before `offset` is synced here: the agent may send on. */
  evidenceAck(stream: number, offset: number): boolean {
    if (!this.evidenceStreams.has(stream) || this.ws?.readyState !== WebSocket.OPEN) return false;
    this.send({ type: 'evidence.ack', stream, offset });
    return true;
  }

  /** Stops a stream; its sink hears nothing more. */
  evidenceCancel(stream: number): void {
    if (this.evidenceStreams.delete(stream)) this.send({ type: 'evidence.cancel', stream });
  }

  /** Asks the agent to sanitise what it holds of a terminated VM; its report, or a LogQueryError. */
  async sanitise(m: { vmId: string; captureId?: string; actor: Actor; reason: string }): Promise<SanitisationReport> {
    this.needs('evidence', 'keeps no evidence store');
    const answer = await this.request({ type: 'evidence.sanitise', ...m }, 'evidence.sanitised', 'the sanitisation', 30 * 60_000) as EvidenceSanitisedMessage;
    return answer.report;
  }

  private needs(capability: string, what: string): void {
    if (this.status.link === 'connected' && !this.hello?.capabilities.includes(capability)) {
      throw new LogQueryError('unsupported', `${this.endpoint.label} ${what} (its hello does not say "${capability}").`);
    }
  }

  private onBinary(data: Buffer): void {
    const decoded = decodeFrame(data);
    if (!decoded.ok) {
      this.sendError(decoded.code === 'unsupported' ? 'unsupported' : 'bad_message', decoded.message);
      return;
    }
    const { kind, stream, payload } = decoded.frame;
    if (kind === FRAME_KIND.evidenceChunk) {
      // A view into ws's buffer: the sink copies what it keeps. Frames of a stream cancelled a moment ago are dropped.
      this.evidenceStreams.get(stream)?.data(payload as Buffer);
      return;
    }
    if (kind !== FRAME_KIND.consoleOutput) {
      this.sendError('unsupported', `This cockpit does not take binary frames of kind 0x${kind.toString(16).padStart(2, '0')} from an agent.`);
      return;
    }
    const early = this.opening.get(stream);
    if (early) {
      // Bounded: an agent that floods before answering the open is cut off at 4 MiB of backlog.
      if (early.bytes + payload.byteLength <= 4 * 1024 * 1024) {
        early.chunks.push(Buffer.from(payload));
        early.bytes += payload.byteLength;
      }
      return;
    }
    // Output for a stream closed a moment ago is dropped: the session that wanted it has ended.
    if (this.streams.has(stream)) this.emit('console.data', stream, Buffer.from(payload));
  }

  /** What runs in a VM now, as its agent reads it (inspect → inspect.result), or a LogQueryError. */
  async inspect(vmId: string, options: { timeoutMs?: number } = {}): Promise<VmInspection> {
    if (this.status.link === 'connected' && !this.hello?.capabilities.includes('inspect')) {
      throw new LogQueryError('unsupported', `${this.endpoint.label} cannot inspect its VMs (its hello does not say "inspect").`);
    }
    const answer = await this.request({ type: 'inspect', vmId }, 'inspect.result', 'the inspection', options.timeoutMs ?? 30_000) as InspectResultMessage;
    if (answer.inspection.vmId !== vmId) throw new LogQueryError('bad_message', `${this.endpoint.label} answered an inspection of ${answer.inspection.vmId.slice(0, 128)}, not of ${vmId}.`);
    return answer.inspection;
  }

  /** Sends a request with a fresh id and waits for the answer whose ref names it (or an error with that ref). */
  private request(message: { type: 'logs.query' | 'policy.set' | 'console.open' | 'inspect' | 'evidence.list' | 'evidence.pull' | 'evidence.sanitise' } & Record<string, unknown>, expects: Answer['type'], what: string, timeoutMs = REQUEST_TIMEOUT_MS): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const ws = this.ws;
      if (this.status.link !== 'connected' || !ws || ws.readyState !== WebSocket.OPEN) {
        reject(new LogQueryError('unavailable', `${this.endpoint.label} is not connected; ${what} can be sent once it is.`));
        return;
      }
      if (this.requests.size >= MAX_REQUESTS) {
        reject(new LogQueryError('busy', `${MAX_REQUESTS} requests to ${this.endpoint.label} are still waiting for an answer; try again when they are done.`));
        return;
      }
      const id = `${message.type.split('.')[0]}-${Date.now().toString(36)}-${++this.requestCounter}`;
      const text = JSON.stringify({ ...message, id });
      // The same check the agent makes, here first: a bad request is said at once, in the same words.
      const checked = decodeClientMessage(text);
      if (!checked.ok) {
        reject(new LogQueryError(checked.error.code, checked.error.message));
        return;
      }
      const timer = setTimeout(() => {
        this.requests.delete(id);
        reject(new LogQueryError('timed_out', `${this.endpoint.label} did not answer ${what} within ${timeoutMs / 1000} s.`));
      }, timeoutMs);
      timer.unref();
      this.requests.set(id, { expects, resolve, reject, timer });
      ws.send(text);
    });
  }

  private settleRequest(ref: string | undefined, outcome: { answer: Answer } | { error: ErrorMessage }): boolean {
    const pending = ref !== undefined ? this.requests.get(ref) : undefined;
    if (!pending) return false;
    if ('answer' in outcome && outcome.answer.type !== pending.expects) return false;
    this.requests.delete(ref!);
    clearTimeout(pending.timer);
    if ('answer' in outcome) pending.resolve(outcome.answer);
    else pending.reject(new LogQueryError(outcome.error.code, outcome.error.message));
    return true;
  }

  private failRequests(code: string, message: string): void {
    for (const [id, p] of this.requests) {
      clearTimeout(p.timer);
      this.requests.delete(id);
      p.reject(new LogQueryError(code, message));
    }
  }

  private connect(): void {
    if (this.stopped) return;
    this.assertTransportAllowed();
    this.setLink('connecting');
    const secure = this.endpoint.url.startsWith('wss:');
    const ws = new WebSocket(this.endpoint.url, PROTOCOL, {
      headers: { Authorization: `Bearer ${this.endpoint.token}` },
      maxPayload: MAX_TEXT_FRAME_BYTES,
      handshakeTimeout: 10_000,
      perMessageDeflate: false,
      followRedirects: false,
      ...(secure ? {
        // No CA vouches for an agent: its certificate is checked against the pin below, before the request (and its
        // token) is written. Until then ws holds the request unsent.
        rejectUnauthorized: false,
        ...(this.endpoint.clientCert ? { cert: this.endpoint.clientCert.cert, key: this.endpoint.clientCert.key } : {}),
        finishRequest: (req: ClientRequest) => {
          req.once('socket', (socket) => {
            (socket as TLSSocket).once('secureConnect', () => {
              const verdict = this.checkPin((socket as TLSSocket).getPeerCertificate());
              if (verdict === undefined) req.end();
              else req.destroy(new PinError(verdict));
            });
          });
        },
      } : {}),
    });
    this.ws = ws;
    ws.on('unexpected-response', (_req, res) => {
      const unauthorized = res.statusCode === 401;
      this.fail(unauthorized ? 'unauthorized' : 'failed', unauthorized
        ? 'The agent refused the token (HTTP 401). Check the token configured for this agent.'
        : `The agent answered the upgrade with HTTP ${res.statusCode}; is this a cordon.v1 agent?`);
      res.resume();
      ws.terminate();
    });
    ws.on('open', () => {
      if (ws.protocol !== PROTOCOL) {
        this.fail('failed', `The agent did not agree to the ${PROTOCOL} subprotocol.`);
        ws.terminate();
        return;
      }
      this.helloTimer = setTimeout(() => {
        this.fail('failed', 'The agent sent no hello within 10 seconds.');
        ws.terminate();
      }, this.opts.helloTimeoutMs ?? 10_000);
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        this.onBinary(Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data));
        return;
      }
      this.onText(data.toString());
    });
    ws.on('pong', () => {
      if (this.pingSentAt) this.status.rttMs = Math.round((performance.now() - this.pingSentAt) * 10) / 10;
      this.pingSentAt = 0;
    });
    ws.on('error', (err) => {
      if (err instanceof PinError) {
        // No retry: only the responder can decide to trust another certificate.
        this.stopped = true;
        this.setLink('untrusted', err.message);
        return;
      }
      if (this.status.link !== 'unauthorized' && this.status.link !== 'untrusted') this.status.lastError = describeSocketError(err, this.endpoint.url);
    });
    ws.on('close', () => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      this.clearTimers();
      this.failRequests('link_lost', 'The connection to the agent dropped before it answered; ask again once it is back.');
      this.closeStreams('The connection to the agent dropped; open the console again once it is back.');
      if (this.status.link === 'connected' || this.status.link === 'connecting') this.setLink('disconnected');
      this.scheduleReconnect();
    });
  }

  /**
   * Checks the certificate the agent presented against the pin: undefined when it is the pinned one, else the
   * sentence that says what is wrong (and the presented fingerprint is kept in the status for the responder).
   */
  private checkPin(cert: PeerCertificate | undefined): string | undefined {
    const presented = cert?.fingerprint256;
    if (!presented) return `The agent at ${this.endpoint.url} presented no certificate; Cordon does not connect to it.`;
    const pinned = this.endpoint.fingerprint;
    if (pinned === presented) {
      this.status.tls = { pinned };
      return undefined;
    }
    this.status.tls = { ...(pinned ? { pinned } : {}), presented };
    if (!pinned) {
      return `This agent's certificate is not trusted yet. Its SHA-256 fingerprint is ${presented}. Compare it with the fingerprint the agent printed on its host (its ready line, or its log at start); trust it only if they are the same. Nothing was sent to the agent.`;
    }
    return `WARNING: the agent at ${this.endpoint.url} presented a different certificate (SHA-256 ${presented}) from the one this cockpit trusts (${pinned}). Someone may be intercepting the connection, or the agent's key was replaced. Cordon will not connect and sent nothing. If the agent's operator confirms a new key, remove this agent's pin in Settings and trust the new fingerprint.`;
  }

  /** Plain ws:// carries the token in the clear: allowed only to this machine. */
  private assertTransportAllowed(): void {
    const u = new URL(this.endpoint.url);
    if (u.protocol === 'ws:' && !isLoopbackHost(u.hostname)) {
      this.stopped = true;
      this.setLink('failed', `Refusing plain ws:// to ${u.hostname}: only loopback may go unencrypted; use wss://.`);
      throw new Error(this.status.lastError);
    }
  }

  private onText(text: string): void {
    const decoded = decodeAgentMessage(text);
    if (!decoded.ok) {
      this.status.lastError = `The agent sent a bad message: ${decoded.error.message}`;
      this.sendError(decoded.error.code, decoded.error.message, decoded.error.ref);
      this.emit('status');
      return;
    }
    const msg = decoded.value;
    switch (msg.type) {
      case 'hello':
        return this.onHello(msg);
      case 'event': {
        const seq = msg.seq;
        if (seq <= this.status.lastSeq) {
          // A replay overlapping what we hold, or a misbehaving agent: shown once, never twice.
          this.status.duplicatesDropped++;
          return;
        }
        if (msg.event.agentId !== this.endpoint.agentId) {
          this.sendError('bad_message', `Event ${seq} names agent "${msg.event.agentId.slice(0, 64)}", not this agent.`);
          return;
        }
        if (seq > this.status.lastSeq + 1) {
          this.addGap({ from: this.status.lastSeq + 1, to: seq - 1, reason: 'The agent skipped these without a gap notice.' });
        }
        this.status.lastSeq = seq;
        this.status.eventsReceived++;
        this.emit('event', seq, msg.event, text);
        return;
      }
      case 'gap':
        if (msg.from > msg.to) {
          this.sendError('bad_message', `A gap from ${msg.from} to ${msg.to} runs backwards.`);
          return;
        }
        if (msg.to > this.status.lastSeq) {
          this.addGap({ from: Math.max(msg.from, this.status.lastSeq + 1), to: msg.to, reason: msg.reason });
          this.status.lastSeq = msg.to;
          this.emit('status');
        }
        return;
      case 'subscribed':
        this.status.agentLatestSeq = msg.latestSeq;
        this.emit('status');
        return;
      case 'inventory':
        return void this.emit('inventory', msg.vms);
      case 'vm':
        return void this.emit('vm', msg.vm);
      case 'vm.removed':
        return void this.emit('vm.removed', msg.vmId);
      case 'error':
        // An answer to one of our requests is that request's outcome, not the link's health.
        if (this.settleRequest(msg.ref, { error: msg })) return;
        this.status.lastError = `The agent reported ${msg.code}: ${msg.message}`;
        this.emit('status');
        return;
      case 'console.closed':
        if (this.streams.delete(msg.stream)) this.emit('console.closed', msg.stream, msg.reason);
        return;
      case 'evidence.sent': {
        const sink = this.evidenceStreams.get(msg.stream);
        if (sink) {
          this.evidenceStreams.delete(msg.stream);
          sink.sent(msg.bytes);
        }
        return;
      }
      case 'logs.result':
      case 'policy.accepted':
      case 'console.opened':
      case 'inspect.result':
      case 'evidence.captures':
      case 'evidence.sending':
      case 'evidence.sanitised':
        // An answer nobody waits for any more (timed out) is dropped.
        this.settleRequest(msg.ref, { answer: msg });
        return;
      case 'policy.current':
        this.policy = msg.policy;
        this.status.policy = { id: msg.policy.policy.id, version: msg.policy.policy.version, signer: msg.policy.signature.keyId };
        this.emit('policy', msg.policy);
        this.emit('status');
        return;
      case 'action.accepted':
      case 'action.rejected':
      case 'action.progress':
      case 'action.result':
        this.emit('action', msg);
        return;
      case 'approval.pending':
        this.approvals.set(msg.approval.approvalId, msg.approval);
        this.status.approvals = [...this.approvals.values()];
        this.emit('approval', msg);
        this.emit('status');
        return;
      case 'approval.decided':
        this.approvals.delete(msg.approvalId);
        this.status.approvals = [...this.approvals.values()];
        this.emit('approval', msg);
        this.emit('status');
        return;
    }
  }

  /** A second principal's decision on a waiting request (the two-person rule); false when the link is down. */
  decideApproval(message: Omit<ApprovalDecideMessage, 'type'>): boolean {
    return this.send({ type: 'approval.decide', ...message });
  }

  private onHello(hello: HelloMessage): void {
    clearTimeout(this.helloTimer);
    if (hello.agent.id !== this.endpoint.agentId) {
      this.fail('failed', `Expected agent "${this.endpoint.agentId}" but "${hello.agent.id.slice(0, 64)}" answered at ${this.endpoint.url}.`);
      this.ws?.close(1008, 'wrong agent');
      return;
    }
    if (this.hello) this.status.reconnects++;
    this.hello = hello;
    this.backoff.reset();
    // A restarted agent with a *lower* latest seq than we hold lost its log: say so, and follow its numbering.
    if (hello.latestSeq < this.status.lastSeq) {
      this.addGap({ from: hello.latestSeq + 1, to: this.status.lastSeq, reason: `The agent restarted with an older event log (latest seq ${hello.latestSeq}); its numbering starts again from there.` });
      this.status.lastSeq = hello.latestSeq;
    }
    let since = this.status.lastSeq;
    if (!this.everConnected) {
      since = Math.max(0, hello.latestSeq - this.opts.backfill);
      this.status.lastSeq = since;
      this.everConnected = true;
    }
    // What the agent enforces now: its policy.current follows the inventory; until then, none is known in whole.
    if (hello.policy) this.status.policy = hello.policy;
    else delete this.status.policy;
    if (!hello.policy || hello.policy.id !== this.policy?.policy.id || hello.policy.version !== this.policy.policy.version) this.policy = undefined;
    if (hello.agent.hostGroups) this.status.hostGroups = [...hello.agent.hostGroups];
    else delete this.status.hostGroups;
    if (hello.access) this.status.access = hello.access;
    else delete this.status.access;
    // Waiting requests are told again after the hello: what was waiting before is forgotten, not assumed.
    this.approvals.clear();
    this.status.approvals = [];
    Object.assign(this.status, {
      host: hello.agent.host,
      hypervisor: `${hello.hypervisor.kind} ${hello.hypervisor.version}`.trim(),
      actions: hello.actions,
      agentLatestSeq: hello.latestSeq,
      connectedSince: Date.now(),
    });
    delete this.status.lastError;
    delete this.status.nextRetryAt;
    this.setLink('connected');
    this.send({ type: 'subscribe', id: `sub-${Date.now()}`, since });
    this.startPing();
    this.emit('ready');
  }

  /** Sends an action if the link is up; false when it is not (the hub re-sends it on the next hello). */
  sendAction(action: ActionMessage): boolean {
    if (this.status.link !== 'connected' || this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(action));
    return true;
  }

  private addGap(gap: SeqGap): void {
    this.status.gaps.push(gap);
    if (this.status.gaps.length > MAX_GAPS_KEPT) this.status.gaps.splice(0, this.status.gaps.length - MAX_GAPS_KEPT);
  }

  private startPing(): void {
    const interval = this.opts.pingIntervalMs ?? 5000;
    const ping = (): void => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
      if (this.pingSentAt && performance.now() - this.pingSentAt > interval * 3) {
        // No pong for three intervals: the link is dead even if TCP has not noticed (a pulled cable).
        this.status.lastError = 'The agent stopped answering pings.';
        this.ws.terminate();
        return;
      }
      if (!this.pingSentAt) {
        this.pingSentAt = performance.now();
        this.ws.ping();
      }
    };
    ping();
    this.pingTimer = setInterval(ping, interval);
    this.pingTimer.unref();
  }

  private send(msg: object): boolean {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  private sendError(code: string, message: string, ref?: string): void {
    const err: ErrorMessage = { type: 'error', code, message: message.slice(0, 2048) };
    if (ref) err.ref = ref;
    this.send(err);
  }

  private fail(link: 'unauthorized' | 'failed', why: string): void {
    this.setLink(link, why);
  }

  private setLink(link: AgentStatus['link'], error?: string): void {
    this.status.link = link;
    if (error) this.status.lastError = error;
    if (link !== 'connected') delete this.status.connectedSince;
    this.emit('status');
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    // A refused token will not fix itself quickly: retry at the slowest pace, but keep trying (it may be rotated).
    const delay = this.status.link === 'unauthorized' ? (this.opts.backoff?.maxMs ?? 30_000) : this.backoff.next();
    this.status.nextRetryAt = Date.now() + delay;
    this.emit('status');
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  private clearTimers(): void {
    clearInterval(this.pingTimer);
    clearTimeout(this.helloTimer);
    this.pingSentAt = 0;
  }
}

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** The agent's certificate is not the pinned one (or none is pinned): the link stops until the responder decides. */
class PinError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PinError';
  }
}

function describeSocketError(err: Error & { code?: string }, url: string): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return `Nothing is listening at ${url}; is the agent running?`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `The agent's host in ${url} cannot be resolved.`;
    case 'ETIMEDOUT':
      return `The connection to ${url} timed out.`;
    default:
      return `The connection to ${url} failed: ${err.message.slice(0, 300)}`;
  }
}
