// Shared pieces of the fault campaign's tests (issue 8): a real agent process on a fixed port that can be killed
// with SIGKILL and started again on the same data dir; the truth about events (the agent's own log on disk, read
// after the run) and the tally of what a cockpit received against it, by seq and byte for byte; the agent's action
// journal read back to count how many times each request id began; and a count of processes that ended without
// being told to (a crash). Holds no test itself.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { AgentLink, AgentLinkOptions } from '../../main/fleet/agent-link.ts';
import { FleetHub } from '../../main/fleet/hub.ts';
import type { AgentStatus } from '../../protocol/index.ts';
import { agentArgs, cleanup, spawnAgent, tempDir, TOKEN, type AgentProcess } from '../agent/helpers.ts';
import { freePort } from '../helpers/processes.ts';

/** Fault tests start and kill several processes on a shared, noisy machine: a generous deadline each. */
export const FAULT_BOUNDED = { timeout: 240_000 } as const;

/**
 * One agent identity (data dir, token, port) that outlives its processes: each start() spawns a new agent CLI on
 * the same data dir and port, as an operator's service manager would after a crash.
 */
export class FaultAgent {
  readonly dir: string;
  readonly dataDir: string;
  proc: AgentProcess | undefined;
  /** Processes that ended without being killed or stopped by the test. */
  crashes = 0;
  /** How many times the test killed it with SIGKILL. */
  kills = 0;
  private readonly intended = new WeakSet<AgentProcess>();

  /** The TLS certificate's fingerprint from the last ready line (wss:// off loopback). */
  fingerprint: string | undefined;
  private lastUrl = '';

  private constructor(private readonly t: TestContext, readonly port: number, readonly agentId: string, private readonly extra: string[], private readonly where: AgentPlace) {
    this.dir = tempDir(t, 'cordon-fault-');
    this.dataDir = join(this.dir, 'data');
  }

  /** `where`: the address to listen on (default 127.0.0.1), and a network namespace to run in (ip netns exec). */
  static async create(t: TestContext, extra: string[] = [], agentId = 'test-agent', where: AgentPlace = {}): Promise<FaultAgent> {
    return new FaultAgent(t, where.port ?? await freePort(), agentId, extra, where);
  }

  /** The token file the agent reads (written by agentArgs on each start). */
  get tokenFile(): string {
    return join(this.dir, 'token');
  }

  /** The address the agent said it serves (wss:// off loopback), or the plain loopback one before its first start. */
  get url(): string {
    return this.lastUrl || `ws://${this.where.host ?? '127.0.0.1'}:${this.port}`;
  }

  /** Starts the agent (same data dir, same port), `more` overriding earlier flags (e.g. ['--rate', '0']). */
  async start(more: string[] = []): Promise<AgentProcess> {
    const args = [...agentArgs(this.dir, [...this.extra, '--listen', `${this.where.host ?? '127.0.0.1'}:${this.port}`, '--agent-id', this.agentId, ...more], this.dataDir)];
    const proc = await spawnAgent(this.t, args, 60_000, this.where.netns ? ['ip', 'netns', 'exec', this.where.netns] : []);
    this.proc = proc;
    this.lastUrl = proc.ready.url;
    this.fingerprint = proc.ready.fingerprint;
    void proc.exited.then(({ signal, code }) => {
      if (!this.intended.has(proc)) {
        this.crashes++;
        process.stderr.write(`fault-kit: agent ${this.agentId} ended on its own (code ${code}, signal ${signal}):\n${proc.stderr().slice(-4000)}\n`);
      }
    });
    return proc;
  }

  get running(): boolean {
    return !!this.proc && this.proc.child.exitCode === null && this.proc.child.signalCode === null;
  }

  /** SIGKILL, now: no chance to close, flush or answer anyone. */
  async kill9(): Promise<void> {
    const p = this.proc;
    assert.ok(p, 'an agent is running');
    this.intended.add(p);
    p.child.kill('SIGKILL');
    const end = await p.exited;
    assert.equal(end.signal, 'SIGKILL', 'the agent died of the SIGKILL');
    this.kills++;
  }

