// The cockpit as a real process for the fault campaign: the browser shell's CLI (`main/browser-shell/cli.ts`, the
// same core as Electron) on a data dir whose settings name one agent, driven over its own API socket exactly as the
// renderer drives it (log in with the run's token, then calls and pushes). It can be killed with SIGKILL and started
// again on the same data dir. Holds no test itself.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import WebSocket from 'ws';
import { buildRenderer } from '../../bench/lib.ts';
import { decodeShellMessage, type CockpitPush, type JournalPage, type JournalStoredRecord } from '../../protocol/index.ts';
import { cleanup } from '../agent/helpers.ts';
import { ROOT, startNodeProcess, type RunningProcess } from '../helpers/processes.ts';

/** The shell serves the built renderer and refuses to start without it; the tests use only its API. */
export function ensureRenderer(): void {
  if (!existsSync(join(ROOT, 'dist', 'renderer', 'index.html'))) buildRenderer();
}

export class CallError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'CallError';
  }
}

export class FaultCockpit {
  proc: RunningProcess | undefined;
  private ws: WebSocket | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  /** Every push of the current run, in order. */
  pushes: CockpitPush[] = [];
  /** Called with each push as it arrives (a test kills the cockpit from here at a chosen moment). */
  onPush: ((p: CockpitPush) => void) | undefined;
  crashes = 0;
  kills = 0;
  private readonly intended = new WeakSet<RunningProcess>();

  constructor(private readonly t: TestContext, readonly dataDir: string, agent: { agentId: string; url: string; tokenFile: string }) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    writeFileSync(join(dataDir, 'settings.json'), `${JSON.stringify({
      responder: { name: 'Fault Campaign', role: 'responder' },
      agents: [{ agentId: agent.agentId, label: 'fault host', url: agent.url, tokenFile: agent.tokenFile }],
    }, null, 2)}\n`);
  }

  get running(): boolean {
    return !!this.proc && this.proc.child.exitCode === null && this.proc.child.signalCode === null;
  }

  async start(): Promise<void> {
    ensureRenderer();
    const proc = await startNodeProcess('main/browser-shell/cli.ts', ['--data-dir', this.dataDir, '--json'], 60_000);
    this.proc = proc;
    cleanup(this.t, async () => {
      if (proc.child.exitCode === null && proc.child.signalCode === null) {
        this.intended.add(proc);
        await proc.kill('SIGKILL');
      }
    });
    void proc.exited.then((code) => {
      if (!this.intended.has(proc)) {
        this.crashes++;
        process.stderr.write(`fault-cockpit: the cockpit ended on its own (${code}):\n${proc.stderr().slice(-4000)}\n`);
      }
    });
    this.pushes = [];
    const url = String(proc.ready.url);
    const cookie = await login(String(proc.ready.loginUrl));
    const ws = new WebSocket(`${url.replace('http', 'ws')}api`, { headers: { cookie, origin: url.replace(/\/$/, '') } });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => reject(new Error(`the cockpit's API answered HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
    ws.on('message', (d) => {
      const m = decodeShellMessage(d.toString());
      assert.ok(m.ok, 'every frame from the cockpit is a valid shell message');
      if (m.value.type === 'push') {
        this.pushes.push(m.value.push);
        this.onPush?.(m.value.push);
      } else if (m.value.type === 'reply') {
        const w = this.waiting.get(m.value.id);
        this.waiting.delete(m.value.id);
        if (m.value.ok) w?.resolve(m.value.result);
        else w?.reject(new CallError(m.value.error?.code ?? 'unknown', m.value.error?.message ?? '(no message)'));
      }
    });
    ws.on('close', () => {
      for (const w of this.waiting.values()) w.reject(new CallError('closed', 'The cockpit\'s API socket closed before it answered.'));
      this.waiting.clear();
    });
    this.ws = ws;
  }

  call<T = unknown>(method: string, params: object = {}): Promise<T> {
    const ws = this.ws;
    assert.ok(ws && ws.readyState === WebSocket.OPEN, 'the cockpit is running');
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      ws.send(JSON.stringify({ type: 'call', id, method, params }));
    });
  }

  /** SIGKILL, now: the journal, the pulls and the exports get no chance to finish or tidy up. */
  async kill9(): Promise<void> {
    const p = this.proc;
    assert.ok(p && this.running, 'the cockpit is running');
    this.intended.add(p);
    this.ws?.terminate();
    p.child.kill('SIGKILL');
    await p.exited;
    assert.equal(p.child.signalCode, 'SIGKILL');
    this.kills++;
  }

  /** SIGTERM: the cockpit closes its journal (last records, a signed checkpoint) and exits 0. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || !this.running) return;
    this.intended.add(p);
    this.ws?.close();
    const code = await p.kill('SIGTERM');
    assert.equal(code, 0, `the cockpit stopped cleanly; stderr:\n${p.stderr().slice(-2000)}`);
  }

  stderr(): string {
    return this.proc?.stderr() ?? '';
  }

  /** Every journal record of these kinds (and agent), oldest first, paged through the cockpit's own query. */
  async journal(kind: string[], agentId?: string): Promise<JournalStoredRecord[]> {
    const out: JournalStoredRecord[] = [];
    let before: unknown;
    for (let page = 0; page < 10_000; page++) {
      const q = await this.call<JournalPage>('journal.query', { kind, ...(agentId ? { agentId: [agentId] } : {}), limit: 1000, ...(before ? { before } : {}) });
      out.push(...q.records);
      if (!q.next) break;
      before = q.next;
    }
    return out.reverse();
  }
}

function login(loginUrl: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(loginUrl, (res) => {
      res.resume();
      const set = res.headers['set-cookie'];
      if (res.statusCode !== 303 || !set?.[0]) reject(new Error(`logging in to the cockpit gave HTTP ${res.statusCode}`));
      else resolve(set[0].split(';')[0]!);
    });
    req.on('error', reject);
    req.end();
  });
}
