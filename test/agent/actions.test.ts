// How the agent runs actions around any driver: a failure becomes a result with the driver's code and sentence, a
// hung action is aborted at its deadline, a shutdown records what ran as failed, progress reaches every cockpit in a
// valid shape, and actions on different VMs run at the same time. A driver the test scripts stands in for QEMU.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { ActionKind, Vm } from '../../protocol/index.ts';
import { startAgent, type RunningAgent } from '../../agent/agent.ts';
import { ActionFailure, type ActionContext, type ActionOutcome, type Driver, type DriverSink } from '../../agent/drivers/driver.ts';
import { ACTION_KINDS, applyCondition, settle } from '../../protocol/lifecycle.ts';
import { ActionCockpit } from './action-cockpit.ts';
import { BOUNDED, cleanup, tempDir, TOKEN } from './helpers.ts';

type Script = (vm: Vm, kind: ActionKind, ctx: ActionContext) => Promise<ActionOutcome | void>;

/** A driver whose actions do what the test says, then apply the shared lifecycle. */
class ScriptedActionDriver implements Driver {
  readonly kind = 'scripted';
  readonly version = '0';
  readonly actions = ACTION_KINDS;
  sink: DriverSink | undefined;
  readonly vms = new Map<string, Vm>([
    ['vm-a', { id: 'vm-a', name: 'alpha', state: 'running' }],
    ['vm-b', { id: 'vm-b', name: 'beta', state: 'running' }],
  ]);
  calls = 0;
  constructor(private readonly script: Script = async () => {}) {}
  async start(sink: DriverSink) {
    this.sink = sink;
  }
  async stop() {
    this.sink = undefined;
  }
  listVms() {
    return [...this.vms.values()];
  }
  getVm(id: string) {
    return this.vms.get(id);
  }
  async act(vmId: string, kind: ActionKind, ctx: ActionContext): Promise<ActionOutcome> {
    this.calls++;
    const vm = this.vms.get(vmId)!;
    const out = await this.script(vm, kind, ctx);
    if (out) return out;
    const at = new Date().toISOString();
    const next = applyCondition(vm, settle(vm, kind, { at, params: ctx.params }), at);
    this.vms.set(vmId, next);
    this.sink?.vmChanged(next);
    return { state: next.state };
  }
}

async function lab(t: TestContext, driver: Driver, extra: { actionDeadlineMs?: number; dataDir?: string } = {}) {
  const dataDir = extra.dataDir ?? join(tempDir(t), 'data');
  const notes: string[] = [];
  const agent: RunningAgent = await startAgent({ token: TOKEN, driver, dataDir, agentId: 'scripted', note: (l) => notes.push(l), ...(extra.actionDeadlineMs ? { actionDeadlineMs: extra.actionDeadlineMs } : {}) });
  cleanup(t, () => agent.close());
  const cockpit = await ActionCockpit.open(agent.url, TOKEN);
  cleanup(t, () => cockpit.close());
  await cockpit.inventory();
  return { agent, cockpit, notes, dataDir };
}

const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve, reject) => {
  const timer = setTimeout(resolve, ms);
  signal?.addEventListener('abort', () => {
    clearTimeout(timer);
    reject(new Error('aborted'));
  }, { once: true });
});

test('a driver failure is a result with its code and sentence, and the VM\'s state as the driver sees it', BOUNDED, async (t) => {
  const driver = new ScriptedActionDriver(async (_vm, kind) => {
    if (kind === 'freeze') throw new ActionFailure('not_confirmed', 'QEMU accepted stop but query-status still says running: check the VM.');
    if (kind === 'clone') throw new Error('socket hang up');
  });
  const { cockpit, notes } = await lab(t, driver);
  const a = await cockpit.act('vm-a', 'freeze');
  assert.ok(a.accepted);
  assert.equal(a.result?.ok, false);
  assert.deepEqual(a.result?.error, { code: 'not_confirmed', message: 'QEMU accepted stop but query-status still says running: check the VM.' });
  assert.equal(a.result?.state, 'running');
  const b = await cockpit.act('vm-a', 'clone');
  assert.equal(b.result?.error?.code, 'driver_failed');
  assert.match(b.result!.error!.message, /scripted driver failed unexpectedly: socket hang up/);
  assert.equal(cockpit.vm('vm-a')?.busy, undefined, 'a failure frees the VM');
  assert.ok(notes.some((l) => l.includes(a.requestId) && l.includes('failed') && l.includes('not_confirmed')), notes.join('\n'));
  assert.deepEqual(cockpit.invalid, []);
});