  /** SIGTERM, and waits for the clean exit (its log synced). */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
    this.intended.add(p);
    p.child.kill('SIGTERM');
    const end = await p.exited;
    assert.equal(end.code, 0, `the agent stopped cleanly on SIGTERM; stderr:\n${p.stderr().slice(-2000)}`);
  }

  /** Every stored event line by seq: the exact wire text the agent sent (and would replay) for that seq. */
  eventLog(): Map<number, string> {
    return readEventLog(this.dataDir);
  }

  /** How many times each request id began running on this agent, over every run (the action journal on disk). */
  actionBegins(): Map<string, number> {
    return readActionBegins(this.dataDir);
  }
}

export interface AgentPlace {
  host?: string;
  port?: number;
  netns?: string;
}

export function readEventLog(dataDir: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const name of readdirSync(dataDir).filter((n) => /^segment-\d+\.jsonl$/.test(n)).sort()) {
    for (const line of readFileSync(join(dataDir, name), 'utf8').split('\n')) {
      if (line === '') continue;
      let seq: unknown;
      try {
        seq = (JSON.parse(line) as { seq?: unknown }).seq;
      } catch {
        continue; // a torn last line a kill left; the agent cut it off on its next start (nobody was sent it)
      }
      if (typeof seq !== 'number') continue;
      assert.ok(!out.has(seq), `seq ${seq} is stored twice in the agent's log`);
      out.set(seq, line);
    }
  }
  return out;
}

export function readActionBegins(dataDir: string): Map<string, number> {
  const file = join(dataDir, 'action-journal.jsonl');
  const out = new Map<string, number>();
  if (!existsSync(file)) return out;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line === '') continue;
    let rec: { t?: unknown; requestId?: unknown };
    try {
      rec = JSON.parse(line) as typeof rec;
    } catch {
      continue;
    }
    if (rec.t === 'begin' && typeof rec.requestId === 'string') out.set(rec.requestId, (out.get(rec.requestId) ?? 0) + 1);
  }
  return out;
}

/** What a cockpit received, by seq: each arrival's text. */
export class Received {
  readonly bySeq = new Map<number, string[]>();
  total = 0;

  add(seq: number, text: string): void {
    const list = this.bySeq.get(seq);
    if (list) list.push(text);
    else this.bySeq.set(seq, [text]);
    this.total++;
  }

  get maxSeq(): number {
    let m = 0;
    for (const s of this.bySeq.keys()) if (s > m) m = s;
    return m;
  }
}

export interface SeqTally {
  /** Seqs the agent stored from 1 up to `upTo`. */
  expected: number;
  /** Stored, never received (or received with other bytes than the agent stored: a renumbered event is lost too). */
  lost: number;
  /** Received more than once. */
  doubled: number;
  /** Received but never stored by the agent (it would have been renumbered). */
  invented: number;
  /** Up to 5 examples of each, for the assertion's message. */
  examples: string[];
}

/** Compares what was received with the agent's stored log, every seq from 1 to `upTo`. */
export function tally(truth: Map<number, string>, received: Map<number, readonly string[]>, upTo: number): SeqTally {
  const t: SeqTally = { expected: 0, lost: 0, doubled: 0, invented: 0, examples: [] };
  const note = (s: string) => { if (t.examples.length < 15) t.examples.push(s); };
  for (let seq = 1; seq <= upTo; seq++) {
    const stored = truth.get(seq);
    const got = received.get(seq) ?? [];
    if (stored === undefined) {
      if (got.length > 0) {
        t.invented++;
        note(`seq ${seq} received but not in the agent's log`);
      } else {
        note(`seq ${seq} is in neither (the agent's log skips it)`);
        t.lost++;
      }
      continue;
    }
    t.expected++;
    if (got.length === 0) {
      t.lost++;
      note(`seq ${seq} never arrived`);
    } else if (got.some((g) => g !== stored)) {
      t.lost++;
      note(`seq ${seq} arrived with other bytes than the agent stored`);
    }
    if (got.length > 1) {
      t.doubled += got.length - 1;
      note(`seq ${seq} arrived ${got.length} times`);
    }
  }
  return t;
}

