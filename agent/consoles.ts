// The consoles a cockpit opens on VMs (console.open … console.closed, binary frames 0x01 out and 0x02 in), served from
// one attachment per VM — a QEMU serial chardev takes one client at a time — fanned out to every stream that watches
// that VM, on any connection. Input from any writable stream goes to the guest, as on a shared terminal.
//
// Flow control is by not reading, never by queueing: while any stream of a VM is paused by its cockpit, or any of
// their connections has more than the session's high-water mark unsent, the VM's attachment is paused. A guest that
// floods its console then blocks in its own UART and tty buffers; the agent holds at most what was in flight (the
// source's `held`, one socket read) and nothing is dropped or reordered. Counted in stats() so tests can hold us to it.
import { encodeFrame, FRAME_KIND, type BinaryFrame } from '../protocol/binary-frames.ts';
import type {
  Actor,
  AgentMessage,
  ConsoleCloseMessage,
  ConsolePauseMessage,
  ConsoleResumeMessage,
  ConsoleOpenMessage,
  ConsoleOpenedMessage,
  ConsoleResizeMessage,
  ErrorMessage,
  Vm,
} from '../protocol/index.ts';
import { printable } from './actions.ts';
import type { ConsoleSource, Driver } from './drivers/driver.ts';
import { AgentError } from './errors.ts';
import { HIGH_WATER_MARK } from './session.ts';

/** What a new stream is shown first of what the console printed before it (cut to start at a line). */
export const BACKLOG_BYTES = 8192;
/** Console streams one cockpit connection may hold open at once. */
export const MAX_STREAMS_PER_CONNECTION = 16;
/** Streams on one VM, all connections together. */
export const MAX_STREAMS_PER_VM = 32;
/** Largest payload of one output frame (a source's chunk is split above it). */
export const MAX_OUTPUT_CHUNK = 64 * 1024;

/** One cockpit connection as the console hub uses it (agent/session.ts implements it). */
export interface ConsoleClient {
  /** Who is on the other end, for stderr notes. */
  readonly peer: string;
  /** False once the connection is closing or closed. */
  readonly open: boolean;
  send(message: AgentMessage): void;
  /** Sends one binary frame (header and payload, protocol/binary-frames.ts). */
  sendFrame(frame: Uint8Array): void;
  /** Bytes queued on the connection and not yet handed to the network. */
  readonly bufferedAmount: number;
  /** Calls `fn` once, when the connection's socket has drained; never if the connection closes first. */
  onceDrained(fn: () => void): void;
}

export interface ConsoleHubOptions {
  driver: Driver;
  note(line: string): void;
}

/** Per VM: what its attachment did, for tests and diagnostics. */
export interface VmConsoleStats {
  vmId: string;
  attached: boolean;
  /** The attachment is paused now (a stream paused by its cockpit, or a connection above its high-water mark). */
  paused: boolean;
  streams: number;
  /** Bytes the attachment holds now (read from the guest, not yet delivered). */
  held: number;
  /** The most it was seen to hold (sampled at every delivery, every pause and every stats() call). */
  maxHeld: number;
  /** Output bytes taken from the guest (each counted once, however many streams it went to). */
  bytesFromGuest: number;
  /** Input bytes passed to the guest. */
  bytesToGuest: number;
  /** Output delivered while the attachment was paused: a source that ignores pause(). Always 0 when all is well. */
  deliveredWhilePaused: number;
  /** How many times the attachment was paused. */
  pauses: number;
  /** Window sizes passed to the guest, and how many it confirmed (the lab guest's helper acknowledges each). */
  resizes: number;
  resizesAcknowledged: number;
  size?: { cols: number; rows: number };
}

export interface ConsoleStats {
  /** Open streams, every VM and connection together (attaching ones included). */
  streams: number;
  vms: VmConsoleStats[];
  /** The most bytes any connection had unsent right after a console frame was queued on it. */
  maxBuffered: number;
}

