// Test harness for the agent: real child processes started the way a launcher starts them (parsing the ready
// line), real WebSocket clients, temp folders, and cleanup that runs even when a test fails.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { WebSocket } from 'ws';
import { decodeAgentMessage, type AgentMessage, type EventMessage } from '../../protocol/index.ts';
import type { ReadyLine } from '../../agent/flags.ts';

export const ROOT = join(import.meta.dirname, '..', '..');
export const TOKEN = 'test-token-0123456789abcdef';
/** Every test here gets a deadline: a hung socket or child process fails the test instead of the whole run. */
export const BOUNDED = { timeout: 60_000 } as const;
const EVENT_PREFIX = Buffer.from('{"type":"event","seq":');

const cleanups = new WeakMap<TestContext, (() => unknown)[]>();

/**
 * Runs `fn` after the test, in reverse order of registration (processes die before their folders are removed), each
 * step on its own: one failing cleanup must not leave an agent running and the test run hanging on it.
 */
export function cleanup(t: TestContext, fn: () => unknown): void {
  let stack = cleanups.get(t);
  if (!stack) {
    const steps: (() => unknown)[] = [];
    stack = steps;
    cleanups.set(t, steps);
    t.after(async () => {
      const errors: unknown[] = [];
      for (const step of steps.reverse()) {
        try {
          await step();
        } catch (err) {
          errors.push(err);
        }
      }
      if (errors.length > 0) throw errors[0];
    });
  }
  stack.push(fn);
}

/** A fresh temp folder, removed after the test. */
export function tempDir(t: TestContext, prefix = 'cordon-agent-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanup(t, () => rmSync(dir, { recursive: true, force: true, maxRetries: 5 }));
  return dir;
}

/** A token file in `dir` holding `token`, readable by us only. */
export function tokenFile(dir: string, token = TOKEN): string {
  const file = join(dir, 'token');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return file;
}