/** Polls until check() is truthy, or fails naming what it waited for. */
export async function until<T>(check: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 60_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs / 1000} s waiting for ${what}.`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A message a responder can act on: at least one sentence (a capital or digit first, a full stop or colon clause). */
export function assertSentence(message: string | undefined, what: string): void {
  assert.ok(message && message.length >= 20, `${what}: there is a message (${JSON.stringify(message)})`);
  assert.match(message, /^[A-Z0-9/"'`(].*[.!?)]$/s, `${what}: "${message}" reads as a sentence`);
  assert.doesNotMatch(message, /\bat [A-Za-z.<>]+ \(.*:\d+:\d+\)|undefined|\[object Object\]/, `${what}: "${message}" carries no stack trace or placeholder`);
}

/**
 * The cockpit's side of a fault run: the real fleet hub with one link to the agent, backfilling everything, and what
 * it receives kept by seq. `fingerprint` pins the agent's certificate (wss:// off loopback).
 */
export function watchAgent(t: TestContext, agent: FaultAgent, o: { label: string; link: Partial<AgentLinkOptions>; fingerprint?: string }): { hub: FleetHub; link: AgentLink; received: Received } {
  const hub = new FleetHub({ link: { backfill: Number.MAX_SAFE_INTEGER, ...o.link } });
  cleanup(t, () => hub.close());
  const link = hub.addAgent({ agentId: agent.agentId, label: o.label, url: agent.url, token: TOKEN, ...(o.fingerprint ? { fingerprint: o.fingerprint } : {}) });
  const received = new Received();
  link.on('event', (seq, _event, text) => received.add(seq, text));
  return { hub, link, received };
}

/** How many clones of `originId` the hub's inventory of the agent holds (read while the agent runs). */
export function clonesOf(hub: FleetHub, agent: FaultAgent, originId: string): number {
  const inventory = hub.snapshot().inventories.find((i) => i.agentId === agent.agentId)?.vms ?? [];
  return inventory.filter((v) => v.cloneOf === originId).length;
}

/**
 * After a run of actions cut short, and after `settle` (so a retry sent on its reconnects counts too): each request id
 * must have begun exactly once in the agent's action journal. Returns how many actions ran more than once, a second
 * clone counted as one (for the ledger).
 */
export function actionsRunTwice(agent: FaultAgent, requestIds: readonly string[], clones: number): number {
  const begins = agent.actionBegins();
  let duplicated = Math.max(0, clones - 1);
  for (const id of requestIds) {
    assert.equal(begins.get(id), 1, `request ${id} began exactly once on the agent`);
    duplicated += (begins.get(id) ?? 0) - 1;
  }
  return duplicated;
}

/**
 * Ends a fault run: one more kill, a start that makes no new events, the cockpit catching up with everything the
 * earlier runs stored; then the agent stops cleanly and what the link received is checked against its log on disk.
 */
export async function settle(agent: FaultAgent, hub: FleetHub, link: AgentLink, received: Received): Promise<{ r: SeqTally; status: AgentStatus }> {
  const before = link.snapshotStatus().reconnects;
  if (agent.running) await agent.kill9();
  await agent.start(['--rate', '0']);
  await until(() => {
    const s = link.snapshotStatus();
    return s.link === 'connected' && s.reconnects > before && s.agentLatestSeq !== undefined && s.lastSeq >= s.agentLatestSeq;
  }, 'the cockpit to catch up after the last restart');
  const status = link.snapshotStatus();
  hub.removeAgent(agent.agentId);
  await agent.stop();
  const r = tally(agent.eventLog(), received.bySeq, status.lastSeq);
  assert.deepEqual(status.gaps, [], 'the agent said no range was gone');
  assert.equal(r.lost, 0, `no event lost: ${r.examples.join('; ')}`);
  assert.equal(r.doubled, 0, `no event doubled: ${r.examples.join('; ')}`);
  assert.equal(r.invented, 0, `no event the agent did not store: ${r.examples.join('; ')}`);
  return { r, status };
}

