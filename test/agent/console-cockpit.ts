// A cockpit for console tests: a real WebSocket client that speaks the console part of cordon.v1 — console.* text
// messages (every one checked with the protocol's decoder) and binary frames (protocol/binary-frames.ts) — and keeps,
// per stream, every output byte in arrival order, so a test can wait for what a guest printed and count what came
// after a point (a pause) exactly, by the order frames arrive in rather than by time.
import type { TestContext } from 'node:test';
import { WebSocket } from 'ws';
import { decodeFrame, encodeFrame, FRAME_KIND } from '../../protocol/binary-frames.ts';
import { decodeAgentMessage, type AgentMessage, type ConsoleOpenedMessage, type ErrorMessage } from '../../protocol/index.ts';
import { cleanup, TOKEN } from './helpers.ts';

export class ConsoleCockpit {
  readonly received: AgentMessage[] = [];
  readonly invalid: string[] = [];
  private readonly output = new Map<number, Buffer[]>();
  private readonly outputBytes = new Map<number, number>();
  /** Output frames that arrived for a stream this cockpit never saw console.opened for, or after its console.closed. */
  readonly strayFrames: string[] = [];
  private readonly live = new Set<number>();
  private cursor = 0;
  private wakers = new Set<() => void>();
  closed = false;
  probes = 0;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary) => {
      if (isBinary) {
        const decoded = decodeFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        if (!decoded.ok) this.invalid.push(`binary: ${decoded.message}`);
        else if (decoded.frame.kind !== FRAME_KIND.consoleOutput) this.invalid.push(`binary frame of kind ${decoded.frame.kind} from the agent`);
        else if (!this.live.has(decoded.frame.stream)) this.strayFrames.push(`${decoded.frame.payload.byteLength} bytes on stream ${decoded.frame.stream}`);
        else {
          const s = decoded.frame.stream;
          const list = this.output.get(s) ?? [];
          list.push(Buffer.from(decoded.frame.payload));
          this.output.set(s, list);
          this.outputBytes.set(s, (this.outputBytes.get(s) ?? 0) + decoded.frame.payload.byteLength);
        }
      } else {
        const decoded = decodeAgentMessage(data.toString('utf8'));
        if (!decoded.ok) this.invalid.push(`${decoded.error.message} in ${data.toString('utf8').slice(0, 300)}`);
        else {
          const m = decoded.value;
          if (m.type === 'console.opened') this.live.add(m.stream);
          if (m.type === 'console.closed') this.live.delete(m.stream);
          this.received.push(m);
        }
      }
      for (const wake of this.wakers) wake();
    });
    ws.on('close', () => {
      this.closed = true;
      for (const wake of this.wakers) wake();
    });
  }

  static open(t: TestContext, url: string): Promise<ConsoleCockpit> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, ['cordon.v1'], { headers: { Authorization: `Bearer ${TOKEN}` } });
      cleanup(t, () => ws.terminate());
      const cockpit = new ConsoleCockpit(ws);
      const timer = setTimeout(() => reject(new Error('connect timed out')), 5000);
      ws.once('open', () => { clearTimeout(timer); resolve(cockpit); });
      ws.once('error', (err) => { clearTimeout(timer); reject(err); });
    });
  }

  send(message: unknown): void {
    this.ws.send(JSON.stringify(message));
  }

  sendBinary(bytes: Uint8Array): void {
    this.ws.send(bytes, { binary: true });
  }

  /** Keystrokes for a stream: one frame of kind 0x02. */
  type(stream: number, text: string | Uint8Array): void {
    this.sendBinary(encodeFrame(FRAME_KIND.consoleInput, stream, typeof text === 'string' ? Buffer.from(text, 'utf8') : text));
  }

  /** Opens a stream and resolves with console.opened, or rejects with the agent's error sentence. */
  async openConsole(stream: number, vmId: string, options: { cols?: number; rows?: number; readOnly?: boolean; actor?: { name: string; role?: string; cockpit?: string } } = {}): Promise<ConsoleOpenedMessage> {
    const id = `open-${stream}-${Math.random().toString(36).slice(2, 8)}`;
    this.send({ type: 'console.open', id, stream, vmId, cols: options.cols ?? 80, rows: options.rows ?? 24, ...(options.readOnly !== undefined ? { readOnly: options.readOnly } : {}), actor: options.actor ?? { name: 'Test Responder', role: 'responder', cockpit: 'test' } });
    const answer = await this.next((m) => (m.type === 'console.opened' || m.type === 'error') && 'ref' in m && m.ref === id, 30_000, `the answer to console.open of stream ${stream}`);
    if (answer.type === 'error') throw Object.assign(new Error(`${answer.code}: ${answer.message}`), { code: answer.code });
    return answer as ConsoleOpenedMessage;
  }

  /** Everything stream `stream` received so far. */
  bytes(stream: number): Buffer {
    return Buffer.concat(this.output.get(stream) ?? []);
  }

  /** How many output bytes stream `stream` received so far. */
  count(stream: number): number {
    return this.outputBytes.get(stream) ?? 0;
  }

  text(stream: number, from = 0): string {
    return this.bytes(stream).subarray(from).toString('utf8');
  }

  /** Waits until the output of `stream` after byte `from` matches `pattern`; resolves with that text. */
  async waitFor(stream: number, pattern: RegExp | string, { from = 0, timeoutMs = 20_000 } = {}): Promise<string> {
    const matches = () => {
      const text = this.text(stream, from);
      return typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text);
    };
    await this.until(matches, timeoutMs, () => `${String(pattern)} on stream ${stream}; it shows: ${JSON.stringify(this.text(stream, from).slice(-400))}`);
    return this.text(stream, from);
  }

  /**
   * A round trip in order with everything the agent sends: a console.open for a VM that does not exist, answered
   * with an error. Whatever output arrives before that answer was sent by the agent before it handled the probe;
   * resolves with each stream's byte count at that moment.
   */
  async probe(): Promise<Map<number, number>> {
    const id = `probe-${++this.probes}`;
    let at: Map<number, number> | undefined;
    const seen = () => {
      if (!at && this.received.some((m) => m.type === 'error' && m.ref === id)) at = new Map(this.outputBytes);
      return at !== undefined;
    };
    this.send({ type: 'console.open', id, stream: 0xfffffff1, vmId: 'no-such-vm', cols: 80, rows: 24 });
    await this.until(seen, 20_000, () => `the answer to probe ${id}`);
    return at!;
  }

  /** The next text message (in arrival order) that `match` accepts. */
  async next<T extends AgentMessage = AgentMessage>(match: (m: AgentMessage) => boolean, timeoutMs = 10_000, what = 'a message'): Promise<T> {
    let found: AgentMessage | undefined;
    await this.until(() => {
      while (this.cursor < this.received.length) {
        const m = this.received[this.cursor++]!;
        if (match(m)) { found = m; return true; }
      }
      return false;
    }, timeoutMs, () => `${what}; last received: ${JSON.stringify(this.received.slice(-3)).slice(0, 600)}`);
    return found as T;
  }

  /** The first text message received so far or later (whatever the cursor of next()) that `match` accepts. */
  async seen<T extends AgentMessage = AgentMessage>(match: (m: AgentMessage) => boolean, timeoutMs = 10_000, what = 'a message'): Promise<T> {
    let found: AgentMessage | undefined;
    await this.until(() => (found = this.received.find(match)) !== undefined, timeoutMs, () => what);
    return found as T;
  }

  nextError(timeoutMs = 10_000): Promise<ErrorMessage> {
    return this.next<ErrorMessage>((m) => m.type === 'error', timeoutMs, 'an error');
  }

  /** Resolves once `check` is true (checked on every frame that arrives), rejects after `timeoutMs`. */
  async until(check: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (check()) return;
      if (this.closed) throw new Error(`the connection closed while waiting for ${what()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(left, 250));
        function done() { clearTimeout(timer); wakers.delete(done); resolve(); }
        const wakers = this.wakers;
        wakers.add(done);
      });
    }
  }

  close(): void {
    this.ws.close();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