interface Stream {
  client: ConsoleClient;
  id: number;
  vmId: string;
  ref?: string;
  askedReadOnly: boolean;
  /** Who opened it, for notes (printable). */
  who: string;
  cols: number;
  rows: number;
  /** console.opened went out: output and input flow. Until then it waits for the VM's attachment. */
  opened: boolean;
  closed: boolean;
  pausedByCockpit: boolean;
  /** Its connection went above the high-water mark: the VM's output waits for that connection's 'drain'. */
  waitingForDrain: boolean;
  openedAt: number;
  bytesOut: number;
  bytesIn: number;
}

interface VmConsole {
  vmId: string;
  /** The VM's name as last seen (for notes and reasons after it is gone). */
  name: string;
  source?: ConsoleSource;
  attaching: boolean;
  /** Attached while the VM was terminated already: a view of what it last printed, not closed by its termination. */
  postMortem: boolean;
  streams: Set<Stream>;
  /** The newest output, for a stream that opens later (its backlog): at most BACKLOG_BYTES. */
  ring: Buffer[];
  ringBytes: number;
  paused: boolean;
  stats: Omit<VmConsoleStats, 'vmId' | 'attached' | 'paused' | 'streams' | 'held'>;
}

export class ConsoleHub {
  private readonly consoles = new Map<string, VmConsole>();
  private readonly byClient = new Map<ConsoleClient, Map<number, Stream>>();
  private maxBuffered = 0;
  private closing = false;

  constructor(private readonly options: ConsoleHubOptions) {}

  /** Whether the driver has consoles at all (hello's `console` capability). */
  get available(): boolean {
    return typeof this.options.driver.openConsole === 'function';
  }

  /** One console.* text message from a cockpit. */
  handle(client: ConsoleClient, message: ConsoleOpenMessage | ConsoleResizeMessage | ConsolePauseMessage | ConsoleResumeMessage | ConsoleCloseMessage): void {
    switch (message.type) {
      case 'console.open': this.open(client, message); return;
      case 'console.resize': this.resize(client, message); return;
      case 'console.pause':
      case 'console.resume': this.flow(client, message); return;
      case 'console.close': this.closeByCockpit(client, message); return;
    }
  }

  /** A binary frame from a cockpit, decoded (protocol/binary-frames.ts): keystrokes for one of its streams. */
  input(client: ConsoleClient, frame: BinaryFrame): void {
    if (frame.kind !== FRAME_KIND.consoleInput) {
      const what = frame.kind === FRAME_KIND.consoleOutput ? 'console output' : 'an evidence chunk';
      client.send(error('bad_frame', `Binary frame kind 0x0${frame.kind} is ${what}, which only an agent sends; a cockpit sends console input (kind 0x02).`));
      return;
    }
    const s = this.byClient.get(client)?.get(frame.stream);
    if (!s) {
      client.send(error('unknown_stream', `No console stream ${frame.stream} is open on this connection: open it with console.open first (or it was closed); ${frame.payload.byteLength} input byte(s) dropped.`));
      return;
    }
    if (!s.opened) {
      client.send(error('not_open', `Console stream ${s.id} is still attaching to its VM: send input after console.opened; ${frame.payload.byteLength} input byte(s) dropped.`));
      return;
    }
    if (frame.payload.byteLength === 0) return;
    const vc = this.consoles.get(s.vmId);
    const refusal = this.readOnlyReason(s, this.options.driver.getVm(s.vmId));
    if (refusal || !vc?.source) {
      client.send(error('read_only', `Console stream ${s.id} takes no input: ${refusal ?? 'its console is gone'} ${frame.payload.byteLength} input byte(s) were not passed to the guest.`));
      return;
    }
    if (!vc.source.write(frame.payload)) {
      client.send(error('busy', `The guest of console stream ${s.id} is not taking input now (what was typed before is still waiting): ${frame.payload.byteLength} input byte(s) were not passed; try again once it reads.`));
      return;
    }
    s.bytesIn += frame.payload.byteLength;
    vc.stats.bytesToGuest += frame.payload.byteLength;
  }

  /** The connection is gone: its streams end without a message (there is no one to tell). */
  detach(client: ConsoleClient): void {
    const streams = this.byClient.get(client);
    if (!streams) return;
    for (const s of [...streams.values()]) this.end(s, 'the connection closed', false);
    this.byClient.delete(client);
  }

