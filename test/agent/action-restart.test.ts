// An agent killed (-9) in the middle of an action, and restarted on the same data dir, never runs that action
// again: a retry of its request id gets a failed result that says the agent restarted, while an action that had
// finished before the kill is answered with its first result. Real agent processes, real sockets.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { agentArgs, BOUNDED, cleanup, sleep, spawnAgent, tempDir, TOKEN } from './helpers.ts';
import { ActionCockpit } from './action-cockpit.ts';

test('kill -9 while a seizure runs, restart: the retry is told it was interrupted, and nothing runs twice', BOUNDED, async (t) => {
  const dir = tempDir(t);
  const dataDir = join(dir, 'data');
  const first = await spawnAgent(t, agentArgs(dir, ['--vms', '2', '--rate', '50'], dataDir));
  const c = await ActionCockpit.open(first.ready.url, TOKEN);
  cleanup(t, () => c.close());
  const [a, b] = await c.inventory();
  const frozen = await c.act(a!.id, 'freeze', { requestId: 'req-before-the-kill' });
  assert.ok(frozen.result?.ok);

  // Settled into a value at once: the kill below ends it, and an unobserved rejection would fail the test run.
  const seizing = c.act(b!.id, 'seize', { requestId: 'req-cut-short-by-kill', reason: 'keep the memory' }).then((a) => a, (e: Error) => e);
  await c.waitFor((m) => m.type === 'action.progress' && m.requestId === 'req-cut-short-by-kill', 5000, 'the seizure under way');
  first.child.kill('SIGKILL');
  await first.exited;
  const ended = await seizing;
  assert.ok(ended instanceof Error && /closed/.test(ended.message), 'the connection died with the agent, before any result');
  for (let i = 0; i < 100 && !first.stderr().includes('req-cut-short-by-kill'); i++) await sleep(20);
  assert.match(first.stderr(), /action req-cut-short-by-kill .*accepted on/);

  const second = await spawnAgent(t, agentArgs(dir, ['--vms', '2', '--rate', '50'], dataDir));
  // stderr and the ready line travel on separate pipes: give the note a moment to arrive.
  for (let i = 0; i < 100 && !second.stderr().includes('was running when the agent stopped'); i++) await sleep(20);
  assert.match(second.stderr(), /action req-cut-short-by-kill \(seize of .*\) was running when the agent stopped; recorded as failed, not run again/);
  const d = await ActionCockpit.open(second.ready.url, TOKEN);
  cleanup(t, () => d.close());
  await d.inventory();
  const retry = await d.act(b!.id, 'seize', { requestId: 'req-cut-short-by-kill', reason: 'keep the memory' });
  assert.equal(retry.first.type, 'action.result', 'answered from the journal');
  assert.equal(retry.result?.replayed, true);
  assert.equal(retry.result?.ok, false);
  assert.equal(retry.result?.error?.code, 'agent_restarted');
  assert.match(retry.result!.error!.message, /The agent restarted while this ran.*check the VM's state/);
  assert.equal(d.vm(b!.id)?.state, 'running', 'the sim\'s VM came back running: the seizure did not silently start over');

  const before = await d.act(a!.id, 'freeze', { requestId: 'req-before-the-kill' });
  const { replayed: _r, ...same } = before.result!;
  assert.deepEqual(same, frozen.result, 'the finished action is answered with its first result');
  assert.deepEqual([...c.invalid, ...d.invalid], []);
});
