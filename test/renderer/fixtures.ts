// Builders for the renderer's tests: threat events, snapshots, a fake cockpit API and a frame scheduler run by
// hand. Shared by test/renderer/*.test.ts (this file holds no test itself).
import type { CockpitApi, CockpitCalls, CockpitMethod } from '../../protocol/cockpit-api.ts';
import type { ActionRecord, AgentStatus, CockpitPush, CockpitSnapshot, FeedEvent, ThreatEvent, Vm } from '../../protocol/index.ts';
import type { FrameScheduler } from '../../renderer/src/store/frame-scheduler.ts';

export const T0 = Date.parse('2026-11-23T10:00:00.000Z');

export function threat(over: Partial<ThreatEvent> = {}): ThreatEvent {
  return {
    id: 'ev-1',
    time: new Date(T0).toISOString(),
    agentId: 'hv-01',
    vmId: 'vm-web-1',
    vmName: 'web-1',
    severity: 'low',
    verdict: 'benign',
    category: 'process',
    title: 'cron started logrotate',
    process: { pid: 4242, ppid: 1, name: 'logrotate', commandLine: '/usr/sbin/logrotate /etc/logrotate.conf', user: 'root' },
    sensor: { id: 'sim-guest', kind: 'sim' },
    ...over,
  };
}

/** The n-th event of an agent (seq n), with overrides on the threat event. */
export function feedEvent(seq: number, over: Partial<ThreatEvent> = {}, agentId = over.agentId ?? 'hv-01'): FeedEvent {
  return {
    agentId,
    seq,
    event: threat({ id: `${agentId}-${seq}`, agentId, time: new Date(T0 + seq).toISOString(), ...over }),
    receivedAt: T0 + seq + 5,
  };
}

export function events(agentId: string, fromSeq: number, count: number, over: Partial<ThreatEvent> = {}): FeedEvent[] {
  return Array.from({ length: count }, (_, i) => feedEvent(fromSeq + i, over, agentId));
}

export function agentStatus(agentId: string, over: Partial<AgentStatus> = {}): AgentStatus {
  return {
    agentId,
    label: agentId,
    url: `wss://127.0.0.1:7443/${agentId}`,
    link: 'connected',
    host: `${agentId}.lab`,
    hypervisor: 'sim 1.0',
    rttMs: 3,
    lastSeq: 0,
    gaps: [],
    eventsReceived: 0,
    duplicatesDropped: 0,
    reconnects: 0,
    ...over,
  };
}

export function vm(id: string, over: Partial<Vm> = {}): Vm {
  return { id, name: id.replace(/^vm-/, ''), state: 'running', ...over };
}

/** An action record as the hub pushes it: `n` makes its request id; `over` sets the rest. */
export function actionRecord(n: number, over: Partial<ActionRecord> = {}): ActionRecord {
  return {
    requestId: `req-${String(n).padStart(6, '0')}`,
    agentId: 'hv-01',
    vmId: 'vm-web-1',
    vmName: 'web-1',
    kind: 'freeze',
    params: {},
    actor: { name: 'j.okafor', role: 'soc-tier2' },
    reason: '',
    requestedAt: new Date(T0 + n * 1000).toISOString(),
    phase: 'sending',
    ...over,
  };
}

export function snapshot(over: Partial<CockpitSnapshot> = {}): CockpitSnapshot {
  return {
    agents: [agentStatus('hv-01')],
    inventories: [{ agentId: 'hv-01', vms: [vm('vm-web-1'), vm('vm-db-1')] }],
    events: [],
    windowSize: 100,
    ...over,
  };
}

/** A frame scheduler the test runs by hand. */
export class ManualScheduler implements FrameScheduler {
  private waiting: (() => void)[] = [];

  request(run: () => void): () => void {
    this.waiting.push(run);
    return () => {
      this.waiting = this.waiting.filter((r) => r !== run);
    };
  }

  get requested(): number {
    return this.waiting.length;
  }

  run(): void {
    const now = this.waiting;
    this.waiting = [];
    for (const r of now) r();
  }
}

/** A CockpitApi a test drives: answers calls from `answer`, and `push` sends any value (even a malformed one). */
export class FakeApi implements CockpitApi {
  readonly platform = 'electron' as const;
  readonly calls: { method: string; params: unknown }[] = [];
  answer: (method: string) => Promise<unknown> = async () => snapshot();
  private listeners = new Set<(push: CockpitPush) => void>();

  call<M extends CockpitMethod>(method: M, params: CockpitCalls[M]['params']): Promise<CockpitCalls[M]['result']> {
    this.calls.push({ method, params });
    return this.answer(method) as Promise<CockpitCalls[M]['result']>;
  }

  onPush(listener: (push: CockpitPush) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  push(value: unknown): void {
    for (const l of this.listeners) l(value as CockpitPush);
  }

  get subscribers(): number {
    return this.listeners.size;
  }
}

/** Lets pending promise callbacks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
  await new Promise((r) => setImmediate(r));
}

/** Timers under the test's hand: `advance(ms)` fires what is due, in order. */
export class FakeTimers {
  nowMs = T0;
  private nextId = 1;
  private readonly due = new Map<number, { at: number; run: () => void; every: number | null }>();

  readonly timers = {
    setTimeout: (run: () => void, ms: number): unknown => this.add(run, ms, null),
    clearTimeout: (handle: unknown): void => { this.due.delete(handle as number); },
    setInterval: (run: () => void, ms: number): unknown => this.add(run, ms, ms),
    clearInterval: (handle: unknown): void => { this.due.delete(handle as number); },
    now: (): number => this.nowMs,
  };

  private add(run: () => void, ms: number, every: number | null): number {
    const id = this.nextId++;
    this.due.set(id, { at: this.nowMs + Math.max(0, ms), run, every });
    return id;
  }

  get pending(): number {
    return this.due.size;
  }

  /** The delay until the next timer that is not an interval, or null. */
  nextTimeoutIn(): number | null {
    let best: number | null = null;
    for (const t of this.due.values()) if (t.every === null && (best === null || t.at < best)) best = t.at;
    return best === null ? null : best - this.nowMs;
  }

  advance(ms: number): void {
    const until = this.nowMs + ms;
    for (;;) {
      let nextId = -1;
      let next: { at: number; run: () => void; every: number | null } | undefined;
      for (const [id, t] of this.due) if (t.at <= until && (next === undefined || t.at < next.at)) { next = t; nextId = id; }
      if (next === undefined) break;
      this.nowMs = Math.max(this.nowMs, next.at);
      if (next.every === null) this.due.delete(nextId);
      else next.at += next.every;
      next.run();
    }
    this.nowMs = until;
  }
}