export interface AgentProcess {
  child: ChildProcess;
  ready: ReadyLine;
  /** Everything the agent wrote to stderr so far. */
  stderr(): string;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `node --import tsx agent/cli.ts ARGS` and waits for its ready line; killed after the test. `prefix` runs it
 * behind a command that execs it (e.g. `ip netns exec NS`), so the pid is still the agent's own.
 */
export async function spawnAgent(t: TestContext, args: string[], timeoutMs = 20_000, prefix: string[] = []): Promise<AgentProcess> {
  const [cmd, ...rest] = [...prefix, process.execPath, '--import', 'tsx', 'agent/cli.ts', ...args];
  const child = spawn(cmd!, rest, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })));
  cleanup(t, async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  const ready = await new Promise<ReadyLine>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no ready line within ${timeoutMs} ms; stderr:\n${err}`)), timeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        try {
          resolve(JSON.parse(out.slice(0, nl)) as ReadyLine);
        } catch (e) {
          reject(new Error(`the ready line is not JSON: ${out.slice(0, nl)} (${(e as Error).message})`));
        }
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`the agent exited (code ${code}, signal ${signal}) before its ready line; stderr:\n${err}`));
    });
  });
  return { child, ready, stderr: () => err, exited };
}

/** Runs the agent CLI to completion (for flags it must refuse) and returns its exit code and output. */
export async function runAgentCli(args: string[], timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'agent/cli.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** The default flags of a test agent: loopback, any port, a token, a data dir, a fixed seed. */
export function agentArgs(dir: string, extra: string[] = [], dataDir = join(dir, 'data')): string[] {
  return ['--driver', 'sim', '--listen', '127.0.0.1:0', '--token-file', tokenFile(dir), '--data-dir', dataDir, '--agent-id', 'test-agent', '--seed', '42', ...extra];
}

/**
 * An agent following a Suricata EVE file and a Falco file in a fresh temp dir (`eveBefore` is in the EVE file before
 * it starts: history it must skip), with a cockpit subscribed from seq 0 and a moment for the followers to open the
 * files, so that what is appended next is new.
 */
export async function detectorAgent(t: TestContext, eveBefore = ''): Promise<{ eve: string; falco: string; cockpit: TestCockpit; agent: AgentProcess }> {
  const dir = tempDir(t);
  const eve = join(dir, 'eve.json');
  const falco = join(dir, 'falco.json');
  writeFileSync(eve, eveBefore);
  writeFileSync(falco, '');
  const agent = await spawnAgent(t, agentArgs(dir, ['--rate', '0', '--suricata-eve', eve, '--falco', falco]));
  const cockpit = await TestCockpit.open(t, agent.ready.url);
  await cockpit.nextOfType('inventory');
  cockpit.send({ type: 'subscribe', since: 0 });
  await cockpit.nextOfType('subscribed');
  await new Promise((r) => setTimeout(r, 600));
  return { eve, falco, cockpit, agent };
}

/** What a raw upgrade attempt got: the HTTP status when refused, or 'open'. */
export function tryUpgrade(url: string, headers: Record<string, string>, protocol: string | null = 'cordon.v1'): Promise<{ status: number | 'open'; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocol === null ? [] : [protocol], { headers });
    const timer = setTimeout(() => reject(new Error('upgrade attempt timed out')), 5000);
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on('error', () => {});
    });
    ws.on('open', () => {
      clearTimeout(timer);
      ws.terminate();
      resolve({ status: 'open', body: '' });
    });
    ws.on('error', () => {});
  });
}

/**
 * A minimal cockpit: decodes every message with the protocol's own decoder, keeps them in order, and lets a test
 * wait for the next one of a kind.
 */
export class TestCockpit {
  readonly received: AgentMessage[] = [];
  /** Messages that failed the schema, with the decoder's sentence. */
  readonly invalid: string[] = [];
  private cursor = 0;
  private wake: (() => void) | undefined;
  closed = false;

  private constructor(readonly ws: WebSocket, validate: boolean) {
    ws.on('message', (data: Buffer, isBinary) => {
      if (isBinary) {
        this.invalid.push('binary frame');
        return;
      }
      if (!validate) {
        // For volume tests: keep the pace of the agent. Events are read for their seq only (from the fixed prefix
        // every agent line starts with); other messages are parsed but not schema-checked.
        const seq = EVENT_PREFIX.equals(data.subarray(0, EVENT_PREFIX.length)) ? Number.parseInt(data.toString('latin1', EVENT_PREFIX.length, EVENT_PREFIX.length + 20), 10) : NaN;
        this.received.push(Number.isNaN(seq) ? (JSON.parse(data.toString('utf8')) as AgentMessage) : ({ type: 'event', seq } as EventMessage));
        this.wake?.();
        return;
      }
      const decoded = decodeAgentMessage(data.toString('utf8'));
      if (decoded.ok) this.received.push(decoded.value);
      else this.invalid.push(`${decoded.error.message} in ${data.toString('utf8').slice(0, 300)}`);
      this.wake?.();
    });
    ws.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
  }

  /**
   * Connects with the token (none: `token: null`); every message is schema-checked unless `validate` is false. On
   * wss:// the agent's self-signed certificate is accepted as it comes (tests check its fingerprint themselves), and
   * `clientCert` is presented for mutual TLS.
   */
  static open(t: TestContext, url: string, { token = TOKEN, validate = true, clientCert }: { token?: string | null; validate?: boolean; clientCert?: { cert: string; key: string } } = {}): Promise<TestCockpit> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, ['cordon.v1'], {
        headers: token === null ? {} : { Authorization: `Bearer ${token}` },
        ...(url.startsWith('wss:') ? { rejectUnauthorized: false, ...(clientCert ?? {}) } : {}),
      });
      cleanup(t, () => ws.terminate());
      const timer = setTimeout(() => reject(new Error('connect timed out')), 5000);
      const cockpit = new TestCockpit(ws, validate);
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

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' || Buffer.isBuffer(message) ? message : JSON.stringify(message));
  }

  /** The next message (in arrival order) that `match` accepts; messages skipped over stay readable in `received`. */
  async next<T extends AgentMessage = AgentMessage>(match: (m: AgentMessage) => boolean = () => true, timeoutMs = 5000, what = 'a message'): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.cursor < this.received.length) {
        const m = this.received[this.cursor++]!;
        if (match(m)) return m as T;
      }
      if (this.closed) throw new Error(`the connection closed while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; last received: ${JSON.stringify(this.received.slice(-3)).slice(0, 600)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  nextOfType<K extends AgentMessage['type']>(type: K, timeoutMs = 5000): Promise<Extract<AgentMessage, { type: K }>> {
    return this.next((m) => m.type === type, timeoutMs, `a "${type}" message`);
  }

  /** The next `count` event messages, in order. */
  async events(count: number, timeoutMs = 10_000): Promise<EventMessage[]> {
    const out: EventMessage[] = [];
    const deadline = Date.now() + timeoutMs;
    while (out.length < count) out.push(await this.nextOfType('event', Math.max(1, deadline - Date.now())));
    return out;
  }

  close(): void {
    this.ws.close();
  }
}

/** The index of the first seq that does not follow its predecessor by exactly one, or -1 if none. */
export function firstBreak(seqs: number[]): number {
  for (let i = 1; i < seqs.length; i++) if (seqs[i] !== seqs[i - 1]! + 1) return i;
  return -1;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