test('an action that outlives its deadline is aborted and reported timed_out; the VM is free again', BOUNDED, async (t) => {
  const driver = new ScriptedActionDriver(async (_vm, kind, ctx) => {
    if (kind === 'seize') await sleep(60_000, ctx.signal);
  });
  const { cockpit } = await lab(t, driver, { actionDeadlineMs: 200 });
  const a = await cockpit.act('vm-a', 'seize');
  assert.equal(a.result?.ok, false);
  assert.equal(a.result?.error?.code, 'timed_out');
  assert.ok(a.ms >= 190 && a.ms < 5000, `${a.ms} ms`);
  const next = await cockpit.act('vm-a', 'freeze');
  assert.ok(next.result?.ok);
});

test('a shutdown mid-action records it failed (agent_stopping), tells the cockpit, and a retry after the restart gets that', BOUNDED, async (t) => {
  const dataDir = join(tempDir(t), 'data');
  const slow = new ScriptedActionDriver(async (_vm, kind, ctx) => {
    if (kind === 'seize') await sleep(60_000, ctx.signal);
  });
  const first = await lab(t, slow, { dataDir });
  const pending = first.cockpit.act('vm-a', 'seize', { requestId: 'req-shutdown-1' });
  await first.cockpit.waitFor((m) => m.type === 'action.accepted', 5000, 'accepted');
  await first.agent.close();
  const a = await pending;
  assert.equal(a.result?.ok, false);
  assert.equal(a.result?.error?.code, 'agent_stopping');

  const second = await lab(t, new ScriptedActionDriver(), { dataDir });
  const again = await second.cockpit.act('vm-a', 'seize', { requestId: 'req-shutdown-1' });
  assert.equal(again.result?.replayed, true);
  assert.equal(again.result?.error?.code, 'agent_stopping');
});

test('progress reaches every cockpit as valid cordon.v1, whatever the driver passes; a busy VM is shown busy to all', BOUNDED, async (t) => {
  const driver = new ScriptedActionDriver(async (_vm, kind, ctx) => {
    if (kind !== 'seize') return;
    ctx.progress('Memory Dump!', 'x'.repeat(5000), 7);
    for (let i = 0; i < 50; i++) ctx.progress('hash', `hashed ${i}`, i / 50);
    ctx.progress('hash', 'hashed all', 1);
    await sleep(20);
  });
  const { agent, cockpit } = await lab(t, driver);
  const other = await ActionCockpit.open(agent.url, TOKEN);
  cleanup(t, () => other.close());
  await other.inventory();
  const from = other.mark;
  const a = await cockpit.act('vm-a', 'seize', { params: { caseId: 'C-7' } });
  assert.ok(a.result?.ok);
  const progress = other.about(a.requestId, from).filter((m) => m.type === 'action.progress');
  assert.ok(progress.length >= 2 && progress.length < 20, `${progress.length} progress messages: throttled, not 52`);
  assert.equal(progress[0]!.type === 'action.progress' && progress[0]!.step, 'step', 'a step name off the pattern is replaced');
  assert.equal(progress[0]!.type === 'action.progress' && progress[0]!.fraction, 1, 'a fraction is clamped to [0, 1]');
  assert.ok(progress.some((p) => p.type === 'action.progress' && p.message === 'hashed all'), 'the last step of a kind is sent');
  assert.ok(other.received.slice(from).some((m) => m.type === 'vm' && m.vm.busy === 'seize'));
  assert.deepEqual([...cockpit.invalid, ...other.invalid], []);
});

test('actions on two VMs run at the same time; each VM\'s own actions one after the other', BOUNDED, async (t) => {
  const driver = new ScriptedActionDriver(async () => sleep(1000));
  const { cockpit } = await lab(t, driver);
  const started = performance.now();
  const [a, b] = await Promise.all([cockpit.act('vm-a', 'freeze'), cockpit.act('vm-b', 'freeze')]);
  const ms = performance.now() - started;
  assert.ok(a.result?.ok && b.result?.ok);
  // One after the other would take 2 s at least; the margin is for a busy disk's fsyncs.
  assert.ok(ms < 1800, `both done in ${Math.round(ms)} ms, not 2000+`);
  assert.equal(driver.calls, 2);
  const busy = cockpit.act('vm-a', 'resume');
  await cockpit.waitFor((m) => m.type === 'vm' && m.vm.id === 'vm-a' && m.vm.busy === 'resume', 5000, 'vm-a busy');
  assert.equal((await cockpit.act('vm-a', 'terminate')).rejected?.code, 'busy', 'the same VM: one at a time');
  assert.ok((await busy).result?.ok);
});