  /** A VM changed: a termination ends its streams (unless they were opened on the terminated VM, to read its end). */
  vmChanged(vm: Vm): void {
    const vc = this.consoles.get(vm.id);
    if (!vc) return;
    vc.name = vm.name;
    if (vm.state !== 'terminated' || vc.postMortem) return;
    this.endAll(vc, `${vm.name} was terminated: its console is gone.`);
  }

  vmRemoved(vmId: string): void {
    const vc = this.consoles.get(vmId);
    if (vc) this.endAll(vc, `${vc.name} is gone from this host.`);
  }

  /** The agent is stopping: every stream is told, every attachment let go (the guests run on). */
  close(): void {
    this.closing = true;
    for (const vc of [...this.consoles.values()]) this.endAll(vc, 'The agent is shutting down.');
  }

  stats(): ConsoleStats {
    let streams = 0;
    const vms: VmConsoleStats[] = [];
    for (const vc of this.consoles.values()) {
      streams += vc.streams.size;
      this.sampleHeld(vc);
      vms.push({ vmId: vc.vmId, attached: vc.source !== undefined, paused: vc.paused, streams: vc.streams.size, held: vc.source?.held ?? 0, ...vc.stats, ...(vc.stats.size ? { size: { ...vc.stats.size } } : {}) });
    }
    return { streams, vms, maxBuffered: this.maxBuffered };
  }

  // ---- console.open ----------------------------------------------------------------------------------------------

  private open(client: ConsoleClient, m: ConsoleOpenMessage): void {
    const refuse = (code: string, message: string) => client.send(error(code, message, m.id));
    const { driver } = this.options;
    if (this.closing) {
      refuse('unavailable', 'The agent is shutting down: it opens no more consoles. Open it again once the agent is back.');
      return;
    }
    if (!driver.openConsole) {
      refuse('unsupported', `This agent's ${driver.kind} driver has no consoles (hello does not announce the "console" capability).`);
      return;
    }
    if (m.stream % 2 === 0) {
      refuse('bad_stream', `Stream ids a cockpit picks are odd (the agent's are even): ${m.stream} is not one; pick an odd id unused on this connection.`);
      return;
    }
    let mine = this.byClient.get(client);
    if (mine?.has(m.stream)) {
      refuse('stream_in_use', `Stream ${m.stream} is already open on this connection (on VM ${mine.get(m.stream)!.vmId}): pick another odd id, or close that stream first.`);
      return;
    }
    if ((mine?.size ?? 0) >= MAX_STREAMS_PER_CONNECTION) {
      refuse('too_many_streams', `This connection has ${MAX_STREAMS_PER_CONNECTION} console streams open already, the most an agent allows on one: close one first.`);
      return;
    }
    const vm = driver.getVm(m.vmId);
    if (!vm) {
      refuse('unknown_vm', `There is no VM "${m.vmId}" on this host: check the inventory.`);
      return;
    }
    let vc = this.consoles.get(vm.id);
    if (vc && vc.streams.size >= MAX_STREAMS_PER_VM) {
      refuse('too_many_streams', `${vm.name} has ${MAX_STREAMS_PER_VM} console streams open already (all cockpits together), the most an agent allows on one VM: close one first.`);
      return;
    }
    const s: Stream = {
      client, id: m.stream, vmId: vm.id, askedReadOnly: m.readOnly === true, who: who(client.peer, m.actor), cols: m.cols, rows: m.rows,
      opened: false, closed: false, pausedByCockpit: false, waitingForDrain: false, openedAt: performance.now(), bytesOut: 0, bytesIn: 0,
      ...(m.id !== undefined ? { ref: m.id } : {}),
    };
    if (!mine) {
      mine = new Map();
      this.byClient.set(client, mine);
    }
    mine.set(s.id, s);
    if (!vc) {
      vc = {
        vmId: vm.id, name: vm.name, attaching: false, postMortem: false, streams: new Set(), ring: [], ringBytes: 0, paused: false,
        stats: { maxHeld: 0, bytesFromGuest: 0, bytesToGuest: 0, deliveredWhilePaused: 0, pauses: 0, resizes: 0, resizesAcknowledged: 0 },
      };
      this.consoles.set(vm.id, vc);
    }
    vc.streams.add(s);
    if (vc.source) this.activate(vc, s);
    else if (!vc.attaching) this.attach(vc, vm);
  }

  /** Attaches to the VM's console once; every stream that asked meanwhile is answered when it is there (or not). */
  private attach(vc: VmConsole, vm: Vm): void {
    const driver = this.options.driver;
    vc.attaching = true;
    vc.postMortem = vm.state === 'terminated';
    let live = true;
    const alive = () => live && this.consoles.get(vc.vmId) === vc;
    // Output that comes before the attachment is answered goes after its backlog, not before.
    let early: Buffer[] | undefined = [];
    driver.openConsole!(vm.id, {
      data: (chunk) => {
        if (!alive()) return;
        if (early) early.push(Buffer.from(chunk));
        else this.deliver(vc, chunk);
      },
      end: (reason) => {
        if (!alive()) return;
        live = false;
        this.endAll(vc, reason);
      },
      resized: () => { if (alive()) vc.stats.resizesAcknowledged++; },
    }).then((source) => {
      vc.attaching = false;
      if (!alive() || vc.streams.size === 0) {
        live = false;
        source.close();
        if (this.consoles.get(vc.vmId) === vc && vc.streams.size === 0) this.consoles.delete(vc.vmId);
        return;
      }
      vc.source = source;
      this.remember(vc, source.backlog.subarray(Math.max(0, source.backlog.byteLength - BACKLOG_BYTES)));
      for (const s of [...vc.streams]) this.activate(vc, s);
      const waiting = early ?? [];
      early = undefined;
      for (const chunk of waiting) if (alive()) this.deliver(vc, chunk);
      this.updateFlow(vc);
    }, (err: unknown) => {
      vc.attaching = false;
      live = false;
      early = undefined;
      const code = err instanceof AgentError ? err.code : 'console_unavailable';
      const why = err instanceof Error ? err.message : String(err);
      const name = vc.name;
      this.options.note(`console: could not attach to the console of ${printable(name)} (${vc.vmId}): ${printable(why)}`);
      for (const s of [...vc.streams]) {
        s.client.send(error(code, `The console of ${name} could not be opened: ${why}`.slice(0, 2048), s.ref));
        this.forget(s);
      }
      if (this.consoles.get(vc.vmId) === vc) this.consoles.delete(vc.vmId);
    });
  }

  /** Answers console.opened, sends the backlog, and lets output and input flow for this stream. */
  private activate(vc: VmConsole, s: Stream): void {
    const source = vc.source!;
    if (s.closed) return;
    if (!s.client.open) {
      this.end(s, 'the connection closed', false);
      return;
    }
    const vm = this.options.driver.getVm(vc.vmId);
    const reason = this.readOnlyReason(s, vm);
    const opened: ConsoleOpenedMessage = { type: 'console.opened', stream: s.id, vmId: vc.vmId, readOnly: reason !== undefined, kind: source.kind };
    if (s.ref !== undefined) opened.ref = s.ref;
    if (reason) opened.reason = reason.slice(0, 512);
    s.client.send(opened);
    s.opened = true;
    const backlog = this.backlog(vc);
    if (backlog.byteLength > 0) this.sendOutput(s, backlog);
    this.options.note(`console: ${s.who} opened stream ${s.id} on ${printable(vm?.name ?? vc.vmId)} (${vc.vmId}), ${reason ? `read-only: ${printable(reason)}` : 'read-write'}, ${s.cols}x${s.rows}`);
    // A viewer's window does not get to resize the guest under the responder who types.
    if (!s.askedReadOnly && !vc.postMortem) this.passSize(vc, s.cols, s.rows);
    this.updateFlow(vc);
  }

  // ---- resize, pause / resume, close -------------------------------------------------------------------------------

  private resize(client: ConsoleClient, m: ConsoleResizeMessage): void {
    const s = this.streamOf(client, m.stream, 'console.resize');
    if (!s) return;
    s.cols = m.cols;
    s.rows = m.rows;
    const vc = this.consoles.get(s.vmId);
    if (s.opened && vc && !s.askedReadOnly && !vc.postMortem) this.passSize(vc, m.cols, m.rows);
  }

  private flow(client: ConsoleClient, m: ConsolePauseMessage | ConsoleResumeMessage): void {
    const s = this.streamOf(client, m.stream, m.type);
    if (!s) return;
    s.pausedByCockpit = m.type === 'console.pause';
    const vc = this.consoles.get(s.vmId);
    if (vc) this.updateFlow(vc);
  }

  private closeByCockpit(client: ConsoleClient, m: ConsoleCloseMessage): void {
    const s = this.streamOf(client, m.stream, 'console.close');
    if (s) this.end(s, 'Closed by the cockpit.', true);
  }

  private streamOf(client: ConsoleClient, stream: number, what: string): Stream | undefined {
    const s = this.byClient.get(client)?.get(stream);
    if (!s) client.send(error('unknown_stream', `${what}: no console stream ${stream} is open on this connection (it was never opened, or it was closed already).`));
    return s;
  }

  // ---- output and flow ---------------------------------------------------------------------------------------------

  private deliver(vc: VmConsole, chunk: Buffer): void {
    if (chunk.byteLength === 0) return;
    if (vc.paused) vc.stats.deliveredWhilePaused += chunk.byteLength;
    vc.stats.bytesFromGuest += chunk.byteLength;
    this.sampleHeld(vc);
    this.remember(vc, chunk);
    for (const s of vc.streams) if (s.opened) this.sendOutput(s, chunk);
    this.updateFlow(vc);
  }

  /** Sends bytes to one stream, in frames of at most MAX_OUTPUT_CHUNK; a connection over its mark pauses the VM. */
  private sendOutput(s: Stream, bytes: Buffer): void {
    if (s.closed || !s.client.open) return;
    for (let at = 0; at < bytes.byteLength; at += MAX_OUTPUT_CHUNK) {
      const piece = bytes.subarray(at, Math.min(bytes.byteLength, at + MAX_OUTPUT_CHUNK));
      s.client.sendFrame(encodeFrame(FRAME_KIND.consoleOutput, s.id, piece));
      s.bytesOut += piece.byteLength;
    }
    const buffered = s.client.bufferedAmount;
    if (buffered > this.maxBuffered) this.maxBuffered = buffered;
    if (buffered >= HIGH_WATER_MARK && !s.waitingForDrain && s.client.open) {
      s.waitingForDrain = true;
      s.client.onceDrained(() => {
        s.waitingForDrain = false;
        const vc = this.consoles.get(s.vmId);
        if (!s.closed && vc) this.updateFlow(vc);
      });
    }
  }

  /** Pauses the VM's attachment while any of its streams asks for it or waits for its connection to drain. */
  private updateFlow(vc: VmConsole): void {
    const source = vc.source;
    if (!source) return;
    let hold = false;
    for (const s of vc.streams) if (s.opened && (s.pausedByCockpit || s.waitingForDrain)) hold = true;
    if (hold === vc.paused) return;
    vc.paused = hold;
    if (hold) {
      vc.stats.pauses++;
      source.pause();
    } else {
      source.resume();
    }
    this.sampleHeld(vc);
  }

  private passSize(vc: VmConsole, cols: number, rows: number): void {
    const size = vc.stats.size;
    if (size && size.cols === cols && size.rows === rows) return;
    vc.stats.size = { cols, rows };
    vc.stats.resizes++;
    vc.source?.resize(cols, rows);
  }

  // ---- backlog -----------------------------------------------------------------------------------------------------

  private remember(vc: VmConsole, chunk: Buffer): void {
    if (chunk.byteLength === 0) return;
    // A copy: the chunk may be a view into a larger buffer the source reuses or keeps alive.
    const own = Buffer.from(chunk.subarray(Math.max(0, chunk.byteLength - BACKLOG_BYTES)));
    vc.ring.push(own);
    vc.ringBytes += own.byteLength;
    while (vc.ring.length > 1 && vc.ringBytes - vc.ring[0]!.byteLength >= BACKLOG_BYTES) vc.ringBytes -= vc.ring.shift()!.byteLength;
  }

  /** The newest BACKLOG_BYTES of output, from the first line that starts inside them. */
  private backlog(vc: VmConsole): Buffer {
    const all = Buffer.concat(vc.ring, vc.ringBytes);
    const tail = all.subarray(Math.max(0, all.byteLength - BACKLOG_BYTES));
    if (tail.byteLength < all.byteLength || tail.byteLength === BACKLOG_BYTES) {
      const nl = tail.indexOf(0x0a);
      return nl >= 0 ? tail.subarray(nl + 1) : tail;
    }
    return tail;
  }

  // ---- read-only, ending -------------------------------------------------------------------------------------------

  /** Why input on this stream is refused now, or undefined when it goes to the guest. */
  private readOnlyReason(s: Stream, vm: Vm | undefined): string | undefined {
    if (!vm) return 'its VM is gone from this host.';
    if (s.askedReadOnly) return 'opened read-only, as asked: input on this stream is not passed to the guest.';
    switch (vm.state) {
      case 'frozen': return `${vm.name} is frozen: its vCPUs do not run, so the console is read-only until it is resumed.`;
      case 'seizing': return `${vm.name} is being seized: the console is read-only while its memory and disk are captured.`;
      case 'seized': return `${vm.name} is seized (held frozen for forensics): its console is read-only.`;
      case 'terminated': return `${vm.name} was terminated: this is what its console last printed, and nothing more will come.`;
      default: return undefined;
    }
  }

  private endAll(vc: VmConsole, reason: string): void {
    for (const s of [...vc.streams]) this.end(s, reason, true);
    if (this.consoles.get(vc.vmId) === vc) this.consoles.delete(vc.vmId);
    vc.source?.close();
    vc.source = undefined;
  }

  /** Ends one stream: console.closed to its cockpit (when it can still hear it), a note, and the attachment let go if last. */
  private end(s: Stream, reason: string, tell: boolean): void {
    if (s.closed) return;
    s.closed = true;
    // A stream still attaching was never opened: its console.open is answered with an error, not a close.
    if (tell && s.client.open) {
      s.client.send(s.opened ? { type: 'console.closed', stream: s.id, reason: reason.slice(0, 512) } : error('console_unavailable', `The console could not be opened: ${reason}`, s.ref));
    }
    this.forget(s);
    const vc = this.consoles.get(s.vmId);
    const name = vc?.name ?? this.options.driver.getVm(s.vmId)?.name ?? s.vmId;
    if (s.opened) {
      const secs = ((performance.now() - s.openedAt) / 1000).toFixed(1);
      this.options.note(`console: stream ${s.id} of ${s.who} on ${printable(name)} (${s.vmId}) closed (${printable(reason)}); ${s.bytesOut} bytes out, ${s.bytesIn} in, ${secs} s`);
    }
    if (!vc) return;
    if (vc.streams.size === 0 && !vc.attaching) {
      // The last one: let the chardev go, so that another client (an operator's socat, a test) can have it.
      vc.source?.close();
      vc.source = undefined;
      this.consoles.delete(vc.vmId);
    } else {
      this.updateFlow(vc);
    }
  }

  private forget(s: Stream): void {
    s.closed = true;
    this.consoles.get(s.vmId)?.streams.delete(s);
    const mine = this.byClient.get(s.client);
    if (mine?.get(s.id) === s) mine.delete(s.id);
  }

  private sampleHeld(vc: VmConsole): void {
    const held = vc.source?.held ?? 0;
    if (held > vc.stats.maxHeld) vc.stats.maxHeld = held;
  }
}

function error(code: string, message: string, ref?: string): ErrorMessage {
  const e: ErrorMessage = { type: 'error', code, message: message.slice(0, 2048) };
  if (ref !== undefined) e.ref = ref;
  return e;
}

/** "cockpit 127.0.0.1:5555 (Dana Scully, responder, soc-desk-3)", made safe for a terminal. */
function who(peer: string, actor: Actor | undefined): string {
  if (!actor) return `cockpit ${peer}`;
  const parts = [actor.name, actor.role, actor.cockpit].filter((p): p is string => typeof p === 'string' && p.length > 0);
  return `cockpit ${peer} (${printable(parts.join(', '))})`;
}
